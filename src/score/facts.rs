//! The vocabulary rule conditions are written in: for each check, the fields
//! a rule may test and the values each field can take. Rules are validated
//! against this at start-up, and findings are flattened into it for scoring.

use crate::checks::content::body::MANY_IMAGES;
use crate::checks::content::body::{Charset, Size, Structure, TextRatio};
use crate::checks::content::bulk::{Precedence, Unsubscribe};
use crate::checks::content::headers::{
    DateState, DisplayName, FromState, MessageIdState, ReplyTo, ReturnPath, SubjectState,
};
use crate::checks::content::lookalike::Lookalike;
use crate::checks::content::{ContentFinding, Profile};
use crate::checks::dkim::{DkimFinding, covered_by_passing_signature};
use crate::checks::dnsbl::{BlocklistFinding, BlocklistResult};
use crate::checks::posture::{PostureFinding, Presence, RecordStatus};
use crate::checks::spamd::{SpamdFinding, SpamdStatus};
use crate::checks::{Findings, Verdict, dkim};
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const RESULTS: &[&str] = &[
    "pass",
    "fail",
    "softfail",
    "neutral",
    "none",
    "permerror",
    "temperror",
];
const SETUPS: &[&str] = &["configured", "missing", "misconfigured", "unknown"];
const POLICIES: &[&str] = &["none", "quarantine", "reject", "absent"];
const BOOLS: &[&str] = &["true", "false"];
/// `spf.problem`: why SPF is a permerror (see `SpfProblem`), or none.
const SPF_PROBLEMS: &[&str] = &[
    "none",
    "syntax",
    "multiple_records",
    "lookup_limit",
    "void_lookup_limit",
    "mx_limit",
    "include_missing",
    "redirect_missing",
];
/// `spf.lookups`: DNS-querying terms the check used against the limit of 10.
const SPF_LOOKUP_LEVELS: &[&str] = &["within", "near_limit", "over_limit"];

const ALL_POLICIES: &[&str] = &[
    "fail", "softfail", "neutral", "pass", "redirect", "none", "unknown",
];
const KEY_STRENGTHS: &[&str] = &["strong", "short", "weak", "unknown"];
const HELO_RESULTS: &[&str] = &["match", "mismatch", "unresolvable", "invalid", "unknown"];
const TLS_RESULTS: &[&str] = &["encrypted", "plaintext", "unknown"];
const SMIME_RESULTS: &[&str] = &[
    "none",
    "trusted",
    "untrusted",
    "expired",
    "mismatch",
    "invalid",
    "encrypted",
];
const BLOCKLIST_RESULTS: &[&str] = &["listed", "unknown", "clean", "skipped"];
const MX_STATES: &[&str] = &["present", "null", "absent", "unknown"];
const PRESENCE: &[&str] = &["present", "absent", "unknown"];
const RECORD_STATES: &[&str] = &["present", "absent", "invalid", "unknown"];
const PRESENT_MISSING: &[&str] = &["present", "missing"];
/// How many: "few" is 1 up to the check's threshold.
const AMOUNTS: &[&str] = &["none", "few", "many"];
/// More links than this is "many".
const MANY_LINKS: usize = 25;
const SPAM_VERDICTS: &[&str] = &["true", "false", "unknown"];
/// SpamAssassin's score in bands, for rules that map it to our points.
const SA_BANDS: &[&str] = &[
    "unknown", "below_1", "1_to_3", "3_to_5", "5_to_10", "10_plus",
];

