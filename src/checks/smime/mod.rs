//! S/MIME (RFC 8551, RFC 5751): is the message signed, does the signature
//! hold over the exact bytes that were signed, and who signed it.
//!
//! Verification uses the `openssl` crate (OpenSSL 3, Apache-2.0, linked from
//! the system's libssl): its CMS code checks the signature and digests, and
//! its X509 store builds and checks the certificate path. The pure-Rust
//! alternative, RustCrypto's `cms` + `x509-cert`, only parses: we would have
//! to hand-write signature verification for every algorithm and path
//! building, which is exactly the part that must not be home-made.
//!
//! The work is split the way the message is read:
//! - `mime` finds the S/MIME structure in the raw message and cuts out the
//!   exact signed bytes (re-serialising would break the signature);
//! - `der` reads the few CMS fields the `openssl` crate does not expose
//!   (content type, carried certificates, signer identifier, digest);
//! - `verify` asks OpenSSL and turns its answers into one [`SmimeResult`].
//!
//! Only facts here, no points: the rule table decides what each result costs.

mod der;
mod mime;
mod verify;

use super::CheckId;
use super::Setup;
use super::facts::{Facts, Field};
use super::row::{Row, Tone, join};
use crate::i18n::{Lang, phrases};
use openssl::error::ErrorStack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::{X509, X509PurposeId};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// An S/MIME part (the signature plus, for `multipart/signed`, the signed
/// entity; or the whole `application/pkcs7-mime` body) larger than this is
/// not checked: the finding says so instead.
pub const MAX_SMIME_BYTES: usize = 4 * 1024 * 1024;

/// What S/MIME verification found in one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SmimeFinding {
    pub result: SmimeResult,
    /// The judged signer's certificate, when the signature carries it. With
    /// several signers, the one whose certificate names the From address,
    /// else the first.
    pub signer: Option<SignerCert>,
    /// That signer's digest algorithm, e.g. `sha256`.
    pub digest: Option<String>,
    /// Why the result is not `trusted`, in OpenSSL's words where it has them.
    pub error: Option<String>,
}

/// The outcome of checking a message's S/MIME.
///
/// When several apply, the one listed first wins:
/// `encrypted` > `invalid` > `expired` > `untrusted` > `mismatch` > `trusted`.
/// (A broken signature says nothing about its certificate, an expired
/// certificate is a problem however it chains, and an address check on a
/// certificate nobody vouches for proves nothing.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SmimeResult {
    /// No S/MIME in the message.
    None,
    /// The signature verifies, the certificate chains to a trust anchor, and
    /// it names the From address.
    Trusted,
    /// The signature verifies but the certificate does not chain to a trust
    /// anchor (self-signed, or an unknown CA).
    Untrusted,
    /// The signer certificate (or one in its chain) is outside its validity
    /// period at verification time.
    Expired,
    /// The signature verifies and chains, but no rfc822Name subjectAltName
    /// (nor subject emailAddress) of the certificate is the From address.
    Mismatch,
    /// The signature does not verify over the signed bytes (the content was
    /// altered), or the S/MIME structure is broken.
    Invalid,
    /// `application/pkcs7-mime` enveloped data: the body cannot be inspected.
    Encrypted,
    /// The check could not be done (it failed; see `error`).
    Unknown,
}

