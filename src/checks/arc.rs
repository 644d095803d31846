//! ARC (RFC 8617): the chain of custody forwarders and mailing lists add.
//! Each hop that changes or relays a message adds one ARC set (ARC-Seal,
//! ARC-Message-Signature, ARC-Authentication-Results, all with the same
//! `i=`); the chain verifies when the newest message signature matches the
//! message as received and every seal verifies.

use super::CheckId;
use super::dkim::tag_value;
use super::facts::{Facts, Field};
use super::row::text_line;
use super::row::{Row, Tone};
use super::verdict::Verdict;
use crate::dns::Dns;
use crate::i18n::{Lang, phrases};
use mail_auth::arc::ArcError;
use mail_auth::{AuthenticatedMessage, DkimResult, Error};
use serde::{Deserialize, Serialize};

/// The ARC chain (RFC 8617).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ArcFinding {
    /// `none` when the message has no ARC headers (mail straight from the
    /// sender has none).
    pub result: Verdict,
    /// ARC sets: the most headers of any one of the three kinds (a complete
    /// set has one of each).
    pub instances: u32,
    /// `d=` of each ARC-Seal, `i=1` (the first hop) first.
    pub sealers: Vec<String>,
    /// Why it did not pass, in mail-auth's words.
    pub error: Option<String>,
}

impl Default for ArcFinding {
    fn default() -> Self {
        ArcFinding {
            result: Verdict::None,
            instances: 0,
            sealers: Vec::new(),
            error: None,
        }
    }
}

const SEAL: &[u8] = b"ARC-Seal";
const SIGNATURE: &[u8] = b"ARC-Message-Signature";
const RESULTS: &[u8] = b"ARC-Authentication-Results";

/// Verifies the message's ARC chain.
pub async fn verdict<'x>(dns: &Dns, message: &'x AuthenticatedMessage<'x>) -> ArcFinding {
    // Counted from the raw header fields, so that sets mail-auth could not
    // parse are still reported.
    let count = |kind: &[u8]| {
        message
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(kind))
            .count() as u32
    };
    let instances = count(SEAL).max(count(SIGNATURE)).max(count(RESULTS));
    if instances == 0 {
        return ArcFinding::default();
    }
    let sealers = sealers(message);
    // mail-auth drops an ARC header it cannot parse and answers "neutral"
    // with a generic error; name the header and the actual parse error.
    if let Some(bad) = message.errors.iter().find(|h| {
        [SEAL, SIGNATURE, RESULTS]
            .iter()
            .any(|k| h.name.eq_ignore_ascii_case(k))
    }) {
        return ArcFinding {
            result: Verdict::Permerror,
            instances,
            sealers,
            error: Some(format!(
                "the {} header cannot be parsed: {}",
                String::from_utf8_lossy(bad.name),
                bad.header
            )),
        };
    }
    let output = dns.auth().verify_arc(dns.parameters(message)).await;
    let (result, error) = match output.result() {
        // mail-auth skips verification when there is no ARC-Message-Signature,
        // so a lone ARC-Seal or ARC-Authentication-Results would read as
        // "none"; RFC 8617 §5.2 fails a chain whose sets are incomplete.
        DkimResult::None => (
            Verdict::Fail,
            Some(Error::Arc(ArcError::BrokenChain).to_string()),
        ),
        other => verdict_of(other),
    };
    ArcFinding {
        result,
        instances,
        sealers,
        error,
    }
}

fn verdict_of(result: &DkimResult) -> (Verdict, Option<String>) {
    match result {
        DkimResult::Pass => (Verdict::Pass, None),
        // As for DKIM, mail-auth says "neutral" for a body that no longer
        // matches the newest ARC-Message-Signature and for an expired one;
        // for RFC 8617 both make the chain fail (cv=fail).
        DkimResult::Neutral(e @ Error::Arc(ArcError::FailedBodyHashMatch))
        | DkimResult::Neutral(e @ Error::Arc(ArcError::SignatureExpired)) => {
            (Verdict::Fail, Some(e.to_string()))
        }
        // Otherwise neutral means an ARC header that cannot be parsed.
        DkimResult::Neutral(e) => (Verdict::Permerror, Some(e.to_string())),
        DkimResult::Fail(e) => (Verdict::Fail, Some(e.to_string())),
        DkimResult::PermError(e) => (Verdict::Permerror, Some(e.to_string())),
        DkimResult::TempError(e) => (Verdict::Temperror, Some(e.to_string())),
        DkimResult::None => (Verdict::None, None),
    }
}

/// `d=` of each ARC-Seal header, ordered by `i=` (read from the raw header,
/// so a seal mail-auth could not parse still names its sealer).
fn sealers(message: &AuthenticatedMessage<'_>) -> Vec<String> {
    let mut seals: Vec<(u32, String)> = message
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(SEAL))
        .map(|(_, value)| {
            let tags = String::from_utf8_lossy(value);
            let instance = tag_value(&tags, "i")
                .and_then(|i| i.parse().ok())
                .unwrap_or(u32::MAX);
            let domain = tag_value(&tags, "d").unwrap_or_default();
            (instance, domain.to_ascii_lowercase())
        })
        .collect();
    seals.sort_by_key(|(instance, _)| *instance);
    seals.into_iter().map(|(_, domain)| domain).collect()
}

