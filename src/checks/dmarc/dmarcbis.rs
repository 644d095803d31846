//! DMARC as RFC 9989 (DMARCbis) defines it, through mail-auth's verifier:
//! the organisational domain comes from a DNS tree walk (the shortest name
//! up the tree that publishes a record, unless `psd=` says otherwise), not
//! from the Public Suffix List. Receivers do not do this yet, so it is a
//! second opinion: the finding shows it only where it differs.

use super::TreeWalkVerdict;
use super::discovery::{Published, at};
use super::rfc7489::Evaluation;
use crate::checks::spf::SpfFinding;
use crate::checks::verdict::Verdict;
use crate::dns::Dns;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::{AuthenticatedMessage, DkimOutput, DmarcOutput, DmarcResult, SpfOutput, SpfResult};

/// mail-auth's DMARC verdict: it also tells which From domain applies (an
/// empty one when the From header has none, or several different ones).
pub(super) async fn tree_walk(
    dns: &Dns,
    message: &AuthenticatedMessage<'_>,
    dkim: &[DkimOutput<'_>],
    spf: &SpfFinding,
    mail_from_domain: &str,
) -> DmarcOutput {
    let spf_output = SpfOutput::new(spf.domain.clone()).with_result(spf_result(spf.result));
    let params = DmarcParameters::new(message, dkim, mail_from_domain, &spf_output);
    dns.auth().verify_dmarc(dns.parameters(params)).await
}

/// The tree walk's verdict when it tells the sender something the RFC 7489
/// one does not: another policy record, another result or another
/// alignment. Not when either could not ask DNS, nor when the RFC 7489
/// record is unusable (mail-auth reads some of those, we do not).
pub(super) fn differing(
    output: &DmarcOutput,
    walk: &[(String, Published)],
    rfc7489: &Evaluation,
) -> Option<TreeWalkVerdict> {
    let verdict = TreeWalkVerdict {
        result: verdict(&output.result()),
        record_domain: output
            .dmarc_record()
            .and_then(|_| record_domain(&output.domain().to_ascii_lowercase(), walk)),
        spf_aligned: matches!(output.spf_result(), DmarcResult::Pass),
        dkim_aligned: matches!(output.dkim_result(), DmarcResult::Pass),
    };
    let undecided = [Verdict::Temperror, Verdict::Permerror];
    if undecided.contains(&rfc7489.result) || verdict.result == Verdict::Temperror {
        return None;
    }
    // Without a record, RFC 7489's alignment is the relaxed default (a
    // fact for the providers' requirements) and mail-auth says none: only
    // a record's alignment is compared.
    let same_alignment = rfc7489.record.is_none()
        || (verdict.spf_aligned == rfc7489.spf_aligned
            && verdict.dkim_aligned == rfc7489.dkim_aligned);
    let same = verdict.result == rfc7489.result
        && verdict.record_domain == rfc7489.record_domain
        && same_alignment;
    (!same).then_some(verdict)
}

/// Where the tree walk takes its policy from (RFC 9989 §4.10.1): the From
/// domain's record, else the organisational domain's, which without `psd=`
/// tags is the shortest name that has one. (`psd=` is left out here: it only
/// moves which record is named, mail-auth's verdict already honours it.)
fn record_domain(from_domain: &str, walk: &[(String, Published)]) -> Option<String> {
    let has_records = |published: &Published| matches!(published, Published::Records(_));
    if has_records(at(walk, from_domain)) {
        return Some(from_domain.to_string());
    }
    walk.iter()
        .rev()
        .find(|(_, published)| has_records(published))
        .map(|(name, _)| name.clone())
}

fn verdict(result: &DmarcResult) -> Verdict {
    match result {
        DmarcResult::Pass => Verdict::Pass,
        DmarcResult::Fail(_) => Verdict::Fail,
        DmarcResult::TempError(_) => Verdict::Temperror,
        DmarcResult::PermError(_) => Verdict::Permerror,
        DmarcResult::None => Verdict::None,
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
