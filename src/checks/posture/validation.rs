//! DNSSEC validated, not just published: the From domain's MX answer (or
//! the proof that it has none) asked through the validating resolver, from
//! the trust anchor down (RFC 4035 §5). Secure: every signature on the way
//! checks out. Insecure: a zone on the way proves it has no DS, so nothing
//! below is signed. Bogus: signatures that do not validate; validating
//! receivers then answer SERVFAIL and the domain's mail is refused.
//!
//! A resolver that strips DNSSEC records makes every answer look bogus,
//! signed or not. So a bogus answer is only called bogus when the root's
//! own keys validate; otherwise nobody can tell, and it is `unknown`.

use crate::dns::Dns;
use crate::dns::ttl_map::TtlMap;
use mail_auth::hickory_resolver::net::{DnsError, NetError};
use mail_auth::hickory_resolver::proto::dnssec::Proof;
use mail_auth::hickory_resolver::proto::rr::RecordType;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// What validating the From domain's answers found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DnssecValidation {
    /// Validated from the trust anchor to the answer.
    Secure,
    /// Provably unsigned: a parent zone has no DS for it.
    Insecure,
    /// Signed, and the signatures do not validate.
    Bogus { reason: String },
    /// DNS did not answer, or the DNS server does not serve DNSSEC records.
    Unknown { error: String },
    /// Validation is off (`--dnssec-validation off`), or the report is
    /// older than it.
    #[default]
    NotChecked,
}

impl DnssecValidation {
    pub fn word(&self) -> &'static str {
        match self {
            DnssecValidation::Secure => "secure",
            DnssecValidation::Insecure => "insecure",
            DnssecValidation::Bogus { .. } => "bogus",
            DnssecValidation::Unknown { .. } => "unknown",
            DnssecValidation::NotChecked => "not_checked",
        }
    }
}

pub const WORDS: &[&str] = &["secure", "insecure", "bogus", "unknown", "not_checked"];

/// Verdicts kept a while, per domain: a flood from one sender validates
/// once, and a DNS path that cannot validate is not asked the root's keys
/// again for every message. Five minutes (a verdict changes when a zone
/// is re-signed or its DS changes, not between two messages); one minute
/// for `unknown`.
#[derive(Default)]
pub struct Verdicts(TtlMap<String, DnssecValidation>);

const KEEP: Duration = Duration::from_secs(300);
const KEEP_UNKNOWN: Duration = Duration::from_secs(60);

/// [`validate`], through `kept`.
pub async fn validate_kept(dns: &Dns, kept: &Verdicts, domain: &str) -> DnssecValidation {
    let now = Instant::now();
    if let Some(verdict) = kept.0.get(domain, now) {
        return verdict;
    }
    let verdict = validate(dns, domain).await;
    let keep = match verdict {
        DnssecValidation::Unknown { .. } => KEEP_UNKNOWN,
        _ => KEEP,
    };
    let now = Instant::now();
    kept.0
        .insert(domain.to_string(), verdict.clone(), now + keep, now);
    verdict
}

/// Validates `domain`'s MX answer.
pub async fn validate(dns: &Dns, domain: &str) -> DnssecValidation {
    let name = format!("{}.", domain.trim_end_matches('.'));
    match proof_of(dns.validated(&name, RecordType::MX).await) {
        Ok(Proof::Secure) => DnssecValidation::Secure,
        Ok(Proof::Insecure) => DnssecValidation::Insecure,
        Ok(Proof::Bogus) => {
            bogus_unless_blind(dns, "the signatures of its records do not validate").await
        }
        Ok(Proof::Indeterminate) => DnssecValidation::Unknown {
            error: "the answer could not be validated either way".into(),
        },
        Err(error) => DnssecValidation::Unknown { error },
    }
}

/// The proof of a validated answer: the weakest of its records', or that
/// of the SOA or NSEC records proving a negative answer.
fn proof_of(
    result: Result<mail_auth::hickory_resolver::lookup::Lookup, NetError>,
) -> Result<Proof, String> {
    match result {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .map(|record| record.proof)
            .min()
            .unwrap_or(Proof::Indeterminate)),
        Err(NetError::Dns(DnsError::DnssecBogus)) => Ok(Proof::Bogus),
        Err(NetError::Dns(DnsError::Nsec { proof, .. })) => Ok(proof),
        Err(NetError::Dns(DnsError::NoRecordsFound(none))) => Ok(none
            .soa
            .as_ref()
            .map_or(Proof::Indeterminate, |soa| soa.proof)),
        Err(NetError::Timeout) => Err("DNS timed out".into()),
        Err(other) => Err(other.to_string()),
    }
}

/// Bogus, if the root's keys validate (the resolver path carries DNSSEC);
/// else unknown.
async fn bogus_unless_blind(dns: &Dns, reason: &str) -> DnssecValidation {
    match proof_of(dns.validated(".", RecordType::DNSKEY).await) {
        Ok(Proof::Secure) => DnssecValidation::Bogus {
            reason: reason.to_string(),
        },
        _ => DnssecValidation::Unknown {
            error: "cannot validate: the DNS server does not return DNSSEC records the trust anchor validates (a resolver that strips them, or the wrong anchor)".into(),
        },
    }
}
