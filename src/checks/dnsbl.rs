//! DNS blocklists (DNSxL, RFC 5782): is the client IP, or a domain the
//! message names, on a public list that receivers consult?
//!
//! A list is a DNS zone. To ask `zone` about an item, query the A record of
//! `<key>.<zone>`: an IPv4 address as its octets reversed
//! (`25.2.0.192.zen.spamhaus.org`, §2.1), an IPv6 address as its 32 nibbles
//! reversed (§2.4), a domain as written (`example.com.dbl.spamhaus.org`,
//! §2.3). NXDOMAIN (or NODATA) means "not listed"; an A answer in
//! 127.0.0.0/8 means "listed", its address saying why (the list's own code),
//! and a TXT record at the same name may say more (§2.1).
//!
//! A lookup that times out or fails (SERVFAIL, REFUSED) proves nothing
//! either way: that zone is reported *not checked*, never clean. The same
//! holds for the answers lists use to say "we refused to answer you" rather
//! than "listed" (see [`refusal`]): Spamhaus answers 127.255.255.x to
//! queries through public resolvers, and SURBL/URIBL answer 127.0.0.1.

use super::CheckId;
use super::facts::{Facts, Field};
use super::row::{Row, Tone, join};
use crate::dns::{Answer, Dns, answer, txt_strings};
use crate::i18n::{Lang, phrases};
use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::task::Poll;

/// The IP lists asked when the operator names none.
pub const DEFAULT_IP_ZONES: &[&str] = &[
    "zen.spamhaus.org",
    "bl.spamcop.net",
    "b.barracudacentral.org",
];

/// The domain lists asked when the operator names none.
pub const DEFAULT_DOMAIN_ZONES: &[&str] = &["dbl.spamhaus.org", "multi.surbl.org"];

/// What the lists say about one IP, or about a set of domains, taken
/// together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct BlocklistFinding {
    pub result: BlocklistResult,
    /// One per zone that lists an item (for domains: per zone and domain).
    pub listings: Vec<Listing>,
    /// Zones with at least one lookup that did not give an answer (timeout,
    /// SERVFAIL, a refusal code): "not checked", neither listed nor clean.
    /// A zone here may still have listings from its other lookups.
    pub not_checked: Vec<String>,
    /// Zones whose every lookup answered.
    pub checked: Vec<String>,
    /// Why each zone in `not_checked` is there, one entry per failed lookup.
    pub errors: Vec<ZoneError>,
    /// Why nothing was asked, when `result` is `skipped`.
    pub note: Option<String>,
}

/// The overall word, worst first: any listing makes the result `listed`,
/// whatever else failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum BlocklistResult {
    /// At least one zone lists an item.
    Listed,
    /// Nothing listed, but some lookups failed (or all did): a listing may
    /// have been missed, so this is not `clean`.
    Unknown,
    /// Every zone answered, and none lists anything.
    Clean,
    /// Nothing was asked: the IP is not a public address (loopback,
    /// private, link-local; `ip_listings` lists the ranges), or there was
    /// nothing to ask about or no zone to ask. `note` says which.
    Skipped,
}

/// One zone listing one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Listing {
    pub zone: String,
    /// The IP or domain that is listed.
    pub item: String,
    /// The A answers, e.g. "127.0.0.2"; each list documents its codes.
    pub codes: Vec<String>,
    /// The TXT record at the same name, when the list publishes one.
    pub reason: Option<String>,
}

/// One lookup that did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ZoneError {
    pub zone: String,
    pub item: String,
    pub error: String,
}