impl SmimeResult {
    pub const ALL: [SmimeResult; 8] = [
        SmimeResult::None,
        SmimeResult::Trusted,
        SmimeResult::Untrusted,
        SmimeResult::Expired,
        SmimeResult::Mismatch,
        SmimeResult::Invalid,
        SmimeResult::Encrypted,
        SmimeResult::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SmimeResult::None => "none",
            SmimeResult::Trusted => "trusted",
            SmimeResult::Untrusted => "untrusted",
            SmimeResult::Expired => "expired",
            SmimeResult::Mismatch => "mismatch",
            SmimeResult::Invalid => "invalid",
            SmimeResult::Encrypted => "encrypted",
            SmimeResult::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for SmimeResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signer's certificate, as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "SignerCertificate"))]
pub struct SignerCert {
    /// e.g. `CN=Alice, emailAddress=alice@example.com`
    pub subject: String,
    pub issuer: String,
    /// Serial number in upper-case hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    /// RFC 3339, UTC.
    pub not_before: String,
    /// RFC 3339, UTC.
    pub not_after: String,
    /// rfc822Name subjectAltNames, then subject emailAddress values.
    pub emails: Vec<String>,
    /// `rsa`, `ec`, `ed25519`, …
    pub key_algorithm: String,
    pub key_bits: u32,
}

/// Trust anchors for S/MIME: the system roots (OpenSSL's default paths,
/// `SSL_CERT_FILE`/`SSL_CERT_DIR` when set) plus extra PEM CA files, e.g. a
/// company CA. Built once and shared (`Arc`) across tasks: OpenSSL's store is
/// reference-counted and locks internally, and the `openssl` crate marks it
/// `Send + Sync`.
pub struct TrustStore {
    store: X509Store,
    extra_anchors: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SmimeError {
    #[error("cannot read CA file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA file {path} is not PEM certificates: {source}")]
    Pem { path: PathBuf, source: ErrorStack },
    #[error("CA file {path} holds no certificate")]
    Empty { path: PathBuf },
    #[error("cannot build the S/MIME trust store: {0}")]
    Store(#[from] ErrorStack),
}

impl TrustStore {
    /// The system roots plus every certificate in each of `extra_ca_files`
    /// (PEM, one or more certificates each).
    pub fn system_with(extra_ca_files: &[PathBuf]) -> Result<TrustStore, SmimeError> {
        let mut builder = X509StoreBuilder::new()?;
        builder.set_default_paths()?;
        // What CMS_verify sets too: the signer must be fit for S/MIME signing
        // (keyUsage and extendedKeyUsage, when present, must allow it).
        builder.set_purpose(X509PurposeId::SMIME_SIGN)?;
        let mut extra_anchors = 0;
        for path in extra_ca_files {
            for cert in read_pem_certificates(path)? {
                builder.add_cert(cert)?;
                extra_anchors += 1;
            }
        }
        Ok(TrustStore {
            store: builder.build(),
            extra_anchors,
        })
    }
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("system_roots", &true)
            .field("extra_anchors", &self.extra_anchors)
            .finish()
    }
}

fn read_pem_certificates(path: &Path) -> Result<Vec<X509>, SmimeError> {
    let pem = std::fs::read(path).map_err(|source| SmimeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let certs = X509::stack_from_pem(&pem).map_err(|source| SmimeError::Pem {
        path: path.to_path_buf(),
        source,
    })?;
    if certs.is_empty() {
        return Err(SmimeError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

impl SmimeFinding {
    /// No S/MIME at all.
    pub fn none() -> SmimeFinding {
        SmimeFinding {
            result: SmimeResult::None,
            signer: None,
            digest: None,
            error: None,
        }
    }

    pub(crate) fn only(result: SmimeResult, error: Option<String>) -> SmimeFinding {
        SmimeFinding {
            result,
            error,
            ..SmimeFinding::none()
        }
    }
}

/// Finds and verifies S/MIME in a raw RFC 5322 message: a top-level
/// `multipart/signed` (pkcs7-signature) or `application/pkcs7-mime`, or one
/// of those directly inside a top-level `multipart/mixed`.
///
/// Never panics and never returns an error: hostile input becomes `invalid`
/// (or `none` when there is no S/MIME to speak of). CPU-bound for a few
/// milliseconds per signature; the trust store may read the system
/// certificate directory.
pub fn smime_verdict(raw: &[u8], from_address: Option<&str>, trust: &TrustStore) -> SmimeFinding {
    match mime::locate(raw) {
        mime::Located::Absent => SmimeFinding::none(),
        mime::Located::Enveloped => SmimeFinding::only(SmimeResult::Encrypted, None),
        mime::Located::Detached { content, signature } => {
            verify::cms_verdict(&signature, Some(&content), from_address, trust)
        }
        mime::Located::Opaque { cms } => verify::cms_verdict(&cms, None, from_address, trust),
        mime::Located::Broken(reason) => SmimeFinding::only(SmimeResult::Invalid, Some(reason)),
        mime::Located::TooLarge(size) => SmimeFinding::only(
            SmimeResult::None,
            Some(format!(
                "S/MIME part of {size} bytes is over the {MAX_SMIME_BYTES}-byte limit; not checked"
            )),
        ),
        mime::Located::NotInspected(what) => {
            SmimeFinding::only(SmimeResult::None, Some(format!("{what} is not inspected")))
        }
    }
}

/// The rule fields of `smime`.
pub const FIELDS: &[Field] = &[(
    "result",
    &[
        "none",
        "trusted",
        "untrusted",
        "expired",
        "mismatch",
        "invalid",
        "encrypted",
    ],
)];

impl SmimeFinding {
    pub fn facts(&self, facts: &mut Facts) {
        facts.put(CheckId::Smime, "result", self.result.as_str());
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    SmimeWords {
        about: "S/MIME signs the message with a personal certificate from a certificate authority, proving end to end who sent it.",
            "S/MIME は認証局が発行した個人証明書でメールに署名し、送信者をエンドツーエンドで証明します。";
        issuer: "issuer", "発行者";
        valid: "valid", "有効期間";
    }
}

impl SmimeFinding {
    pub fn row(&self, lang: Lang) -> Row {
        let (t, w) = (lang.ui(), SmimeWords::of(lang));
        let (tone, setup) = match self.result {
            SmimeResult::Trusted => (Tone::Ok, Setup::Configured),
            SmimeResult::None => (Tone::Info, Setup::Missing),
            SmimeResult::Encrypted => (Tone::Info, Setup::Configured),
            SmimeResult::Untrusted => (Tone::Warn, Setup::Configured),
            SmimeResult::Unknown => (Tone::Warn, Setup::Unknown),
            _ => (Tone::Bad, Setup::Misconfigured),
        };
        let signer = self.signer.as_ref().map(|cert| {
            format!(
                "{} · {} {} · {} {} {} · {} {} {} · {}",
                cert.subject,
                w.issuer,
                cert.issuer,
                w.valid,
                cert.not_before,
                cert.not_after,
                cert.key_algorithm,
                cert.key_bits,
                t.bits,
                cert.emails.join(", "),
            )
        });
        Row {
            check: CheckId::Smime,
            tone: Some(tone),
            name: "S/MIME".into(),
            word: Some(self.result.as_str()),
            setup: setup.label(t),
            about: w.about,
            detail: join(&[signer, self.digest.clone(), self.error.clone()]),
            records: Vec::new(),
        }
    }
}
