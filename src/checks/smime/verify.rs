//! Asking OpenSSL, in the order of [`SmimeResult`]'s precedence:
//! 1. does the signature verify over the content (`CMS_verify` with
//!    `NO_SIGNER_CERT_VERIFY`: digests and signatures, no path)? If not,
//!    `invalid`;
//! 2. is the signer certificate inside its validity period now? If not,
//!    `expired`;
//! 3. does it chain to a trust anchor (`X509_verify_cert` with the
//!    certificates the message carries as intermediates, S/MIME signing
//!    purpose)? If not, `untrusted` (or `expired` when the chain breaks on an
//!    expired CA);
//! 4. does it name the From address? If not, `mismatch`; else `trusted`.
//!
//! The signature step checks every signer. The certificate steps judge one:
//! the signer whose certificate names the From address, or else the first
//! in the (DER-sorted) SET of signers.

use super::der::{self, ContentType, SignerId};
use super::{SignerCert, SmimeFinding, SmimeResult, TrustStore};
use openssl::asn1::{Asn1Object, Asn1Time, Asn1TimeRef};
use openssl::bn::BigNum;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::stack::Stack;
use openssl::x509::{X509, X509NameRef, X509Ref, X509StoreContext};

/// Each string taken from a certificate is cut to this many characters.
const MAX_FIELD_CHARS: usize = 500;
/// A certificate lists at most this many addresses in the finding.
const MAX_EMAILS: usize = 20;
/// Real mail has one signer and a handful of certificates. Each signer costs
/// a public-key operation and each certificate a path-building candidate, so
/// a hostile message could otherwise buy seconds of CPU within the size cap.
const MAX_SIGNERS: usize = 8;
const MAX_CERTIFICATES: usize = 32;

