//! SPF (RFC 7208): may this IP send for the MAIL FROM domain, and for the
//! HELO name? mail-auth computes the result; we add the record text found.

use super::dns::txt_records;
use super::verdict::{Setup, Verdict};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{MessageAuthenticator, SpfResult};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Which identity an SPF check judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfIdentity {
    Mailfrom,
    Helo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfFinding {
    pub result: Verdict,
    pub setup: Setup,
    pub identity: SpfIdentity,
    /// The domain whose policy was evaluated.
    pub domain: String,
    /// The `v=spf1` record(s) published at `domain`, as found.
    pub records: Vec<String>,
    /// The domain's `exp=` explanation, when it failed and gave one.
    pub explanation: Option<String>,
    /// What is wrong, for a permerror we diagnosed ourselves.
    pub error: Option<String>,
    /// How the record ends: what it says about every other host.
    pub all: AllPolicy,
    /// The record uses the `ptr` mechanism, which RFC 7208 §5.5 says
    /// "SHOULD NOT" be used (slow, unreliable, a load on the PTR zone).
    pub uses_ptr: bool,
}

/// The record's catch-all: `-all` (hard fail), `~all`, `?all`, `+all` (anyone
/// may send: no protection at all), `redirect=` (decided elsewhere), none
/// (no `all`: unlisted hosts get neutral), or unknown (no single record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllPolicy {
    Fail,
    Softfail,
    Neutral,
    Pass,
    Redirect,
    None,
    Unknown,
}

impl AllPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            AllPolicy::Fail => "fail",
            AllPolicy::Softfail => "softfail",
            AllPolicy::Neutral => "neutral",
            AllPolicy::Pass => "pass",
            AllPolicy::Redirect => "redirect",
            AllPolicy::None => "none",
            AllPolicy::Unknown => "unknown",
        }
    }
}

/// The catch-all and `ptr` use of one record's terms.
fn record_shape(record: &str) -> (AllPolicy, bool) {
    let mut all = AllPolicy::None;
    let mut uses_ptr = false;
    for term in record.split_ascii_whitespace().skip(1) {
        let lower = term.to_ascii_lowercase();
        let (qualifier, mechanism) = match lower.as_bytes().first() {
            Some(b'+' | b'-' | b'~' | b'?') => lower.split_at(1),
            _ => ("+", lower.as_str()),
        };
        if mechanism == "ptr" || mechanism.starts_with("ptr:") || mechanism.starts_with("ptr/") {
            uses_ptr = true;
        }
        if mechanism == "all" && all == AllPolicy::None {
            all = match qualifier {
                "-" => AllPolicy::Fail,
                "~" => AllPolicy::Softfail,
                "?" => AllPolicy::Neutral,
                _ => AllPolicy::Pass,
            };
        }
        if mechanism.starts_with("redirect=") && all == AllPolicy::None {
            all = AllPolicy::Redirect;
        }
    }
    (all, uses_ptr)
}

/// SPF for the MAIL FROM identity; for a null sender, RFC 7208 §2.4 says to
/// check `postmaster@<HELO>` instead, so the identity becomes HELO.
pub async fn mail_from_verdict(
    dns: &MessageAuthenticator,
    ip: IpAddr,
    helo: &str,
    host_domain: &str,
    mail_from: &str,
) -> SpfFinding {
    if mail_from.is_empty() {
        return helo_verdict(dns, ip, helo, host_domain).await;
    }
    let domain = mail_from.rsplit_once('@').map_or(helo, |(_, d)| d);
    if !is_checkable_domain(domain) {
        return unchecked(SpfIdentity::Mailfrom, domain);
    }
    let params = SpfParameters::verify_mail_from(ip.to_canonical(), helo, host_domain, mail_from);
    let output = dns.verify_spf(params).await;
    finding(dns, SpfIdentity::Mailfrom, domain, output).await
}

/// SPF for the HELO identity alone (RFC 7208 §2.3).
pub async fn helo_verdict(
    dns: &MessageAuthenticator,
    ip: IpAddr,
    helo: &str,
    host_domain: &str,
) -> SpfFinding {
    if !is_checkable_domain(helo) {
        return unchecked(SpfIdentity::Helo, helo);
    }
    let output = dns
        .verify_spf(SpfParameters::verify_ehlo(
            ip.to_canonical(),
            helo,
            host_domain,
        ))
        .await;
    finding(dns, SpfIdentity::Helo, helo, output).await
}

