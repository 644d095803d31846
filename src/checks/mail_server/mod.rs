//! The sender's own mail servers, probed: where its domain receives mail
//! ([`targets`]), and a conversation with each of those exchangers
//! ([`host`]: banner, EHLO, STARTTLS and the certificate, the open relay
//! test), kept per address a while ([`cache`]). Active, unlike every other
//! check: it connects to the sender's port 25. Bounded every way: only
//! public addresses the sender's own DNS names, one conversation at a
//! time per address, a deadline per step and per report, and off
//! entirely with `--probe off`.

pub mod cache;
pub mod certificate;
pub mod dane;
pub mod dialogue;
pub mod host;
pub mod mta_sts;
pub mod relay;
pub mod targets;

use super::CheckId;
use super::Setup;
use super::facts::{Facts, Field};
use super::row::{Row, Tone, join};
use crate::dns::Dns;
use crate::i18n::{Lang, phrases};
use host::{HostProbe, Prober, Reached, StartTls};
use relay::RelayVerdict;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use targets::Targets;

/// How the probe may run, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSettings {
    /// `--probe off` turns it off.
    pub enabled: bool,
    /// The exchangers' port: 25, another in tests.
    pub port: u16,
    /// The port MTA-STS policies are fetched from: 443, another in tests.
    pub https_port: u16,
    /// Probe private, loopback and other non-public addresses too (tests).
    pub allow_private: bool,
    /// CA files trusted for exchanger certificates besides the system roots.
    pub ca_files: Vec<PathBuf>,
    /// Our EHLO name and the domain of the relay test's MAIL FROM.
    pub helo: String,
    /// The domain of the relay test's external recipients.
    pub relay_domain: String,
    /// Each connect, reply and handshake.
    pub step_timeout: Duration,
    /// The whole probe of one report.
    pub total_timeout: Duration,
    /// How long a probe of one address is reused.
    pub cache_ttl: Duration,
}

impl ProbeSettings {
    /// Probing off.
    pub fn off() -> ProbeSettings {
        ProbeSettings {
            enabled: false,
            port: 25,
            https_port: 443,
            allow_private: false,
            ca_files: Vec::new(),
            helo: "localhost".into(),
            relay_domain: DEFAULT_RELAY_DOMAIN.into(),
            step_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(20),
            cache_ttl: Duration::from_secs(600),
        }
    }
}

/// The external recipients' domain: reserved (RFC 2606), so a relay that
/// accepts them could never deliver anywhere.
pub const DEFAULT_RELAY_DOMAIN: &str = "relay-test.invalid";

crate::checks::facts::words! {
    /// Whether the probe ran.
    ProbeStatus {
        /// Reports made before servers were probed, or no From domain.
        NotChecked => "not_checked",
        /// `--probe off`.
        Off => "off",
        Probed => "probed",
        /// The whole probe outlasted its deadline.
        TimedOut => "timed_out",
    }
}

crate::checks::facts::words! {
    /// What the domain's DNS says about its mail servers.
    TargetsFound {
        Exchangers => "exchangers",
        /// The null MX `0 .` (RFC 7505).
        NullMx => "null_mx",
        /// No MX and no address.
        Nowhere => "nowhere",
        /// DNS did not answer.
        Unknown => "unknown",
    }
}

/// One domain's mail servers, probed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct DomainServers {
    /// The domain (A-label, lower-case).
    pub domain: String,
    /// "from" (the From domain) or "mail_from" (the envelope sender's,
    /// when it differs).
    pub role: String,
    pub targets: TargetsFound,
    /// Why the exchangers are unknown, or which had no address.
    pub errors: Vec<String>,
    /// Each address of each exchanger probed, most preferred first.
    pub hosts: Vec<HostProbe>,
    /// The MTA-STS policy, fetched and matched against every MX.
    #[serde(default)]
    pub mta_sts: mta_sts::MtaStsFinding,
}

/// What probing the sender's servers found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct MailServerFinding {
    pub status: ProbeStatus,
    /// The From domain first, then the MAIL FROM domain when it differs.
    pub domains: Vec<DomainServers>,
}

/// The probe as the analyzer runs it: the prober and its cache, shared by
/// every lane.
pub struct MailServers {
    prober: Prober,
    cache: cache::ProbeCache<(String, std::net::IpAddr, String), HostProbe>,
    policies: cache::ProbeCache<String, mta_sts::MtaStsFinding>,
}

