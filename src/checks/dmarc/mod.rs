//! DMARC: does the From domain publish a policy, and did SPF or DKIM pass
//! for a domain aligned with it?
//!
//! The verdict is RFC 7489's, the one receivers (Gmail, Yahoo, Microsoft)
//! apply today: policy discovery and alignment by the organisational domain
//! from the Public Suffix List (rfc7489.rs). RFC 9989 (DMARCbis), which
//! mail-auth implements, finds the organisational domain by a DNS tree walk
//! instead; where that gives another answer the finding carries it too
//! (dmarcbis.rs), so a sender sees what today's and tomorrow's receivers say.

mod discovery;
mod dmarcbis;
mod reports;
mod rfc7489;
mod tags;

use super::CheckId;
use super::dkim::DkimFinding;
use super::facts::{BOOLS, Facts, Field, words, yes};
use super::row::text_line;
use super::row::{Row, Tone, join};
use super::spf::SpfFinding;
use super::verdict::{Setup, Verdict};
use crate::dns::Dns;
use crate::dns::org_domain::organisational_domain;
use crate::i18n::{Lang, Ui, phrases};
use mail_auth::dmarc::{Alignment, Dmarc, Policy};
use mail_auth::{AuthenticatedMessage, DkimOutput};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

words! {
    /// What the policy that applies does: `monitoring` (p=none: reports
    /// only, spoofed mail is delivered), `enforcing` (quarantine or
    /// reject), or `absent` (no usable policy).
    DmarcMode { Absent => "absent", Monitoring => "monitoring", Enforcing => "enforcing" }
}

/// DMARC (RFC 7489).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct DmarcFinding {
    pub result: Verdict,
    pub setup: Setup,
    /// The RFC 5322 From domain that DMARC protects.
    pub from_domain: String,
    /// `none`, `quarantine` or `reject`: the policy that applies to this
    /// message (after `sp=` for subdomains and `t=y` testing mode).
    pub policy: Option<String>,
    /// SPF passed for a domain aligned with the From domain (by the
    /// record's `aspf=`; relaxed when there is no record).
    pub spf_aligned: bool,
    /// A DKIM signature passed for a domain aligned with the From domain
    /// (by `adkim=`; relaxed when there is no record).
    pub dkim_aligned: bool,
    /// The `v=DMARC1` record(s) found, at `record_domain`.
    pub records: Vec<String>,
    /// `<from_domain>`, or its organisational domain whose record applies.
    pub record_domain: Option<String>,
    pub error: Option<String>,
    /// Details of the record that applies.
    pub record: Option<DmarcRecord>,
    // The two fields below came later: reports stored before them read
    // with none.
    /// The From domain's organisational domain by the Public Suffix List
    /// (RFC 7489 §3.2): what relaxed alignment compares.
    #[serde(default)]
    pub org_domain: Option<String>,
    /// What an RFC 9989 (DMARCbis) receiver would conclude, when that
    /// differs from the verdict above; none when it agrees.
    #[serde(default)]
    pub dmarcbis: Option<TreeWalkVerdict>,
    /// What is wrong with the record: each tag that is not as RFC 7489
    /// §6.3 spells it (`pct=150`, a `rua=` that is not `mailto:`), and each
    /// report destination in another domain that does not accept the
    /// reports (§7.1). Any makes `setup` misconfigured.
    #[serde(default)]
    pub record_problems: Vec<String>,
    /// Monitoring (p=none) or enforcing (quarantine, reject).
    #[serde(default)]
    pub mode: DmarcMode,
}

/// DMARC by RFC 9989's DNS tree walk, shown beside the RFC 7489 verdict
/// when the two disagree: a record that only the walk finds (at an
/// intermediate name or above the organisational domain), or a subdomain
/// that aligns by the Public Suffix List but not by the walk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "DmarcTreeWalk"))]
pub struct TreeWalkVerdict {
    pub result: Verdict,
    /// Where the walk takes its policy from.
    pub record_domain: Option<String>,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
}

/// The tags of a DMARC record, as a reader needs them to judge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct DmarcRecord {
    /// `p=` as published.
    pub p: String,
    /// `sp=`, the subdomain policy (defaults to `p=`).
    pub sp: String,
    /// `pct=`, share of failing mail the policy applies to (RFC 7489; 100
    /// when absent).
    pub pct: u8,
    /// `t=y`: testing mode (DMARCbis), the policy is applied one level softer.
    pub testing: bool,
    /// Aggregate (`rua=`) and failure (`ruf=`) report addresses.
    pub rua: Vec<String>,
    /// Failure report addresses.
    pub ruf: Vec<String>,
    /// `adkim=` and `aspf=`: "relaxed" or "strict".
    pub adkim: String,
    pub aspf: String,
}

