//! The certificate a mail exchanger presents after STARTTLS, judged the
//! way a sender that checks would judge it: does the chain lead to a root
//! we trust (webpki, over the system's roots from `rustls-native-certs`
//! plus the operator's extra CA files), does a name in it match the MX
//! host (RFC 6125: subjectAltName DNS names, the common name only when
//! there are none; a wildcard covers one left-most label), is it expired,
//! is it self-signed. Most MTAs deliver over any certificate
//! (opportunistic TLS, RFC 7435), so the handshake itself never refuses
//! one: the certificate is recorded, then judged.

use super::dialogue::kept;
use openssl::asn1::Asn1Time;
use openssl::nid::Nid;
use openssl::x509::{X509, X509VerifyResult};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

crate::checks::facts::words! {
    /// What the chain of the certificate leads to.
    ChainState {
        Valid => "valid",
        /// It does not lead to a trusted root (self-signed, a private CA,
        /// a missing intermediate).
        Untrusted => "untrusted",
        /// It, or a certificate in its chain, is past its notAfter.
        Expired => "expired",
        /// Not yet valid, revoked, malformed, or otherwise refused.
        Invalid => "invalid",
    }
}

/// What the certificate says and how it was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CertificateFacts {
    /// The subject's common name, if any.
    pub subject: String,
    /// The issuer's common name (or whole name when it has none).
    pub issuer: String,
    /// Its DNS names (subjectAltName), at most 20.
    pub names: Vec<String>,
    /// notAfter, as OpenSSL prints it.
    pub not_after: String,
    /// Days until notAfter; negative once expired.
    pub days_left: i64,
    pub self_signed: bool,
    pub chain: ChainState,
    /// Why the chain is not valid, when it is not.
    pub chain_error: Option<String>,
    /// A name in the certificate matches the MX host name.
    pub name_matches: bool,
}

/// The roots a probe trusts: the system's, and the operator's CA files.
pub struct Roots(Arc<RootCertStore>);

impl Roots {
    /// No roots at all (probing off).
    pub fn none() -> Roots {
        Roots(Arc::new(RootCertStore::empty()))
    }

    pub fn load(extra: &[PathBuf]) -> Result<Roots, String> {
        let mut store = RootCertStore::empty();
        // Unreadable system certificates leave fewer roots, not a failure:
        // every chain then reads as untrusted, and the report says why.
        let system = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(system.certs);
        for path in extra {
            for cert in certificates(path)? {
                store
                    .add(cert)
                    .map_err(|e| format!("{}: not a CA certificate: {e}", path.display()))?;
            }
        }
        Ok(Roots(Arc::new(store)))
    }
}

