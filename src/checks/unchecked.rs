//! The finding each check gives when it could not be done (it panicked or
//! missed the analysis deadline, see [`guard`](super::guard)): its own
//! "unknown" state with the reason as its error, so the page and the JSON
//! say "could not check" in the check's usual place. Its rules are not
//! applied (`Findings::facts` leaves the check out).

use super::dmarc::{DmarcFinding, DmarcMode};
use super::dnsbl::{BlocklistFinding, BlocklistResult};
use super::guard::{FailureReason, could_not_check};
use super::helo::{HeloFinding, HeloResult};
use super::iprev::IprevFinding;
use super::posture::{PostureFinding, Presence, RecordStatus};
use super::rspamd::{RspamdFinding, RspamdStatus};
use super::smime::{SmimeFinding, SmimeResult};
use super::spamd::{SpamdFinding, SpamdStatus};
use super::spf::{SpfFinding, SpfIdentity};
use super::{Setup, Verdict, arc::ArcFinding};
use std::net::IpAddr;

pub fn spf(identity: SpfIdentity, domain: &str, why: FailureReason) -> SpfFinding {
    SpfFinding {
        error: Some(could_not_check(why)),
        ..super::spf::base(identity, domain, Verdict::Temperror)
    }
}

pub fn dmarc(from_domain: &str, why: FailureReason) -> DmarcFinding {
    DmarcFinding {
        result: Verdict::Temperror,
        setup: Setup::Unknown,
        from_domain: from_domain.to_string(),
        policy: None,
        spf_aligned: false,
        dkim_aligned: false,
        records: Vec::new(),
        record_domain: None,
        error: Some(could_not_check(why)),
        record: None,
        org_domain: None,
        dmarcbis: None,
        record_problems: Vec::new(),
        mode: DmarcMode::Absent,
    }
}

pub fn arc(why: FailureReason) -> ArcFinding {
    ArcFinding {
        result: Verdict::Temperror,
        instances: 0,
        sealers: Vec::new(),
        error: Some(could_not_check(why)),
    }
}

pub fn iprev(ip: IpAddr, why: FailureReason) -> IprevFinding {
    IprevFinding {
        result: Verdict::Temperror,
        setup: Setup::Unknown,
        ip,
        ptr: Vec::new(),
        forward_confirmed: false,
        generic: false,
        error: Some(could_not_check(why)),
    }
}

pub fn helo(name: &str) -> HeloFinding {
    HeloFinding {
        result: HeloResult::Unknown,
        name: name.to_string(),
        addresses: Vec::new(),
    }
}

pub fn smime(why: FailureReason) -> SmimeFinding {
    SmimeFinding::only(SmimeResult::Unknown, Some(could_not_check(why)))
}

pub fn blocklists(why: FailureReason) -> BlocklistFinding {
    BlocklistFinding {
        result: BlocklistResult::Unknown,
        listings: Vec::new(),
        not_checked: Vec::new(),
        checked: Vec::new(),
        errors: Vec::new(),
        note: Some(could_not_check(why)),
    }
}

pub fn posture(domain: &str, why: FailureReason) -> PostureFinding {
    let unknown = || RecordStatus::Unknown {
        error: could_not_check(why),
    };
    PostureFinding {
        domain: domain.to_string(),
        mx: Vec::new(),
        null_mx: false,
        mx_error: Some(could_not_check(why)),
        dnssec: Presence::Unknown {
            error: could_not_check(why),
        },
        dnssec_validation: Default::default(),
        mta_sts: unknown(),
        tls_rpt: unknown(),
        bimi: unknown(),
    }
}

pub fn spamassassin(why: FailureReason) -> SpamdFinding {
    SpamdFinding {
        status: SpamdStatus::NotChecked,
        error: Some(could_not_check(why)),
        ..SpamdFinding::default()
    }
}

pub fn rspamd(why: FailureReason) -> RspamdFinding {
    RspamdFinding {
        status: RspamdStatus::NotChecked,
        error: Some(could_not_check(why)),
        ..RspamdFinding::default()
    }
}

/// Every check's finding when the analysis of the message failed around
/// them ([`crate::analysis::stage`]): each says "could not check", but the
/// TLS of the hop, which the envelope alone tells. Made from the envelope
/// only: whatever the analysis failed on is not read again.
pub fn findings(envelope: &super::Envelope) -> super::Findings {
    let why = FailureReason::AnalysisFailed;
    let helo_name = envelope.helo.as_str();
    let (identity, spf_domain) = match envelope.mail_from.rsplit_once('@') {
        Some((_, domain)) => (SpfIdentity::Mailfrom, domain),
        None => (SpfIdentity::Helo, helo_name),
    };
    super::Findings {
        spf: spf(identity, spf_domain, why),
        spf_helo: spf(SpfIdentity::Helo, helo_name, why),
        dkim: Vec::new(),
        dmarc: dmarc("", why),
        arc: arc(why),
        iprev: iprev(envelope.client_ip, why),
        helo: helo(helo_name),
        tls: super::tls::verdict(envelope),
        smime: smime(why),
        ip_blocklists: blocklists(why),
        domain_blocklists: blocklists(why),
        posture: posture("", why),
        content: Default::default(),
        spamassassin: spamassassin(why),
        rspamd: rspamd(why),
        message_id_domain: Default::default(),
        failed: Vec::new(),
        mail_server: Default::default(),
    }
}
