//! iprev (RFC 8601 §3): does the client IP have a PTR name that resolves
//! back to it (forward-confirmed reverse DNS)?

use super::CheckId;
use super::facts::{BOOLS, Facts, Field, yes};
use super::row::text_line;
use super::row::{Row, Tone, join};
use super::verdict::{Setup, Verdict};
use crate::dns::Dns;
use crate::i18n::{Lang, phrases};
use mail_auth::{DnsError, Error, IprevResult};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::net::IpAddr;

/// Reverse DNS (iprev, RFC 8601 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct IprevFinding {
    pub result: Verdict,
    pub setup: Setup,
    /// The client IP.
    pub ip: IpAddr,
    /// The PTR names found for `ip`.
    pub ptr: Vec<String>,
    /// True when one PTR name resolves back to `ip`.
    pub forward_confirmed: bool,
    /// The PTR name looks like an ISP's generic name for a dynamic or
    /// end-user address (it embeds the IP, or says dsl, pool, dynamic…),
    /// which many receivers treat as a botnet sign.
    pub generic: bool,
    pub error: Option<String>,
}

pub async fn verdict(dns: &Dns, ip: IpAddr) -> IprevFinding {
    let output = dns.auth().verify_iprev(dns.parameters(ip)).await;
    let ptr: Vec<String> = output
        .ptr
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|name| name.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    let (result, error) = match &output.result {
        IprevResult::Pass => (Verdict::Pass, None),
        IprevResult::Fail(Error::NotAligned) => (
            Verdict::Fail,
            Some("no PTR name resolves back to this IP".to_string()),
        ),
        IprevResult::Fail(e) => (Verdict::Fail, Some(e.to_string())),
        // No PTR record at all: reverse DNS is not set up.
        IprevResult::PermError(Error::Dns(DnsError::RecordNotFound(_))) if ptr.is_empty() => {
            (Verdict::None, Some("no PTR record for this IP".to_string()))
        }
        IprevResult::PermError(e) => (Verdict::Permerror, Some(e.to_string())),
        IprevResult::TempError(e) => (Verdict::Temperror, Some(e.to_string())),
        IprevResult::None => (Verdict::None, None),
    };
    IprevFinding {
        generic: ptr.iter().any(|name| looks_generic(name, ip)),
        result,
        setup: result.setup(),
        ip,
        ptr,
        forward_confirmed: result == Verdict::Pass,
        error,
    }
}

/// Words ISPs put in names of pooled and end-user addresses.
const GENERIC_WORDS: &[&str] = &[
    "dynamic",
    "dyn",
    "dsl",
    "adsl",
    "vdsl",
    "xdsl",
    "pool",
    "dhcp",
    "dialup",
    "dial",
    "ppp",
    "pppoe",
    "cable",
    "broadband",
    "client",
    "customer",
    "cust",
    "unassigned",
    "fttx",
    "ftth",
];

/// A PTR name that embeds the address's digits (`192-0-2-25.example.net`,
/// `25.2.0.192.pool.example`, `c0000219.example`) or a generic word as one
/// of its leftmost labels' parts.
fn looks_generic(name: &str, ip: IpAddr) -> bool {
    let name = name.to_ascii_lowercase();
    if let IpAddr::V4(v4) = ip.to_canonical() {
        let [a, b, c, d] = v4.octets();
        // One buffer for every pattern: this runs for each message, and six
        // formatted Strings were 1 % of ingest CPU.
        let mut pattern = String::with_capacity(16);
        let mut embedded = |args: std::fmt::Arguments| {
            pattern.clear();
            let _ = pattern.write_fmt(args);
            name.contains(pattern.as_str())
        };
        if embedded(format_args!("{a}-{b}-{c}-{d}"))
            || embedded(format_args!("{d}-{c}-{b}-{a}"))
            || embedded(format_args!("{a}.{b}.{c}.{d}"))
            || embedded(format_args!("{d}.{c}.{b}.{a}"))
            || embedded(format_args!("{a:03}{b:03}{c:03}{d:03}"))
            || embedded(format_args!("{:08x}", u32::from(v4)))
        {
            return true;
        }
    }
    let labels: Vec<&str> = name.split('.').collect();
    // Only the host part: "dsl" in the provider's own domain is no sign.
    let host_labels = &labels[..labels.len().saturating_sub(2)];
    host_labels.iter().any(|label| {
        label
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|word| GENERIC_WORDS.contains(&word))
    })
}

/// The rule fields of `iprev`.
pub const FIELDS: &[Field] = &[
    ("result", Verdict::WORDS),
    ("setup", Setup::WORDS),
    ("generic", BOOLS),
];

impl IprevFinding {
    pub fn facts(&self, facts: &mut Facts) {
        let check = CheckId::Iprev;
        facts.put(check, "result", self.result.as_str());
        facts.put(check, "setup", self.setup.as_str());
        facts.put(check, "generic", yes(self.generic));
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    IprevWords {
        about: "The sending IP should have a reverse DNS (PTR) name that resolves back to the same IP and does not look like a home connection.",
            "送信元 IP には逆引き（PTR）名があり、その名前が同じ IP に正引きでき、一般家庭向け回線のような名前でないことが求められます。";
        name: "Reverse DNS", "逆引き DNS";
        generic: "looks like a dynamic/end-user name", "動的・一般利用者向けの名前に見えます";
    }
}

impl IprevFinding {
    pub fn row(&self, lang: Lang) -> Row {
        let (t, w) = (lang.ui(), IprevWords::of(lang));
        Row {
            check: CheckId::Iprev,
            tone: Some(Tone::of(self.result)),
            name: format!("{} ({})", w.name, self.ip),
            word: Some(self.result.as_str()),
            setup: self.setup.label(t),
            about: w.about,
            detail: if self.ptr.is_empty() {
                self.error.clone().unwrap_or_default()
            } else {
                join(&[
                    Some(format!("PTR: {}", self.ptr.join(", "))),
                    self.generic.then(|| w.generic.to_string()),
                ])
            },
            records: Vec::new(),
        }
    }
}

impl IprevFinding {
    /// The `mailscore check` line.
    pub fn text(&self) -> String {
        let detail = format!("{} -> {}", self.ip, self.ptr.join(", "));
        text_line("iprev", self.result.as_str(), self.setup.as_str(), &detail)
    }
}

#[cfg(test)]
mod tests {
    use super::looks_generic;

    #[test]
    fn spots_generic_names() {
        let ip = "192.0.2.25".parse().unwrap();
        assert!(looks_generic("192-0-2-25.dsl.example.net", ip));
        assert!(looks_generic("25.2.0.192.in-addr.example", ip));
        assert!(looks_generic("pool-77.example.net", ip));
        assert!(looks_generic("dynamic.customer.example.jp", ip));
        assert!(looks_generic("c0000219.example.com", ip));
        assert!(!looks_generic("mail.example.com", ip));
        assert!(!looks_generic("mx1.dsl-provider.example", ip));
        assert!(!looks_generic("smtp.example.co.jp", ip));
        assert!(!looks_generic("mail-host.example.com", ip));
    }
}