/// (check, field, allowed values). A check is a section of the report.
pub const SCHEMA: &[(&str, &str, &[&str])] = &[
    ("spf", "result", RESULTS),
    ("spf", "setup", SETUPS),
    ("spf", "all", ALL_POLICIES),
    ("spf", "uses_ptr", BOOLS),
    ("spf", "problem", SPF_PROBLEMS),
    ("spf", "lookups", SPF_LOOKUP_LEVELS),
    ("spf_helo", "result", RESULTS),
    ("spf_helo", "setup", SETUPS),
    ("dkim", "result", RESULTS),
    ("dkim", "setup", SETUPS),
    ("dkim", "key_strength", KEY_STRENGTHS),
    ("dkim", "sha1", BOOLS),
    ("dkim", "body_length", BOOLS),
    ("dkim", "author_signed", BOOLS),
    ("dmarc", "result", RESULTS),
    ("dmarc", "setup", SETUPS),
    ("dmarc", "policy", POLICIES),
    ("dmarc", "spf_aligned", BOOLS),
    ("dmarc", "dkim_aligned", BOOLS),
    ("dmarc", "reporting", BOOLS),
    ("dmarc", "pct_partial", BOOLS),
    ("arc", "result", RESULTS),
    ("iprev", "result", RESULTS),
    ("iprev", "setup", SETUPS),
    ("iprev", "generic", BOOLS),
    ("helo", "result", HELO_RESULTS),
    ("tls", "result", TLS_RESULTS),
    ("smime", "result", SMIME_RESULTS),
    ("ip_blocklists", "result", BLOCKLIST_RESULTS),
    ("domain_blocklists", "result", BLOCKLIST_RESULTS),
    ("posture", "mx", MX_STATES),
    ("posture", "dnssec", PRESENCE),
    ("posture", "mta_sts", RECORD_STATES),
    ("posture", "tls_rpt", RECORD_STATES),
    ("posture", "bimi", RECORD_STATES),
    // Content and format. Every content check carries `profile`, so a
    // profile's rules (FISC) are plain rules that also test it.
    ("headers", "profile", Profile::WORDS),
    ("headers", "date", DateState::WORDS),
    ("headers", "message_id", MessageIdState::WORDS),
    ("headers", "from", FromState::WORDS),
    ("headers", "subject", SubjectState::WORDS),
    ("headers", "subject_caps", BOOLS),
    ("headers", "subject_shouting", BOOLS),
    ("headers", "to", PRESENT_MISSING),
    ("headers", "reply_to", ReplyTo::WORDS),
    ("headers", "return_path", ReturnPath::WORDS),
    ("headers", "display_name", DisplayName::WORDS),
    ("headers", "lookalike", Lookalike::WORDS),
    ("bulk", "profile", Profile::WORDS),
    ("bulk", "list_unsubscribe", Unsubscribe::WORDS),
    ("bulk", "one_click", BOOLS),
    // A passing DKIM signature covers List-Unsubscribe and
    // List-Unsubscribe-Post (RFC 8058 §4); false without one-click.
    ("bulk", "one_click_signed", BOOLS),
    ("bulk", "precedence", Precedence::WORDS),
    ("body", "profile", Profile::WORDS),
    ("body", "structure", Structure::WORDS),
    ("body", "html", BOOLS),
    ("body", "plain_alternative", BOOLS),
    ("body", "text_ratio", TextRatio::WORDS),
    ("body", "image_only", BOOLS),
    ("body", "images", AMOUNTS),
    ("body", "alt_missing", BOOLS),
    ("body", "forbidden_html", BOOLS),
    ("body", "hidden_text", BOOLS),
    ("body", "charset", Charset::WORDS),
    ("body", "size", Size::WORDS),
    ("body", "gtube", BOOLS),
    ("links", "profile", Profile::WORDS),
    ("links", "count", AMOUNTS),
    ("links", "mismatch", BOOLS),
    ("links", "shortener", BOOLS),
    ("links", "raw_ip", BOOLS),
    ("attachments", "profile", Profile::WORDS),
    ("attachments", "present", BOOLS),
    ("attachments", "executable", BOOLS),
    ("attachments", "double_extension", BOOLS),
    ("attachments", "macro", BOOLS),
    ("attachments", "archive_executable", BOOLS),
    ("attachments", "encrypted_archive", BOOLS),
    ("spamassassin", "status", SpamdStatus::WORDS),
    ("spamassassin", "spam", SPAM_VERDICTS),
    ("spamassassin", "score", SA_BANDS),
];