impl MailServers {
    pub fn new(settings: &ProbeSettings) -> Result<MailServers, String> {
        // Probing off: no certificate is ever judged, so no roots are read.
        let roots = if settings.enabled {
            certificate::Roots::load(&settings.ca_files)?
        } else {
            certificate::Roots::none()
        };
        Ok(MailServers {
            prober: Prober {
                settings: settings.clone(),
                roots,
            },
            cache: cache::ProbeCache::default(),
            policies: cache::ProbeCache::default(),
        })
    }

    /// Probes the servers of `from_domain` and, when it differs,
    /// `mail_from_domain`, within the total deadline.
    pub async fn probe(
        &self,
        dns: &Dns,
        from_domain: Option<&str>,
        mail_from_domain: Option<&str>,
    ) -> MailServerFinding {
        if !self.prober.settings.enabled {
            return MailServerFinding {
                status: ProbeStatus::Off,
                domains: Vec::new(),
            };
        }
        let mut wanted: Vec<(String, &str)> = Vec::new();
        for (domain, role) in [(from_domain, "from"), (mail_from_domain, "mail_from")] {
            let Some(domain) = domain.map(|d| d.trim_end_matches('.').to_ascii_lowercase()) else {
                continue;
            };
            if !domain.is_empty() && !wanted.iter().any(|(d, _)| *d == domain) {
                wanted.push((domain, role));
            }
        }
        if wanted.is_empty() {
            return MailServerFinding::default();
        }
        let all = futures_util::future::join_all(
            wanted
                .iter()
                .map(|(domain, role)| self.domain(dns, domain, role)),
        );
        match tokio::time::timeout(self.prober.settings.total_timeout, all).await {
            Ok(domains) => MailServerFinding {
                status: ProbeStatus::Probed,
                domains,
            },
            Err(_) => MailServerFinding {
                status: ProbeStatus::TimedOut,
                domains: Vec::new(),
            },
        }
    }

    async fn domain(&self, dns: &Dns, domain: &str, role: &str) -> DomainServers {
        let mut found = DomainServers {
            domain: domain.to_string(),
            role: role.to_string(),
            targets: TargetsFound::Exchangers,
            errors: Vec::new(),
            hosts: Vec::new(),
            mta_sts: mta_sts::MtaStsFinding::default(),
        };
        let (exchanges, names) = match targets::targets(dns, domain).await {
            Targets::Exchanges(exchanges, names) => (exchanges, names),
            Targets::NullMx => {
                found.targets = TargetsFound::NullMx;
                return found;
            }
            Targets::Nowhere => {
                found.targets = TargetsFound::Nowhere;
                return found;
            }
            Targets::Unknown(error) => {
                found.targets = TargetsFound::Unknown;
                found.errors.push(error);
                return found;
            }
        };
        let ttl = self.prober.settings.cache_ttl;
        let mut probes = Vec::new();
        for exchange in &exchanges {
            found.errors.extend(exchange.error.clone());
            for &address in &exchange.addresses {
                probes.push(self.cache.get_or_probe(
                    (exchange.host.clone(), address, domain.to_string()),
                    ttl,
                    self.prober.probe(
                        dns,
                        &exchange.host,
                        exchange.preference,
                        exchange.implicit,
                        address,
                        domain,
                    ),
                ));
            }
        }
        let policy = self.policies.get_or_probe(
            domain.to_string(),
            ttl,
            mta_sts::check(
                dns,
                &self.prober.settings,
                &self.prober.roots,
                domain,
                &names,
            ),
        );
        (found.hosts, found.mta_sts) = tokio::join!(futures_util::future::join_all(probes), policy);
        found
    }

    /// Addresses whose probe is kept now (for tests).
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

impl MailServerFinding {
    fn hosts(&self) -> impl Iterator<Item = &HostProbe> {
        self.domains.iter().flat_map(|d| d.hosts.iter())
    }

    fn completed(&self) -> impl Iterator<Item = &HostProbe> {
        self.hosts().filter(|h| h.reached == Reached::Completed)
    }

    /// Whether any exchanger relayed for strangers; unknown when none
    /// finished its test.
    pub fn relay(&self) -> RelayVerdict {
        if self.hosts().any(|h| h.relay.verdict == RelayVerdict::Open) {
            RelayVerdict::Open
        } else if self
            .hosts()
            .any(|h| h.relay.verdict == RelayVerdict::Closed)
        {
            RelayVerdict::Closed
        } else {
            RelayVerdict::Unknown
        }
    }

