//! SPF (RFC 7208): may this IP send for the MAIL FROM domain, and for the
//! HELO name? Our own check_host() on the shared resolver, because the
//! report must say what receivers that follow the RFC will say (the openspf
//! RFC 7208 suite, 203/203, in tests/spf_suite.rs), and mail-auth 0.13's
//! SPF parser and evaluator differ from it in a few dozen cases. One concern
//! a file: `record` (syntax), `macros` (§7), `eval` (check_host), `lookup`
//! (DNS and limits); this file turns an evaluation into the finding.

mod eval;
mod lookup;
mod macros;
mod problem;
pub mod record;

use super::CheckId;
use super::facts::{BOOLS, Facts, Field, yes};
use super::row::text_line;
use super::row::{Row, Tone, join};
use super::verdict::{Setup, Verdict};
use crate::dns::Dns;
use crate::i18n::{Lang, phrases};
use eval::{Decision, Evaluation, Identity, Problem, Stop};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Which identity an SPF check judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SpfIdentity {
    Mailfrom,
    Helo,
}

/// SPF (RFC 7208) for one identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SpfFinding {
    pub result: Verdict,
    pub setup: Setup,
    /// Which identity was judged.
    pub identity: SpfIdentity,
    /// The domain whose policy was evaluated.
    pub domain: String,
    /// The `v=spf1` record(s) published at `domain`, as found.
    pub records: Vec<String>,
    /// The domain's `exp=` explanation, when it failed and gave one.
    pub explanation: Option<String>,
    /// For a permerror, the exact problem ("11 DNS lookups, limit 10",
    /// "unknown mechanism 'inclde' at position 3 ..."); for a temperror,
    /// what DNS did not answer.
    pub error: Option<String>,
    // The four fields below came later: reports stored before them read
    // with none, no match shown and zero lookups.
    /// Which kind of problem made it a permerror, for the rule table.
    #[serde(default)]
    pub problem: Option<SpfProblem>,
    /// The term that decided the result ("ip4:192.0.2.0/24",
    /// "include:_spf.example.com", "-all", "redirect=x.example → ~all"), or
    /// "default neutral" when nothing matched.
    #[serde(default)]
    pub matched: Option<String>,
    /// Terms that queried DNS (include, a, mx, ptr, exists, redirect),
    /// nested ones included; receivers stop at 10 (RFC 7208 §4.6.4).
    #[serde(default)]
    pub dns_lookups: u32,
    /// Lookups that found no such name or no records; receivers stop at 2.
    #[serde(default)]
    pub void_lookups: u32,
    /// How the record ends: what it says about every other host.
    pub all: AllPolicy,
    /// The record uses the `ptr` mechanism, which RFC 7208 §5.5 says
    /// "SHOULD NOT" be used (slow, unreliable, a load on the PTR zone).
    pub uses_ptr: bool,
}

/// Why an SPF check is a permerror, in the rule table's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SpfProblem {
    /// A syntax error in a record (the domain's own or an included one).
    Syntax,
    /// More than one `v=spf1` record at one name.
    MultipleRecords,
    /// More than 10 DNS-querying terms.
    LookupLimit,
    /// More than 2 void lookups.
    VoidLookupLimit,
    /// More than 10 MX records for an `mx` mechanism.
    MxLimit,
    /// `include:` of a domain without an SPF record.
    IncludeMissing,
    /// `redirect=` to a domain without an SPF record.
    RedirectMissing,
}

impl SpfProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            SpfProblem::Syntax => "syntax",
            SpfProblem::MultipleRecords => "multiple_records",
            SpfProblem::LookupLimit => "lookup_limit",
            SpfProblem::VoidLookupLimit => "void_lookup_limit",
            SpfProblem::MxLimit => "mx_limit",
            SpfProblem::IncludeMissing => "include_missing",
            SpfProblem::RedirectMissing => "redirect_missing",
        }
    }

    fn of(problem: &Problem) -> Self {
        match problem {
            Problem::Syntax { .. } => SpfProblem::Syntax,
            Problem::MultipleRecords { .. } => SpfProblem::MultipleRecords,
            Problem::LookupLimit { .. } => SpfProblem::LookupLimit,
            Problem::VoidLimit { .. } => SpfProblem::VoidLookupLimit,
            Problem::MxLimit { .. } => SpfProblem::MxLimit,
            Problem::IncludeNone { .. } => SpfProblem::IncludeMissing,
            Problem::RedirectNone { .. } => SpfProblem::RedirectMissing,
        }
    }
}

