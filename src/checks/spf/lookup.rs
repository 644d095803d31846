//! The DNS side of SPF evaluation: names built from text, the lookups
//! mechanisms make, and the processing limits of RFC 7208 §4.6.4 that
//! bound them.

use super::problem::Problem;
use crate::dns::{Answer, Dns, addresses, answer, txt_strings};
use mail_auth::hickory_resolver::proto::rr::{Name, RData, RecordType};
use std::net::IpAddr;

/// Terms that query DNS (include, a, mx, ptr, exists, redirect) allowed in
/// one evaluation (§4.6.4).
pub const DNS_TERM_LIMIT: u32 = 10;
/// Lookups answering NXDOMAIN or no records allowed (§4.6.4 "SHOULD limit
/// void lookups to two").
pub const VOID_LOOKUP_LIMIT: u32 = 2;
/// MX names an `mx` mechanism may look up (§4.6.4); more is a permerror.
pub const MX_NAME_LIMIT: usize = 10;
/// PTR names `ptr` and `%{p}` look at (§4.6.4); the rest are ignored.
pub const PTR_NAME_LIMIT: usize = 10;

/// What a lookup found.
pub enum Found<T> {
    Records(Vec<T>),
    /// NXDOMAIN or NODATA: a void lookup when a term made it.
    Nothing,
    /// No usable answer (timeout, SERVFAIL): what went wrong.
    Failed(String),
}

/// The resolver, with the counts the limits are kept on.
pub struct Lookups<'a> {
    dns: &'a Dns,
    /// Terms that queried DNS so far, over the whole evaluation.
    pub dns_terms: u32,
    /// Void lookups so far.
    pub void: u32,
}

impl<'a> Lookups<'a> {
    pub fn new(dns: &'a Dns) -> Self {
        Lookups {
            dns,
            dns_terms: 0,
            void: 0,
        }
    }

    /// Counts one DNS-querying term before it is evaluated; the 11th is a
    /// permerror (§4.6.4). Counting as terms are reached, not up front, is
    /// what the suite's redirect-after-mechanisms and include-at-limit
    /// cases ask: terms after a match are never counted.
    pub fn count_term(&mut self) -> Result<(), Problem> {
        self.dns_terms += 1;
        if self.dns_terms > DNS_TERM_LIMIT {
            return Err(Problem::LookupLimit {
                count: self.dns_terms,
            });
        }
        Ok(())
    }

    /// Counts one void lookup; the 3rd is a permerror (§4.6.4).
    pub fn count_void(&mut self) -> Result<(), Problem> {
        self.void += 1;
        if self.void > VOID_LOOKUP_LIMIT {
            return Err(Problem::VoidLimit { count: self.void });
        }
        Ok(())
    }

    /// TXT records at `name`, each record's strings joined (§3.3).
    pub async fn txt(&self, name: &Name) -> Found<String> {
        match answer(&*self.dns.lookup_name(name, RecordType::TXT).await) {
            Answer::Records(lookup) => Found::Records(txt_strings(lookup)),
            Answer::NoRecords => Found::Nothing,
            Answer::Failed(why) => Found::Failed(format!("{why} (TXT {})", text(name))),
        }
    }

    /// The addresses at `name` of the client's family: A for IPv4, AAAA for
    /// IPv6 (§5.3).
    pub async fn addresses(&self, name: &Name, ipv6: bool) -> Found<IpAddr> {
        let rtype = if ipv6 {
            RecordType::AAAA
        } else {
            RecordType::A
        };
        match answer(&*self.dns.lookup_name(name, rtype).await) {
            Answer::Records(lookup) => Found::Records(addresses(lookup)),
            Answer::NoRecords => Found::Nothing,
            Answer::Failed(why) => Found::Failed(format!("{why} ({rtype} {})", text(name))),
        }
    }

