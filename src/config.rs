//! Every setting `mailscore serve` (and `check`) takes, declared once in
//! [`Options`]: clap reads each field from its flag and `MAILSCORE_*`
//! environment variable, serde from the TOML file (`--config`, the same
//! snake_case names). Flags win over the environment, the environment over
//! the file, the file over the defaults; [`Config`] is the result, with the
//! defaults filled in and checked.

use crate::analysis::pipeline::Pipeline;
use crate::checks::content::Profile;
use crate::checks::dnsbl;
use crate::checks::mail_server::{DEFAULT_RELAY_DOMAIN, ProbeSettings};
use crate::checks::rspamd::RspamdSettings;
use crate::checks::spamd::SpamdSettings;
use crate::checks::{Analyzer, Settings, SetupError};
use crate::dns::{DnsSetupError, resolver_with_anchors};
use crate::score::{RuleTable, RulesError};
use crate::webhooks::WebhookSettings;
use clap::Args;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The settings `mailscore serve` runs with, after merging every source.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub data_dir: PathBuf,
    pub smtp_listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// Test addresses are `<id>@<domain>`.
    pub domain: String,
    /// Our host name: SMTP banner, and the receiving host in SPF macros.
    pub hostname: String,
    /// The DNS server every check asks; the system resolver when None.
    pub dns: Option<SocketAddr>,
    pub dns_timeout: Duration,
    /// DNSSEC trust anchors instead of the root's built-in keys.
    pub dnssec_trust_anchor: Option<PathBuf>,
    /// A directory of rule tables; the embedded default when None.
    pub rules: Option<PathBuf>,
    pub max_message_size: usize,
    /// The base of the URLs handed out (`report_url`, `json_url`).
    pub public_url: String,
    /// PEM certificate chain and key for STARTTLS; when absent, a
    /// self-signed pair is generated in the data dir on first start.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Blocklists and trust anchors the checks use.
    pub lists: Settings,
    /// Messages and reports are deleted this long after receipt.
    pub retention: Duration,
    /// A survey and its rows are deleted this long after its last activity
    /// (its creation or its latest row); at least `retention`.
    pub survey_retention: Duration,
    /// Where tests are stored: None for SQLite in `data_dir` (one node),
    /// "sled" for sled there (one node), or a `redis://host:port/db` URL
    /// that several nodes share.
    pub store: Option<String>,
    /// Bytes of the embedded store's page cache (sled's, or SQLite's
    /// connections' together): what bounds the store's share of
    /// resident memory, whatever the number of stored tests.
    pub store_cache: u64,
    /// How long the SMTP server waits for a client's next command.
    pub smtp_command_timeout: Duration,
    /// How long a client may take over a whole DATA body.
    pub smtp_data_timeout: Duration,
    /// How long one SMTP connection may last, however busy it keeps.
    pub smtp_session_lifetime: Duration,
    /// How long an HTTP client has to send a request's headers (and the
    /// keep-alive idle time).
    pub http_header_timeout: Duration,
    /// HTTP connections served at once.
    pub http_max_connections: usize,
    /// Bytes kept free on the data directory's disk: below it new mail
    /// gets `452 4.3.1` and `/readyz` 503.
    pub min_free_space: u64,
    /// SMTP connections open at once from one address (IPv6: one /64).
    pub max_connections_per_ip: usize,
    /// Messages one address may start per minute (a token bucket).
    pub messages_per_ip_per_minute: u32,
    /// Accepted messages that may await analysis before MAIL gets `451`.
    pub max_analysis_backlog: u64,
    /// How log lines are written (to standard error).
    pub log_format: LogFormat,
    /// Load balancers whose SMTP connections start with a PROXY protocol
    /// header (v1 or v2) giving the real client; they must send one. Empty:
    /// no PROXY protocol.
    pub proxy_trusted: Vec<IpNet>,
    /// Where finished reports are POSTed, and how.
    pub webhooks: WebhookSettings,
    /// The API keys file; without it the API is open.
    pub api_keys: Option<PathBuf>,
    /// Reports, too, need a key (with the `read` scope).
    pub private_reports: bool,
}

/// Log lines as human-readable text or as one JSON object per line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A feature that is on unless turned off (`--probe`, `--dnssec-validation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    #[default]
    On,
    Off,
}

