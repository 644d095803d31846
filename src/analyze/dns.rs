//! The one resolver every check shares. Which server it asks is configurable
//! (`--dns HOST:PORT`) so tests, and operators with a local validating
//! resolver, decide where answers come from.

use mail_auth::MessageAuthenticator;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
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
    let Ok(lookup) = dns.resolver().txt_lookup(fqdn).await else {
        return Vec::new();
    };
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