/// DMARC for the message: SPF from our own evaluator, DKIM from dkim.rs
/// (`dkim`), and mail-auth's outputs (`dkim_outputs`) for the tree walk.
pub async fn verdict(
    dns: &Dns,
    message: &AuthenticatedMessage<'_>,
    dkim_outputs: &[DkimOutput<'_>],
    dkim: &[DkimFinding],
    spf: &SpfFinding,
    mail_from_domain: &str,
) -> DmarcFinding {
    let tree_walk = dmarcbis::tree_walk(dns, message, dkim_outputs, spf, mail_from_domain).await;
    let from_domain = tree_walk
        .domain()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if from_domain.is_empty() {
        return no_from_domain();
    }
    let org_domain = organisational_domain(&from_domain);
    let walk = discovery::walk(dns, &from_domain, &org_domain).await;
    let evaluation = rfc7489::evaluate(&from_domain, &org_domain, &walk, spf, dkim);
    let dmarcbis = dmarcbis::differing(&tree_walk, &walk, &evaluation);
    let record_problems = record_problems(dns, &evaluation).await;
    let setup = match evaluation.result.setup() {
        Setup::Configured if !record_problems.is_empty() => Setup::Misconfigured,
        setup => setup,
    };
    DmarcFinding {
        mode: match evaluation.policy {
            None => DmarcMode::Absent,
            Some(Policy::None | Policy::Unspecified) => DmarcMode::Monitoring,
            Some(Policy::Quarantine | Policy::Reject) => DmarcMode::Enforcing,
        },
        record_problems,
        result: evaluation.result,
        setup,
        from_domain,
        policy: evaluation.policy.map(|p| policy_name(p).to_string()),
        spf_aligned: evaluation.spf_aligned,
        dkim_aligned: evaluation.dkim_aligned,
        record: evaluation
            .record
            .as_ref()
            .map(|r| record_details(r, evaluation.records.first().map(String::as_str))),
        records: evaluation.records,
        record_domain: evaluation.record_domain,
        error: evaluation.error,
        org_domain: Some(org_domain),
        dmarcbis,
    }
}

/// The one record's bad tags and refused report destinations. Several
/// records are a problem of their own (permerror), not listed here.
async fn record_problems(dns: &Dns, evaluation: &rfc7489::Evaluation) -> Vec<String> {
    let ([record], Some(record_domain)) = (
        evaluation.records.as_slice(),
        evaluation.record_domain.as_deref(),
    ) else {
        return Vec::new();
    };
    let mut problems = tags::problems(record);
    problems.extend(reports::refused(dns, record_domain, record).await);
    problems
}

/// A message without one From domain is exempt (RFC 7489 §6.6.1).
fn no_from_domain() -> DmarcFinding {
    DmarcFinding {
        result: Verdict::None,
        setup: Verdict::None.setup(),
        from_domain: String::new(),
        policy: None,
        spf_aligned: false,
        dkim_aligned: false,
        records: Vec::new(),
        record_domain: None,
        error: Some("no single From domain to evaluate".into()),
        record: None,
        org_domain: None,
        dmarcbis: None,
        record_problems: Vec::new(),
        mode: DmarcMode::Absent,
    }
}

fn record_details(record: &Dmarc, text: Option<&str>) -> DmarcRecord {
    let pct = text
        .and_then(|t| tag_value(t, "pct"))
        .and_then(|v| v.parse::<u8>().ok())
        .filter(|pct| *pct <= 100)
        .unwrap_or(100);
    DmarcRecord {
        p: policy_name(record.p).into(),
        sp: policy_name(record.sp).into(),
        pct,
        testing: record.t,
        rua: record.rua.iter().map(|u| u.uri.clone()).collect(),
        ruf: record.ruf.iter().map(|u| u.uri.clone()).collect(),
        adkim: alignment_name(record.adkim).into(),
        aspf: alignment_name(record.aspf).into(),
    }
}

fn tag_value<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    record.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

fn alignment_name(alignment: Alignment) -> &'static str {
    match alignment {
        Alignment::Relaxed => "relaxed",
        Alignment::Strict => "strict",
    }
}

fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::None | Policy::Unspecified => "none",
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
    }
}

const POLICIES: &[&str] = &["none", "quarantine", "reject", "absent"];

/// The rule fields of `dmarc`.
pub const FIELDS: &[Field] = &[
    ("result", Verdict::WORDS),
    ("setup", Setup::WORDS),
    ("policy", POLICIES),
    ("spf_aligned", BOOLS),
    ("dkim_aligned", BOOLS),
    ("reporting", BOOLS),
    ("pct_partial", BOOLS),
    ("record_valid", BOOLS),
];