    /// The exchange names of `name`'s MX records, as text without the
    /// trailing dot; the null MX "." (RFC 7505) is left out.
    pub async fn mx(&self, name: &Name) -> Found<String> {
        match answer(&*self.dns.lookup_name(name, RecordType::MX).await) {
            Answer::Records(lookup) => Found::Records(
                lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some(text(&mx.exchange)),
                        _ => None,
                    })
                    .collect(),
            ),
            Answer::NoRecords => Found::Nothing,
            Answer::Failed(why) => Found::Failed(format!("{why} (MX {})", text(name))),
        }
    }

    /// The names the PTR records of `ip` point to, as text without the
    /// trailing dot (§5.5).
    pub async fn ptr(&self, ip: IpAddr) -> Found<String> {
        let Some(name) = reverse_name(ip) else {
            return Found::Failed("cannot build the reverse name".into());
        };
        match answer(&*self.dns.lookup_name(&name, RecordType::PTR).await) {
            Answer::Records(lookup) => Found::Records(
                lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::PTR(ptr) => Some(text(&ptr.0)),
                        _ => None,
                    })
                    .collect(),
            ),
            Answer::NoRecords => Found::Nothing,
            Answer::Failed(why) => Found::Failed(why),
        }
    }

    /// Names among the first ten PTR names of `ip` whose own addresses
    /// include `ip` (§5.5 "validated" names). A failed forward lookup skips
    /// that name (§5.5: "that domain name is skipped and the search
    /// continues"). `wanted` filters names before their forward lookup, so
    /// names that could not match cost no query. These lookups are not
    /// terms and do not count against the limits.
    pub async fn validated_names(
        &self,
        ip: IpAddr,
        ptr_names: &[String],
        wanted: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let mut validated = Vec::new();
        for candidate in ptr_names.iter().take(PTR_NAME_LIMIT) {
            if !wanted(candidate) {
                continue;
            }
            let Some(name) = dns_name(candidate) else {
                continue;
            };
            if let Found::Records(addresses) = self.addresses(&name, ip.is_ipv6()).await
                && addresses.contains(&ip)
            {
                validated.push(candidate.clone());
            }
        }
        validated
    }
}

/// The DNS name for `text`, or None when it cannot be one: an empty label,
/// a label over 63 octets, more than 253 characters, or a single label.
/// RFC 7208 §4.3 makes such a <domain> "none" for check_host(); for a
/// mechanism's target the same name can match nothing, so the mechanism
/// does not match (the suite's invalid-domain cases accept that, and
/// require-valid-helo needs it for `a:%{h}` with a bare HELO name).
/// Labels are taken byte for byte: SPF allows any visible character in a
/// name (`a:foo:bar/baz.example.com`).
pub fn dns_name(text: &str) -> Option<Name> {
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() || text.len() > 253 {
        return None;
    }
    let labels: Vec<&[u8]> = text.split('.').map(str::as_bytes).collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.len() > 63) {
        return None;
    }
    Name::from_labels(labels).ok()
}

/// `4.3.2.1.in-addr.arpa.` or the 32-nibble `ip6.arpa.` name.
fn reverse_name(ip: IpAddr) -> Option<Name> {
    let dotted = super::macros::dotted_address(ip);
    let mut labels: Vec<&str> = dotted.split('.').rev().collect();
    labels.extend(match ip {
        IpAddr::V4(_) => ["in-addr", "arpa"],
        IpAddr::V6(_) => ["ip6", "arpa"],
    });
    Name::from_labels(labels.iter().map(|l| l.as_bytes())).ok()
}

/// A name as text, labels joined by "." with no escaping and no trailing dot.
pub fn text(name: &Name) -> String {
    name.iter()
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_queried() {
        assert!(dns_name("example.com").is_some());
        assert!(dns_name("example.com.").is_some());
        assert!(dns_name("foo:bar/baz.example.com").is_some());
        for bad in [
            "",
            ".",
            "localhost",
            "a..example.com",
            ".example.com",
            "OEMCOMPUTER",
        ] {
            assert!(dns_name(bad).is_none(), "{bad:?}");
        }
        assert!(dns_name(&format!("{}.example.com", "a".repeat(64))).is_none());
        assert!(dns_name(&format!("{}.example.com", "a".repeat(63))).is_some());
    }

    #[test]
    fn reverse_names() {
        let name = reverse_name("192.0.2.3".parse().unwrap()).unwrap();
        assert_eq!(text(&name), "3.2.0.192.in-addr.arpa");
        let name = reverse_name("2001:db8::1".parse().unwrap()).unwrap();
        assert_eq!(
            text(&name),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }
}