/// Asks every zone in `zones` about `ip`, concurrently.
///
/// Addresses no public list can hold are not sent anywhere and give
/// `skipped`: loopback (127/8, ::1), unspecified, RFC 1918 (10/8,
/// 172.16/12, 192.168/16), shared address space (100.64/10), link-local
/// (169.254/16, fe80::/10), unique local (fc00::/7), multicast and
/// broadcast. Documentation ranges (192.0.2/24, 2001:db8::/32, ...) are
/// asked, so tests and demos can use them.
pub async fn ip_listings(dns: &Dns, ip: IpAddr, zones: &[String]) -> BlocklistFinding {
    let ip = canonical(ip);
    if let Some(why) = non_public(ip) {
        return BlocklistFinding::skipped(format!(
            "{ip} is {why}: public blocklists cannot list it, so none was asked"
        ));
    }
    let zones = normalized(zones);
    if zones.is_empty() {
        return BlocklistFinding::skipped("no IP blocklist zones are configured".to_string());
    }
    let key = reversed(ip);
    let queries = zones
        .iter()
        .map(|zone| query(dns, zone, &key, ip.to_string()));
    BlocklistFinding::from_outcomes(&zones, join_all(queries.collect()).await)
}

/// Asks every zone in `zones` about every domain in `domains` (lowercased,
/// trailing dots dropped, each asked once), concurrently. `domains` should
/// be the few that matter (the From and envelope domains, link hosts): each
/// costs one query per zone.
pub async fn domain_listings(dns: &Dns, domains: &[String], zones: &[String]) -> BlocklistFinding {
    let domains = normalized(domains);
    if domains.is_empty() {
        return BlocklistFinding::skipped("no domains to check".to_string());
    }
    let zones = normalized(zones);
    if zones.is_empty() {
        return BlocklistFinding::skipped("no domain blocklist zones are configured".to_string());
    }
    let queries = zones.iter().flat_map(|zone| {
        domains
            .iter()
            .map(move |domain| query(dns, zone, domain, domain.clone()))
    });
    BlocklistFinding::from_outcomes(&zones, join_all(queries.collect()).await)
}

/// What one `<key>.<zone>` lookup found.
enum Outcome {
    NotListed,
    Listed(Listing),
    Failed(ZoneError),
}