/// Every setting, as given: a flag (or its environment variable) or a key
/// of the config file. `None` is "not given here".
#[derive(Debug, Clone, Default, PartialEq, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "MAILSCORE_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Directory of the embedded store (SQLite, or sled) [default: ./data]
    #[arg(long, env = "MAILSCORE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// SMTP listen address [default: 127.0.0.1:2525]
    #[arg(long, env = "MAILSCORE_SMTP_LISTEN")]
    pub smtp_listen: Option<SocketAddr>,
    /// HTTP listen address [default: 127.0.0.1:8080]
    #[arg(long, env = "MAILSCORE_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// Mail domain of the test addresses [default: localhost]
    #[arg(long, env = "MAILSCORE_DOMAIN")]
    pub domain: Option<String>,
    /// Host name in the SMTP banner and SPF's %{r} [default: the domain]
    #[arg(long, env = "MAILSCORE_HOSTNAME")]
    pub hostname: Option<String>,
    /// DNS server to ask, HOST:PORT or an IP (port 53) [default: system resolver]
    #[arg(long, env = "MAILSCORE_DNS", value_parser = parse_dns_server)]
    #[serde(default, deserialize_with = "dns_server")]
    pub dns: Option<SocketAddr>,
    /// Seconds before a DNS query counts as a temperror [default: 3]
    #[arg(long, env = "MAILSCORE_DNS_TIMEOUT")]
    pub dns_timeout: Option<u64>,
    /// Directory of rule tables (*.toml) [default: the embedded table]
    #[arg(long, env = "MAILSCORE_RULES")]
    pub rules: Option<PathBuf>,
    /// Largest message accepted, in bytes [default: 10485760]
    #[arg(long, env = "MAILSCORE_MAX_MESSAGE_SIZE")]
    pub max_message_size: Option<usize>,
    /// Base URL for links in API answers [default: http://<http_listen>]
    #[arg(long, env = "MAILSCORE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// PEM certificate chain for STARTTLS [default: self-signed, in the data dir]
    #[arg(long, env = "MAILSCORE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for STARTTLS
    #[arg(long, env = "MAILSCORE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// DNSBL zones for the client IP, comma-separated; "" for none
    /// [default: zen.spamhaus.org,bl.spamcop.net,b.barracudacentral.org]
    #[arg(long, env = "MAILSCORE_DNSBL", value_delimiter = ',')]
    pub dnsbl: Option<Vec<String>>,
    /// Domain blocklist zones for From, DKIM and link domains, comma-separated
    /// [default: dbl.spamhaus.org,multi.surbl.org]
    #[arg(long, env = "MAILSCORE_DOMAIN_BLOCKLISTS", value_delimiter = ',')]
    pub domain_blocklists: Option<Vec<String>>,
    /// Extra PEM CA files trusted for S/MIME, besides the system roots.
    #[arg(long, env = "MAILSCORE_SMIME_CA", value_delimiter = ',')]
    pub smime_ca: Option<Vec<PathBuf>>,
    /// Content rule profile: "default", or "fisc" (no URLs, no HTML: the
    /// FISC guideline for Japanese banks) [default: default]
    #[arg(long, env = "MAILSCORE_CONTENT_PROFILE", value_parser = parse_profile)]
    pub content_profile: Option<Profile>,
    /// spamd (SpamAssassin) to score each message with, HOST:PORT [default: none]
    #[arg(long, env = "MAILSCORE_SPAMD")]
    pub spamd: Option<SocketAddr>,
    /// Seconds spamd may take per message before it counts as not checked [default: 10]
    #[arg(long, env = "MAILSCORE_SPAMD_TIMEOUT")]
    pub spamd_timeout: Option<u64>,
    /// rspamd's normal worker to score each message with (HTTP /checkv2),
    /// HOST:PORT [default: none]
    #[arg(long, env = "MAILSCORE_RSPAMD")]
    pub rspamd: Option<SocketAddr>,
    /// Seconds rspamd may take per message before it counts as not checked [default: 10]
    #[arg(long, env = "MAILSCORE_RSPAMD_TIMEOUT")]
    pub rspamd_timeout: Option<u64>,
    /// Seconds one check of a message may take; a check still waiting
    /// then is reported as "could not check" [default: 60]
    #[arg(long, env = "MAILSCORE_ANALYSIS_TIMEOUT")]
    pub analysis_timeout: Option<u64>,
    /// Days a message and its report are kept [default: 7]
    #[arg(long, env = "MAILSCORE_RETENTION_DAYS")]
    pub retention_days: Option<u64>,
    /// Days a survey and its rows are kept after its last activity (its
    /// creation or its latest message); at least retention_days
    /// [default: 400, or retention_days if longer]
    #[arg(long, env = "MAILSCORE_SURVEY_RETENTION_DAYS")]
    pub survey_retention_days: Option<u64>,
    /// Store shared by several nodes, redis://host:port/db; "sqlite" or
    /// "sled" for the data dir [default: sqlite]
    #[arg(long, env = "MAILSCORE_STORE")]
    pub store: Option<String>,
    /// Megabytes of the embedded store's page cache (sled, sqlite) [default: 64]
    #[arg(long, env = "MAILSCORE_STORE_CACHE_MB")]
    pub store_cache_mb: Option<u64>,
    /// Seconds the SMTP server waits for the next command [default: 300]
    #[arg(long, env = "MAILSCORE_SMTP_COMMAND_TIMEOUT")]
    pub smtp_command_timeout: Option<u64>,
    /// Seconds a client may take over a whole DATA body [default: 600]
    #[arg(long, env = "MAILSCORE_SMTP_DATA_TIMEOUT")]
    pub smtp_data_timeout: Option<u64>,
    /// Seconds one SMTP connection may last, busy or not [default: 1800]
    #[arg(long, env = "MAILSCORE_SMTP_SESSION_LIFETIME")]
    pub smtp_session_lifetime: Option<u64>,
    /// Seconds an HTTP client has to send a request's headers, and to keep
    /// an idle connection open [default: 10]
    #[arg(long, env = "MAILSCORE_HTTP_HEADER_TIMEOUT")]
    pub http_header_timeout: Option<u64>,
    /// HTTP connections served at once [default: 1024]
    #[arg(long, env = "MAILSCORE_HTTP_MAX_CONNECTIONS")]
    pub http_max_connections: Option<usize>,
    /// Megabytes kept free on the data directory's disk; below it new mail
    /// gets 452 4.3.1 and /readyz 503 [default: 100]
    #[arg(long, env = "MAILSCORE_MIN_FREE_SPACE_MB")]
    pub min_free_space_mb: Option<u64>,
    /// SMTP connections open at once from one address [default: 20]
    #[arg(long, env = "MAILSCORE_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// Messages one address may send per minute [default: 60]
    #[arg(long, env = "MAILSCORE_MESSAGES_PER_IP_PER_MINUTE")]
    pub messages_per_ip_per_minute: Option<u32>,
    /// Accepted messages that may await analysis; at this many MAIL gets
    /// 451 4.3.2 until the analyzer catches up [default: 2000]
    #[arg(long, env = "MAILSCORE_MAX_ANALYSIS_BACKLOG")]
    pub max_analysis_backlog: Option<u64>,
    /// Log format on standard error [default: text]
    #[arg(long, env = "MAILSCORE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Addresses or CIDR blocks (comma-separated) of load balancers that
    /// must open each SMTP connection with a PROXY protocol header
    /// [default: none]
    #[arg(long, env = "MAILSCORE_PROXY_TRUSTED", value_delimiter = ',', value_parser = parse_trusted_net)]
    #[serde(default, deserialize_with = "trusted_nets")]
    pub proxy_trusted: Option<Vec<IpNet>>,
    /// Probe the sender domain's mail servers (port 25: STARTTLS,
    /// certificate, open relay); "off" where outbound port 25 is
    /// forbidden [default: on]
    #[arg(long, env = "MAILSCORE_PROBE", value_enum)]
    pub probe: Option<Switch>,
    /// The port probed on the sender's mail servers [default: 25]
    #[arg(long, env = "MAILSCORE_PROBE_PORT")]
    pub probe_port: Option<u16>,
    /// The HTTPS port MTA-STS policies are fetched from [default: 443]
    #[arg(long, env = "MAILSCORE_PROBE_HTTPS_PORT")]
    pub probe_https_port: Option<u16>,
    /// Also probe private, loopback and other non-public addresses
    /// (tests; never on a public server) [default: false]
    #[arg(long, env = "MAILSCORE_PROBE_ALLOW_PRIVATE", num_args = 0..=1, default_missing_value = "true")]
    pub probe_allow_private: Option<bool>,
    /// Extra PEM CA files trusted for the probed servers' certificates,
    /// besides the system roots.
    #[arg(long, env = "MAILSCORE_PROBE_CA", value_delimiter = ',')]
    pub probe_ca: Option<Vec<PathBuf>>,
    /// Seconds the whole probe of one report may take; each step gets
    /// half, at most 10 [default: 20]
    #[arg(long, env = "MAILSCORE_PROBE_TIMEOUT")]
    pub probe_timeout: Option<u64>,
    /// Validate the From domain's DNSSEC (secure / insecure / bogus); the
    /// DNS server must return DNSSEC records [default: on]
    #[arg(long, env = "MAILSCORE_DNSSEC_VALIDATION", value_enum)]
    pub dnssec_validation: Option<Switch>,
    /// DNSKEY records (zone-file form) trusted for DNSSEC validation
    /// instead of the root's built-in keys [default: IANA's root keys]
    #[arg(long, env = "MAILSCORE_DNSSEC_TRUST_ANCHOR")]
    pub dnssec_trust_anchor: Option<PathBuf>,
    /// Domain of the open relay test's outside recipients
    /// [default: relay-test.invalid]
    #[arg(long, env = "MAILSCORE_PROBE_RELAY_DOMAIN")]
    pub probe_relay_domain: Option<String>,
    /// The HMAC-SHA256 key webhook bodies are signed with
    /// (`X-Mailscore-Signature`); without it no webhook is taken
    #[arg(long, env = "MAILSCORE_WEBHOOK_SECRET")]
    pub webhook_secret: Option<String>,
    /// Also deliver webhooks to loopback, private and link-local addresses,
    /// and over plain http:// (tests; never on a public server)
    /// [default: false]
    #[arg(long, env = "MAILSCORE_WEBHOOK_ALLOW_PRIVATE", num_args = 0..=1, default_missing_value = "true")]
    pub webhook_allow_private: Option<bool>,
    /// Seconds one webhook attempt may take [default: 10]
    #[arg(long, env = "MAILSCORE_WEBHOOK_TIMEOUT")]
    pub webhook_timeout: Option<u64>,
    /// Milliseconds before the first retry of a failed webhook; each later
    /// wait doubles, at most an hour, for 24 hours [default: 10000]
    #[arg(long, env = "MAILSCORE_WEBHOOK_RETRY_MS")]
    pub webhook_retry_ms: Option<u64>,
    /// TOML file of API keys ([[key]] name, sha256, scopes); with it,
    /// creating tests and surveys and reading surveys need
    /// `Authorization: Bearer <key>` [default: none, the API is open]
    #[arg(long, env = "MAILSCORE_API_KEYS")]
    pub api_keys: Option<PathBuf>,
    /// Reading a report, too, needs a key with the "read" scope (needs
    /// --api-keys) [default: false]
    #[arg(long, env = "MAILSCORE_PRIVATE_REPORTS", num_args = 0..=1, default_missing_value = "true")]
    pub private_reports: Option<bool>,
}

