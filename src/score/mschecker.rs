//! The second verdict: Designet's MSchecker grades a sender in four
//! levels by a fixed table, worst first. 危険 (danger) when its MX is an
//! open relay; else 改善が必要 (needs improvement) when SPF and DKIM are
//! both not OK, or the mail came to us without TLS, or the MX offers no
//! STARTTLS, or reverse DNS fails; else 見直しを推奨 (review recommended)
//! when DNSSEC is not OK or the IP or a domain is blocklisted; else 安全
//! (safe). A level that an unchecked item could still reach is not
//! claimed: the grade is then `not_checked`, naming what was missing.

use crate::checks::dnsbl::{BlocklistFinding, BlocklistResult};
use crate::checks::mail_server::host::StartTls;
use crate::checks::mail_server::relay::RelayVerdict;
use crate::checks::posture::Presence;
use crate::checks::posture::validation::DnssecValidation;
use crate::checks::tls::TlsResult;
use crate::checks::{Findings, Verdict};
use serde::{Deserialize, Serialize};

crate::checks::facts::words! {
    /// MSchecker's four levels, and "could not grade".
    Level {
        NotChecked => "not_checked",
        /// 安全
        Safe => "safe",
        /// 見直しを推奨
        Review => "review",
        /// 改善が必要
        Improve => "improve",
        /// 危険
        Danger => "danger",
    }
}

crate::checks::facts::words! {
    /// The items of MSchecker's table.
    Item {
        OpenRelay => "open_relay",
        SpfAndDkimNotOk => "spf_and_dkim_not_ok",
        NoTlsToUs => "no_tls_on_sending",
        MxNoStarttls => "mx_no_starttls",
        ReverseDnsFails => "reverse_dns_fails",
        DnssecNotOk => "dnssec_not_ok",
        Blocklisted => "blocklisted",
    }
}

/// The grade and what decided it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Grade {
    pub level: Level,
    /// The items that put the sender at `level` (none for `safe`).
    pub decided_by: Vec<Item>,
    /// Items that could not be checked and could have made it worse (for
    /// `not_checked`, the reason there is no grade).
    pub not_checked: Vec<Item>,
}

/// The table, worst level first.
const TABLE: [(Level, &[Item]); 3] = [
    (Level::Danger, &[Item::OpenRelay]),
    (
        Level::Improve,
        &[
            Item::SpfAndDkimNotOk,
            Item::NoTlsToUs,
            Item::MxNoStarttls,
            Item::ReverseDnsFails,
        ],
    ),
    (Level::Review, &[Item::DnssecNotOk, Item::Blocklisted]),
];

pub fn grade(findings: &Findings) -> Grade {
    for (level, items) in TABLE {
        let found: Vec<(Item, Option<bool>)> =
            items.iter().map(|&i| (i, holds(i, findings))).collect();
        let decided_by: Vec<Item> = found
            .iter()
            .filter(|(_, h)| *h == Some(true))
            .map(|(i, _)| *i)
            .collect();
        let unknown: Vec<Item> = found
            .iter()
            .filter(|(_, h)| h.is_none())
            .map(|(i, _)| *i)
            .collect();
        if !decided_by.is_empty() {
            return Grade {
                level,
                decided_by,
                not_checked: unknown,
            };
        }
        if !unknown.is_empty() {
            return Grade {
                level: Level::NotChecked,
                decided_by: Vec::new(),
                not_checked: unknown,
            };
        }
    }
    Grade {
        level: Level::Safe,
        decided_by: Vec::new(),
        not_checked: Vec::new(),
    }
}

/// Whether `item` is true of the sender; None when it was not checked.
pub fn holds(item: Item, f: &Findings) -> Option<bool> {
    match item {
        Item::OpenRelay => match f.mail_server.relay() {
            RelayVerdict::Open => Some(true),
            RelayVerdict::Closed => Some(false),
            RelayVerdict::Unknown => no_mail(f).then_some(false),
        },
        Item::SpfAndDkimNotOk => {
            let spf = f.spf.result;
            let dkim_ok = f.dkim.iter().any(|d| d.result == Verdict::Pass);
            if spf == Verdict::Pass || dkim_ok {
                Some(false)
            } else if spf == Verdict::Temperror
                || f.dkim.iter().any(|d| d.result == Verdict::Temperror)
            {
                None
            } else {
                Some(true)
            }
        }
        Item::NoTlsToUs => match f.tls.result {
            TlsResult::Plaintext => Some(true),
            TlsResult::Encrypted => Some(false),
            TlsResult::Unknown => None,
        },
        Item::MxNoStarttls => match f.mail_server.starttls() {
            StartTls::NotOffered => Some(true),
            StartTls::Offered => Some(false),
            StartTls::Unknown => no_mail(f).then_some(false),
        },
        Item::ReverseDnsFails => match f.iprev.result {
            Verdict::Pass => Some(false),
            Verdict::Temperror => None,
            _ => Some(true),
        },
        // Validated when validation is on: signed and valid is OK;
        // unsigned or bogus is not. Without validation, publication.
        Item::DnssecNotOk => match (&f.posture.dnssec_validation, &f.posture.dnssec) {
            (DnssecValidation::Secure, _) => Some(false),
            (DnssecValidation::Insecure | DnssecValidation::Bogus { .. }, _) => Some(true),
            (DnssecValidation::Unknown { .. }, _) => None,
            (DnssecValidation::NotChecked, Presence::Present { .. }) => Some(false),
            (DnssecValidation::NotChecked, Presence::Absent { .. }) => Some(true),
            (DnssecValidation::NotChecked, Presence::Unknown { .. }) => None,
        },
        Item::Blocklisted => {
            let lists = [&f.ip_blocklists, &f.domain_blocklists];
            if lists.iter().any(|l| l.result == BlocklistResult::Listed) {
                Some(true)
            } else if lists.iter().any(|l| unknown(l)) {
                None
            } else {
                Some(false)
            }
        }
    }
}

fn unknown(list: &BlocklistFinding) -> bool {
    list.result == BlocklistResult::Unknown
}

/// The domain says it receives no mail (null MX, or nothing at all): it
/// has no MX to relay or to offer STARTTLS.
fn no_mail(f: &Findings) -> bool {
    use crate::checks::mail_server::TargetsFound;
    let domains = &f.mail_server.domains;
    !domains.is_empty()
        && domains
            .iter()
            .filter(|d| d.role == "from")
            .all(|d| matches!(d.targets, TargetsFound::NullMx | TargetsFound::Nowhere))
}