/// The record's catch-all: `-all` (hard fail), `~all`, `?all`, `+all` (anyone
/// may send: no protection at all), `redirect=` (decided elsewhere), none
/// (no `all`: unlisted hosts get neutral), or unknown (no single record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum AllPolicy {
    Fail,
    Softfail,
    Neutral,
    Pass,
    Redirect,
    None,
    Unknown,
}

impl AllPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            AllPolicy::Fail => "fail",
            AllPolicy::Softfail => "softfail",
            AllPolicy::Neutral => "neutral",
            AllPolicy::Pass => "pass",
            AllPolicy::Redirect => "redirect",
            AllPolicy::None => "none",
            AllPolicy::Unknown => "unknown",
        }
    }
}

/// The catch-all and `ptr` use of one record's terms.
fn record_shape(record: &str) -> (AllPolicy, bool) {
    let mut all = AllPolicy::None;
    let mut uses_ptr = false;
    for term in record.split_ascii_whitespace().skip(1) {
        let lower = term.to_ascii_lowercase();
        let (qualifier, mechanism) = match lower.as_bytes().first() {
            Some(b'+' | b'-' | b'~' | b'?') => lower.split_at(1),
            _ => ("+", lower.as_str()),
        };
        if mechanism == "ptr" || mechanism.starts_with("ptr:") || mechanism.starts_with("ptr/") {
            uses_ptr = true;
        }
        if mechanism == "all" && all == AllPolicy::None {
            all = match qualifier {
                "-" => AllPolicy::Fail,
                "~" => AllPolicy::Softfail,
                "?" => AllPolicy::Neutral,
                _ => AllPolicy::Pass,
            };
        }
        if mechanism.starts_with("redirect=") && all == AllPolicy::None {
            all = AllPolicy::Redirect;
        }
    }
    (all, uses_ptr)
}

/// SPF for the MAIL FROM identity; for a null sender, RFC 7208 §2.4 says to
/// check `postmaster@<HELO>` instead, so the identity becomes HELO.
pub async fn mail_from_verdict(
    dns: &Dns,
    ip: IpAddr,
    helo: &str,
    host_domain: &str,
    mail_from: &str,
) -> SpfFinding {
    if mail_from.is_empty() {
        return helo_verdict(dns, ip, helo, host_domain).await;
    }
    let (local_part, domain) = mail_from.rsplit_once('@').unwrap_or(("", helo));
    // §4.3: a sender without a local-part is "postmaster" there.
    let local_part = if local_part.is_empty() {
        "postmaster"
    } else {
        local_part
    };
    let sender = format!("{local_part}@{domain}");
    check(dns, SpfIdentity::Mailfrom, ip, helo, host_domain, &sender).await
}

/// SPF for the HELO identity alone (RFC 7208 §2.3): `postmaster@HELO`.
pub async fn helo_verdict(dns: &Dns, ip: IpAddr, helo: &str, host_domain: &str) -> SpfFinding {
    let sender = format!("postmaster@{helo}");
    check(dns, SpfIdentity::Helo, ip, helo, host_domain, &sender).await
}

