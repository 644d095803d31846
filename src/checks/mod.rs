//! The checks: each turns one stored message and its envelope into a
//! finding. Only facts here, no points: scoring is the next stage's
//! business. DNS plumbing lives below, in [`crate::dns`].

pub mod arc;
pub mod big_parts;
pub mod content;
pub mod dkim;
pub mod dmarc;
pub mod dnsbl;
pub mod facts;
pub mod guard;
pub mod helo;
pub mod iprev;
pub mod mail_server;
pub mod message;
pub mod message_id_domain;
pub mod mime_parts;
pub mod posture;
pub mod row;
pub mod rspamd;
pub mod smime;
pub mod spamd;
pub mod spf;
pub mod tls;
pub mod unchecked;
pub mod verdict;

use crate::dns::Dns;
use crate::smtp::Envelope;
use mail_auth::AuthenticatedMessage;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use verdict::{Setup, Verdict};

/// Declares [`CheckId`], `CheckId::ALL` and `as_str` from one list of
/// `Variant => "name",` lines, so a check's name is written once.
macro_rules! check_ids {
    ($($variant:ident => $name:literal,)*) => {
        /// Every check the rule table can name and the page shows, spelled
        /// as the JSON report and `scoring-rules/` spell them. Closed: a
        /// rule, deduction or page row names one of these, so a misspelt
        /// check is a compile error (or, in a rule file, a start-up error),
        /// never a silently empty row.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
        pub enum CheckId {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl CheckId {
            /// In the order rules are listed and the schema is shown.
            pub const ALL: [CheckId; [$($name),*].len()] = [$(CheckId::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(CheckId::$variant => $name,)*
                }
            }
        }
    };
}

check_ids! {
    Spf => "spf",
    SpfHelo => "spf_helo",
    Dkim => "dkim",
    Dmarc => "dmarc",
    Arc => "arc",
    Iprev => "iprev",
    Helo => "helo",
    Tls => "tls",
    Smime => "smime",
    IpBlocklists => "ip_blocklists",
    DomainBlocklists => "domain_blocklists",
    Posture => "posture",
    Headers => "headers",
    Bulk => "bulk",
    Body => "body",
    Links => "links",
    Attachments => "attachments",
    Spamassassin => "spamassassin",
    Rspamd => "rspamd",
    MessageIdDomain => "message_id_domain",
    MailServer => "mail_server",
}

impl CheckId {
    pub fn parse(name: &str) -> Option<CheckId> {
        CheckId::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The fields a rule on this check may test, with the values each can
    /// take: what the check's own module declares.
    pub fn fields(self) -> &'static [facts::Field] {
        match self {
            CheckId::Spf => spf::FIELDS,
            CheckId::SpfHelo => spf::HELO_FIELDS,
            CheckId::Dkim => dkim::FIELDS,
            CheckId::Dmarc => dmarc::FIELDS,
            CheckId::Arc => arc::FIELDS,
            CheckId::Iprev => iprev::FIELDS,
            CheckId::Helo => helo::FIELDS,
            CheckId::Tls => tls::FIELDS,
            CheckId::Smime => smime::FIELDS,
            CheckId::IpBlocklists | CheckId::DomainBlocklists => dnsbl::FIELDS,
            CheckId::Posture => posture::FIELDS,
            CheckId::Headers => content::headers::FIELDS,
            CheckId::Bulk => content::bulk::FIELDS,
            CheckId::Body => content::body::FIELDS,
            CheckId::Links => content::links::FIELDS,
            CheckId::Attachments => content::attachments::FIELDS,
            CheckId::Spamassassin => spamd::FIELDS,
            CheckId::Rspamd => rspamd::FIELDS,
            CheckId::MessageIdDomain => message_id_domain::FIELDS,
            CheckId::MailServer => mail_server::FIELDS,
        }
    }

    /// The values `field` of this check may take, or None when it has no
    /// such field.
    pub fn values(self, field: &str) -> Option<&'static [&'static str]> {
        self.fields()
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, values)| *values)
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The vocabulary rule conditions are written in: (check, field, values),
/// every check's own declaration in turn.
pub fn schema() -> impl Iterator<Item = (CheckId, &'static str, &'static [&'static str])> {
    CheckId::ALL.into_iter().flat_map(|check| {
        check
            .fields()
            .iter()
            .map(move |(field, values)| (check, *field, *values))
    })
}

/// Everything the checks found about one message: the input of scoring,
/// and the report's `checks` as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "Checks"))]
pub struct Findings {
    /// SPF for the MAIL FROM identity (HELO when MAIL FROM is empty).
    pub spf: spf::SpfFinding,
    /// SPF for the HELO identity on its own.
    pub spf_helo: spf::SpfFinding,
    /// One per DKIM-Signature header, in order.
    pub dkim: Vec<dkim::DkimFinding>,
    pub dmarc: dmarc::DmarcFinding,
    /// The ARC chain forwarders and lists added (RFC 8617). Reports stored
    /// before ARC was checked have none; they read as none.
    #[serde(default)]
    pub arc: arc::ArcFinding,
    pub iprev: iprev::IprevFinding,
    /// Whether the HELO name is a real name for the client IP.
    pub helo: helo::HeloFinding,
    /// Whether the hop to us was encrypted.
    pub tls: tls::TlsFinding,
    pub smime: smime::SmimeFinding,
    /// The client IP on DNS blocklists.
    pub ip_blocklists: dnsbl::BlocklistFinding,
    /// The From, DKIM and link domains on domain blocklists.
    pub domain_blocklists: dnsbl::BlocklistFinding,
    /// What the From domain publishes besides authentication (MX, DNSSEC,
    /// MTA-STS, TLS-RPT, BIMI).
    pub posture: posture::PostureFinding,
    /// Content and format (headers, bulk mail, body, links, attachments).
    /// Reports stored before content was checked read as the empty default.
    #[serde(default)]
    pub content: content::ContentFinding,
    /// SpamAssassin's score and rules (`not_configured` without spamd).
    #[serde(default)]
    pub spamassassin: spamd::SpamdFinding,
    /// Rspamd's action, score and symbols (`not_configured` without
    /// rspamd). Reports stored before rspamd was asked read as that.
    #[serde(default)]
    pub rspamd: rspamd::RspamdFinding,
    /// The Message-ID's domain against the From domain. Reports stored
    /// before it was checked read as unknown.
    #[serde(default)]
    pub message_id_domain: message_id_domain::MessageIdDomainFinding,
    /// Checks that could not be done (they panicked or missed the
    /// analysis deadline): their findings say "could not check" and
    /// their rules were not applied. Absent when every check ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<guard::CheckFailure>,
    // Last: the stored form (report/stored.rs) finds the probe's place
    // just before `grade`.
    /// The sender domain's own mail servers, probed. Reports stored before
    /// they were probed read as `not_checked`.
    #[serde(default)]
    pub mail_server: mail_server::MailServerFinding,
}

/// One message analysed: what it says about itself, its header fields as
/// the page lists them, and what the checks found.
pub struct Analysis {
    pub message: message::MessageFacts,
    pub headers: Vec<(String, String)>,
    pub findings: Findings,
}

impl Findings {
    /// The checks that ask DNS and end in a verdict, whose `temperror`
    /// is a DNS timeout: what the metrics count, in [`Self::dns_tallies`]' order.
    pub const DNS_CHECKS: [CheckId; 6] = [
        CheckId::Spf,
        CheckId::SpfHelo,
        CheckId::Dkim,
        CheckId::Dmarc,
        CheckId::Arc,
        CheckId::Iprev,
    ];

    /// The checks that ask DNS, for the metrics: (check, verdicts reached,
    /// how many of them were DNS timeouts). DKIM has one a signature.
    pub fn dns_tallies(&self) -> [(&'static str, u64, u64); 6] {
        fn tally(verdicts: impl IntoIterator<Item = Verdict>) -> (u64, u64) {
            verdicts.into_iter().fold((0, 0), |(all, timeouts), v| {
                (all + 1, timeouts + u64::from(v == Verdict::Temperror))
            })
        }
        Self::DNS_CHECKS.map(|check| {
            let (all, timeouts) = match check {
                CheckId::Spf => tally([self.spf.result]),
                CheckId::SpfHelo => tally([self.spf_helo.result]),
                CheckId::Dkim => tally(self.dkim.iter().map(|d| d.result)),
                CheckId::Dmarc => tally([self.dmarc.result]),
                CheckId::Arc => tally([self.arc.result]),
                CheckId::Iprev => tally([self.iprev.result]),
                _ => (0, 0),
            };
            (check.as_str(), all, timeouts)
        })
    }

    /// The page rows of `check`, in `lang`: what each check's own module
    /// builds from its finding.
    pub fn rows(&self, check: CheckId, lang: crate::i18n::Lang) -> Vec<row::Row> {
        let content = &self.content;
        match check {
            CheckId::Spf => vec![self.spf.row(check, lang)],
            CheckId::SpfHelo => vec![self.spf_helo.row(check, lang)],
            CheckId::Dkim => dkim::rows(&self.dkim, lang),
            CheckId::Dmarc => vec![self.dmarc.row(lang)],
            CheckId::Arc => vec![self.arc.row(lang)],
            CheckId::Iprev => vec![self.iprev.row(lang)],
            CheckId::Helo => vec![self.helo.row(lang)],
            CheckId::Tls => vec![self.tls.row(lang)],
            CheckId::Smime => vec![self.smime.row(lang)],
            CheckId::IpBlocklists => vec![self.ip_blocklists.row(check, lang)],
            CheckId::DomainBlocklists => vec![self.domain_blocklists.row(check, lang)],
            CheckId::Posture => self.posture.rows(lang),
            CheckId::Headers => vec![content.headers.row(content.profile, lang)],
            CheckId::Bulk => vec![content.bulk.row(lang)],
            CheckId::Body => vec![content.body.row(lang)],
            CheckId::Links => vec![content.links.row(lang)],
            CheckId::Attachments => vec![content.attachments.row(lang)],
            CheckId::Spamassassin => vec![self.spamassassin.row(lang)],
            CheckId::Rspamd => vec![self.rspamd.row(lang)],
            CheckId::MessageIdDomain => vec![self.message_id_domain.row(lang)],
            CheckId::MailServer => self.mail_server.rows(lang),
        }
    }

    /// What `check` judged when that is not the message itself, for its
    /// section's heading: the From domain whose posture was read.
    pub fn subject(&self, check: CheckId) -> Option<String> {
        match check {
            CheckId::Posture => Some(self.posture.domain.clone()),
            _ => None,
        }
    }

    /// Whether `check` vouches for the sender outright, for its section's
    /// badge: a trusted S/MIME signature.
    pub fn trusted(&self, check: CheckId) -> bool {
        check == CheckId::Smime && self.smime.result == smime::SmimeResult::Trusted
    }

    /// The `mailscore check` summary line(s) of `check`; empty for the
    /// checks the summary leaves to the JSON.
    pub fn text(&self, check: CheckId) -> String {
        match check {
            CheckId::Spf => self.spf.text(check),
            CheckId::SpfHelo => self.spf_helo.text(check),
            CheckId::Dkim => dkim::text(&self.dkim),
            CheckId::Dmarc => self.dmarc.text(),
            CheckId::Arc => self.arc.text(),
            CheckId::Iprev => self.iprev.text(),
            CheckId::Spamassassin => self.spamassassin.text(),
            CheckId::Rspamd => self.rspamd.text(),
            CheckId::MailServer => self.mail_server.text(),
            _ => String::new(),
        }
    }

    /// Every check's facts, for scoring.
    pub fn facts(&self) -> facts::Facts {
        let mut facts =
            facts::Facts::with_capacity(CheckId::ALL.iter().map(|c| c.fields().len()).sum());
        self.spf.facts(CheckId::Spf, &mut facts);
        self.spf_helo.facts(CheckId::SpfHelo, &mut facts);
        dkim::facts(&self.dkim, &mut facts);
        self.dmarc.facts(&mut facts);
        self.arc.facts(&mut facts);
        self.iprev.facts(&mut facts);
        self.helo.facts(&mut facts);
        self.tls.facts(&mut facts);
        self.smime.facts(&mut facts);
        self.ip_blocklists.facts(CheckId::IpBlocklists, &mut facts);
        self.domain_blocklists
            .facts(CheckId::DomainBlocklists, &mut facts);
        self.posture.facts(&mut facts);
        self.content.facts(&self.dkim, &mut facts);
        self.spamassassin.facts(&mut facts);
        self.rspamd.facts(&mut facts);
        self.message_id_domain.facts(&mut facts);
        self.mail_server.facts(&mut facts);
        for failure in &self.failed {
            facts.forget(failure.check);
        }
        facts
    }
}

/// The checks whose findings `content::content_of` writes.
const CONTENT_CHECKS: [CheckId; 5] = [
    CheckId::Headers,
    CheckId::Bulk,
    CheckId::Body,
    CheckId::Links,
    CheckId::Attachments,
];

/// What the checks are given besides DNS: the blocklists to ask, extra
/// S/MIME trust anchors, the content profile, spamd, rspamd. Their own settings
/// type: the configuration fills it, tests build it directly.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub ip_blocklists: Vec<String>,
    pub domain_blocklists: Vec<String>,
    pub smime_ca_files: Vec<PathBuf>,
    /// Content rules switched on beyond the default set (`fisc`).
    pub content_profile: content::Profile,
    /// spamd to score each message with, if the operator runs one.
    pub spamd: Option<spamd::SpamdSettings>,
    /// rspamd to score each message with, if the operator runs one.
    pub rspamd: Option<rspamd::RspamdSettings>,
    /// Whether and how the sender's mail servers are probed.
    pub probe: mail_server::ProbeSettings,
    /// Validate the From domain's DNSSEC (the resolver's trust anchors).
    pub dnssec_validation: bool,
    /// How long one check of a message may take; a check still waiting
    /// then is reported as "could not check".
    pub analysis_timeout: std::time::Duration,
}

impl Settings {
    /// No blocklists and no extra trust anchors.
    pub fn none() -> Settings {
        Settings {
            ip_blocklists: Vec::new(),
            domain_blocklists: Vec::new(),
            smime_ca_files: Vec::new(),
            content_profile: content::Profile::Default,
            spamd: None,
            rspamd: None,
            probe: mail_server::ProbeSettings::off(),
            dnssec_validation: false,
            analysis_timeout: std::time::Duration::from_secs(60),
        }
    }
}

/// What analysis needs besides the message: the resolver every check
/// shares, our host name (SPF's `%{r}`), S/MIME trust anchors, and the DNS
/// blocklists to ask.
pub struct Analyzer {
    pub dns: Dns,
    pub hostname: String,
    pub trust: smime::TrustStore,
    /// Blocklists, content profile, spamd and rspamd, as configured.
    pub settings: Settings,
    /// Zone apexes found for the DNSSEC posture check, kept a while.
    pub zone_apexes: crate::dns::zone_apex::ZoneApexes,
    /// DNSSEC verdicts kept a while.
    pub dnssec_verdicts: posture::validation::Verdicts,
    /// The probe of the sender's servers; share it between analyzers
    /// (its cache is what keeps a flood from flooding the sender).
    pub mail_servers: mail_server::SharedMailServers,
    /// A fault the tests inject into one check (debug builds only).
    pub fault: Option<guard::Fault>,
}

/// The analyzer could not be set up from its settings.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Smime(#[from] smime::SmimeError),
    #[error("probe CA files: {0}")]
    ProbeCa(String),
}

