//! The one resolver every check shares. Which server it asks is configurable
//! (`--dns HOST:PORT`) so tests, and operators with a local validating
//! resolver, decide where answers come from.
//!
//! Plumbing under the checks, as mail-auth's `common/` is under its
//! standards: the replies kept until their TTL ends ([`answers`]), the
//! records mail-auth parsed ([`kept_records`]) over one bounded map
//! ([`ttl_map`]), and the domain arithmetic DMARC and DNSSEC need
//! ([`org_domain`], [`zone_apex`]).

pub mod answers;
pub mod idn;
pub mod kept_records;
pub mod org_domain;
pub mod ttl_map;
pub mod zone_apex;

use self::answers::{Answers, Question, Reply};
use self::kept_records::{KeptParameters, KeptRecords};
use mail_auth::MessageAuthenticator;
use mail_auth::hickory_resolver::TokioResolver;
use mail_auth::hickory_resolver::config::{
    NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::hickory_resolver::lookup::Lookup;
use mail_auth::hickory_resolver::net::runtime::TokioRuntimeProvider;
use mail_auth::hickory_resolver::net::{DnsError, NetError};
use mail_auth::hickory_resolver::proto::dnssec::TrustAnchors;
use mail_auth::hickory_resolver::proto::rr::{IntoName, Name, RData, RecordType};
use mail_auth::hickory_resolver::system_conf::read_system_conf;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// DNS could not be set up (unreadable resolv.conf, say).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the DNS resolver: {0}")]
pub struct DnsSetupError(String);

/// The resolver, and the answers it has had: our own lookups go through
/// [`Dns::lookup`], mail-auth's verifiers (DKIM, DMARC, ARC, iprev) through
/// [`Dns::auth`].
pub struct Dns {
    auth: MessageAuthenticator,
    answers: Answers,
    records: KeptRecords,
    /// The same servers asked with DNSSEC validation (RFC 4035 §5), from
    /// the root's trust anchors or the operator's: only the DNSSEC check
    /// uses it, so a bogus zone never breaks the other checks' lookups.
    validating: TokioResolver,
}

impl Dns {
    /// mail-auth's verifier, over the same resolver. Give it its input
    /// through [`Dns::parameters`], so its lookups are kept too.
    pub fn auth(&self) -> &MessageAuthenticator {
        &self.auth
    }

    /// `params` for a mail-auth verifier, with the records it has parsed
    /// kept until their TTL ends.
    pub fn parameters<P>(&self, params: P) -> KeptParameters<'_, P> {
        self.records.parameters(params)
    }

    /// The records of `rtype` at `name`, from the replies kept while their
    /// TTL lasts, else asked. As with hickory, a name without the final dot
    /// goes through the search list.
    pub async fn lookup(&self, name: &str, rtype: RecordType) -> Reply {
        self.ask(Question::text(name, rtype), name, rtype).await
    }

    /// [`Dns::lookup`] for a name already parsed (SPF builds names label by
    /// label, byte for byte).
    pub async fn lookup_name(&self, name: &Name, rtype: RecordType) -> Reply {
        self.ask(Question::name(name, rtype), name.clone(), rtype)
            .await
    }

    async fn ask(&self, question: Question, name: impl IntoName, rtype: RecordType) -> Reply {
        if let Some(kept) = self.answers.get(&question, Instant::now()) {
            return kept;
        }
        let reply = Arc::new(self.auth.resolver().lookup(name, rtype).await);
        let now = Instant::now();
        if let Question::Text(RecordType::TXT, text) = &question {
            self.records.keep_absent_txt(text, &reply, now);
        }
        self.answers.keep(question, &reply, now);
        reply
    }

    /// `name`'s `rtype` records asked with DNSSEC validation: each record
    /// carries its proof (secure, insecure, bogus), a negative answer its
    /// proof in the error.
    pub async fn validated(&self, name: &str, rtype: RecordType) -> Result<Lookup, NetError> {
        self.validating.lookup(name, rtype).await
    }

    /// The records mail-auth's lookups parsed, kept now (for tests).
    pub fn kept_records(&self) -> &KeptRecords {
        &self.records
    }

    /// The answers kept now (for tests).
    pub fn answers(&self) -> &Answers {
        &self.answers
    }
}