/// One A lookup at `<key>.<zone>.`, and the TXT at the same name when it
/// lists.
async fn query(dns: &Dns, zone: &str, key: &str, item: String) -> Outcome {
    let name = format!("{key}.{zone}.");
    let failed = |error: String| {
        Outcome::Failed(ZoneError {
            zone: zone.to_string(),
            item: item.clone(),
            error,
        })
    };
    let codes: Vec<Ipv4Addr> = match answer(&*dns.lookup(name.as_str(), RecordType::A).await) {
        Answer::Records(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect(),
        Answer::NoRecords => Vec::new(),
        Answer::Failed(error) => return failed(error),
    };
    if codes.is_empty() {
        return Outcome::NotListed;
    }
    if let Some(refused) = codes.iter().find_map(|code| refusal(*code)) {
        return failed(refused);
    }
    if let Some(stray) = codes.iter().find(|code| code.octets()[0] != 127) {
        // RFC 5782 §2.1: listings are in 127.0.0.0/8. Anything else is most
        // likely a resolver that rewrites NXDOMAIN into an ad server.
        return failed(format!(
            "answer {stray} is outside 127.0.0.0/8 (RFC 5782 §2.1), \
             so it is not a listing; is the resolver rewriting NXDOMAIN?"
        ));
    }
    let reason = match answer(&*dns.lookup(name.as_str(), RecordType::TXT).await) {
        Answer::Records(lookup) => {
            let texts = txt_strings(lookup);
            (!texts.is_empty()).then(|| texts.join(" "))
        }
        Answer::NoRecords | Answer::Failed(_) => None,
    };
    Outcome::Listed(Listing {
        zone: zone.to_string(),
        item,
        codes: codes.iter().map(Ipv4Addr::to_string).collect(),
        reason,
    })
}

/// Answers that mean "this list would not answer you", not "listed".
///
/// - 127.255.255.0/24: Spamhaus's error codes (252: a typo in the zone
///   name; 254: query through a public/open resolver; 255: too many
///   queries).
/// - 127.0.0.1: RFC 5782 §5 forbids lists to hold 127.0.0.1, and SURBL and
///   URIBL answer it when they block the querying resolver.
fn refusal(code: Ipv4Addr) -> Option<String> {
    let why = match code.octets() {
        [127, 255, 255, 252] => "the list says the zone name is mistyped",
        [127, 255, 255, 254] => {
            "the list refuses queries through public/open resolvers; \
             use a resolver of your own"
        }
        [127, 255, 255, 255] => "the list refuses: too many queries from this resolver",
        [127, 255, 255, _] => "the list answered with an error code",
        [127, 0, 0, 1] => "the list blocks queries from this resolver (RFC 5782 §5)",
        _ => return None,
    };
    Some(format!("answer {code}: {why}; not a listing"))
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`) is the IPv4 address for lists.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Why `ip` cannot be on a public list, or `None` when it can.
fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("a loopback address (127.0.0.0/8)")
            } else if v4.is_private() {
                Some("a private address (RFC 1918)")
            } else if a == 100 && (64..128).contains(&b) {
                Some("in the shared address space (RFC 6598, 100.64.0.0/10)")
            } else if v4.is_link_local() {
                Some("a link-local address (169.254.0.0/16)")
            } else if a == 0 {
                Some("in 0.0.0.0/8 (\"this network\")")
            } else if v4.is_multicast() || v4.is_broadcast() || a >= 240 {
                Some("a multicast, broadcast or reserved address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("the loopback address (::1)")
            } else if v6.is_unspecified() {
                Some("the unspecified address (::)")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a unique local address (fc00::/7)")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address (fe80::/10)")
            } else if v6.is_multicast() {
                Some("a multicast address (ff00::/8)")
            } else {
                None
            }
        }
    }
}

/// The DNSxL key of `ip`: IPv4 octets reversed (RFC 5782 §2.1), IPv6
/// nibbles reversed, lower-case hex, 32 labels (§2.4).
fn reversed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}")
        }
        IpAddr::V6(v6) => nibbles(v6),
    }
}

fn nibbles(v6: Ipv6Addr) -> String {
    let hex = format!("{:032x}", u128::from(v6));
    let labels: Vec<String> = hex.chars().rev().map(String::from).collect();
    labels.join(".")
}

/// Lower-cased, trimmed of dots and spaces, empty ones dropped, each once,
/// in first-seen order.
fn normalized(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let name = name.trim().trim_matches('.').to_ascii_lowercase();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

impl BlocklistFinding {
    fn skipped(note: String) -> Self {
        BlocklistFinding {
            result: BlocklistResult::Skipped,
            listings: Vec::new(),
            not_checked: Vec::new(),
            checked: Vec::new(),
            errors: Vec::new(),
            note: Some(note),
        }
    }

    fn from_outcomes(zones: &[String], outcomes: Vec<Outcome>) -> Self {
        let mut listings = Vec::new();
        let mut errors = Vec::new();
        for outcome in outcomes {
            match outcome {
                Outcome::NotListed => {}
                Outcome::Listed(listing) => listings.push(listing),
                Outcome::Failed(error) => errors.push(error),
            }
        }
        let (not_checked, checked): (Vec<String>, Vec<String>) = zones
            .iter()
            .cloned()
            .partition(|zone| errors.iter().any(|e| &e.zone == zone));
        let result = if !listings.is_empty() {
            BlocklistResult::Listed
        } else if !not_checked.is_empty() {
            BlocklistResult::Unknown
        } else {
            BlocklistResult::Clean
        };
        BlocklistFinding {
            result,
            listings,
            not_checked,
            checked,
            errors,
            note: None,
        }
    }
}

/// Runs `futures` concurrently on the current task; outputs in input order.
/// (A few lines instead of a dependency on the `futures` crate.)
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|output| output.expect("join_all: every future completed"))
        .collect()
}

/// The rule fields of `ip_blocklists` and of `domain_blocklists`.
pub const FIELDS: &[Field] = &[("result", &["listed", "unknown", "clean", "skipped"])];

impl BlocklistFinding {
    /// This finding's [`FIELDS`], as `ip_blocklists` or `domain_blocklists`.
    pub fn facts(&self, check: CheckId, facts: &mut Facts) {
        let word = match self.result {
            BlocklistResult::Listed => "listed",
            BlocklistResult::Unknown => "unknown",
            BlocklistResult::Clean => "clean",
            BlocklistResult::Skipped => "skipped",
        };
        facts.put(check, "result", word);
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    BlocklistsWords {
        about_ip: "DNS blocklists (DNSBL) list IP addresses known to send spam; a listing often means outright rejection.",
            "DNS ブロックリスト（DNSBL）は迷惑メールを送信している IP アドレスを掲載しています。掲載されていると受信拒否されることがよくあります。";
        about_domain: "Domain blocklists list domains seen in spam and phishing; the From domain, the DKIM signers and the domains of links are checked.",
            "ドメインブロックリストは迷惑メールやフィッシングで使われたドメインを掲載しています。From ドメイン、DKIM 署名ドメイン、リンク先のドメインを確認します。";
        ip: "IP blocklists", "IP ブロックリスト";
        domain: "Domain blocklists", "ドメインブロックリスト";
        listed_by: "listed by", "掲載:";
        not_checked: "not checked", "未確認";
        checked: "checked", "確認済み";
    }
}

impl BlocklistFinding {
    /// The row of `ip_blocklists` or of `domain_blocklists`.
    pub fn row(&self, check: CheckId, lang: Lang) -> Row {
        let w = BlocklistsWords::of(lang);
        let (tone, word) = match self.result {
            BlocklistResult::Listed => (Tone::Bad, "listed"),
            BlocklistResult::Unknown => (Tone::Warn, "unknown"),
            BlocklistResult::Clean => (Tone::Ok, "clean"),
            BlocklistResult::Skipped => (Tone::Info, "skipped"),
        };
        let mut parts: Vec<Option<String>> = self
            .listings
            .iter()
            .map(|l| {
                Some(format!(
                    "{} {} {} ({}){}",
                    l.item,
                    w.listed_by,
                    l.zone,
                    l.codes.join(", "),
                    l.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ))
            })
            .collect();
        if !self.not_checked.is_empty() {
            parts.push(Some(format!(
                "{}: {}",
                w.not_checked,
                self.not_checked.join(", ")
            )));
        }
        if !self.checked.is_empty() {
            parts.push(Some(format!("{}: {}", w.checked, self.checked.join(", "))));
        }
        parts.push(self.note.clone());
        let ip = check == CheckId::IpBlocklists;
        Row {
            check,
            tone: Some(tone),
            name: (if ip { w.ip } else { w.domain }).to_string(),
            word: Some(word),
            // Listing is about the sender's reputation, not its setup.
            setup: "",
            about: if ip { w.about_ip } else { w.about_domain },
            detail: join(&parts),
            records: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_key_is_reversed_octets() {
        assert_eq!(reversed("192.0.2.25".parse().unwrap()), "25.2.0.192");
    }

    #[test]
    fn ipv6_key_is_32_reversed_nibbles() {
        // RFC 5782 §2.4's example.
        let ip = "2001:db8:1:2:3:4:567:89ab".parse().unwrap();
        assert_eq!(
            reversed(ip),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_is_asked_as_ipv4() {
        let ip = canonical("::ffff:192.0.2.25".parse().unwrap());
        assert_eq!(reversed(ip), "25.2.0.192");
    }

    #[test]
    fn non_public_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(non_public(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in [
            "192.0.2.25",
            "172.32.0.1",
            "8.8.8.8",
            "2001:db8::1",
            "2a00::1",
        ] {
            assert!(non_public(ip.parse().unwrap()).is_none(), "{ip}");
        }
    }

    #[test]
    fn refusal_codes_are_not_listings() {
        for code in [
            "127.255.255.254",
            "127.255.255.252",
            "127.255.255.1",
            "127.0.0.1",
        ] {
            assert!(refusal(code.parse().unwrap()).is_some(), "{code}");
        }
        for code in ["127.0.0.2", "127.0.1.2", "127.0.0.4"] {
            assert!(refusal(code.parse().unwrap()).is_none(), "{code}");
        }
    }

    #[test]
    fn names_are_lowercased_trimmed_and_deduplicated() {
        let names = ["Example.COM.", "example.com", "", " b.test ", "."].map(String::from);
        assert_eq!(normalized(&names), ["example.com", "b.test"]);
    }
}