impl Analyzer {
    /// An analyzer asking the configured blocklists and trusting the
    /// system roots plus the configured S/MIME CA files.
    pub fn new(dns: Dns, hostname: &str, settings: &Settings) -> Result<Analyzer, SetupError> {
        Ok(Analyzer {
            dns,
            hostname: hostname.to_string(),
            trust: smime::TrustStore::system_with(&settings.smime_ca_files)?,
            settings: settings.clone(),
            zone_apexes: crate::dns::zone_apex::ZoneApexes::default(),
            dnssec_verdicts: posture::validation::Verdicts::default(),
            mail_servers: std::sync::Arc::new(
                mail_server::MailServers::new(&settings.probe).map_err(SetupError::ProbeCa)?,
            ),
            fault: guard::Fault::from_env(),
        })
    }

    /// Probes the servers of the analysed message's From domain and
    /// envelope sender's domain. Apart from [`Analyzer::analyze`], so the
    /// caller can give up its analysis slot first: this mostly waits.
    pub async fn probe_servers(
        &self,
        analysis: &Analysis,
        envelope: &Envelope,
    ) -> mail_server::MailServerFinding {
        // The From domain as posture read it (an A-label; empty without one).
        let from = analysis.findings.posture.domain.as_str();
        let mail_from = crate::dns::idn::a_label_address(&envelope.mail_from);
        let mail_from = mail_from.rsplit_once('@').map(|(_, d)| d);
        self.mail_servers
            .probe(&self.dns, Some(from), mail_from)
            .await
    }

