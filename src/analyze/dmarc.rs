//! DMARC (RFC 7489): does the From domain publish a policy, and did SPF or
//! DKIM pass for a domain aligned with it?

use super::dns::txt_records;
use super::spf::SpfFinding;
use super::verdict::{Setup, Verdict};
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
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
    /// `none`, `quarantine` or `reject`, when a policy applies.
    pub policy: Option<String>,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
    /// The `v=DMARC1` record(s) at `_dmarc.<from_domain>`.
    pub records: Vec<String>,
    pub error: Option<String>,
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
    let records: Vec<String> = if from_domain.is_empty() {
        Vec::new()
    } else {
        txt_records(dns, &format!("_dmarc.{from_domain}"))
            .await
            .into_iter()
            .filter(|r| r.trim_start().to_ascii_lowercase().starts_with("v=dmarc1"))
            .collect()
    };
    let (mut result, mut error) = match output.result() {
        DmarcResult::Pass => (Verdict::Pass, None),
        DmarcResult::Fail(e) => (Verdict::Fail, Some(e.to_string())),
        DmarcResult::TempError(e) => (Verdict::Temperror, Some(e.to_string())),
        DmarcResult::PermError(e) => (Verdict::Permerror, Some(e.to_string())),
        DmarcResult::None => (Verdict::None, None),
    };
    let applies = output.dmarc_record().is_some();
    // A v=DMARC1 record that mail-auth could not use (bad syntax, no valid p=)
    // is "set up wrongly", not "not set up": the survey distinction.
    if result == Verdict::None && !applies && !records.is_empty() {
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
        records,
        error,
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