/// check_host() for `sender` (`local-part@domain`) and the finding.
async fn check(
    dns: &Dns,
    identity: SpfIdentity,
    ip: IpAddr,
    helo: &str,
    host_domain: &str,
    sender: &str,
) -> SpfFinding {
    let (local_part, domain) = sender.rsplit_once('@').unwrap_or(("postmaster", sender));
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if !is_checkable_domain(domain) {
        return unchecked(identity, domain);
    }
    let mut evaluation = Evaluation::new(
        dns,
        Identity {
            sender,
            local_part,
            sender_domain: domain,
            // An IPv4 client seen over IPv6 (::ffff:a.b.c.d) is IPv4 to SPF.
            ip: ip.to_canonical(),
            helo,
            receiver: host_domain,
        },
    );
    let outcome = evaluation.check_host(domain).await;
    let mut finding = base(identity, domain, Verdict::None);
    match outcome {
        Ok(decided) => {
            finding.result = verdict_of(decided.decision);
            finding.matched = decided.matched.clone();
            // §6.2: the explanation is fetched once, after the result.
            finding.explanation = evaluation.explanation(&decided).await;
        }
        Err(Stop::Permerror(problem)) => {
            finding.result = Verdict::Permerror;
            finding.problem = Some(SpfProblem::of(&problem));
            finding.error = Some(problem.to_string());
        }
        Err(Stop::Temperror(why)) => {
            finding.result = Verdict::Temperror;
            finding.error = Some(why);
        }
    }
    finding.setup = finding.result.setup();
    finding.dns_lookups = evaluation.lookups.dns_terms;
    finding.void_lookups = evaluation.lookups.void;
    (finding.all, finding.uses_ptr) = match evaluation.records.as_slice() {
        [record] => record_shape(record),
        _ => (AllPolicy::Unknown, false),
    };
    finding.records = evaluation.records;
    finding
}

fn verdict_of(decision: Decision) -> Verdict {
    match decision {
        Decision::None => Verdict::None,
        Decision::Neutral => Verdict::Neutral,
        Decision::Pass => Verdict::Pass,
        Decision::Fail => Verdict::Fail,
        Decision::Softfail => Verdict::Softfail,
    }
}

/// A finding with nothing found yet.
pub(super) fn base(identity: SpfIdentity, domain: &str, result: Verdict) -> SpfFinding {
    SpfFinding {
        result,
        setup: result.setup(),
        identity,
        domain: domain.to_ascii_lowercase(),
        records: Vec::new(),
        explanation: None,
        error: None,
        problem: None,
        matched: None,
        dns_lookups: 0,
        void_lookups: 0,
        all: AllPolicy::Unknown,
        uses_ptr: false,
    }
}

/// RFC 7208 §4.3: a domain that is not a well-formed FQDN (an address
/// literal, a bare host name, an empty or over-long label) yields `none`
/// without any DNS query.
fn is_checkable_domain(domain: &str) -> bool {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    name.len() <= 253
        && name.contains('.')
        && !name.starts_with('[')
        && name.split('.').all(|label| (1..=63).contains(&label.len()))
}

fn unchecked(identity: SpfIdentity, domain: &str) -> SpfFinding {
    SpfFinding {
        error: Some("not a fully qualified domain name, so there is no SPF policy to check".into()),
        ..base(identity, domain, Verdict::None)
    }
}

/// `problem`: why SPF is a permerror (see [`SpfProblem`]), or none.
const PROBLEMS: &[&str] = &[
    "none",
    "syntax",
    "multiple_records",
    "lookup_limit",
    "void_lookup_limit",
    "mx_limit",
    "include_missing",
    "redirect_missing",
];
/// `lookups`: DNS-querying terms the check used against the limit of 10.
const LOOKUP_LEVELS: &[&str] = &["within", "near_limit", "over_limit"];
const ALL_POLICIES: &[&str] = &[
    "fail", "softfail", "neutral", "pass", "redirect", "none", "unknown",
];

/// The rule fields of `spf` (the MAIL FROM identity).
pub const FIELDS: &[Field] = &[
    ("result", Verdict::WORDS),
    ("setup", Setup::WORDS),
    ("all", ALL_POLICIES),
    ("uses_ptr", BOOLS),
    ("problem", PROBLEMS),
    ("lookups", LOOKUP_LEVELS),
];

/// The rule fields of `spf_helo`.
pub const HELO_FIELDS: &[Field] = &[("result", Verdict::WORDS), ("setup", Setup::WORDS)];