impl Roots {
    /// A client configuration that verifies servers against these roots,
    /// as a sender checking certificates would (MTA-STS's HTTPS fetch).
    pub fn client_config(&self) -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(self.0.clone())
            .with_no_client_auth()
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

/// ring, built once: the verifier asks for it on every handshake.
fn provider() -> Arc<CryptoProvider> {
    static RING: std::sync::LazyLock<Arc<CryptoProvider>> =
        std::sync::LazyLock::new(|| Arc::new(rustls::crypto::ring::default_provider()));
    RING.clone()
}

/// A client configuration that completes the handshake over any
/// certificate and keeps the chain it was shown in `seen`.
pub fn recording_config(seen: Arc<Seen>) -> rustls::ClientConfig {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(seen)
        .with_no_client_auth();
    config.enable_sni = true;
    config
}

/// The chain the server presented, once it has.
#[derive(Debug, Default)]
pub struct Seen(Mutex<Vec<CertificateDer<'static>>>);

impl Seen {
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ServerCertVerifier for Seen {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().take(8).map(|c| c.clone().into_owned()));
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = chain;
        Ok(ServerCertVerified::assertion())
    }

    // The handshake signatures are still checked: the server must hold
    // the key of the certificate it showed.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = provider().signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = provider().signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Judges `chain` (end entity first) as presented by `host`.
pub fn judge(
    chain: &[CertificateDer<'_>],
    host: &str,
    roots: &Roots,
) -> Result<CertificateFacts, String> {
    let end = chain.first().ok_or("the server presented no certificate")?;
    let cert = X509::from_der(end).map_err(|e| format!("unreadable certificate: {e}"))?;
    let names: Vec<String> = cert
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.dnsname().map(|d| kept(&d.to_ascii_lowercase())))
                .take(20)
                .collect()
        })
        .unwrap_or_default();
    let subject = common_name(cert.subject_name());
    let issuer = common_name(cert.issuer_name());
    let self_signed = cert.issued(&cert) == X509VerifyResult::OK
        && cert
            .public_key()
            .is_ok_and(|key| cert.verify(&key).unwrap_or(false));
    let days_left = Asn1Time::days_from_now(0)
        .and_then(|now| now.diff(cert.not_after()))
        .map(|diff| i64::from(diff.days))
        .unwrap_or(0);
    let candidates: Vec<&str> = if names.is_empty() {
        subject.iter().map(String::as_str).collect()
    } else {
        names.iter().map(String::as_str).collect()
    };
    let name_matches = candidates.iter().any(|pattern| name_match(pattern, host));
    let (chain_state, chain_error) = chain_state(chain, candidates.first().copied(), roots);
    Ok(CertificateFacts {
        subject: subject.unwrap_or_default(),
        issuer: issuer.unwrap_or_default(),
        names,
        not_after: cert.not_after().to_string(),
        days_left,
        self_signed,
        chain: chain_state,
        chain_error,
        name_matches,
    })
}

/// The chain alone, the name left out: verified for a name the
/// certificate itself carries, so only a chain fault can fail it.
fn chain_state(
    chain: &[CertificateDer<'_>],
    own_name: Option<&str>,
    roots: &Roots,
) -> (ChainState, Option<String>) {
    let verifier =
        match WebPkiServerVerifier::builder_with_provider(roots.0.clone(), provider()).build() {
            Ok(verifier) => verifier,
            Err(e) => {
                return (
                    ChainState::Untrusted,
                    Some(format!("no trusted roots: {e}")),
                );
            }
        };
    let name = own_name
        .map(|n| n.trim_start_matches("*."))
        .and_then(|n| ServerName::try_from(n.to_string()).ok())
        .unwrap_or_else(|| ServerName::try_from("invalid.invalid").expect("a DNS name"));
    let (end, intermediates) = chain
        .split_first()
        .expect("judge checked the chain is not empty");
    match verifier.verify_server_cert(end, intermediates, &name, &[], UnixTime::now()) {
        Ok(_) => (ChainState::Valid, None),
        Err(rustls::Error::InvalidCertificate(error)) => match error {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                (ChainState::Valid, None)
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                ChainState::Expired,
                Some("the certificate has expired".into()),
            ),
            CertificateError::UnknownIssuer => (
                ChainState::Untrusted,
                Some("issued by a CA that is not a trusted root".into()),
            ),
            other => (ChainState::Invalid, Some(kept(&format!("{other:?}")))),
        },
        Err(other) => (ChainState::Invalid, Some(kept(&other.to_string()))),
    }
}

fn common_name(name: &openssl::x509::X509NameRef) -> Option<String> {
    name.entries_by_nid(Nid::COMMONNAME)
        .next()
        .map(|entry| kept(&String::from_utf8_lossy(entry.data().as_slice())))
}

/// RFC 6125 §6.4: labels compared case-insensitively; `*` only as the
/// whole left-most label, matching exactly one label.
pub fn name_match(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(parent) => host.split_once('.').is_some_and(|(label, rest)| {
            !label.is_empty() && rest == parent && parent.contains('.')
        }),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_as_rfc_6125_says() {
        assert!(name_match("mx.example.jp", "MX.example.jp."));
        assert!(name_match("*.example.jp", "mx1.example.jp"));
        assert!(!name_match("*.example.jp", "a.mx1.example.jp"));
        assert!(!name_match("*.example.jp", "example.jp"));
        assert!(!name_match("*.jp", "example.jp"));
        assert!(!name_match("mx.example.jp", "mx2.example.jp"));
    }
}