pub fn is_known_check(check: &str) -> bool {
    SCHEMA.iter().any(|(c, _, _)| *c == check)
}

/// The values `check.field` may take, or None when no such field exists.
pub fn allowed_values(check: &str, field: &str) -> Option<&'static [&'static str]> {
    SCHEMA
        .iter()
        .find(|(c, f, _)| *c == check && *f == field)
        .map(|(_, _, values)| *values)
}

/// Findings flattened to `(check, field) -> value`, in the schema's words.
/// Every rule condition is one lookup here (~170 a message): hashed with
/// FNV-1a, not compared string by string down a B-tree (3 % of the CPU of
/// ingest, measured). The keys are the schema's own words, never a
/// sender's, so a fast non-keyed hash is safe.
pub type Facts = HashMap<(&'static str, &'static str), Cow<'static, str>, BuildHasherDefault<Fnv>>;

/// FNV-1a, 64-bit.
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub fn facts(findings: &Findings) -> Facts {
    let mut facts = Facts::with_capacity_and_hasher(SCHEMA.len(), Default::default());
    // Values are the schema's own words, borrowed: no allocation per fact.
    let mut put = |check, field, value: Cow<'static, str>| {
        facts.insert((check, field), value);
    };
    let spf = &findings.spf;
    put("spf", "result", word(spf.result));
    put("spf", "setup", spf.setup.as_str().into());
    put("spf", "all", spf.all.as_str().into());
    put("spf", "uses_ptr", yes(spf.uses_ptr).into());
    put(
        "spf",
        "problem",
        spf.problem.map_or("none", |p| p.as_str()).into(),
    );
    put("spf", "lookups", spf_lookup_level(spf.dns_lookups).into());
    put("spf_helo", "result", word(findings.spf_helo.result));
    put("spf_helo", "setup", findings.spf_helo.setup.as_str().into());

    let dkim = &findings.dkim;
    let dkim_result = dkim::overall(dkim);
    put("dkim", "result", word(dkim_result));
    put("dkim", "setup", dkim_result.setup().as_str().into());
    put("dkim", "key_strength", key_strength(dkim).into());
    put(
        "dkim",
        "sha1",
        yes(dkim.iter().any(|d| d.algorithm == "rsa-sha1")).into(),
    );
    put(
        "dkim",
        "body_length",
        yes(dkim.iter().any(|d| d.body_length_limited)).into(),
    );
    let author_signed = dkim
        .iter()
        .any(|d| d.result == Verdict::Pass && d.author_domain);
    put("dkim", "author_signed", yes(author_signed).into());

    let dmarc = &findings.dmarc;
    put("dmarc", "result", word(dmarc.result));
    put("dmarc", "setup", dmarc.setup.as_str().into());
    let policy = dmarc.policy.clone().map_or("absent".into(), Cow::Owned);
    put("dmarc", "policy", policy);
    put("dmarc", "spf_aligned", yes(dmarc.spf_aligned).into());
    put("dmarc", "dkim_aligned", yes(dmarc.dkim_aligned).into());
    let record = dmarc.record.as_ref();
    put(
        "dmarc",
        "reporting",
        yes(record.is_some_and(|r| !r.rua.is_empty())).into(),
    );
    put(
        "dmarc",
        "pct_partial",
        yes(record.is_some_and(|r| r.pct < 100)).into(),
    );

    put("arc", "result", word(findings.arc.result));

    let iprev = &findings.iprev;
    put("iprev", "result", word(iprev.result));
    put("iprev", "setup", iprev.setup.as_str().into());
    put("iprev", "generic", yes(iprev.generic).into());
    put("helo", "result", findings.helo.result.as_str().into());
    put("tls", "result", findings.tls.result.as_str().into());
    put("smime", "result", findings.smime.result.as_str().into());
    put(
        "ip_blocklists",
        "result",
        blocklist_word(&findings.ip_blocklists).into(),
    );
    put(
        "domain_blocklists",
        "result",
        blocklist_word(&findings.domain_blocklists).into(),
    );
    let posture = &findings.posture;
    put("posture", "mx", mx_state(posture).into());
    put("posture", "dnssec", presence_word(&posture.dnssec).into());
    put("posture", "mta_sts", record_word(&posture.mta_sts).into());
    put("posture", "tls_rpt", record_word(&posture.tls_rpt).into());
    put("posture", "bimi", record_word(&posture.bimi).into());
    content_facts(&findings.content, &findings.dkim, &mut facts);
    spamassassin_facts(&findings.spamassassin, &mut facts);
    facts
}