/// RFC 7208 §4.3: a domain that is not a well-formed FQDN (an address
/// literal, a bare host name, an empty or over-long label) yields `none`
/// without any DNS query.
fn is_checkable_domain(domain: &str) -> bool {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    name.len() <= 253
        && name.contains('.')
        && !name.starts_with('[')
        && name.split('.').all(|label| (1..=63).contains(&label.len()))
}

fn unchecked(identity: SpfIdentity, domain: &str) -> SpfFinding {
    SpfFinding {
        result: Verdict::None,
        setup: Setup::Missing,
        identity,
        domain: domain.to_ascii_lowercase(),
        records: Vec::new(),
        explanation: None,
        error: Some("not a fully qualified domain name, so there is no SPF policy to check".into()),
        all: AllPolicy::Unknown,
        uses_ptr: false,
    }
}

async fn finding(
    dns: &MessageAuthenticator,
    identity: SpfIdentity,
    domain: &str,
    output: mail_auth::SpfOutput,
) -> SpfFinding {
    let mut result = verdict(output.result());
    let records: Vec<String> = txt_records(dns, domain)
        .await
        .into_iter()
        .filter(|r| is_spf_record(r))
        .collect();
    let error = published_record_error(&records);
    // mail-auth evaluates the first of several records and parses leniently;
    // RFC 7208 §4.5 and §4.6 make both a permerror ("set up wrongly") before
    // any mechanism is evaluated, so this wins over a temperror that a
    // malformed name in the record caused.
    if error.is_some() {
        result = Verdict::Permerror;
    }
    let (all, uses_ptr) = match records.as_slice() {
        [record] => record_shape(record),
        _ => (AllPolicy::Unknown, false),
    };
    SpfFinding {
        result,
        setup: result.setup(),
        identity,
        domain: domain.to_ascii_lowercase(),
        records,
        explanation: output.explanation().map(str::to_string),
        error,
        all,
        uses_ptr,
    }
}

/// What is wrong with the records published at the domain itself, if
/// anything: more than one `v=spf1` record, or a syntax error.
fn published_record_error(records: &[String]) -> Option<String> {
    if records.len() > 1 {
        return Some(format!(
            "{} SPF records are published; there must be exactly one",
            records.len()
        ));
    }
    let record = records.first()?;
    super::spf_syntax::check(record)
        .err()
        .map(|e| format!("syntax error: {e}"))
}

/// RFC 7208 §4.5: an SPF record begins with exactly "v=spf1" and then a
/// space or its end; anything else (" v=spf1", "v=spf10") is another TXT.
fn is_spf_record(txt: &str) -> bool {
    let lower = txt.to_ascii_lowercase();
    lower == "v=spf1" || lower.starts_with("v=spf1 ")
}

pub fn verdict(result: SpfResult) -> Verdict {
    match result {
        SpfResult::Pass => Verdict::Pass,
        SpfResult::Fail => Verdict::Fail,
        SpfResult::SoftFail => Verdict::Softfail,
        SpfResult::Neutral => Verdict::Neutral,
        SpfResult::TempError => Verdict::Temperror,
        SpfResult::PermError => Verdict::Permerror,
        SpfResult::None => Verdict::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_shape_reads_the_catch_all_and_ptr() {
        assert_eq!(
            record_shape("v=spf1 ip4:192.0.2.1 -all"),
            (AllPolicy::Fail, false)
        );
        assert_eq!(
            record_shape("v=spf1 include:x.example ~all"),
            (AllPolicy::Softfail, false)
        );
        assert_eq!(record_shape("v=spf1 +all"), (AllPolicy::Pass, false));
        assert_eq!(record_shape("v=spf1 mx all"), (AllPolicy::Pass, false));
        assert_eq!(record_shape("v=spf1 ptr ?all"), (AllPolicy::Neutral, true));
        assert_eq!(
            record_shape("v=spf1 redirect=_spf.example"),
            (AllPolicy::Redirect, false)
        );
        assert_eq!(
            record_shape("v=spf1 a ptr:example.com"),
            (AllPolicy::None, true)
        );
    }
}
