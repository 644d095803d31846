//! DMARC as RFC 7489 defines it and receivers (Gmail, Yahoo, Microsoft)
//! apply it today: the policy is the From domain's `_dmarc` record, else the
//! organisational domain's (§6.6.3), and alignment compares organisational
//! domains from the Public Suffix List (§3.1). No DNS here: the records come
//! from discovery.rs, SPF and DKIM from their own findings.

use super::discovery::{Published, at};
use crate::checks::dkim::DkimFinding;
use crate::checks::spf::SpfFinding;
use crate::checks::verdict::Verdict;
use crate::dns::org_domain::aligned;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::dmarc::{Alignment, Dmarc, Policy};

/// The outcome of one evaluation, before it becomes a finding.
#[derive(Debug)]
pub(super) struct Evaluation {
    pub result: Verdict,
    pub error: Option<String>,
    /// Where the record that applies was found.
    pub record_domain: Option<String>,
    /// The `v=DMARC1` records there.
    pub records: Vec<String>,
    /// The record, parsed, when exactly one usable one was found.
    pub record: Option<Dmarc>,
    /// The policy for this message: `p=`, or `sp=` for a subdomain.
    pub policy: Option<Policy>,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
}

impl Evaluation {
    fn without_record(result: Verdict, error: Option<String>) -> Self {
        Evaluation {
            result,
            error,
            record_domain: None,
            records: Vec::new(),
            record: None,
            policy: None,
            spf_aligned: false,
            dkim_aligned: false,
        }
    }

    fn unusable(record_domain: &str, records: &[String], error: String) -> Self {
        Evaluation {
            record_domain: Some(record_domain.to_string()),
            records: records.to_vec(),
            ..Self::without_record(Verdict::Permerror, Some(error))
        }
    }
}

/// DMARC for mail from `from_domain` (lowercase), whose organisational
/// domain is `org_domain`, given what `_dmarc` held along `walk`.
pub(super) fn evaluate(
    from_domain: &str,
    org_domain: &str,
    walk: &[(String, Published)],
    spf: &SpfFinding,
    dkim: &[DkimFinding],
) -> Evaluation {
    // §6.6.3 steps 1 and 3: the From domain first, then its organisational
    // domain; a DNS failure stops discovery (no record is assumed absent).
    let mut record_domain = from_domain;
    let mut found = at(walk, from_domain);
    if *found == Published::Nothing && org_domain != from_domain {
        record_domain = org_domain;
        found = at(walk, org_domain);
    }
    let records = match found {
        Published::Records(records) => records,
        Published::Nothing => {
            // No policy, but alignment is still a fact the providers'
            // requirements read (Gmail's "From aligned with SPF or DKIM"):
            // relaxed, the default of §6.3. The result stays none.
            let none = Evaluation::without_record(Verdict::None, None);
            let relaxed = |domain: &str| aligned(domain, from_domain, false);
            return Evaluation {
                spf_aligned: spf.result == Verdict::Pass && relaxed(&spf.domain),
                dkim_aligned: dkim
                    .iter()
                    .any(|d| d.result == Verdict::Pass && relaxed(&d.domain)),
                ..none
            };
        }
        Published::Failed(error) => {
            let error = format!("DNS did not answer for _dmarc.{record_domain}: {error}");
            return Evaluation::without_record(Verdict::Temperror, Some(error));
        }
    };
    // §6.6.3 step 5 says several records mean no DMARC at all; reported as
    // permerror, since the owner published something and got it wrong.
    if records.len() > 1 {
        let error = format!(
            "{} DMARC records are published at _dmarc.{record_domain}; there must be exactly one",
            records.len()
        );
        return Evaluation::unusable(record_domain, records, error);
    }
    let Ok(record) = Dmarc::parse(records[0].as_bytes()) else {
        let error = format!(
            "the DMARC record at _dmarc.{record_domain} cannot be used: a tag has an invalid value (p= must be none, quarantine or reject)"
        );
        return Evaluation::unusable(record_domain, records, error);
    };
    let Some(policy) = applied_policy(&record, record_domain == from_domain) else {
        let error = format!("the DMARC record at _dmarc.{record_domain} has no p= tag");
        return Evaluation::unusable(record_domain, records, error);
    };
    let mut evaluation = alignment(from_domain, &record, spf, dkim);
    evaluation.record_domain = Some(record_domain.to_string());
    evaluation.records = records.clone();
    evaluation.policy = Some(policy);
    evaluation.record = Some(record);
    evaluation
}