/// The content findings in the schema's words; counts become bands here.
fn content_facts(content: &ContentFinding, dkim: &[DkimFinding], facts: &mut Facts) {
    let mut put = |check, field, value: &'static str| {
        facts.insert((check, field), value.into());
    };
    for check in ["headers", "bulk", "body", "links", "attachments"] {
        put(check, "profile", content.profile.as_str());
    }
    let h = &content.headers;
    put("headers", "date", h.date.as_str());
    put("headers", "message_id", h.message_id.as_str());
    put("headers", "from", h.from.as_str());
    put("headers", "subject", h.subject.as_str());
    put("headers", "subject_caps", yes(h.subject_caps));
    put("headers", "subject_shouting", yes(h.subject_shouting));
    put(
        "headers",
        "to",
        if h.to_present { "present" } else { "missing" },
    );
    put("headers", "reply_to", h.reply_to.as_str());
    put("headers", "return_path", h.return_path.as_str());
    put("headers", "display_name", h.display_name.as_str());
    put("headers", "lookalike", h.lookalike.as_str());
    let bulk = &content.bulk;
    put("bulk", "list_unsubscribe", bulk.list_unsubscribe.as_str());
    put("bulk", "one_click", yes(bulk.one_click));
    // RFC 8058 §4: one-click counts only under a passing DKIM signature.
    put(
        "bulk",
        "one_click_signed",
        yes(bulk.one_click
            && covered_by_passing_signature(dkim, &["list-unsubscribe", "list-unsubscribe-post"])),
    );
    put("bulk", "precedence", bulk.precedence.as_str());
    let b = &content.body;
    put("body", "structure", b.structure.as_str());
    put("body", "html", yes(b.html));
    put("body", "plain_alternative", yes(b.plain_alternative));
    put("body", "text_ratio", b.text_ratio.as_str());
    put("body", "image_only", yes(b.image_only));
    put("body", "images", amount(b.images, MANY_IMAGES));
    put("body", "alt_missing", yes(b.images_without_alt > 0));
    put("body", "forbidden_html", yes(!b.forbidden_tags.is_empty()));
    put("body", "hidden_text", yes(b.hidden_text));
    put("body", "charset", b.charset.as_str());
    put("body", "size", b.size.as_str());
    put("body", "gtube", yes(b.gtube));
    let l = &content.links;
    put("links", "count", amount(l.count, MANY_LINKS));
    put("links", "mismatch", yes(!l.mismatched.is_empty()));
    put("links", "shortener", yes(!l.shorteners.is_empty()));
    put("links", "raw_ip", yes(!l.raw_ip.is_empty()));
    let a = &content.attachments;
    put("attachments", "present", yes(a.count > 0));
    for flag in [
        "executable",
        "double_extension",
        "macro",
        "archive_executable",
        "encrypted_archive",
    ] {
        put("attachments", flag, yes(a.any(flag)));
    }
}

fn amount(count: usize, many: usize) -> &'static str {
    match count {
        0 => "none",
        c if c > many => "many",
        _ => "few",
    }
}