fn parse_profile(text: &str) -> Result<Profile, String> {
    Profile::parse(text).ok_or_else(|| format!("{text:?} is not a profile (default, fisc)"))
}

/// A file's `dns`: like the flag, a bare IP means port 53.
fn dns_server<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| parse_dns_server(&text).map_err(serde::de::Error::custom))
        .transpose()
}

/// A file's `proxy_trusted`: like the flag, a bare IP is a one-address block.
fn trusted_nets<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<IpNet>>, D::Error> {
    Option::<Vec<String>>::deserialize(d)?
        .map(|nets| {
            nets.iter()
                .map(|net| parse_trusted_net(net).map_err(serde::de::Error::custom))
                .collect()
        })
        .transpose()
}

impl Options {
    /// These options over `file`'s: each one given here replaces the
    /// file's. Field by field through their serde form, so a new setting
    /// needs no line here.
    fn over(&self, file: Options) -> Result<Options, String> {
        let mut merged = serde_json::to_value(file).map_err(|e| e.to_string())?;
        let given = serde_json::to_value(self).map_err(|e| e.to_string())?;
        for (key, value) in given.as_object().into_iter().flatten() {
            if !value.is_null() {
                merged[key] = value.clone();
            }
        }
        let mut options: Options = serde_json::from_value(merged).map_err(|e| e.to_string())?;
        options.config = self.config.clone();
        Ok(options)
    }

