//! The HELO/EHLO name: RFC 5321 §4.1.1.1 wants the client's fully
//! qualified name (or an address literal), and receivers trust a name that
//! resolves back to the connecting IP.

use super::CheckId;
use super::Setup;
use super::facts::{Facts, Field};
use super::row::{Row, Tone};
use crate::dns::answers::Reply;
use crate::dns::{self, Dns};
use crate::i18n::{Lang, phrases};
use mail_auth::hickory_resolver::proto::rr::RecordType;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum HeloResult {
    /// The name resolves to the client IP (or is its address literal).
    Match,
    /// The name resolves, but not to the client IP.
    Mismatch,
    /// The name has no A/AAAA records.
    Unresolvable,
    /// Not a fully qualified domain name (`localhost`, `PC-123`) nor a
    /// correct address literal.
    Invalid,
    /// DNS did not answer.
    Unknown,
}

impl HeloResult {
    pub fn as_str(self) -> &'static str {
        match self {
            HeloResult::Match => "match",
            HeloResult::Mismatch => "mismatch",
            HeloResult::Unresolvable => "unresolvable",
            HeloResult::Invalid => "invalid",
            HeloResult::Unknown => "unknown",
        }
    }
}

/// The HELO/EHLO name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct HeloFinding {
    pub result: HeloResult,
    /// The HELO name, lower-case.
    pub name: String,
    /// What the name resolved to.
    pub addresses: Vec<IpAddr>,
}

pub async fn verdict(dns: &Dns, helo: &str, client: IpAddr) -> HeloFinding {
    let name = helo.trim().to_ascii_lowercase();
    let finding = |result, addresses| HeloFinding {
        result,
        name: name.clone(),
        addresses,
    };
    if let Some(literal) = address_literal(&name) {
        let result = match literal.parse::<IpAddr>() {
            Ok(ip) if ip.to_canonical() == client.to_canonical() => HeloResult::Match,
            Ok(_) => HeloResult::Mismatch,
            Err(_) => HeloResult::Invalid,
        };
        return finding(result, Vec::new());
    }
    let bare = name.trim_end_matches('.');
    if !bare.contains('.') || bare.split('.').any(str::is_empty) {
        return finding(HeloResult::Invalid, Vec::new());
    }
    match &*a_or_aaaa(dns, &format!("{bare}.")).await {
        Ok(lookup) => {
            let addresses = dns::addresses(lookup);
            let result = if addresses
                .iter()
                .any(|a| a.to_canonical() == client.to_canonical())
            {
                HeloResult::Match
            } else if addresses.is_empty() {
                HeloResult::Unresolvable
            } else {
                HeloResult::Mismatch
            };
            finding(result, addresses)
        }
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
            finding(HeloResult::Unresolvable, Vec::new())
        }
        Err(_) => finding(HeloResult::Unknown, Vec::new()),
    }
}

/// The A records at `name`, or its AAAA records when it has no A record
/// (hickory's `lookup_ip`, Ipv4thenIpv6, through the kept replies).
async fn a_or_aaaa(dns: &Dns, name: &str) -> Reply {
    let a = dns.lookup(name, RecordType::A).await;
    match &*a {
        Ok(lookup) if !lookup.answers().is_empty() => a,
        _ => dns.lookup(name, RecordType::AAAA).await,
    }
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` → the address text.
fn address_literal(name: &str) -> Option<&str> {
    let inner = name.strip_prefix('[')?.strip_suffix(']')?;
    Some(inner.strip_prefix("ipv6:").unwrap_or(inner))
}

/// The rule fields of `helo`.
pub const FIELDS: &[Field] = &[(
    "result",
    &["match", "mismatch", "unresolvable", "invalid", "unknown"],
)];

impl HeloFinding {
    pub fn facts(&self, facts: &mut Facts) {
        facts.put(CheckId::Helo, "result", self.result.as_str());
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    HeloWords {
        about: "The name the server introduced itself with (HELO/EHLO) should be a real host name that resolves to the sending IP.",
            "送信サーバーが HELO/EHLO で名乗るホスト名は、送信元 IP に解決される実在のホスト名であるべきです。";
    }
}

impl HeloFinding {
    pub fn row(&self, lang: Lang) -> Row {
        let (tone, setup) = match self.result {
            HeloResult::Match => (Tone::Ok, Setup::Configured),
            HeloResult::Mismatch => (Tone::Warn, Setup::Configured),
            HeloResult::Unresolvable => (Tone::Bad, Setup::Missing),
            HeloResult::Invalid => (Tone::Bad, Setup::Misconfigured),
            HeloResult::Unknown => (Tone::Warn, Setup::Unknown),
        };
        Row {
            check: CheckId::Helo,
            tone: Some(tone),
            name: format!("HELO ({})", self.name),
            word: Some(self.result.as_str()),
            setup: setup.label(lang.ui()),
            about: HeloWords::of(lang).about,
            detail: self
                .addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            records: Vec::new(),
        }
    }
}