fn spamassassin_facts(sa: &SpamdFinding, facts: &mut Facts) {
    let mut put = |field, value: &'static str| {
        facts.insert(("spamassassin", field), value.into());
    };
    put("status", sa.status.as_str());
    put(
        "spam",
        match sa.spam {
            Some(true) => "true",
            Some(false) => "false",
            None => "unknown",
        },
    );
    let band = match sa.score {
        None => "unknown",
        Some(s) if s < 1.0 => "below_1",
        Some(s) if s < 3.0 => "1_to_3",
        Some(s) if s < 5.0 => "3_to_5",
        Some(s) if s < 10.0 => "5_to_10",
        Some(_) => "10_plus",
    };
    put("score", band);
}

/// The weakest key among the signatures that have one (RFC 8301: RSA keys
/// under 1024 bits must not be used, 2048 or more is expected).
fn key_strength(dkim: &[dkim::DkimFinding]) -> &'static str {
    let bits = dkim
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

fn blocklist_word(finding: &BlocklistFinding) -> &'static str {
    match finding.result {
        BlocklistResult::Listed => "listed",
        BlocklistResult::Unknown => "unknown",
        BlocklistResult::Clean => "clean",
        BlocklistResult::Skipped => "skipped",
    }
}

fn mx_state(posture: &PostureFinding) -> &'static str {
    if posture.null_mx {
        "null"
    } else if !posture.mx.is_empty() {
        "present"
    } else if posture.mx_error.is_some() {
        "unknown"
    } else {
        "absent"
    }
}

fn presence_word(presence: &Presence) -> &'static str {
    match presence {
        Presence::Present { .. } => "present",
        Presence::Absent { .. } => "absent",
        Presence::Unknown { .. } => "unknown",
    }
}

fn record_word(status: &RecordStatus) -> &'static str {
    match status {
        RecordStatus::Present { .. } => "present",
        RecordStatus::Absent => "absent",
        RecordStatus::Invalid { .. } => "invalid",
        RecordStatus::Unknown { .. } => "unknown",
    }
}

/// 9 or 10 lookups still pass, but one more include breaks the record
/// (RFC 7208 §4.6.4 allows 10).
fn spf_lookup_level(lookups: u32) -> &'static str {
    match lookups {
        0..=8 => "within",
        9..=10 => "near_limit",
        _ => "over_limit",
    }
}

fn word(verdict: Verdict) -> Cow<'static, str> {
    verdict.as_str().into()
}

/// A boolean in the schema's words.
fn yes(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_field_has_a_fact() {
        use crate::checks::Findings;
        let findings: Findings =
            serde_json::from_str(include_str!("testdata/findings.json")).unwrap();
        let facts = facts(&findings);
        for (check, field, allowed) in SCHEMA {
            let value = facts
                .get(&(*check, *field))
                .unwrap_or_else(|| panic!("{check}.{field}"));
            assert!(
                allowed.contains(&value.as_ref()),
                "{check}.{field} = {value}"
            );
        }
        assert_eq!(facts.len(), SCHEMA.len());
        // The fixture: SPF with ptr and -all, a 2048-bit author signature,
        // DMARC p=reject pct=50 with rua, FCrDNS, a HELO that matches.
        let fact = |check, field| facts[&(check, field)].as_ref();
        assert_eq!(fact("spf", "all"), "fail");
        assert_eq!(fact("spf", "uses_ptr"), "true");
        assert_eq!(fact("dkim", "key_strength"), "strong");
        assert_eq!(fact("dkim", "author_signed"), "true");
        assert_eq!(fact("dmarc", "reporting"), "true");
        assert_eq!(fact("dmarc", "pct_partial"), "true");
        assert_eq!(fact("iprev", "generic"), "false");
        assert_eq!(fact("helo", "result"), "match");
        assert_eq!(fact("arc", "result"), "none");
    }

    #[test]
    fn result_vocabulary_is_every_verdict() {
        for verdict in Verdict::ALL {
            assert!(RESULTS.contains(&verdict.as_str()));
        }
        assert_eq!(RESULTS.len(), Verdict::ALL.len());
    }
}
