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
    let params = SpfParameters::verify_mail_from(ip, helo, host_domain, mail_from);
    let output = dns.verify_spf(params).await;
    let domain = mail_from.rsplit_once('@').map_or(helo, |(_, d)| d);
    finding(dns, SpfIdentity::Mailfrom, domain, output).await
}

/// SPF for the HELO identity alone (RFC 7208 §2.3).
pub async fn helo_verdict(
    dns: &MessageAuthenticator,
    ip: IpAddr,
    helo: &str,
    host_domain: &str,
) -> SpfFinding {
    let output = dns
        .verify_spf(SpfParameters::verify_ehlo(ip, helo, host_domain))
        .await;
    finding(dns, SpfIdentity::Helo, helo, output).await
}

async fn finding(
    dns: &MessageAuthenticator,
    identity: SpfIdentity,
    domain: &str,
    output: mail_auth::SpfOutput,
) -> SpfFinding {
    let result = verdict(output.result());
    let records = if result == Verdict::None && !looks_like_domain(domain) {
        Vec::new()
    } else {
        txt_records(dns, domain)
            .await
            .into_iter()
            .filter(|r| is_spf_record(r))
            .collect()
    };
    SpfFinding {
        result,
        setup: result.setup(),
        identity,
        domain: domain.to_ascii_lowercase(),
        records,
        explanation: output.explanation().map(str::to_string),
    }
}

fn is_spf_record(txt: &str) -> bool {
    let lower = txt.trim_start().to_ascii_lowercase();
    lower == "v=spf1" || lower.starts_with("v=spf1 ")
}

fn looks_like_domain(name: &str) -> bool {
    name.contains('.') && !name.starts_with('[')
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
