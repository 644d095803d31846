//! DKIM (RFC 6376): one finding per DKIM-Signature header, with the key
//! record the selector points at.

pub mod key;

use super::CheckId;
use super::facts::{BOOLS, Facts, Field, yes};
use super::row::text_line;
use super::row::{Row, Tone, join};
use super::verdict::{Setup, Verdict};
use crate::dns::{Dns, txt_records};
use crate::i18n::{Lang, Ui, phrases};
use key::{KeyInfo, key_info};
use mail_auth::common::crypto::Algorithm;
use mail_auth::dkim::DkimError;
use mail_auth::{AuthenticatedMessage, DkimOutput, DkimResult, Error};
use serde::{Deserialize, Serialize};

/// One DKIM-Signature header (RFC 6376).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct DkimFinding {
    pub result: Verdict,
    pub setup: Setup,
    /// The signing domain (`d=`); empty when the header could not be parsed.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `a=`, e.g. `rsa-sha256`.
    pub algorithm: String,
    /// Why it did not pass, in mail-auth's words.
    pub error: Option<String>,
    /// The key record found at `<selector>._domainkey.<domain>`.
    pub records: Vec<String>,
    /// Key type and size from that record, when it holds a usable key.
    pub key: Option<KeyInfo>,
    /// `l=` is set: only part of the body is signed, so text can be
    /// appended without breaking the signature (RFC 6376 §8.2).
    pub body_length_limited: bool,
    /// The From header is among the signed headers (`h=`).
    pub from_signed: bool,
    /// `d=` is in the From domain's organisation (an author signature, by
    /// DMARC's relaxed alignment with the Public Suffix List). False is a
    /// third-party signature: Gmail shows "via d=".
    pub author_domain: bool,
    /// The header fields the signature covers (`h=`), lower-case: RFC 8058
    /// one-click needs List-Unsubscribe and List-Unsubscribe-Post among them.
    #[serde(default)]
    pub signed_headers: Vec<String>,
}

/// Verifies every signature. Returns mail-auth's outputs too, because DMARC
/// needs them to judge alignment.
pub async fn verdicts<'x>(
    dns: &'x Dns,
    message: &'x AuthenticatedMessage<'x>,
) -> (Vec<DkimFinding>, Vec<DkimOutput<'x>>) {
    let outputs = dns.auth().verify_dkim(dns.parameters(message)).await;
    let from_domain = message
        .from
        .first()
        .and_then(|from| from.rsplit_once('@'))
        .map(|(_, domain)| domain.to_ascii_lowercase())
        .unwrap_or_default();
    let mut findings = Vec::with_capacity(outputs.len());
    for output in &outputs {
        findings.push(finding(dns, output, &from_domain).await);
    }
    findings.extend(unparsed_signatures(message));
    (findings, outputs)
}

/// Signature headers mail-auth could not parse at all (a missing `b=` or
/// `bh=`, say). It drops them silently, which would report the message as
/// "not signed" when in fact the signer is set up wrongly.
fn unparsed_signatures(message: &AuthenticatedMessage<'_>) -> Vec<DkimFinding> {
    message
        .errors
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(b"DKIM-Signature"))
        // Error::Dkim ones are already surfaced by verify_dkim.
        .filter(|h| !matches!(h.header, Error::Dkim(_)))
        .map(|h| {
            let tags = String::from_utf8_lossy(h.value);
            let tag = |name: &str| tag_value(&tags, name).unwrap_or_default();
            DkimFinding {
                result: Verdict::Permerror,
                setup: Setup::Misconfigured,
                domain: tag("d").to_ascii_lowercase(),
                selector: tag("s"),
                algorithm: tag("a"),
                error: Some(format!(
                    "the DKIM-Signature header cannot be parsed: {}",
                    h.header
                )),
                records: Vec::new(),
                key: None,
                body_length_limited: false,
                from_signed: false,
                author_domain: false,
                signed_headers: Vec::new(),
            }
        })
        .collect()
}

/// The value of tag `name` in a DKIM tag list (`a=...; d=...`), whitespace removed.
pub(super) fn tag_value(tags: &str, name: &str) -> Option<String> {
    tags.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.split_whitespace().collect())
    })
}