    /// Whether every exchanger that answered offers STARTTLS.
    pub fn starttls(&self) -> StartTls {
        let mut offered = StartTls::Unknown;
        for host in self.hosts() {
            match host.starttls {
                StartTls::NotOffered => return StartTls::NotOffered,
                StartTls::Offered => offered = StartTls::Offered,
                StartTls::Unknown => {}
            }
        }
        offered
    }

    /// The overall state for the rule table.
    fn probe_word(&self) -> &'static str {
        match self.status {
            ProbeStatus::Probed => {}
            other => return other.as_str(),
        }
        if self.completed().next().is_some() {
            "checked"
        } else if !self.domains.is_empty()
            && self
                .domains
                .iter()
                .all(|d| matches!(d.targets, TargetsFound::NullMx | TargetsFound::Nowhere))
        {
            "no_mail"
        } else {
            "failed"
        }
    }

    /// The handshake after STARTTLS, worst first.
    fn handshake_word(&self) -> &'static str {
        let sessions: Vec<_> = self.hosts().filter_map(|h| h.tls.as_ref()).collect();
        if sessions.iter().any(|s| s.version.is_none()) {
            "failed"
        } else if !sessions.is_empty() {
            "ok"
        } else if self.starttls() == StartTls::NotOffered {
            "none"
        } else {
            "unknown"
        }
    }

    /// The worst DANE state of any exchanger.
    fn dane_word(&self) -> &'static str {
        use dane::DaneState;
        let rank = |s: DaneState| match s {
            DaneState::NotMatched => 4,
            DaneState::Unusable => 3,
            DaneState::Unknown => 2,
            DaneState::Matched => 1,
            DaneState::Absent => 0,
        };
        self.completed()
            .map(|h| h.dane.state)
            .max_by_key(|s| rank(*s))
            .map_or("unknown", |s| s.as_str())
    }

    /// The worst certificate shown.
    fn certificate_word(&self) -> &'static str {
        self.hosts()
            .filter_map(|h| h.tls.as_ref()?.certificate.as_ref())
            .map(certificate_rank)
            .max()
            .map_or("unknown", |(_, word)| word)
    }
}

/// A certificate's worst fault, ranked: expired beats every other.
fn certificate_rank(cert: &certificate::CertificateFacts) -> (u8, &'static str) {
    use certificate::ChainState;
    if cert.chain == ChainState::Expired || cert.days_left < 0 {
        (5, "expired")
    } else if cert.chain == ChainState::Invalid {
        (4, "invalid")
    } else if !cert.name_matches {
        (3, "name_mismatch")
    } else if cert.self_signed {
        (2, "self_signed")
    } else if cert.chain == ChainState::Untrusted {
        (1, "untrusted")
    } else {
        (0, "valid")
    }
}

/// The rule fields of `mail_server`.
pub const FIELDS: &[Field] = &[
    (
        "probe",
        &[
            "checked",
            "failed",
            "no_mail",
            "off",
            "timed_out",
            "not_checked",
        ],
    ),
    ("starttls", StartTls::WORDS),
    ("tls_handshake", &["ok", "failed", "none", "unknown"]),
    (
        "certificate",
        &[
            "valid",
            "untrusted",
            "self_signed",
            "name_mismatch",
            "invalid",
            "expired",
            "unknown",
        ],
    ),
    ("relay", RelayVerdict::WORDS),
    ("dane", dane::DaneState::WORDS),
    ("mta_sts", mta_sts::StsState::WORDS),
    ("mta_sts_mode", &["enforce", "testing", "none", "unknown"]),
];

