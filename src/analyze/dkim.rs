//! DKIM (RFC 6376): one finding per DKIM-Signature header, with the key
//! record the selector points at.

use super::dns::txt_records;
use super::verdict::{Setup, Verdict};
use mail_auth::common::crypto::Algorithm;
use mail_auth::dkim::DkimError;
use mail_auth::{AuthenticatedMessage, DkimOutput, DkimResult, Error, MessageAuthenticator};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimFinding {
    pub result: Verdict,
    pub setup: Setup,
    /// The signing domain (`d=`); empty when the header could not be parsed.
    pub domain: String,
    pub selector: String,
    pub algorithm: String,
    /// Why it did not pass, in mail-auth's words.
    pub error: Option<String>,
    /// The key record found at `<selector>._domainkey.<domain>`.
    pub records: Vec<String>,
}

/// Verifies every signature. Returns mail-auth's outputs too, because DMARC
/// needs them to judge alignment.
pub async fn verdicts<'x>(
    dns: &MessageAuthenticator,
    message: &'x AuthenticatedMessage<'x>,
) -> (Vec<DkimFinding>, Vec<DkimOutput<'x>>) {
    let outputs = dns.verify_dkim(message).await;
    let mut findings = Vec::with_capacity(outputs.len());
    for output in &outputs {
        findings.push(finding(dns, output).await);
    }
    findings.extend(unparsed_signatures(message));
    (findings, outputs)
}

/// Signature headers mail-auth could not parse at all (a missing `b=` or
/// `bh=`, say). It drops them silently, which would report the message as
/// "not signed" when in fact the signer is set up wrongly.
fn unparsed_signatures(message: &AuthenticatedMessage<'_>) -> Vec<DkimFinding> {
    message
        .errors
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(b"DKIM-Signature"))
        // Error::Dkim ones are already surfaced by verify_dkim.
        .filter(|h| !matches!(h.header, Error::Dkim(_)))
        .map(|h| {
            let tags = String::from_utf8_lossy(h.value);
            let tag = |name: &str| tag_value(&tags, name).unwrap_or_default();
            DkimFinding {
                result: Verdict::Permerror,
                setup: Setup::Misconfigured,
                domain: tag("d").to_ascii_lowercase(),
                selector: tag("s"),
                algorithm: tag("a"),
                error: Some(format!(
                    "the DKIM-Signature header cannot be parsed: {}",
                    h.header
                )),
                records: Vec::new(),
            }
        })
        .collect()
}

/// The value of tag `name` in a DKIM tag list (`a=...; d=...`), whitespace removed.
fn tag_value(tags: &str, name: &str) -> Option<String> {
    tags.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.split_whitespace().collect())
    })
}

async fn finding(dns: &MessageAuthenticator, output: &DkimOutput<'_>) -> DkimFinding {
    let (result, error) = verdict(output.result());
    let (domain, selector, algorithm) = match output.signature() {
        Some(sig) => (sig.d.clone(), sig.s.clone(), algorithm_name(sig.a)),
        None => (String::new(), String::new(), String::new()),
    };
    let records = if domain.is_empty() || selector.is_empty() {
        Vec::new()
    } else {
        txt_records(dns, &format!("{selector}._domainkey.{domain}")).await
    };
    DkimFinding {
        result,
        setup: result.setup(),
        domain: domain.to_ascii_lowercase(),
        selector,
        algorithm,
        error,
        records,
    }
}

fn verdict(result: &DkimResult) -> (Verdict, Option<String>) {
    match result {
        DkimResult::Pass => (Verdict::Pass, None),
        // mail-auth says "neutral" where RFC 6376 §6.3 says PERMFAIL: a body
        // that no longer matches (content altered) or an expired signature is
        // a failed verification, and a signature header that cannot be parsed
        // is the signer's misconfiguration. Reporting either as neutral would
        // let a tampered message off without a deduction.
        DkimResult::Neutral(e @ Error::Dkim(DkimError::FailedBodyHashMatch))
        | DkimResult::Neutral(e @ Error::Dkim(DkimError::SignatureExpired)) => {
            (Verdict::Fail, Some(e.to_string()))
        }
        DkimResult::Neutral(e @ Error::Dkim(_)) => (Verdict::Permerror, Some(e.to_string())),
        DkimResult::Neutral(e) => (Verdict::Neutral, Some(e.to_string())),
        DkimResult::Fail(e) => (Verdict::Fail, Some(e.to_string())),
        DkimResult::PermError(e) => (Verdict::Permerror, Some(e.to_string())),
        DkimResult::TempError(e) => (Verdict::Temperror, Some(e.to_string())),
        DkimResult::None => (Verdict::None, None),
    }
}

fn algorithm_name(algorithm: Algorithm) -> String {
    match algorithm {
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
    .to_string()
}

/// The message's overall DKIM verdict: the best of its signatures, so one good
/// signature is enough (RFC 6376 §6.1), and `none` when there is none.
pub fn overall(findings: &[DkimFinding]) -> Verdict {
    const PREFERENCE: [Verdict; 6] = [
        Verdict::Pass,
        Verdict::Temperror,
        Verdict::Fail,
        Verdict::Permerror,
        Verdict::Neutral,
        Verdict::None,
    ];
    PREFERENCE
        .into_iter()
        .find(|v| findings.iter().any(|f| f.result == *v))
        .unwrap_or(Verdict::None)
}