    /// The analysis' settings: given or default blocklists, trust anchors,
    /// content profile, spamd and rspamd.
    fn settings(&self) -> Settings {
        let zones = |given: &Option<Vec<String>>, default: &[&str]| {
            given
                .clone()
                .unwrap_or_else(|| default.iter().map(|z| z.to_string()).collect())
                .into_iter()
                .map(|z| z.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|z| !z.is_empty())
                .collect()
        };
        Settings {
            ip_blocklists: zones(&self.dnsbl, dnsbl::DEFAULT_IP_ZONES),
            domain_blocklists: zones(&self.domain_blocklists, dnsbl::DEFAULT_DOMAIN_ZONES),
            smime_ca_files: self.smime_ca.clone().unwrap_or_default(),
            content_profile: self.content_profile.unwrap_or_default(),
            spamd: self.spamd.map(|addr| SpamdSettings {
                addr,
                timeout: Duration::from_secs(self.spamd_timeout.unwrap_or(10).max(1)),
            }),
            rspamd: self.rspamd.map(|addr| RspamdSettings {
                addr,
                timeout: Duration::from_secs(self.rspamd_timeout.unwrap_or(10).max(1)),
            }),
            probe: self.probe_settings(),
            dnssec_validation: self.dnssec_validation.unwrap_or_default() == Switch::On,
            analysis_timeout: Duration::from_secs(self.analysis_timeout.unwrap_or(60).max(1)),
        }
    }

    /// The test domain, lower-case: "localhost" unless given.
    fn domain_or_default(&self) -> String {
        self.domain
            .as_deref()
            .unwrap_or("localhost")
            .to_ascii_lowercase()
    }