impl SpfFinding {
    /// This finding's [`FIELDS`] (as `spf`) or [`HELO_FIELDS`] (as `spf_helo`).
    pub fn facts(&self, check: CheckId, facts: &mut Facts) {
        facts.put(check, "result", self.result.as_str());
        facts.put(check, "setup", self.setup.as_str());
        if check == CheckId::SpfHelo {
            return;
        }
        facts.put(check, "all", self.all.as_str());
        facts.put(check, "uses_ptr", yes(self.uses_ptr));
        facts.put(
            check,
            "problem",
            self.problem.map_or("none", |p| p.as_str()),
        );
        facts.put(check, "lookups", lookup_level(self.dns_lookups));
    }
}

/// 9 or 10 lookups still pass, but one more include breaks the record
/// (RFC 7208 §4.6.4 allows 10).
fn lookup_level(lookups: u32) -> &'static str {
    match lookups {
        0..=8 => "within",
        9..=10 => "near_limit",
        _ => "over_limit",
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    SpfWords {
        about: "SPF lets the MAIL FROM domain list the servers allowed to send its mail; receivers check the sending IP against that list.",
            "SPF は、MAIL FROM のドメインがメール送信を許可するサーバーを公開する仕組みです。受信側は送信元 IP をこの一覧と照合します。";
        about_helo: "The same SPF check for the name the server gave in HELO/EHLO; receivers use it for bounces, whose MAIL FROM is empty.",
            "HELO/EHLO で名乗ったホスト名に対する同じ SPF 検査です。MAIL FROM が空のエラーメールで使われます。";
        matched: "Matched", "一致した項目";
        dns_lookups: "DNS lookups", "DNS 参照";
        void_lookups: "void lookups", "空の参照";
    }
}

impl SpfFinding {
    /// The row of `spf` or of `spf_helo`.
    pub fn row(&self, check: CheckId, lang: Lang) -> Row {
        let (t, w) = (lang.ui(), SpfWords::of(lang));
        let helo = check == CheckId::SpfHelo;
        Row {
            check,
            tone: Some(match self.result {
                // No SPF for the HELO name is common and only a warning.
                Verdict::None if helo => Tone::Warn,
                result => Tone::of(result),
            }),
            name: if helo {
                format!("SPF HELO ({})", self.domain)
            } else {
                format!("SPF ({})", self.domain)
            },
            word: Some(self.result.as_str()),
            setup: self.setup.label(t),
            about: if helo { w.about_helo } else { w.about },
            detail: self.detail(w),
            records: self.records.clone(),
        }
    }

    /// What a row says besides the result: the exact problem (or the
    /// domain's explanation), the term that decided, and the lookups used
    /// against RFC 7208's limits of 10 and 2 (shown once any were made).
    fn detail(&self, w: &SpfWords) -> String {
        let lookups = (self.dns_lookups > 0 || self.void_lookups > 0).then(|| {
            format!(
                "{} {}/10 · {} {}/2",
                w.dns_lookups, self.dns_lookups, w.void_lookups, self.void_lookups
            )
        });
        join(&[
            self.error.clone().or(self.explanation.clone()),
            self.matched.as_ref().map(|m| format!("{}: {m}", w.matched)),
            lookups,
        ])
    }
}

impl SpfFinding {
    /// The `mailscore check` line of `spf` or `spf_helo`.
    pub fn text(&self, check: CheckId) -> String {
        let name = if check == CheckId::SpfHelo {
            "spf-helo"
        } else {
            "spf"
        };
        text_line(
            name,
            self.result.as_str(),
            self.setup.as_str(),
            &self.domain,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_shape_reads_the_catch_all_and_ptr() {
        assert_eq!(
            record_shape("v=spf1 ip4:192.0.2.1 -all"),
            (AllPolicy::Fail, false)
        );
        assert_eq!(
            record_shape("v=spf1 include:x.example ~all"),
            (AllPolicy::Softfail, false)
        );
        assert_eq!(record_shape("v=spf1 +all"), (AllPolicy::Pass, false));
        assert_eq!(record_shape("v=spf1 mx all"), (AllPolicy::Pass, false));
        assert_eq!(record_shape("v=spf1 ptr ?all"), (AllPolicy::Neutral, true));
        assert_eq!(
            record_shape("v=spf1 redirect=_spf.example"),
            (AllPolicy::Redirect, false)
        );
        assert_eq!(
            record_shape("v=spf1 a ptr:example.com"),
            (AllPolicy::None, true)
        );
    }
}
