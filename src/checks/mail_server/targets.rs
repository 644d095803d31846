//! Which servers receive the sender's mail, as a sending MTA would find
//! them (RFC 5321 §5.1): the MX records by preference, the domain itself
//! when it has none (the "implicit MX"), nothing at all for the null MX
//! `0 .` (RFC 7505). Only the most preferred [`MAX_HOSTS`] are probed, one
//! address of each family each.

use crate::dns::{Answer, Dns, addresses, answer};
use mail_auth::hickory_resolver::proto::rr::RecordType;
use std::net::IpAddr;

/// At most this many mail exchangers are probed per domain.
pub const MAX_HOSTS: usize = 2;

/// One mail exchanger to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Its name, lower-case, without the final dot.
    pub host: String,
    pub preference: u16,
    /// No MX: the domain's own address records stand in (RFC 5321 §5.1).
    pub implicit: bool,
    /// The first IPv4 and the first IPv6 address it has.
    pub addresses: Vec<IpAddr>,
    /// Why it has no address, when it has none.
    pub error: Option<String>,
}

/// What the domain says about where its mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// The exchangers to probe, most preferred first, and the names of all
    /// (for MTA-STS, whose policy must cover every one).
    Exchanges(Vec<Exchange>, Vec<String>),
    /// The null MX: the domain receives no mail.
    NullMx,
    /// Neither MX nor address records: nothing receives its mail.
    Nowhere,
    /// DNS did not answer.
    Unknown(String),
}

/// The exchangers of `domain` (an A-label, no final dot).
pub async fn targets(dns: &Dns, domain: &str) -> Targets {
    let reply = dns.lookup(&format!("{domain}."), RecordType::MX).await;
    let mut exchanges: Vec<(u16, String)> = match answer(&reply) {
        Answer::Records(lookup) => crate::dns::mx_exchanges(lookup),
        Answer::NoRecords => Vec::new(),
        Answer::Failed(error) => return Targets::Unknown(format!("MX lookup: {error}")),
    };
    // RFC 7505 §3: a null MX is the only MX; one among others is an error
    // that senders treat as null too, since no mail should go there.
    if exchanges.iter().any(|(_, host)| host.is_empty()) {
        return Targets::NullMx;
    }
    let implicit = exchanges.is_empty();
    if implicit {
        exchanges.push((0, domain.to_string()));
    }
    exchanges.sort();
    exchanges.dedup_by(|a, b| a.1 == b.1);
    let names = exchanges
        .iter()
        .map(|(_, host)| host.clone())
        .take(50)
        .collect();
    exchanges.truncate(MAX_HOSTS);
    let resolved = futures_util::future::join_all(
        exchanges
            .into_iter()
            .map(|(preference, host)| exchange(dns, host, preference, implicit)),
    )
    .await;
    if implicit
        && resolved
            .iter()
            .all(|x| x.addresses.is_empty() && x.error.is_none())
    {
        return Targets::Nowhere;
    }
    Targets::Exchanges(resolved, names)
}

async fn exchange(dns: &Dns, host: String, preference: u16, implicit: bool) -> Exchange {
    let name = format!("{host}.");
    let (a, aaaa) = tokio::join!(
        dns.lookup(&name, RecordType::A),
        dns.lookup(&name, RecordType::AAAA)
    );
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (family, reply) in [("A", a), ("AAAA", aaaa)] {
        match answer(&reply) {
            Answer::Records(lookup) => found.extend(addresses(lookup).into_iter().next()),
            Answer::NoRecords => {}
            Answer::Failed(error) => errors.push(format!("{family} lookup: {error}")),
        }
    }
    let error = match (found.is_empty(), errors.is_empty()) {
        (false, _) => None,
        (true, true) if implicit => None,
        (true, true) => Some(format!("{host} has no address (A/AAAA)")),
        (true, false) => Some(errors.join("; ")),
    };
    Exchange {
        host,
        preference,
        implicit,
        addresses: found,
        error,
    }
}

/// Why a probe may not go to `ip`, when it may not: only addresses that
/// are reachable on the public Internet are probed, so a sender's DNS can
/// never point our probe at our own network (RFC 6890's special-purpose
/// registries).
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(match (a, b, c) {
                _ if v4.is_loopback() => "a loopback address",
                _ if v4.is_private() => "a private address",
                _ if v4.is_link_local() => "a link-local address",
                _ if v4.is_unspecified() || a == 0 => "a \"this network\" address",
                _ if v4.is_broadcast() || v4.is_multicast() || a >= 240 => "not a unicast address",
                _ if v4.is_documentation() => "a documentation address",
                (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
                (198, 18..=19, _) => "a benchmarking address",
                (192, 0, 0) => "an IETF protocol assignment",
                _ => return None,
            })
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return refusal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            Some(match first {
                _ if v6.is_loopback() => "a loopback address",
                _ if v6.is_unspecified() => "the unspecified address",
                _ if v6.is_multicast() => "not a unicast address",
                f if f & 0xffc0 == 0xfe80 => "a link-local address",
                f if f & 0xfe00 == 0xfc00 => "a unique local (private) address",
                0x2001 if v6.segments()[1] == 0x0db8 => "a documentation address",
                f if f & 0xe000 != 0x2000 => "not a global unicast address",
                _ => return None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_probed() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "0.1.2.3",
            "100.64.0.1",
            "192.0.2.25",
            "198.51.100.1",
            "203.0.113.9",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "ff02::1",
        ] {
            assert!(refusal(refused.parse().unwrap()).is_some(), "{refused}");
        }
        for public in [
            "8.8.8.8",
            "133.242.0.1",
            "2001:4860:4860::8888",
            "::ffff:8.8.4.4",
        ] {
            assert_eq!(refusal(public.parse().unwrap()), None, "{public}");
        }
    }
}