/// A resolver asking `server` over UDP and TCP, or the system's resolvers.
/// `timeout` bounds each query: a silent server becomes a temperror quickly.
pub fn resolver(server: Option<SocketAddr>, timeout: Duration) -> Result<Dns, DnsSetupError> {
    resolver_with_anchors(server, timeout, None)
}

/// A resolver asking `server` over TCP only, for the `analyze` fuzz target
/// (`fuzz/fuzz_targets/analyze.rs`): at a closed port the kernel refuses
/// each connection at once, so every lookup fails in microseconds. Over UDP
/// ([`resolver`]) it would not: hickory sends from unconnected sockets,
/// which never see the ICMP port-unreachable, so each query waits out
/// `timeout`.
pub fn tcp_resolver(server: SocketAddr, timeout: Duration) -> Result<Dns, DnsSetupError> {
    let (config, opts) = one_server(NameServerConfig::tcp(server.ip()), server.port(), timeout);
    build(config, opts, None)
}

/// [`resolver`], validating DNSSEC from the trust anchors in `anchors` (DNSKEY
/// records in zone-file form, as IANA publishes the root's) instead of the
/// root's built-in ones: tests sign a root of their own.
pub fn resolver_with_anchors(
    server: Option<SocketAddr>,
    timeout: Duration,
    anchors: Option<&Path>,
) -> Result<Dns, DnsSetupError> {
    let (config, opts) = settings(server, timeout)?;
    build(config, opts, anchors)
}

fn build(
    config: ResolverConfig,
    opts: ResolverOpts,
    anchors: Option<&Path>,
) -> Result<Dns, DnsSetupError> {
    let auth = MessageAuthenticator::new(config.clone(), opts.clone())
        .map_err(|e| DnsSetupError(e.to_string()))?;
    let mut validating_opts = opts;
    validating_opts.validate = true;
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(validating_opts);
    if let Some(path) = anchors {
        let anchors = TrustAnchors::from_file(path)
            .map_err(|e| DnsSetupError(format!("trust anchors {}: {e}", path.display())))?;
        builder = builder.with_trust_anchor(Arc::new(anchors));
    }
    let validating = builder.build().map_err(|e| DnsSetupError(e.to_string()))?;
    Ok(Dns {
        auth,
        answers: Answers::default(),
        records: KeptRecords::default(),
        validating,
    })
}

fn settings(
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<(ResolverConfig, ResolverOpts), DnsSetupError> {
    let Some(server) = server else {
        return read_system_conf().map_err(|e| DnsSetupError(e.to_string()));
    };
    Ok(one_server(
        NameServerConfig::udp_and_tcp(server.ip()),
        server.port(),
        timeout,
    ))
}

fn one_server(
    mut ns: NameServerConfig,
    port: u16,
    timeout: Duration,
) -> (ResolverConfig, ResolverOpts) {
    for conn in &mut ns.connections {
        conn.port = port;
    }
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 1;
    // Every answer of a report comes from the server the operator named:
    // /etc/hosts would answer for this machine's names (a PTR pointing at
    // one would be "confirmed" by our own hosts file, or not).
    opts.use_hosts_file = ResolveHosts::Never;
    (ResolverConfig::from_name_servers(vec![ns]), opts)
}

/// The TXT records at `name`, each with its strings joined, for showing the
/// record that was found. Any error (NXDOMAIN, timeout) gives an empty list:
/// the verdict itself comes from mail-auth, this is only for display.
pub async fn txt_records(dns: &Dns, name: &str) -> Vec<String> {
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    match &*dns.lookup(&fqdn, RecordType::TXT).await {
        Ok(lookup) => txt_strings(lookup),
        Err(_) => Vec::new(),
    }
}

/// Each TXT record of a lookup with its character-strings joined without a
/// separator (RFC 7208 §3.3; DKIM, DMARC, MTA-STS and BIMI say the same).
pub fn txt_strings(lookup: &Lookup) -> Vec<String> {
    lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part))
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