    /// Runs every check. DNS failures become temperror (or "not checked")
    /// findings; nothing here returns an error, so a message always gets a
    /// report.
    pub async fn analyze(&self, envelope: &Envelope, raw: &[u8]) -> Analysis {
        let dns = &self.dns;
        let ip = envelope.client_ip;
        let helo = envelope.helo.as_str();
        let guard = guard::Guard::new(self.settings.analysis_timeout, self.fault);
        // Parsed once for both, and dropped before the lookups: its parts
        // would otherwise live as long as the slowest DNS answer.
        let context = content::Context {
            mail_from: &envelope.mail_from,
            received_at: envelope.received_at,
            profile: self.settings.content_profile,
        };
        let (message, content) = big_parts::parsed(raw, |parsed| {
            let content = guard.run_now(
                &CONTENT_CHECKS,
                || content::content_of(raw, parsed, &context),
                |_| content::ContentFinding::default(),
            );
            (message::facts_of(raw, parsed), content)
        });
        // Looked up and aligned as A-labels (an SMTPUTF8 sender may write
        // `例え.jp`); the report keeps the addresses as written.
        let mail_from = crate::dns::idn::a_label_address(&envelope.mail_from);
        let mail_from_domain = mail_from.rsplit_once('@').map_or(helo, |(_, d)| d);
        let from_domain = message
            .facts
            .from_address
            .as_deref()
            .and_then(|a| a.rsplit_once('@'))
            .map(|(_, d)| crate::dns::idn::a_label(d));

        // spamd and rspamd scan while DNS answers: their timeouts run
        // alongside theirs.
        let mail_from_identity = if mail_from.is_empty() {
            spf::SpfIdentity::Helo
        } else {
            spf::SpfIdentity::Mailfrom
        };
        let (spf, spf_helo, iprev, helo_finding, ip_blocklists, spamassassin, rspamd) = tokio::join!(
            guard.run(
                CheckId::Spf,
                spf::mail_from_verdict(dns, ip, helo, &self.hostname, &mail_from),
                |why| unchecked::spf(mail_from_identity, mail_from_domain, why),
            ),
            guard.run(
                CheckId::SpfHelo,
                spf::helo_verdict(dns, ip, helo, &self.hostname),
                |why| unchecked::spf(spf::SpfIdentity::Helo, helo, why),
            ),
            guard.run(CheckId::Iprev, iprev::verdict(dns, ip), |why| {
                unchecked::iprev(ip, why)
            }),
            guard.run(CheckId::Helo, helo::verdict(dns, helo, ip), |_| {
                unchecked::helo(helo)
            }),
            guard.run(
                CheckId::IpBlocklists,
                dnsbl::ip_listings(dns, ip, &self.settings.ip_blocklists),
                unchecked::blocklists,
            ),
            guard.run(
                CheckId::Spamassassin,
                spamd::spamd_verdict(self.settings.spamd.as_ref(), raw),
                unchecked::spamassassin,
            ),
            guard.run(
                CheckId::Rspamd,
                rspamd::rspamd_verdict(self.settings.rspamd.as_ref(), envelope, raw),
                unchecked::rspamd,
            ),
        );

        // mail-auth's parser wants at least one header; an unparseable
        // message is analysed as an empty one so DKIM and DMARC say "none".
        // Not strict: a signature with l= is verified (and flagged by the
        // rule table) rather than discarded, so the report can say so.
        let parsed = AuthenticatedMessage::parse_with_opts(raw, None, false);
        let empty = AuthenticatedMessage::default();
        let auth_message = parsed.as_ref().unwrap_or(&empty);
        let (dkim, dkim_outputs) = guard
            .run(CheckId::Dkim, dkim::verdicts(dns, auth_message), |_| {
                (Vec::new(), Vec::new())
            })
            .await;
        let from_text = from_domain.as_deref().unwrap_or_default();
        let (dmarc, arc) = tokio::join!(
            guard.run(
                CheckId::Dmarc,
                dmarc::verdict(
                    dns,
                    auth_message,
                    &dkim_outputs,
                    &dkim,
                    &spf,
                    mail_from_domain
                ),
                |why| unchecked::dmarc(from_text, why),
            ),
            guard.run(
                CheckId::Arc,
                arc::verdict(dns, auth_message),
                unchecked::arc
            ),
        );

        let mut listed_domains: Vec<String> = from_domain.iter().cloned().collect();
        listed_domains.extend(
            dkim.iter()
                .map(|d| d.domain.clone())
                .filter(|d| !d.is_empty()),
        );
        listed_domains.extend(message.link_domains.iter().cloned());
        let posture_domain = from_domain.unwrap_or_default();
        let validate = self.settings.dnssec_validation && !posture_domain.is_empty();
        let (domain_blocklists, mut posture, dnssec_validation) = tokio::join!(
            guard.run(
                CheckId::DomainBlocklists,
                dnsbl::domain_listings(dns, &listed_domains, &self.settings.domain_blocklists),
                unchecked::blocklists,
            ),
            guard.run(
                CheckId::Posture,
                posture::posture(dns, &self.zone_apexes, &posture_domain),
                |why| unchecked::posture(&posture_domain, why),
            ),
            async {
                match validate {
                    true => {
                        posture::validation::validate_kept(
                            dns,
                            &self.dnssec_verdicts,
                            &posture_domain,
                        )
                        .await
                    }
                    false => posture::validation::DnssecValidation::NotChecked,
                }
            },
        );
        posture.dnssec_validation = dnssec_validation;
        let smime = guard.run_now(
            &[CheckId::Smime],
            || smime::smime_verdict(raw, message.facts.from_address.as_deref(), &self.trust),
            unchecked::smime,
        );

        let findings = Findings {
            spf,
            spf_helo,
            dkim,
            dmarc,
            arc,
            iprev,
            helo: helo_finding,
            tls: tls::verdict(envelope),
            smime,
            ip_blocklists,
            domain_blocklists,
            posture,
            content,
            spamassassin,
            rspamd,
            message_id_domain: message_id_domain::verdict(&message.facts),
            // Filled in by `probe_servers`, after the analysis slot is freed.
            failed: guard.into_failures(),
            mail_server: mail_server::MailServerFinding::default(),
        };
        Analysis {
            message: message.facts,
            headers: message.headers,
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_field_has_a_fact() {
        let findings: Findings =
            serde_json::from_str(include_str!("testdata/findings.json")).unwrap();
        let facts = findings.facts();
        for (check, field, allowed) in schema() {
            let value = facts
                .get(check, field)
                .unwrap_or_else(|| panic!("{check}.{field}"));
            assert!(allowed.contains(&value), "{check}.{field} = {value}");
        }
        assert_eq!(facts.len(), schema().count());
        // The fixture: SPF with ptr and -all, a 2048-bit author signature,
        // DMARC p=reject pct=50 with rua, FCrDNS, a HELO that matches.
        let fact = |check, field| facts.get(check, field).unwrap();
        assert_eq!(fact(CheckId::Spf, "all"), "fail");
        assert_eq!(fact(CheckId::Spf, "uses_ptr"), "true");
        assert_eq!(fact(CheckId::Dkim, "key_strength"), "strong");
        assert_eq!(fact(CheckId::Dkim, "author_signed"), "true");
        assert_eq!(fact(CheckId::Dmarc, "reporting"), "true");
        assert_eq!(fact(CheckId::Dmarc, "pct_partial"), "true");
        assert_eq!(fact(CheckId::Iprev, "generic"), "false");
        assert_eq!(fact(CheckId::Helo, "result"), "match");
        assert_eq!(fact(CheckId::Arc, "result"), "none");
    }

    #[test]
    fn every_check_speaks_japanese() {
        for pairs in [
            spf::SpfWords::PAIRS,
            dkim::DkimWords::PAIRS,
            dmarc::DmarcWords::PAIRS,
            arc::ArcWords::PAIRS,
            iprev::IprevWords::PAIRS,
            helo::HeloWords::PAIRS,
            tls::TlsWords::PAIRS,
            smime::SmimeWords::PAIRS,
            dnsbl::BlocklistsWords::PAIRS,
            posture::PostureWords::PAIRS,
            content::ContentWords::PAIRS,
            spamd::SpamassassinWords::PAIRS,
            rspamd::RspamdWords::PAIRS,
            message_id_domain::MessageIdDomainWords::PAIRS,
            mail_server::MailServerWords::PAIRS,
        ] {
            crate::i18n::assert_translated(pairs);
        }
    }

    #[test]
    fn check_ids_read_as_they_are_written() {
        for check in CheckId::ALL {
            let json = serde_json::to_string(&check).unwrap();
            assert_eq!(json, format!("\"{}\"", check.as_str()));
            assert_eq!(serde_json::from_str::<CheckId>(&json).unwrap(), check);
            assert_eq!(CheckId::parse(check.as_str()), Some(check));
        }
        assert_eq!(CheckId::parse("sfp"), None);
    }
}