    fn probe_settings(&self) -> ProbeSettings {
        let total = Duration::from_secs(self.probe_timeout.unwrap_or(20).max(1));
        ProbeSettings {
            enabled: self.probe.unwrap_or_default() == Switch::On,
            port: self.probe_port.unwrap_or(25),
            https_port: self.probe_https_port.unwrap_or(443),
            allow_private: self.probe_allow_private.unwrap_or(false),
            ca_files: self.probe_ca.clone().unwrap_or_default(),
            helo: self.domain_or_default(),
            relay_domain: self
                .probe_relay_domain
                .clone()
                .unwrap_or(DEFAULT_RELAY_DOMAIN.into())
                .to_ascii_lowercase(),
            step_timeout: (total / 2).clamp(Duration::from_millis(500), Duration::from_secs(10)),
            total_timeout: total,
            ..ProbeSettings::off()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("invalid setting {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// Why the analysis could not be set up from a valid config.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Dns(#[from] DnsSetupError),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

impl Config {
    /// The HTTP listener's limits.
    pub fn http_limits(&self) -> crate::web::server::HttpLimits {
        crate::web::server::HttpLimits {
            header_timeout: self.http_header_timeout,
            max_connections: self.http_max_connections,
            ..Default::default()
        }
    }

    /// One analysis lane as the offline commands (`check`, `survey`) run
    /// it: the resolver, the analyzer and the rule table this config names.
    pub fn pipeline(&self) -> Result<Pipeline, PipelineError> {
        let dns = resolver_with_anchors(
            self.dns,
            self.dns_timeout,
            self.dnssec_trust_anchor.as_deref(),
        )?;
        Ok(Pipeline {
            analyzer: Analyzer::new(dns, &self.hostname, &self.lists)?,
            rules: RuleTable::load(self.rules.as_deref())?.into(),
        })
    }

    /// `args` (flags and environment) over the file it names, over the
    /// defaults, checked.
    pub fn load(args: &Options) -> Result<Config, ConfigError> {
        let options = match &args.config {
            Some(path) => args
                .over(read_file(path)?)
                .map_err(|message| ConfigError::Parse {
                    path: path.clone(),
                    message,
                })?,
            None => args.clone(),
        };
        let config = Config::from(options);
        config.validate()?;
        Ok(config)
    }
}

/// The defaults, for what no source gave.
impl From<Options> for Config {
    fn from(given: Options) -> Config {
        let http_listen = given
            .http_listen
            .unwrap_or_else(|| "127.0.0.1:8080".parse().unwrap());
        let domain = given.domain_or_default();
        let seconds = |given: Option<u64>, default| Duration::from_secs(given.unwrap_or(default));
        let days = |days: u64| Duration::from_secs(days.saturating_mul(86_400));
        let retention = days(given.retention_days.unwrap_or(7));
        Config {
            lists: given.settings(),
            data_dir: given.data_dir.unwrap_or("./data".into()),
            smtp_listen: given
                .smtp_listen
                .unwrap_or_else(|| "127.0.0.1:2525".parse().unwrap()),
            http_listen,
            hostname: given.hostname.unwrap_or(domain.clone()),
            domain,
            dns: given.dns,
            dns_timeout: seconds(given.dns_timeout, 3),
            dnssec_trust_anchor: given.dnssec_trust_anchor.clone(),
            rules: given.rules,
            max_message_size: given.max_message_size.unwrap_or(10 * 1024 * 1024),
            public_url: given
                .public_url
                .unwrap_or(format!("http://{http_listen}"))
                .trim_end_matches('/')
                .to_string(),
            tls_cert: given.tls_cert,
            tls_key: given.tls_key,
            retention,
            // Never shorter than the retention unless asked to (and then
            // refused): a long retention alone stays valid.
            survey_retention: given
                .survey_retention_days
                .map_or(days(400).max(retention), days),
            store: given.store.filter(|store| store != "sqlite"),
            store_cache: given.store_cache_mb.unwrap_or(64) * 1_048_576,
            smtp_command_timeout: seconds(given.smtp_command_timeout, 300),
            smtp_data_timeout: seconds(given.smtp_data_timeout, 600),
            smtp_session_lifetime: seconds(given.smtp_session_lifetime, 1800),
            http_header_timeout: seconds(given.http_header_timeout, 10),
            http_max_connections: given.http_max_connections.unwrap_or(1024),
            min_free_space: given.min_free_space_mb.unwrap_or(100) * 1_048_576,
            max_connections_per_ip: given.max_connections_per_ip.unwrap_or(20),
            messages_per_ip_per_minute: given.messages_per_ip_per_minute.unwrap_or(60),
            max_analysis_backlog: given.max_analysis_backlog.unwrap_or(2000),
            log_format: given.log_format.unwrap_or_default(),
            proxy_trusted: given.proxy_trusted.unwrap_or_default(),
            webhooks: WebhookSettings {
                secret: given.webhook_secret.filter(|s| !s.is_empty()),
                allow_private: given.webhook_allow_private.unwrap_or(false),
                timeout: seconds(given.webhook_timeout, 10),
                retry_base: Duration::from_millis(given.webhook_retry_ms.unwrap_or(10_000)),
                ..WebhookSettings::off()
            },
            api_keys: given.api_keys,
            private_reports: given.private_reports.unwrap_or(false),
        }
    }
}

impl Config {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name, message: &str| ConfigError::Invalid {
            name,
            message: message.to_string(),
        };
        if self.domain.is_empty() || self.domain.contains(['@', ' ', '/']) {
            return Err(invalid("domain", "must be a bare domain name"));
        }
        if self.max_message_size < 1024 {
            return Err(invalid("max_message_size", "must be at least 1024 bytes"));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(invalid("tls_cert", "tls_cert and tls_key go together"));
        }
        if self.retention.is_zero() {
            return Err(invalid("retention_days", "must be at least 1"));
        }
        if self.survey_retention < self.retention {
            // A survey's rows are what is left of its messages: going
            // before the messages would leave reports no table counts.
            return Err(invalid(
                "survey_retention_days",
                &format!(
                    "must be at least retention_days ({} days)",
                    self.retention.as_secs() / 86_400
                ),
            ));
        }
        if let Some(store) = &self.store {
            crate::store::Store::check_location(store).map_err(|e| ConfigError::Invalid {
                name: "store",
                message: e.to_string(),
            })?;
        }
        if self.dns_timeout.is_zero() {
            return Err(invalid("dns_timeout", "must be at least 1 second"));
        }
        if self.smtp_command_timeout.is_zero() {
            return Err(invalid("smtp_command_timeout", "must be at least 1 second"));
        }
        if self.smtp_data_timeout.is_zero() {
            return Err(invalid("smtp_data_timeout", "must be at least 1 second"));
        }
        if self.smtp_session_lifetime.is_zero() {
            return Err(invalid(
                "smtp_session_lifetime",
                "must be at least 1 second",
            ));
        }
        if self.http_header_timeout.is_zero() {
            return Err(invalid("http_header_timeout", "must be at least 1 second"));
        }
        if self.http_max_connections == 0 {
            return Err(invalid("http_max_connections", "must be at least 1"));
        }
        if self.max_connections_per_ip == 0 {
            return Err(invalid("max_connections_per_ip", "must be at least 1"));
        }
        if self.messages_per_ip_per_minute == 0 {
            return Err(invalid("messages_per_ip_per_minute", "must be at least 1"));
        }
        if self.webhooks.timeout.is_zero() {
            return Err(invalid("webhook_timeout", "must be at least 1 second"));
        }
        if self.webhooks.retry_base.is_zero() {
            return Err(invalid("webhook_retry_ms", "must be at least 1"));
        }
        if self.max_analysis_backlog == 0 {
            return Err(invalid("max_analysis_backlog", "must be at least 1"));
        }
        if self.private_reports && self.api_keys.is_none() {
            // Without keys nobody could read a report: refuse, rather
            // than serve reports to everyone while the flag says private.
            return Err(invalid("private_reports", "needs api_keys"));
        }
        Ok(())
    }
}

fn read_file(path: &PathBuf) -> Result<Options, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.clone(),
        message: e.to_string(),
    })
}