/// Verifies one CMS ContentInfo (BER or DER). `detached` is the signed
/// content of a `multipart/signed`; `None` means the content is inside.
pub(super) fn cms_verdict(
    encoded: &[u8],
    detached: Option<&[u8]>,
    from_address: Option<&str>,
    trust: &TrustStore,
) -> SmimeFinding {
    let invalid = |error: String| SmimeFinding {
        result: SmimeResult::Invalid,
        error: Some(error),
        ..SmimeFinding::none()
    };
    let mut cms = match CmsContentInfo::from_der(encoded) {
        Ok(cms) => cms,
        Err(e) => return invalid(format!("not a CMS structure: {}", reason(&e))),
    };
    let der = match cms.to_der() {
        Ok(der) => der,
        Err(e) => {
            return invalid(format!(
                "cannot re-encode the CMS structure: {}",
                reason(&e)
            ));
        }
    };
    match der::content_type(&der) {
        Some(ContentType::SignedData) => {}
        Some(ContentType::Encrypted) => {
            return SmimeFinding {
                result: SmimeResult::Encrypted,
                ..SmimeFinding::none()
            };
        }
        Some(ContentType::Other) | None => {
            return invalid("the CMS structure is not signed data".into());
        }
    }
    let Some(signed) = der::signed_data(&der) else {
        return invalid("malformed CMS SignedData".into());
    };
    if signed.signers.is_empty() {
        return invalid("the signature has no signer".into());
    }
    if signed.signers.len() > MAX_SIGNERS || signed.certificates.len() > MAX_CERTIFICATES {
        return invalid(format!(
            "{} signers and {} certificates: more than S/MIME mail uses, not checked",
            signed.signers.len(),
            signed.certificates.len()
        ));
    }
    let certificates: Vec<X509> = signed
        .certificates
        .iter()
        .filter_map(|der| X509::from_der(der).ok())
        .collect();
    let from = from_address.map(str::trim).unwrap_or_default();
    // Each signer with its certificate (when the message carries it).
    let signers: Vec<(&der::SignerInfo<'_>, Option<&X509>, Option<SignerCert>)> = signed
        .signers
        .iter()
        .map(|info| {
            let cert = certificates.iter().find(|cert| identifies(&info.sid, cert));
            (info, cert, cert.map(|cert| describe(cert)))
        })
        .collect();
    // signerInfos is a SET: no signer comes first. The one judged is the
    // one whose certificate names the From address, if any.
    let names_from = |described: &Option<SignerCert>| {
        described.as_ref().is_some_and(|d| {
            !from.is_empty() && d.emails.iter().any(|e| e.eq_ignore_ascii_case(from))
        })
    };
    let (info, signer_cert, described) = signers
        .iter()
        .find(|(_, _, described)| names_from(described))
        .unwrap_or(&signers[0])
        .clone();
    let mut finding = SmimeFinding {
        result: SmimeResult::Invalid,
        signer: described,
        digest: Some(digest_name(info.digest_oid)),
        error: None,
    };

    let signature_only = CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY;
    if let Err(e) = cms.verify(None, None, detached, None, signature_only) {
        finding.error = Some(reason(&e));
        return finding;
    }
    let Some(signer_cert) = signer_cert else {
        // OpenSSL found the signer among the certificates; we could not
        // match its identifier ourselves (an unusual encoding).
        finding.result = SmimeResult::Untrusted;
        finding.error = Some("signer certificate not identified".into());
        return finding;
    };
    if let Some(error) = outside_validity(signer_cert) {
        finding.result = SmimeResult::Expired;
        finding.error = Some(error);
        return finding;
    }
    if let Err((result, error)) = chain(signer_cert, &certificates, trust) {
        finding.result = result;
        finding.error = Some(error);
        return finding;
    }
    if !names_from(&finding.signer) {
        let emails = finding.signer.as_ref().map_or(&[][..], |s| &s.emails[..]);
        finding.result = SmimeResult::Mismatch;
        finding.error = Some(match (from.is_empty(), emails.is_empty()) {
            (true, _) => "the message has no From address to match".into(),
            (false, true) => "the signer certificate names no email address".into(),
            (false, false) => format!("the signer certificate is for {}", emails.join(", ")),
        });
        return finding;
    }
    finding.result = SmimeResult::Trusted;
    finding
}

/// Does `cert` match a SignerInfo's identifier (RFC 5652 §5.3)?
fn identifies(sid: &SignerId<'_>, cert: &X509Ref) -> bool {
    match *sid {
        SignerId::IssuerAndSerial { issuer, serial } => {
            let Ok(cert_serial) = cert.serial_number().to_bn() else {
                return false;
            };
            let Ok(sid_serial) = BigNum::from_slice(serial) else {
                return false;
            };
            let Ok(issuer) = openssl::x509::X509Name::from_der(issuer) else {
                return false;
            };
            cert_serial == sid_serial
                && cert.issuer_name().try_cmp(&issuer).is_ok_and(|o| o.is_eq())
        }
        SignerId::SubjectKeyId(id) => cert.subject_key_id().is_some_and(|k| k.as_slice() == id),
    }
}

/// `Some(why)` when now is before notBefore or after notAfter.
fn outside_validity(cert: &X509Ref) -> Option<String> {
    let Ok(now) = Asn1Time::days_from_now(0) else {
        return None;
    };
    let after = |from: &Asn1TimeRef, to: &Asn1TimeRef| {
        from.diff(to)
            .is_ok_and(|d| d.days > 0 || (d.days == 0 && d.secs > 0))
    };
    if after(&now, cert.not_before()) {
        return Some(format!(
            "certificate is not yet valid (notBefore {})",
            rfc3339(cert.not_before())
        ));
    }
    if after(cert.not_after(), &now) {
        return Some(format!(
            "certificate has expired (notAfter {})",
            rfc3339(cert.not_after())
        ));
    }
    None
}

/// Builds and checks the path from `signer` to a trust anchor.
fn chain(
    signer: &X509Ref,
    carried: &[X509],
    trust: &TrustStore,
) -> Result<(), (SmimeResult, String)> {
    let untrusted = |e: ErrorStack| (SmimeResult::Untrusted, reason(&e));
    let mut intermediates = Stack::new().map_err(untrusted)?;
    for cert in carried {
        intermediates.push(cert.clone()).map_err(untrusted)?;
    }
    let mut context = X509StoreContext::new().map_err(untrusted)?;
    let (ok, error) = context
        .init(&trust.store, signer, &intermediates, |c| {
            Ok((c.verify_cert()?, c.error()))
        })
        .map_err(untrusted)?;
    if ok {
        return Ok(());
    }
    let result = match error.as_raw() {
        openssl_sys::X509_V_ERR_CERT_HAS_EXPIRED | openssl_sys::X509_V_ERR_CERT_NOT_YET_VALID => {
            SmimeResult::Expired
        }
        _ => SmimeResult::Untrusted,
    };
    Err((result, error.error_string().to_string()))
}

fn describe(cert: &X509Ref) -> SignerCert {
    let (key_algorithm, key_bits) = cert.public_key().map_or(("unknown".into(), 0), |key| {
        let algorithm = match key.id() {
            Id::RSA => "rsa".to_string(),
            Id::RSA_PSS => "rsa-pss".into(),
            Id::EC => "ec".into(),
            Id::ED25519 => "ed25519".into(),
            Id::ED448 => "ed448".into(),
            Id::DSA => "dsa".into(),
            other => Nid::from_raw(other.as_raw())
                .short_name()
                .map_or_else(|_| "unknown".into(), str::to_ascii_lowercase),
        };
        (algorithm, key.bits())
    });
    SignerCert {
        subject: name(cert.subject_name()),
        issuer: name(cert.issuer_name()),
        serial: cert
            .serial_number()
            .to_bn()
            .and_then(|bn| bn.to_hex_str().map(|hex| hex.to_string()))
            .unwrap_or_default(),
        not_before: rfc3339(cert.not_before()),
        not_after: rfc3339(cert.not_after()),
        emails: emails(cert),
        key_algorithm,
        key_bits,
    }
}

/// rfc822Name subjectAltNames, then subject emailAddress values, without
/// repeats (case-insensitive).
fn emails(cert: &X509Ref) -> Vec<String> {
    let mut emails: Vec<String> = Vec::new();
    let from_san = cert
        .subject_alt_names()
        .into_iter()
        .flatten()
        .filter_map(|name| name.email().map(str::to_string));
    let from_subject = cert
        .subject_name()
        .entries_by_nid(Nid::PKCS9_EMAILADDRESS)
        .filter_map(|entry| entry.data().to_string().ok());
    for email in from_san.chain(from_subject) {
        let email = bounded(email.trim());
        if emails.len() < MAX_EMAILS && !emails.iter().any(|e| e.eq_ignore_ascii_case(&email)) {
            emails.push(email);
        }
    }
    emails
}

/// `CN=Alice, emailAddress=alice@example.com`, in certificate order.
fn name(name: &X509NameRef) -> String {
    let text = name
        .entries()
        .map(|entry| {
            let nid = entry.object().nid();
            let key = match nid.short_name() {
                Ok(short) if nid != Nid::UNDEF => short.to_string(),
                _ => entry.object().to_string(),
            };
            let value = entry.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ");
    bounded(&text)
}

/// The digest algorithm's OpenSSL short name in lower case (`sha256`), or
/// the dotted OID when OpenSSL does not know it.
fn digest_name(oid: &[u8]) -> String {
    let Some(dotted) = der::dotted(oid) else {
        return "unknown".into();
    };
    Asn1Object::from_str(&dotted)
        .ok()
        .map(|object| object.nid())
        .filter(|&nid| nid != Nid::UNDEF)
        .and_then(|nid| nid.short_name().ok().map(str::to_ascii_lowercase))
        .unwrap_or(dotted)
}

/// OpenSSL's reasons for a failure, e.g. `verification failure`, short.
fn reason(errors: &ErrorStack) -> String {
    let mut reasons: Vec<String> = Vec::new();
    for error in errors.errors() {
        let text = match (error.reason(), error.data()) {
            (Some(reason), Some(data)) if !data.is_empty() => format!("{reason}: {data}"),
            (Some(reason), _) => reason.to_string(),
            (None, _) => continue,
        };
        if !reasons.contains(&text) {
            reasons.push(text);
        }
    }
    if reasons.is_empty() {
        return "OpenSSL gave no reason".into();
    }
    bounded(&reasons.join("; "))
}

/// RFC 3339 in UTC (`2021-01-01T00:00:00Z`); OpenSSL's own text if the
/// time cannot be placed.
fn rfc3339(time: &Asn1TimeRef) -> String {
    let since_epoch = Asn1Time::from_unix(0).and_then(|epoch| epoch.diff(time));
    let Ok(diff) = since_epoch else {
        return time.to_string();
    };
    let days = i64::from(diff.days);
    let secs = i64::from(diff.secs);
    let (days, secs) = (days + secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_FIELD_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_rfc3339() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(18_628), (2021, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let t = Asn1Time::from_str("20200101000000Z").unwrap();
        assert_eq!(rfc3339(&t), "2020-01-01T00:00:00Z");
        let t = Asn1Time::from_str("19691231235959Z").unwrap();
        assert_eq!(rfc3339(&t), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn digest_names_are_openssl_short_names() {
        let sha256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
        assert_eq!(digest_name(&sha256), "sha256");
        assert_eq!(digest_name(&[0x2a, 0x03, 0x04]), "1.2.3.4");
    }
}
