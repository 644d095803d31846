//! The one resolver every check shares. Which server it asks is configurable
//! (`--dns HOST:PORT`) so tests, and operators with a local validating
//! resolver, decide where answers come from.

use mail_auth::MessageAuthenticator;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::lookup::Lookup;
use mail_auth::hickory_resolver::net::{DnsError, NetError};
use mail_auth::hickory_resolver::proto::rr::RData;
use std::net::SocketAddr;
use std::time::Duration;

/// DNS could not be set up (unreadable resolv.conf, say).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the DNS resolver: {0}")]
pub struct DnsSetupError(String);

/// A resolver asking `server` over UDP and TCP, or the system's resolvers.
/// `timeout` bounds each query: a silent server becomes a temperror quickly.
pub fn resolver(
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<MessageAuthenticator, DnsSetupError> {
    let Some(server) = server else {
        return MessageAuthenticator::new_system_conf().map_err(|e| DnsSetupError(e.to_string()));
    };
    let mut ns = NameServerConfig::udp_and_tcp(server.ip());
    for conn in &mut ns.connections {
        conn.port = server.port();
    }
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 1;
    MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![ns]), opts)
        .map_err(|e| DnsSetupError(e.to_string()))
}

/// The TXT records at `name`, each with its strings joined, for showing the
/// record that was found. Any error (NXDOMAIN, timeout) gives an empty list:
/// the verdict itself comes from mail-auth, this is only for display.
pub async fn txt_records(dns: &MessageAuthenticator, name: &str) -> Vec<String> {
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    match dns.resolver().txt_lookup(fqdn).await {
        Ok(lookup) => txt_strings(&lookup),
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

/// A lookup's result in the three ways the checks care about.
pub(crate) enum Answer {
    /// NOERROR with at least one record of the asked type.
    Records(Lookup),
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
// Shared with posture.rs; it belongs in dns.rs when that file is free.
pub(crate) fn answer(result: Result<Lookup, NetError>) -> Answer {
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