/// `10.0.0.0/8`, `2001:db8::/32`, or a bare IP meaning that one address.
pub fn parse_trusted_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))
}

/// `127.0.0.1:5353`, `[::1]:53`, or a bare IP meaning port 53.
pub fn parse_dns_server(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{text:?} is not HOST:PORT or an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_one_flag_one_env_var_and_one_file_key() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            options: Options,
        }
        let command = Serve::command();
        let keys = serde_json::to_value(Options::default()).unwrap();
        let keys: Vec<&String> = keys.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 51, "{keys:?}");
        for key in keys {
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_id() == key.as_str())
                .unwrap_or_else(|| panic!("file key {key} has no flag"));
            assert_eq!(arg.get_long(), Some(key.replace('_', "-").as_str()));
            let env = format!("MAILSCORE_{}", key.to_ascii_uppercase());
            assert_eq!(arg.get_env(), Some(std::ffi::OsStr::new(&env)), "{key}");
        }
        // The file takes what the flags take, bare IPs included.
        let file: Options = toml::from_str(
            "dns = \"192.0.2.53\"\nproxy_trusted = [\"192.0.2.1\"]\nsmime_ca = [\"ca.pem\"]\n",
        )
        .unwrap();
        assert_eq!(file.dns, Some("192.0.2.53:53".parse().unwrap()));
        assert_eq!(file.proxy_trusted.unwrap()[0].to_string(), "192.0.2.1/32");
        assert!(toml::from_str::<Options>("config = \"x.toml\"\n").is_err());
    }

    #[test]
    fn defaults_match_the_readme() {
        let config = Config::load(&Options::default()).unwrap();
        assert_eq!(config.smtp_listen, "127.0.0.1:2525".parse().unwrap());
        assert_eq!(config.http_listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.domain, "localhost");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert_eq!(config.dns, None);
        assert_eq!(config.retention, Duration::from_secs(7 * 86_400));
        assert_eq!(config.survey_retention, Duration::from_secs(400 * 86_400));
    }

    /// A config file in the temp dir, removed when dropped (after a failed
    /// assertion too).
    struct TomlFile(PathBuf);

    impl TomlFile {
        fn new(text: &str) -> TomlFile {
            let path =
                std::env::temp_dir().join(format!("mailscore-{}.toml", crate::test_id::generate()));
            std::fs::write(&path, text).unwrap();
            TomlFile(path)
        }

        fn rewrite(&self, text: &str) {
            std::fs::write(&self.0, text).unwrap();
        }

        /// Options that read this file and set nothing else.
        fn options(&self) -> Options {
            Options {
                config: Some(self.0.clone()),
                ..Options::default()
            }
        }
    }

    impl Drop for TomlFile {
        fn drop(&mut self) {
            std::fs::remove_file(&self.0).ok();
        }
    }

    #[test]
    fn survey_retention_comes_from_file_and_flags_and_is_no_shorter_than_the_retention() {
        let file = TomlFile::new(
            "retention_days = 30
survey_retention_days = 90
",
        );
        let args = file.options();
        let from_file = Config::load(&args);
        let flagged = Config::load(&Options {
            survey_retention_days: Some(30),
            ..args.clone()
        });
        let shorter = Config::load(&Options {
            survey_retention_days: Some(29),
            ..args
        });
        assert_eq!(
            from_file.unwrap().survey_retention,
            Duration::from_secs(90 * 86_400)
        );
        assert_eq!(
            flagged.unwrap().survey_retention,
            Duration::from_secs(30 * 86_400)
        );
        let long = Config::load(&Options {
            retention_days: Some(500),
            ..Options::default()
        });
        assert_eq!(
            long.unwrap().survey_retention,
            Duration::from_secs(500 * 86_400),
            "a retention longer than the default survey retention is valid alone"
        );
        let err = shorter.unwrap_err().to_string();
        assert!(
            err.contains("survey_retention_days") && err.contains("retention_days (30 days)"),
            "{err}"
        );
    }

    #[test]
    fn smtp_limit_defaults_match_the_listener() {
        let config = Config::load(&Options::default()).unwrap();
        let limits = crate::smtp::SmtpLimits::default();
        assert_eq!(config.smtp_command_timeout, limits.command_timeout);
        assert_eq!(config.smtp_data_timeout, limits.data_timeout);
        assert_eq!(config.smtp_session_lifetime, limits.session_lifetime);
        assert_eq!(config.max_connections_per_ip, limits.max_connections_per_ip);
        assert_eq!(
            config.messages_per_ip_per_minute,
            limits.messages_per_ip_per_minute
        );
        assert_eq!(config.max_analysis_backlog, limits.max_analysis_backlog);
    }

    #[test]
    fn smtp_limits_come_from_file_and_flags_and_zero_is_refused() {
        let file = TomlFile::new(
            "smtp_command_timeout = 30\nsmtp_data_timeout = 90\nmax_connections_per_ip = 4\n",
        );
        let args = Options {
            max_connections_per_ip: Some(7),
            messages_per_ip_per_minute: Some(5),
            ..file.options()
        };
        let config = Config::load(&args);
        let zero = Config::load(&Options {
            smtp_data_timeout: Some(0),
            ..args.clone()
        });
        let config = config.unwrap();
        assert_eq!(config.smtp_command_timeout, Duration::from_secs(30));
        assert_eq!(config.smtp_data_timeout, Duration::from_secs(90));
        assert_eq!(config.max_connections_per_ip, 7);
        assert_eq!(config.messages_per_ip_per_minute, 5);
        let err = zero.unwrap_err().to_string();
        assert!(err.contains("smtp_data_timeout"), "{err}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = TomlFile::new(
            "domain = \"file.example\"\ndns = \"127.0.0.1:5353\"\nsmtp_listen = \"127.0.0.1:2626\"\n",
        );
        let args = Options {
            domain: Some("Flag.Example".into()),
            ..file.options()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.domain, "flag.example");
        assert_eq!(config.hostname, "flag.example");
        assert_eq!(config.dns, Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(config.smtp_listen.port(), 2626);
    }

    #[test]
    fn unknown_file_key_is_an_error() {
        let file = TomlFile::new("domian = \"typo.example\"\n");
        let err = Config::load(&file.options()).unwrap_err().to_string();
        assert!(err.contains("domian"), "{err}");
    }

    #[test]
    fn example_config_in_deploy_is_valid() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/mailscore.toml");
        let config = Config::load(&Options {
            config: Some(path),
            ..Options::default()
        })
        .unwrap();
        assert_eq!(config.domain, "test.example.com");
        assert_eq!(config.lists.ip_blocklists.len(), 3);
        assert_eq!(config.smtp_data_timeout, Duration::from_secs(600));
        assert_eq!(config.messages_per_ip_per_minute, 60);
        assert_eq!(config.survey_retention, Duration::from_secs(400 * 86_400));
    }

    #[test]
    fn list_flags_override_and_empty_disables() {
        let args = Options {
            dnsbl: Some(vec!["BL.Example.".into()]),
            domain_blocklists: Some(vec![String::new()]),
            smime_ca: None,
            ..Options::default()
        };
        let lists = Config::load(&args).unwrap().lists;
        assert_eq!(lists.ip_blocklists, vec!["bl.example".to_string()]);
        assert!(lists.domain_blocklists.is_empty());
    }

    #[test]
    fn proxy_trusted_and_log_format_come_from_the_file_and_bad_blocks_are_named() {
        let file =
            TomlFile::new("proxy_trusted = [\"10.1.2.3/8\", \"::1\"]\nlog_format = \"json\"\n");
        let args = file.options();
        let config = Config::load(&args);
        file.rewrite("proxy_trusted = [\"10.0.0.0/33\"]\n");
        let bad = Config::load(&args);
        let config = config.unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        let trusted: Vec<String> = config.proxy_trusted.iter().map(|n| n.to_string()).collect();
        assert_eq!(trusted, ["10.0.0.0/8", "::1/128"]);
        let err = bad.unwrap_err().to_string();
        assert!(
            err.contains("proxy_trusted") && err.contains("10.0.0.0/33"),
            "{err}"
        );
        let default = Config::load(&Options::default()).unwrap();
        assert!(default.proxy_trusted.is_empty());
    }

    #[test]
    fn spamd_rspamd_and_content_profile_come_from_file_and_flags() {
        let file = TomlFile::new(
            "spamd = \"127.0.0.1:783\"\nspamd_timeout = 4\ncontent_profile = \"fisc\"\n\
             rspamd = \"127.0.0.1:11333\"\nrspamd_timeout = 3\n",
        );
        let args = file.options();
        let from_file = Config::load(&args).map(|c| c.lists);
        let flagged = Config::load(&Options {
            spamd: Some("127.0.0.1:7830".parse().unwrap()),
            rspamd: Some("127.0.0.1:21333".parse().unwrap()),
            content_profile: Some(Profile::Default),
            ..args
        })
        .map(|c| c.lists);
        let from_file = from_file.unwrap();
        let spamd = from_file.spamd.unwrap();
        assert_eq!(spamd.addr, "127.0.0.1:783".parse().unwrap());
        assert_eq!(spamd.timeout, Duration::from_secs(4));
        let rspamd = from_file.rspamd.unwrap();
        assert_eq!(rspamd.addr, "127.0.0.1:11333".parse().unwrap());
        assert_eq!(rspamd.timeout, Duration::from_secs(3));
        assert_eq!(from_file.content_profile, Profile::Fisc);
        let flagged = flagged.unwrap();
        assert_eq!(flagged.spamd.unwrap().addr.port(), 7830);
        assert_eq!(flagged.rspamd.unwrap().addr.port(), 21333);
        assert_eq!(flagged.content_profile, Profile::Default);
        let default = Config::load(&Options::default()).unwrap();
        assert!(default.lists.spamd.is_none());
        assert!(default.lists.rspamd.is_none());
        assert!(parse_profile("banks").is_err());
    }

    #[test]
    fn api_keys_and_private_reports_come_from_file_and_flags() {
        let file =
            TomlFile::new("api_keys = \"/etc/mailscore/keys.toml\"\nprivate_reports = true\n");
        let args = file.options();
        let from_file = Config::load(&args);
        let flagged = Config::load(&Options {
            private_reports: Some(false),
            ..args
        });
        let from_file = from_file.unwrap();
        assert_eq!(
            from_file.api_keys,
            Some(PathBuf::from("/etc/mailscore/keys.toml"))
        );
        assert!(from_file.private_reports);
        assert!(!flagged.unwrap().private_reports);
        let default = Config::load(&Options::default()).unwrap();
        assert_eq!((default.api_keys, default.private_reports), (None, false));
        let err = Config::load(&Options {
            private_reports: Some(true),
            ..Options::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("private_reports") && err.contains("api_keys"),
            "{err}"
        );
    }

    #[test]
    fn dns_accepts_a_bare_ip() {
        assert_eq!(parse_dns_server("10.0.0.1").unwrap().port(), 53);
        assert!(parse_dns_server("dns.example").is_err());
    }

    #[test]
    fn store_is_sqlite_by_default_or_a_redis_url_and_tls_is_refused() {
        assert_eq!(Config::load(&Options::default()).unwrap().store, None);
        let store = |value: &str| {
            Config::load(&Options {
                store: Some(value.into()),
                ..Options::default()
            })
        };
        assert_eq!(store("sqlite").unwrap().store, None);
        assert_eq!(store("sled").unwrap().store.as_deref(), Some("sled"));
        let url = "redis://10.0.0.5:6379/2";
        assert_eq!(store(url).unwrap().store.as_deref(), Some(url));
        let err = store("rediss://10.0.0.5/0").unwrap_err().to_string();
        assert!(err.contains("store") && err.contains("TLS"), "{err}");
        assert!(store("./data").is_err());
    }
}