/// The rule fields of `arc`.
pub const FIELDS: &[Field] = &[("result", Verdict::WORDS)];

impl ArcFinding {
    pub fn facts(&self, facts: &mut Facts) {
        facts.put(CheckId::Arc, "result", self.result.as_str());
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    ArcWords {
        about: "ARC records the authentication results that forwarders and mailing lists saw, so a receiver can still judge mail whose SPF or DKIM forwarding broke.",
            "ARC は転送サーバーやメーリングリストが確認した認証結果を記録し、転送で SPF や DKIM が壊れたメールでも受信側が判断できるようにします。";
        none: "No ARC headers: the message did not pass through a forwarder or mailing list that seals it.",
            "ARC ヘッダーはありません（ARC 署名を付ける転送サーバーやメーリングリストを経由していません）。";
        set: "set", "セット";
        sets: "sets", "セット";
    }
}

impl ArcFinding {
    /// Most mail has no ARC, which is shown as information, not a failure.
    pub fn row(&self, lang: Lang) -> Row {
        let (t, w) = (lang.ui(), ArcWords::of(lang));
        let name = if self.instances == 0 {
            "ARC".to_string()
        } else {
            let unit = if self.instances == 1 { w.set } else { w.sets };
            let sets = format!("{} {unit}", self.instances);
            if self.sealers.is_empty() {
                format!("ARC ({sets})")
            } else {
                format!("ARC ({sets}: {})", self.sealers.join(", "))
            }
        };
        let none = self.result == Verdict::None;
        Row {
            check: CheckId::Arc,
            tone: Some(if none {
                Tone::Info
            } else {
                Tone::of(self.result)
            }),
            name,
            word: Some(self.result.as_str()),
            setup: self.result.setup().label(t),
            about: w.about,
            detail: if none {
                w.none.to_string()
            } else {
                self.error.clone().unwrap_or_default()
            },
            records: Vec::new(),
        }
    }
}

impl ArcFinding {
    /// The `mailscore check` line.
    pub fn text(&self) -> String {
        let detail = if self.instances == 0 {
            "no ARC headers".to_string()
        } else {
            let sets = if self.instances == 1 { "set" } else { "sets" };
            format!("{} {sets}: {}", self.instances, self.sealers.join(", "))
        };
        let (result, setup) = (self.result.as_str(), self.result.setup().as_str());
        text_line("arc", result, setup, &detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> AuthenticatedMessage<'_> {
        AuthenticatedMessage::parse_with_opts(raw.as_bytes(), None, false).unwrap()
    }

    #[test]
    fn sealers_are_in_instance_order() {
        let raw = "ARC-Seal: i=2; a=rsa-sha256; d=List.Example; s=s; cv=pass; b=AAAA\r\n\
                   ARC-Seal: i=1; a=rsa-sha256; d=first.example; s=s; cv=none; b=AAAA\r\n\
                   From: a@b.example\r\n\r\nHi\r\n";
        assert_eq!(sealers(&parse(raw)), ["first.example", "list.example"]);
    }

    /// A resolver nothing answers: these cases are decided before any lookup.
    fn no_dns() -> crate::dns::Dns {
        let nowhere = "127.0.0.1:9".parse().ok();
        crate::dns::resolver(nowhere, std::time::Duration::from_secs(1)).unwrap()
    }

    #[tokio::test]
    async fn no_arc_headers_is_none() {
        let message = parse("From: a@b.example\r\n\r\nHi\r\n");
        assert_eq!(verdict(&no_dns(), &message).await, ArcFinding::default());
    }

    #[tokio::test]
    async fn an_unparseable_seal_is_a_permerror() {
        let raw = "ARC-Seal: i=1; a=rsa-sha256; cv=none\r\nFrom: a@b.example\r\n\r\nHi\r\n";
        let finding = verdict(&no_dns(), &parse(raw)).await;
        assert_eq!(finding.result, Verdict::Permerror, "{finding:?}");
        assert_eq!(finding.instances, 1);
        let error = finding.error.unwrap();
        assert!(
            error.starts_with("the ARC-Seal header cannot be parsed"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_seal_without_its_message_signature_fails() {
        let raw = "ARC-Seal: i=1; a=rsa-sha256; d=list.example; s=arc; cv=none; b=AAAA\r\n\
                   From: a@b.example\r\n\r\nHi\r\n";
        let finding = verdict(&no_dns(), &parse(raw)).await;
        assert_eq!(finding.result, Verdict::Fail, "{finding:?}");
        assert_eq!(finding.sealers, ["list.example"]);
    }

    #[test]
    fn neutral_body_hash_is_a_failed_chain() {
        let neutral = DkimResult::Neutral(Error::Arc(ArcError::FailedBodyHashMatch));
        assert_eq!(verdict_of(&neutral).0, Verdict::Fail);
        let expired = DkimResult::Neutral(Error::Arc(ArcError::SignatureExpired));
        assert_eq!(verdict_of(&expired).0, Verdict::Fail);
    }
}
