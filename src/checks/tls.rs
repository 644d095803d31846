//! TLS on receipt: did the sending host encrypt the hop to us? Gmail shows
//! a red open lock for mail that arrived in plaintext.

use super::CheckId;
use super::Setup;
use super::facts::{Facts, Field};
use super::row::{Row, Tone};
use crate::i18n::{Lang, phrases};
use crate::smtp::Envelope;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum TlsResult {
    /// STARTTLS was used.
    Encrypted,
    /// The message came over an unencrypted connection.
    Plaintext,
    /// Not received over the network (`mailscore check`): nothing to judge.
    Unknown,
}

/// TLS on receipt (STARTTLS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TlsFinding {
    /// `unknown`: not received over the network.
    pub result: TlsResult,
    /// "TLSv1.3", "TLSv1.2".
    pub version: Option<String>,
    /// The cipher suite, as rustls names it.
    pub cipher: Option<String>,
}

impl TlsResult {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsResult::Encrypted => "encrypted",
            TlsResult::Plaintext => "plaintext",
            TlsResult::Unknown => "unknown",
        }
    }
}

pub fn verdict(envelope: &Envelope) -> TlsFinding {
    match &envelope.tls {
        Some(tls) => TlsFinding {
            result: TlsResult::Encrypted,
            version: Some(tls.version.clone()),
            cipher: Some(tls.cipher.clone()),
        },
        None => TlsFinding {
            // Port 0 is never a TCP source port: it marks an envelope that
            // `mailscore check` made up for a message read from a file.
            result: if envelope.client_port == 0 {
                TlsResult::Unknown
            } else {
                TlsResult::Plaintext
            },
            version: None,
            cipher: None,
        },
    }
}

/// The rule fields of `tls`.
pub const FIELDS: &[Field] = &[("result", &["encrypted", "plaintext", "unknown"])];

impl TlsFinding {
    pub fn facts(&self, facts: &mut Facts) {
        facts.put(CheckId::Tls, "result", self.result.as_str());
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    TlsWords {
        about: "Whether the message reached us over an encrypted connection (STARTTLS); receivers increasingly expect it.",
            "メールが暗号化された接続（STARTTLS）で届いたかどうかです。受信側は暗号化を前提とすることが増えています。";
    }
}

impl TlsFinding {
    pub fn row(&self, lang: Lang) -> Row {
        let (tone, setup) = match self.result {
            TlsResult::Encrypted => (Tone::Ok, Setup::Configured),
            TlsResult::Plaintext => (Tone::Bad, Setup::Missing),
            TlsResult::Unknown => (Tone::Warn, Setup::Unknown),
        };
        Row {
            check: CheckId::Tls,
            tone: Some(tone),
            name: format!(
                "TLS{}",
                self.version
                    .as_ref()
                    .map(|v| format!(" ({v}, {})", self.cipher.as_deref().unwrap_or("")))
                    .unwrap_or_default()
            ),
            word: Some(self.result.as_str()),
            setup: setup.label(lang.ui()),
            about: TlsWords::of(lang).about,
            detail: String::new(),
            records: Vec::new(),
        }
    }
}
