//! DANE for SMTP (RFC 7672): the exchanger's `_25._tcp.<host>` TLSA
//! records, and whether the certificate it presented matches one. SMTP
//! clients use only DANE-TA(2) and DANE-EE(3) records (§3.1.3: PKIX
//! usages 0 and 1 are "unusable"); a DANE-EE record is matched against
//! the end-entity certificate, a DANE-TA record against any certificate
//! of the chain the server sent. RFC 7672 also requires the TLSA answer
//! to be DNSSEC-validated; that is reported by the DNSSEC check, not
//! assumed here.

use super::dialogue::kept;
use crate::dns::{Answer, Dns, answer};
use mail_auth::hickory_resolver::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};

crate::checks::facts::words! {
    /// What the TLSA records say of the presented certificate.
    DaneState {
        /// No TLSA record: DANE is not used (the common case).
        Absent => "absent",
        /// A usable record matches the certificate or its chain.
        Matched => "matched",
        /// Usable records, none matching: a DANE sender will not deliver.
        NotMatched => "not_matched",
        /// Records, but none an SMTP client may use (PKIX usages, unknown
        /// selectors or matching types).
        Unusable => "unusable",
        /// DNS did not answer, or there was no certificate to match.
        Unknown => "unknown",
    }
}

/// The exchanger's TLSA records and the match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct DaneFinding {
    pub state: DaneState,
    /// The records, in presentation form ("3 1 1 <hex>").
    pub records: Vec<String>,
    pub error: Option<String>,
}

/// The TLSA records of `host`'s port 25, or why there are none.
pub async fn records(dns: &Dns, host: &str) -> Result<Vec<TLSA>, String> {
    let reply = dns
        .lookup(&format!("_25._tcp.{host}."), RecordType::TLSA)
        .await;
    match answer(&reply) {
        Answer::Records(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TLSA(tlsa) => Some(tlsa.clone()),
                _ => None,
            })
            .take(16)
            .collect()),
        Answer::NoRecords => Ok(Vec::new()),
        Answer::Failed(error) => Err(format!("TLSA lookup: {error}")),
    }
}

/// Judges `chain` (end entity first) against `records`.
pub fn judge(records: Result<Vec<TLSA>, String>, chain: &[CertificateDer<'_>]) -> DaneFinding {
    let records = match records {
        Ok(records) => records,
        Err(error) => {
            return DaneFinding {
                state: DaneState::Unknown,
                records: Vec::new(),
                error: Some(error),
            };
        }
    };
    let shown = records.iter().map(presentation).collect();
    let usable: Vec<&TLSA> = records.iter().filter(|r| usable(r)).collect();
    let state = if records.is_empty() {
        DaneState::Absent
    } else if usable.is_empty() {
        DaneState::Unusable
    } else if chain.is_empty() {
        DaneState::Unknown
    } else if usable.iter().any(|r| matches(r, chain)) {
        DaneState::Matched
    } else {
        DaneState::NotMatched
    };
    DaneFinding {
        state,
        records: shown,
        error: None,
    }
}

fn usable(record: &TLSA) -> bool {
    matches!(record.cert_usage, CertUsage::DaneTa | CertUsage::DaneEe)
        && matches!(record.selector, Selector::Full | Selector::Spki)
        && matches!(
            record.matching,
            Matching::Raw | Matching::Sha256 | Matching::Sha512
        )
}

fn matches(record: &TLSA, chain: &[CertificateDer<'_>]) -> bool {
    let candidates = match record.cert_usage {
        CertUsage::DaneEe => &chain[..1],
        _ => chain,
    };
    candidates.iter().any(|cert| {
        selected(record.selector, cert)
            .and_then(|content| digest(record.matching, &content))
            .is_some_and(|association| association == record.cert_data)
    })
}

/// The whole certificate, or its SubjectPublicKeyInfo.
fn selected(selector: Selector, cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    match selector {
        Selector::Full => Some(cert.to_vec()),
        _ => X509::from_der(cert)
            .ok()?
            .public_key()
            .ok()?
            .public_key_to_der()
            .ok(),
    }
}

fn digest(matching: Matching, content: &[u8]) -> Option<Vec<u8>> {
    let kind = match matching {
        Matching::Raw => return Some(content.to_vec()),
        Matching::Sha256 => MessageDigest::sha256(),
        _ => MessageDigest::sha512(),
    };
    openssl::hash::hash(kind, content).ok().map(|d| d.to_vec())
}

fn presentation(record: &TLSA) -> String {
    let hex: String = record
        .cert_data
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    kept(&format!(
        "{} {} {} {hex}",
        u8::from(record.cert_usage),
        u8::from(record.selector),
        u8::from(record.matching)
    ))
}