/// `p=` for the domain the record was published for, `sp=` (which defaults
/// to `p=`) for its subdomains (§6.3). A record without a valid `p=` but
/// with `rua=` is read as `p=none` (§6.6.3 step 6); without either it is
/// unusable. `t=y` (DMARCbis testing mode) softens the policy one step.
fn applied_policy(record: &Dmarc, at_from_domain: bool) -> Option<Policy> {
    let published = match (record.p, at_from_domain) {
        (Policy::Unspecified, _) if !record.rua.is_empty() => Policy::None,
        (Policy::Unspecified, _) => return None,
        (p, true) => p,
        (_, false) => record.sp,
    };
    Some(match (record.t, published) {
        (true, Policy::Reject) => Policy::Quarantine,
        (true, Policy::Quarantine) => Policy::None,
        (_, policy) => policy,
    })
}

/// §4.2: DMARC passes when SPF or DKIM passes for a domain aligned with the
/// From domain. SPF's identifier is the domain SPF evaluated (MAIL FROM, or
/// HELO for bounces), DKIM's each signature's `d=`. A DNS failure on an
/// aligned identifier leaves the result open (temperror), as in mail-auth.
fn alignment(
    from_domain: &str,
    record: &Dmarc,
    spf: &SpfFinding,
    dkim: &[DkimFinding],
) -> Evaluation {
    let spf_is_aligned = aligned(&spf.domain, from_domain, record.aspf == Alignment::Strict);
    let dkim_is_aligned =
        |d: &DkimFinding| aligned(&d.domain, from_domain, record.adkim == Alignment::Strict);
    let spf_aligned = spf.result == Verdict::Pass && spf_is_aligned;
    let dkim_aligned = dkim
        .iter()
        .any(|d| d.result == Verdict::Pass && dkim_is_aligned(d));
    let unknown = (spf.result == Verdict::Temperror && spf_is_aligned)
        || dkim
            .iter()
            .any(|d| d.result == Verdict::Temperror && dkim_is_aligned(d));
    let (result, error) = if spf_aligned || dkim_aligned {
        (Verdict::Pass, None)
    } else if unknown {
        let error = "SPF or DKIM for an aligned domain could not be checked (DNS)";
        (Verdict::Temperror, Some(error.to_string()))
    } else {
        let error = format!("neither SPF nor DKIM passed for a domain aligned with {from_domain}");
        (Verdict::Fail, Some(error))
    };
    Evaluation {
        spf_aligned,
        dkim_aligned,
        ..Evaluation::without_record(result, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(record: &str, at_from_domain: bool) -> Option<Policy> {
        applied_policy(&Dmarc::parse(record.as_bytes()).unwrap(), at_from_domain)
    }

    #[test]
    fn p_for_the_domain_itself_sp_for_its_subdomains() {
        let record = "v=DMARC1; p=reject; sp=none";
        assert_eq!(policy(record, true), Some(Policy::Reject));
        assert_eq!(policy(record, false), Some(Policy::None));
        // sp= defaults to p=.
        assert_eq!(
            policy("v=DMARC1; p=quarantine", false),
            Some(Policy::Quarantine)
        );
    }

    #[test]
    fn a_missing_p_is_none_with_reports_and_unusable_without() {
        let with_rua = "v=DMARC1; rua=mailto:d@example.com";
        assert_eq!(policy(with_rua, true), Some(Policy::None));
        assert_eq!(policy("v=DMARC1; sp=reject", false), None);
        assert!(Dmarc::parse(b"v=DMARC1; p=bogus").is_err());
    }

    #[test]
    fn testing_mode_softens_one_step() {
        assert_eq!(
            policy("v=DMARC1; p=reject; t=y", true),
            Some(Policy::Quarantine)
        );
        assert_eq!(
            policy("v=DMARC1; p=quarantine; t=y", true),
            Some(Policy::None)
        );
    }
}