impl DmarcFinding {
    /// This finding's [`FIELDS`].
    pub fn facts(&self, facts: &mut Facts) {
        let check = CheckId::Dmarc;
        facts.put(check, "result", self.result.as_str());
        facts.put(check, "setup", self.setup.as_str());
        let policy = self.policy.clone().map_or("absent".into(), Cow::Owned);
        facts.put(check, "policy", policy);
        facts.put(check, "spf_aligned", yes(self.spf_aligned));
        facts.put(check, "dkim_aligned", yes(self.dkim_aligned));
        let record = self.record.as_ref();
        facts.put(
            check,
            "reporting",
            yes(record.is_some_and(|r| !r.rua.is_empty())),
        );
        facts.put(
            check,
            "pct_partial",
            yes(record.is_some_and(|r| r.pct < 100)),
        );
        facts.put(check, "record_valid", yes(self.record_problems.is_empty()));
    }
}

phrases! {
    /// The page's words for this check, in English and Japanese.
    DmarcWords {
        about: "DMARC ties SPF and DKIM to the From address people see, and tells receivers what to do with mail that fails (p=none, quarantine or reject).",
            "DMARC は SPF と DKIM の結果を受信者に見える From アドレスと結び付け、認証に失敗したメールの扱い（p=none / quarantine / reject）を受信側に伝えます。";
        aligned: "aligned", "アライメント";
        policy_from: "policy from", "適用レコード";
        /// DMARC by RFC 9989's tree walk, when it differs from the RFC 7489 verdict.
        dmarcbis_differs: "DMARCbis (RFC 9989, DNS tree walk) would say",
            "DMARCbis（RFC 9989、DNS ツリーウォーク）では";
        dmarcbis_today: "receivers today follow the verdict above (RFC 7489, Public Suffix List)",
            "現在の受信側は上の判定（RFC 7489、Public Suffix List）に従います";
        /// The setup label of a p=none policy that is otherwise right.
        monitoring_only: "set up (monitoring only: p=none)", "設定あり（監視のみ：p=none）";
        record_problems: "record problems", "レコードの誤り";
    }
}

impl DmarcFinding {
    pub fn row(&self, lang: Lang) -> Row {
        let (t, w) = (lang.ui(), DmarcWords::of(lang));
        Row {
            check: CheckId::Dmarc,
            tone: Some(Tone::of(self.result)),
            name: format!(
                "DMARC ({}, p={})",
                self.from_domain,
                self.policy.as_deref().unwrap_or("-")
            ),
            word: Some(self.result.as_str()),
            setup: match (self.setup, self.mode) {
                (Setup::Configured, DmarcMode::Monitoring) => w.monitoring_only,
                (setup, _) => setup.label(t),
            },
            about: w.about,
            detail: join(&[
                Some(format!(
                    "SPF {}: {} · DKIM {}: {}",
                    w.aligned,
                    t.yes_no(self.spf_aligned),
                    w.aligned,
                    t.yes_no(self.dkim_aligned),
                )),
                self.record.as_ref().map(|r| {
                    format!(
                        "p={} sp={} pct={} adkim={} aspf={} rua={}",
                        r.p,
                        r.sp,
                        r.pct,
                        r.adkim,
                        r.aspf,
                        if r.rua.is_empty() {
                            "-".to_string()
                        } else {
                            r.rua.join(",")
                        }
                    )
                }),
                self.record_domain
                    .as_ref()
                    .filter(|d| **d != self.from_domain)
                    .map(|d| format!("{} _dmarc.{d}", w.policy_from)),
                self.error.clone(),
                (!self.record_problems.is_empty())
                    .then(|| format!("{}: {}", w.record_problems, self.record_problems.join("; "))),
                self.dmarcbis.as_ref().map(|bis| bis.note(t, w)),
            ]),
            records: self.records.clone(),
        }
    }
}

impl TreeWalkVerdict {
    /// What an RFC 9989 receiver would conclude, beside today's verdict.
    fn note(&self, t: &Ui, w: &DmarcWords) -> String {
        format!(
            "{} {} (SPF {}: {} · DKIM {}: {}{}); {}",
            w.dmarcbis_differs,
            self.result.as_str(),
            w.aligned,
            t.yes_no(self.spf_aligned),
            w.aligned,
            t.yes_no(self.dkim_aligned),
            self.record_domain
                .as_ref()
                .map(|d| format!(" · {} _dmarc.{d}", w.policy_from))
                .unwrap_or_default(),
            w.dmarcbis_today,
        )
    }
}

impl DmarcFinding {
    /// The `mailscore check` line.
    pub fn text(&self) -> String {
        let detail = format!(
            "{} p={}",
            self.from_domain,
            self.policy.as_deref().unwrap_or("-")
        );
        text_line("dmarc", self.result.as_str(), self.setup.as_str(), &detail)
    }
}