async fn finding(dns: &Dns, output: &DkimOutput<'_>, from_domain: &str) -> DkimFinding {
    let (result, error) = verdict(output.result());
    let signature = output.signature();
    let domain = signature
        .map(|sig| sig.d.to_ascii_lowercase())
        .unwrap_or_default();
    let selector = signature.map(|sig| sig.s.clone()).unwrap_or_default();
    let records = if domain.is_empty() || selector.is_empty() {
        Vec::new()
    } else {
        txt_records(dns, &format!("{selector}._domainkey.{domain}")).await
    };
    DkimFinding {
        result,
        setup: result.setup(),
        algorithm: signature
            .map(|sig| algorithm_name(sig.a))
            .unwrap_or_default(),
        error,
        key: records.iter().find_map(|r| key_info(r)),
        records,
        body_length_limited: signature.is_some_and(|sig| sig.l > 0),
        from_signed: signature
            .is_some_and(|sig| sig.h.iter().any(|h| h.eq_ignore_ascii_case("from"))),
        author_domain: author_signature(&domain, from_domain),
        signed_headers: signature
            .map(|sig| sig.h.iter().map(|h| h.to_ascii_lowercase()).collect())
            .unwrap_or_default(),
        domain,
        selector,
    }
}

/// `d=` belongs to the From domain's organisation: DMARC's relaxed
/// alignment (RFC 7489 §3.1.1) with the Public Suffix List, so
/// `mail.brand.example` signs for `news.brand.example`, while `co.jp`, a
/// public suffix, signs for nobody below it.
fn author_signature(d: &str, from_domain: &str) -> bool {
    crate::dns::org_domain::aligned(d, from_domain, false)
}

fn verdict(result: &DkimResult) -> (Verdict, Option<String>) {
    match result {
        DkimResult::Pass => (Verdict::Pass, None),
        // mail-auth says "neutral" where RFC 6376 §6.3 says PERMFAIL: a body
        // that no longer matches (content altered) or an expired signature is
        // a failed verification, and a signature header that cannot be parsed
        // is the signer's misconfiguration. Reporting either as neutral would
        // let a tampered message off without a deduction.
        DkimResult::Neutral(e @ Error::Dkim(DkimError::FailedBodyHashMatch))
        | DkimResult::Neutral(e @ Error::Dkim(DkimError::SignatureExpired)) => {
            (Verdict::Fail, Some(e.to_string()))
        }
        DkimResult::Neutral(e @ Error::Dkim(_)) => (Verdict::Permerror, Some(e.to_string())),
        DkimResult::Neutral(e) => (Verdict::Neutral, Some(e.to_string())),
        DkimResult::Fail(e) => (Verdict::Fail, Some(e.to_string())),
        DkimResult::PermError(e) => (Verdict::Permerror, Some(e.to_string())),
        DkimResult::TempError(e) => (Verdict::Temperror, Some(e.to_string())),
        DkimResult::None => (Verdict::None, None),
    }
}

