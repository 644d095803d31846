//! DMARC (RFC 7489): does the From domain publish a policy, and did SPF or
//! DKIM pass for a domain aligned with it?

use super::dns::txt_records;
use super::spf::SpfFinding;
use super::verdict::{Setup, Verdict};
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::{Alignment, Dmarc, Policy};
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DmarcResult, MessageAuthenticator, SpfOutput, SpfResult,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcFinding {
    pub result: Verdict,
    pub setup: Setup,
    /// The RFC 5322 From domain that DMARC protects.
    pub from_domain: String,
    /// `none`, `quarantine` or `reject`: the policy that applies to this
    /// message (after `sp=` for subdomains and `t=y` testing mode).
    pub policy: Option<String>,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
    /// The `v=DMARC1` record(s) found, at `record_domain`.
    pub records: Vec<String>,
    /// `_dmarc.<from_domain>`, or the parent domain's record that applies.
    pub record_domain: Option<String>,
    pub error: Option<String>,
    /// Details of the record that applies.
    pub record: Option<DmarcRecord>,
}

/// The tags of a DMARC record, as a reader needs them to judge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcRecord {
    /// `p=` as published.
    pub p: String,
    /// `sp=`, the subdomain policy (defaults to `p=`).
    pub sp: String,
    /// `pct=`, share of failing mail the policy applies to (RFC 7489; 100
    /// when absent).
    pub pct: u8,
    /// `t=y`: testing mode (DMARCbis), the policy is applied one level softer.
    pub testing: bool,
    /// Aggregate (`rua=`) and failure (`ruf=`) report addresses.
    pub rua: Vec<String>,
    pub ruf: Vec<String>,
    /// `adkim=` and `aspf=`: "relaxed" or "strict".
    pub adkim: String,
    pub aspf: String,
}

pub async fn verdict(
    dns: &MessageAuthenticator,
    message: &AuthenticatedMessage<'_>,
    dkim: &[DkimOutput<'_>],
    spf: &SpfFinding,
    mail_from_domain: &str,
) -> DmarcFinding {
    let spf_output = SpfOutput::new(spf.domain.clone()).with_result(spf_result(spf.result));
    let params = DmarcParameters::new(message, dkim, mail_from_domain, &spf_output);
    let output = dns.verify_dmarc(params).await;
    let from_domain = output.domain().to_ascii_lowercase();
    let (record_domain, records) = published_records(dns, &from_domain).await;
    let (mut result, mut error) = match output.result() {
        DmarcResult::Pass => (Verdict::Pass, None),
        DmarcResult::Fail(e) => (Verdict::Fail, Some(e.to_string())),
        DmarcResult::TempError(e) => (Verdict::Temperror, Some(e.to_string())),
        DmarcResult::PermError(e) => (Verdict::Permerror, Some(e.to_string())),
        DmarcResult::None => (Verdict::None, None),
    };
    let applies = output.dmarc_record().is_some();
    // "Set up wrongly" rather than "not set up", the survey distinction:
    // RFC 7489 §6.6.3 ignores a domain with several records, and mail-auth
    // ignores a record it cannot parse or that lacks a valid p=.
    if records.len() > 1 && result != Verdict::Temperror {
        result = Verdict::Permerror;
        error = Some(format!(
            "{} DMARC records are published; there must be exactly one",
            records.len()
        ));
    } else if result == Verdict::None && !applies && !records.is_empty() {
        result = Verdict::Permerror;
        error =
            Some("the DMARC record is published but cannot be used (syntax or missing p=)".into());
    }
    if from_domain.is_empty() && result == Verdict::None {
        error = Some("no single From domain to evaluate".into());
    }
    DmarcFinding {
        result,
        setup: result.setup(),
        from_domain,
        policy: applies.then(|| policy_name(output.policy()).to_string()),
        spf_aligned: matches!(output.spf_result(), DmarcResult::Pass),
        dkim_aligned: matches!(output.dkim_result(), DmarcResult::Pass),
        record: output
            .dmarc_record()
            .map(|r| record_details(r, records.first().map(String::as_str))),
        records,
        record_domain,
        error,
    }
}

/// The `v=DMARC1` records at `_dmarc.<domain>`, or else at the nearest parent
/// that has some (the organisational domain's policy covers subdomains).
/// This is for display; the verdict comes from mail-auth's own tree walk.
async fn published_records(
    dns: &MessageAuthenticator,
    domain: &str,
) -> (Option<String>, Vec<String>) {
    let mut name = domain;
    while name.contains('.') {
        let records: Vec<String> = txt_records(dns, &format!("_dmarc.{name}"))
            .await
            .into_iter()
            .filter(|r| r.to_ascii_lowercase().starts_with("v=dmarc1"))
            .collect();
        if !records.is_empty() {
            return (Some(name.to_string()), records);
        }
        name = name.split_once('.').map_or("", |(_, parent)| parent);
    }
    (None, Vec::new())
}

fn record_details(record: &Dmarc, text: Option<&str>) -> DmarcRecord {
    let pct = text
        .and_then(|t| tag_value(t, "pct"))
        .and_then(|v| v.parse::<u8>().ok())
        .filter(|pct| *pct <= 100)
        .unwrap_or(100);
    DmarcRecord {
        p: policy_name(record.p).into(),
        sp: policy_name(record.sp).into(),
        pct,
        testing: record.t,
        rua: record.rua.iter().map(|u| u.uri.clone()).collect(),
        ruf: record.ruf.iter().map(|u| u.uri.clone()).collect(),
        adkim: alignment_name(record.adkim).into(),
        aspf: alignment_name(record.aspf).into(),
    }
}

fn tag_value<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    record.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

fn alignment_name(alignment: Alignment) -> &'static str {
    match alignment {
        Alignment::Relaxed => "relaxed",
        Alignment::Strict => "strict",
    }
}

fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::None | Policy::Unspecified => "none",
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
    }
}

fn spf_result(verdict: Verdict) -> SpfResult {
    match verdict {
        Verdict::Pass => SpfResult::Pass,
        Verdict::Fail => SpfResult::Fail,
        Verdict::Softfail => SpfResult::SoftFail,
        Verdict::Neutral => SpfResult::Neutral,
        Verdict::None => SpfResult::None,
        Verdict::Permerror => SpfResult::PermError,
        Verdict::Temperror => SpfResult::TempError,
    }
}