impl MailServerFinding {
    pub fn facts(&self, facts: &mut Facts) {
        let check = CheckId::MailServer;
        facts.put(check, "probe", self.probe_word());
        facts.put(check, "starttls", self.starttls().as_str());
        facts.put(check, "tls_handshake", self.handshake_word());
        facts.put(check, "certificate", self.certificate_word());
        facts.put(check, "relay", self.relay().as_str());
        facts.put(check, "dane", self.dane_word());
        let policy = self.domains.first().map(|d| &d.mta_sts);
        facts.put(
            check,
            "mta_sts",
            policy.map_or("unknown", |p| p.state.as_str()),
        );
        let mode = policy.and_then(|p| p.mode.as_deref());
        let mode = match mode {
            Some("enforce") => "enforce",
            Some("testing") => "testing",
            Some("none") => "none",
            _ => "unknown",
        };
        facts.put(check, "mta_sts_mode", mode);
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    MailServerWords {
        about: "The servers that receive the sender domain's mail (its MX), probed on port 25: do they offer STARTTLS with a valid certificate, and do they refuse to relay mail for strangers?",
            "送信ドメインのメールを受信するサーバー（MX）にポート 25 で接続して確認します：STARTTLS と有効な証明書を提供しているか、第三者のメールを中継（不正中継）しないか。";
        off: "Not checked (probing is off on this server).",
            "未確認（このサーバーではプローブが無効です）。";
        not_checked: "Not checked (no From domain, or a report made before servers were probed).",
            "未確認（From ドメインがないか、サーバー確認前に作成されたレポートです）。";
        timed_out: "Could not check: the probe took longer than its time limit.",
            "確認できませんでした：制限時間内に終わりませんでした。";
        null_mx: "The domain receives no mail (null MX).",
            "このドメインはメールを受信しません（null MX）。";
        nowhere: "The domain has neither MX nor address records: nothing receives its mail.",
            "このドメインには MX もアドレスレコードもなく、メールを受信するサーバーがありません。";
        no_starttls: "does not offer STARTTLS",
            "STARTTLS を提供していません";
        open_relay: "OPEN RELAY: accepted a recipient outside its domains",
            "不正中継：ドメイン外の宛先を受け付けました";
        relay_closed: "refuses to relay",
            "中継を拒否";
        could_not_check: "could not check",
            "確認できませんでした";
        about_mta_sts: "The MTA-STS policy (RFC 8461) fetched over HTTPS: senders that honour it deliver only over verified TLS, and only to the MX hosts it lists.",
            "HTTPS で取得した MTA-STS ポリシー（RFC 8461）です。これに従う送信側は、検証済みの TLS で、記載された MX ホストにのみ配送します。";
        mx_not_in_policy: "MX not covered by the policy",
            "ポリシーに含まれない MX";
    }
}

impl MailServerFinding {
    /// One row per address probed, or one row saying why there is none.
    pub fn rows(&self, lang: Lang) -> Vec<Row> {
        let w = MailServerWords::of(lang);
        let t = lang.ui();
        // Off or never run: nothing was tried, so no setup label at all.
        let single = |tone, word, setup: Option<Setup>, detail: &str| Row {
            check: CheckId::MailServer,
            tone: Some(tone),
            name: "MX".into(),
            word: Some(word),
            setup: setup.map_or("", |s| s.label(t)),
            about: w.about,
            detail: detail.to_string(),
            records: Vec::new(),
        };
        match self.status {
            ProbeStatus::Off => return vec![single(Tone::Info, "off", None, w.off)],
            ProbeStatus::NotChecked => {
                return vec![single(Tone::Info, "not_checked", None, w.not_checked)];
            }
            ProbeStatus::TimedOut => {
                return vec![single(
                    Tone::Warn,
                    "timed_out",
                    Some(Setup::Unknown),
                    w.timed_out,
                )];
            }
            ProbeStatus::Probed => {}
        }
        let mut rows = Vec::new();
        for domain in &self.domains {
            match domain.targets {
                TargetsFound::NullMx => rows.push(single(
                    Tone::Info,
                    "null_mx",
                    Some(Setup::Missing),
                    w.null_mx,
                )),
                TargetsFound::Nowhere => rows.push(single(
                    Tone::Warn,
                    "nowhere",
                    Some(Setup::Missing),
                    w.nowhere,
                )),
                TargetsFound::Unknown => rows.push(single(
                    Tone::Warn,
                    "unknown",
                    Some(Setup::Unknown),
                    &domain.errors.join("; "),
                )),
                TargetsFound::Exchangers => {}
            }
            rows.extend(
                domain
                    .hosts
                    .iter()
                    .map(|host| host_row(host, &domain.domain, lang)),
            );
            rows.extend(policy_row(&domain.mta_sts, &domain.domain, lang));
        }
        rows
    }