fn algorithm_name(algorithm: Algorithm) -> String {
    match algorithm {
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
    .to_string()
}

/// Whether a passing signature covers every one of `headers` (names in
/// lower case): what RFC 8058 §4 asks of one-click unsubscribe headers.
pub fn covered_by_passing_signature(findings: &[DkimFinding], headers: &[&str]) -> bool {
    findings.iter().any(|f| {
        f.result == Verdict::Pass
            && headers
                .iter()
                .all(|h| f.signed_headers.iter().any(|s| s == h))
    })
}

/// The message's overall DKIM verdict: the best of its signatures, so one good
/// signature is enough (RFC 6376 §6.1), and `none` when there is none.
pub fn overall(findings: &[DkimFinding]) -> Verdict {
    const PREFERENCE: [Verdict; 6] = [
        Verdict::Pass,
        Verdict::Temperror,
        Verdict::Fail,
        Verdict::Permerror,
        Verdict::Neutral,
        Verdict::None,
    ];
    PREFERENCE
        .into_iter()
        .find(|v| findings.iter().any(|f| f.result == *v))
        .unwrap_or(Verdict::None)
}

const KEY_STRENGTHS: &[&str] = &["strong", "short", "weak", "unknown"];

/// The rule fields of `dkim`: the message's signatures as a whole.
pub const FIELDS: &[Field] = &[
    ("result", Verdict::WORDS),
    ("setup", Setup::WORDS),
    ("key_strength", KEY_STRENGTHS),
    ("sha1", BOOLS),
    ("body_length", BOOLS),
    ("author_signed", BOOLS),
];

/// The signatures' [`FIELDS`].
pub fn facts(findings: &[DkimFinding], facts: &mut Facts) {
    let check = CheckId::Dkim;
    let result = overall(findings);
    facts.put(check, "result", result.as_str());
    facts.put(check, "setup", result.setup().as_str());
    facts.put(check, "key_strength", key_strength(findings));
    let any = |test: fn(&DkimFinding) -> bool| yes(findings.iter().any(test));
    facts.put(check, "sha1", any(|d| d.algorithm == "rsa-sha1"));
    facts.put(check, "body_length", any(|d| d.body_length_limited));
    facts.put(
        check,
        "author_signed",
        any(|d| d.result == Verdict::Pass && d.author_domain),
    );
}

/// The weakest key among the signatures that have one (RFC 8301: RSA keys
/// under 1024 bits must not be used, 2048 or more is expected).
fn key_strength(findings: &[DkimFinding]) -> &'static str {
    let bits = findings
        .iter()
        .filter_map(|d| d.key.as_ref())
        .map(|k| {
            if k.key_type == "rsa" {
                k.bits
            } else {
                u32::MAX
            }
        })
        .min();
    match bits {
        None => "unknown",
        Some(bits) if bits < 1024 => "weak",
        Some(bits) if bits < 2048 => "short",
        Some(_) => "strong",
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    DkimWords {
        about: "DKIM signs the message with a key published in DNS, so receivers can tell it was not changed on the way and which domain vouches for it.",
            "DKIM は DNS に公開した鍵でメールに署名し、途中で改ざんされていないことと、保証するドメインを受信側が確認できるようにします。";
        no_signature: "No DKIM-Signature header.", "DKIM-Signature ヘッダーがありません。";
        third_party: "third-party signature (not the From domain)",
            "第三者署名（From ドメインではない）";
        body_length_limited: "l=: only part of the body is signed", "l=：本文の一部のみ署名";
        signed_headers: "Signed headers (h=)", "署名対象のヘッダー（h=）";
    }
}

/// One row per signature, or one saying there is none.
pub fn rows(findings: &[DkimFinding], lang: Lang) -> Vec<Row> {
    let (t, w) = (lang.ui(), DkimWords::of(lang));
    if findings.is_empty() {
        return vec![Row {
            check: CheckId::Dkim,
            tone: Some(Tone::Bad),
            name: "DKIM".into(),
            word: Some(Verdict::None.as_str()),
            setup: Setup::Missing.label(t),
            about: w.about,
            detail: w.no_signature.into(),
            records: Vec::new(),
        }];
    }
    findings.iter().map(|sig| sig.row(t, w)).collect()
}

impl DkimFinding {
    fn row(&self, t: &Ui, w: &DkimWords) -> Row {
        Row {
            check: CheckId::Dkim,
            tone: Some(Tone::of(self.result)),
            name: format!(
                "DKIM (d={} s={} {}{})",
                self.domain,
                self.selector,
                self.algorithm,
                self.key
                    .as_ref()
                    .map(|k| format!(", {} {} {}", k.key_type, k.bits, t.bits))
                    .unwrap_or_default()
            ),
            word: Some(self.result.as_str()),
            setup: self.setup.label(t),
            about: w.about,
            detail: join(&[
                self.error.clone(),
                (!self.author_domain && !self.domain.is_empty()).then(|| w.third_party.to_string()),
                self.body_length_limited
                    .then(|| w.body_length_limited.to_string()),
                (!self.signed_headers.is_empty())
                    .then(|| format!("{}: {}", w.signed_headers, self.signed_headers.join(", "))),
            ]),
            records: self.records.clone(),
        }
    }
}

/// The `mailscore check` lines: one a signature, or one saying none.
pub fn text(findings: &[DkimFinding]) -> String {
    if findings.is_empty() {
        return text_line("dkim", "none", "missing", "no signature");
    }
    findings
        .iter()
        .map(|sig| {
            let detail = format!("d={} s={} a={}", sig.domain, sig.selector, sig.algorithm);
            text_line("dkim", sig.result.as_str(), sig.setup.as_str(), &detail)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::author_signature;

    #[test]
    fn an_author_signature_is_one_from_the_from_domains_organisation() {
        for (d, from) in [
            ("brand.example", "news.brand.example"),
            ("news.brand.example", "brand.example"),
            // Siblings: neither is below the other, one organisation.
            ("mail.brand.example", "news.brand.example"),
            ("Example.CO.JP.", "example.co.jp"),
        ] {
            assert!(author_signature(d, from), "{d} for {from}");
        }
        for (d, from) in [
            // A public suffix is nobody's organisation.
            ("co.jp", "example.co.jp"),
            ("mallory.github.io", "alice.github.io"),
            ("esp.example", "brand.example"),
            ("", "brand.example"),
            ("brand.example", ""),
        ] {
            assert!(!author_signature(d, from), "{d} for {from}");
        }
    }
}