/// An MX lookup's (preference, exchange) pairs, sorted; each exchange
/// lower-case without its final dot, so the null MX's "." is "".
pub fn mx_exchanges(lookup: &Lookup) -> Vec<(u16, String)> {
    let mut exchanges: Vec<(u16, String)> = lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::MX(mx) => Some((
                mx.preference,
                mx.exchange
                    .to_ascii()
                    .trim_end_matches('.')
                    .to_ascii_lowercase(),
            )),
            _ => None,
        })
        .collect();
    exchanges.sort();
    exchanges
}

/// The addresses in a lookup's A and AAAA records (CNAMEs on the way
/// skipped).
pub fn addresses(lookup: &Lookup) -> Vec<IpAddr> {
    lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
        .collect()
}

/// A lookup's result in the three ways the checks care about.
pub(crate) enum Answer<'a> {
    /// NOERROR with at least one record of the asked type.
    Records(&'a Lookup),
    /// The name does not exist (NXDOMAIN) or has no record of the asked
    /// type (NODATA): an answer, and a negative one.
    NoRecords,
    /// No answer: timeout, SERVFAIL, REFUSED, a broken response. Says
    /// nothing about the records.
    Failed(String),
}

/// Sorts hickory's result: in hickory 0.26 NXDOMAIN and NODATA arrive as
/// `Err(NetError::Dns(DnsError::NoRecordsFound(..)))`, SERVFAIL and
/// REFUSED as `DnsError::ResponseCode`, a silent server as
/// `NetError::Timeout`.
pub(crate) fn answer(result: &Result<Lookup, NetError>) -> Answer<'_> {
    match result {
        Ok(lookup) => {
            let asked = lookup.query().query_type();
            if lookup
                .answers()
                .iter()
                .any(|record| record.record_type() == asked)
            {
                Answer::Records(lookup)
            } else {
                Answer::NoRecords
            }
        }
        Err(error) if error.is_no_records_found() => Answer::NoRecords,
        // A validated negative answer, should the resolver validate DNSSEC.
        Err(NetError::Dns(DnsError::Nsec { .. })) => Answer::NoRecords,
        Err(NetError::Timeout) => Answer::Failed("DNS timed out".to_string()),
        Err(NetError::Dns(DnsError::ResponseCode(code))) => {
            Answer::Failed(format!("DNS answered {code}"))
        }
        Err(error) => Answer::Failed(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback port nothing listens on: bound by us, then let go.
    fn closed_port() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }

    // With a 30 s timeout a resolver that waited would fail with `Timeout`
    // after 30 s; a refused connect is `NoConnections` (hickory keeps the
    // io error to itself).
    #[tokio::test]
    async fn tcp_resolver_at_a_closed_port_is_refused_without_waiting() {
        let dns = tcp_resolver(closed_port(), Duration::from_secs(30)).unwrap();
        let reply = dns.lookup("example.com.", RecordType::A).await;
        assert!(matches!(*reply, Err(NetError::NoConnections)), "{reply:?}");
        assert!(
            matches!(answer(&reply), Answer::Failed(_)),
            "a refused lookup says nothing about the records"
        );
        let validated = dns.validated("example.com.", RecordType::MX).await;
        assert!(
            matches!(validated, Err(NetError::NoConnections)),
            "{validated:?}"
        );
    }

    // Why the fuzzer needs tcp_resolver: over UDP the same closed port
    // is silence, and each query waits out its timeout.
    #[tokio::test]
    async fn udp_resolver_at_a_closed_port_waits_out_its_timeout() {
        let dns = resolver(Some(closed_port()), Duration::from_millis(200)).unwrap();
        let reply = dns.lookup("example.com.", RecordType::A).await;
        assert!(matches!(*reply, Err(NetError::Timeout)), "{reply:?}");
    }
}