    /// `mailscore check`'s line per address probed.
    pub fn text(&self) -> String {
        if self.status != ProbeStatus::Probed {
            return super::row::text_line("mx", self.status.as_str(), "", "");
        }
        self.hosts()
            .map(|h| {
                let tls = h.tls.as_ref().and_then(|s| s.version.clone());
                let detail = join(&[
                    Some(format!("{} [{}]", h.host, h.address)),
                    Some(format!("starttls={}", h.starttls.as_str())),
                    tls,
                    Some(format!("relay={}", h.relay.verdict.as_str())),
                    h.error.clone(),
                ]);
                super::row::text_line("mx", h.reached.as_str(), "", &detail)
            })
            .collect()
    }
}

fn host_row(host: &HostProbe, domain: &str, lang: Lang) -> Row {
    let w = MailServerWords::of(lang);
    let (tone, word, setup) = match (host.reached, host.relay.verdict, host.starttls) {
        (_, RelayVerdict::Open, _) => (Tone::Bad, "open_relay", Setup::Misconfigured),
        (Reached::Completed, _, StartTls::NotOffered) => (Tone::Bad, "no_starttls", Setup::Missing),
        (Reached::Completed, _, _) if host_certificate_problem(host) => {
            (Tone::Warn, "completed", Setup::Misconfigured)
        }
        (Reached::Completed, _, _) => (Tone::Ok, "completed", Setup::Configured),
        (reached, _, _) => (Tone::Warn, reached.as_str(), Setup::Unknown),
    };
    let tls = host
        .tls
        .as_ref()
        .map(|session| match (&session.version, &session.certificate) {
            (Some(version), Some(cert)) => format!(
                "{version} {} · certificate {} (issuer {}, {} days left{}{})",
                session.cipher.as_deref().unwrap_or(""),
                cert.chain.as_str(),
                cert.issuer,
                cert.days_left,
                if cert.name_matches {
                    ""
                } else {
                    ", name does not match"
                },
                if cert.self_signed {
                    ", self-signed"
                } else {
                    ""
                },
            ),
            _ => session.error.clone().unwrap_or_default(),
        });
    let relay = match host.relay.verdict {
        RelayVerdict::Open => Some(format!(
            "{}: {}",
            w.open_relay,
            host.relay
                .attempts
                .iter()
                .filter(|a| a.accepted)
                .map(|a| format!("{} {}", a.variant, a.recipient))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        RelayVerdict::Closed => Some(w.relay_closed.to_string()),
        RelayVerdict::Unknown => None,
    };
    let error = host
        .error
        .as_ref()
        .map(|e| format!("{}: {e}", w.could_not_check));
    Row {
        check: CheckId::MailServer,
        tone: Some(tone),
        name: format!("{} [{}] ({domain})", host.host, host.address),
        word: Some(word),
        setup: setup.label(lang.ui()),
        about: w.about,
        detail: join(&[
            (host.starttls == StartTls::NotOffered).then(|| w.no_starttls.to_string()),
            tls,
            (host.dane.state != dane::DaneState::Absent)
                .then(|| format!("DANE {}", host.dane.state.as_str())),
            relay,
            error,
        ]),
        records: host
            .banner
            .iter()
            .cloned()
            .chain(
                host.dane
                    .records
                    .iter()
                    .map(|r| format!("_25._tcp.{} TLSA {r}", host.host)),
            )
            .collect(),
    }
}

/// The MTA-STS policy's row, when the domain publishes one.
fn policy_row(policy: &mta_sts::MtaStsFinding, domain: &str, lang: Lang) -> Option<Row> {
    use mta_sts::StsState;
    let w = MailServerWords::of(lang);
    let enforce = policy.mode.as_deref() == Some("enforce");
    let (tone, setup) = match policy.state {
        StsState::NotPublished => return None,
        StsState::Valid => (Tone::Ok, Setup::Configured),
        StsState::MxMismatch if enforce => (Tone::Bad, Setup::Misconfigured),
        StsState::MxMismatch | StsState::Invalid => (Tone::Warn, Setup::Misconfigured),
        StsState::Unknown => (Tone::Warn, Setup::Unknown),
    };
    Some(Row {
        check: CheckId::MailServer,
        tone: Some(tone),
        name: format!("MTA-STS ({domain})"),
        word: Some(policy.state.as_str()),
        setup: setup.label(lang.ui()),
        about: w.about_mta_sts,
        detail: join(&[
            policy.mode.as_ref().map(|m| format!("mode={m}")),
            policy.max_age.map(|a| format!("max_age={a}")),
            (!policy.unmatched.is_empty())
                .then(|| format!("{}: {}", w.mx_not_in_policy, policy.unmatched.join(", "))),
            policy.error.clone(),
        ]),
        records: policy
            .url
            .iter()
            .cloned()
            .chain(policy.mx.iter().map(|mx| format!("mx: {mx}")))
            .collect(),
    })
}

fn host_certificate_problem(host: &HostProbe) -> bool {
    host.tls.as_ref().is_some_and(|s| match &s.certificate {
        Some(cert) => certificate_rank(cert).0 > 0,
        None => true,
    })
}

/// Shared between the analyzers of every lane.
pub type SharedMailServers = Arc<MailServers>;
