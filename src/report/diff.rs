//! What changed between two sends to one address: the question every user
//! has after a fix, *did it work?* Worked out from the two reports alone,
//! so the API, the page and `mailscore wait` say the same thing.

use super::Report;
use crate::checks::{CheckId, Setup};
use crate::i18n::Lang;
use crate::score::Text;
use serde::{Deserialize, Serialize};

/// `GET /api/tests/{id}/diff`: from one send to a later one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ReportDiff {
    pub id: String,
    pub from: SendSummary,
    pub to: SendSummary,
    /// `to.score − from.score`, one decimal.
    pub score_change: f64,
    /// What changed state, in the report's order: the four setups as the
    /// Japanese surveys count them (`setup`), each check's result
    /// (`result`), the MSchecker grade (`grade`) and each provider's
    /// readiness (`readiness`).
    pub changes: Vec<Change>,
    /// Rules that took points (or advised) in `to` and not in `from`.
    pub gained: Vec<RuleChange>,
    /// Rules of `from` that no longer apply in `to`.
    pub lost: Vec<RuleChange>,
}

/// One send in the history of an address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SendSummary {
    /// 1 for the oldest send kept.
    pub n: usize,
    /// RFC 3339, UTC.
    pub received_at: String,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Change {
    /// `setup`, `result`, `grade` or `readiness`.
    pub aspect: String,
    /// The check (`dkim`), `grade`, or the readiness key (`gmail-bulk`).
    pub name: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct RuleChange {
    pub rule: String,
    pub check: CheckId,
    pub points: f64,
    pub title: Text,
}

/// The survey's words for a setup state: `set`, `not_set`,
/// `misconfigured`, `not_checked` (JIPDEC's 設定あり, 設定なし, 設定誤り).
pub fn setup_word(setup: Setup) -> &'static str {
    match setup {
        Setup::Configured => "set",
        Setup::Missing => "not_set",
        Setup::Misconfigured => "misconfigured",
        Setup::Unknown => "not_checked",
    }
}

impl ReportDiff {
    /// `from` is send `from_n`, `to` is send `to_n` of the same address.
    pub fn between(from: (usize, &Report), to: (usize, &Report)) -> ReportDiff {
        let (old, new) = (from.1, to.1);
        let mut changes = Vec::new();
        let mut note = |aspect: &str, name: &str, from: String, to: String| {
            if from != to {
                changes.push(Change {
                    aspect: aspect.into(),
                    name: name.into(),
                    from,
                    to,
                });
            }
        };
        for (name, a, b) in setups(old)
            .into_iter()
            .zip(setups(new))
            .map(|((n, a), (_, b))| (n, a, b))
        {
            note("setup", name, a.into(), b.into());
        }
        let (results_old, results_new) = (results(old), results(new));
        let word = |results: &[(String, String)], name: &str| {
            results
                .iter()
                .find(|(n, _)| n == name)
                .map_or_else(|| "none".to_string(), |(_, w)| w.clone())
        };
        let names = results_new
            .iter()
            .chain(&results_old)
            .map(|(name, _)| name.as_str());
        let mut seen = std::collections::BTreeSet::new();
        for name in names.filter(|name| seen.insert(*name)) {
            note(
                "result",
                name,
                word(&results_old, name),
                word(&results_new, name),
            );
        }
        note(
            "grade",
            "grade",
            old.grade.level.as_str().into(),
            new.grade.level.as_str().into(),
        );
        for verdict in &new.readiness {
            let before = old
                .readiness
                .iter()
                .find(|r| r.key() == verdict.key())
                .map_or("none", |r| r.verdict.as_str());
            note(
                "readiness",
                &verdict.key(),
                before.into(),
                verdict.verdict.as_str().into(),
            );
        }
        ReportDiff {
            id: new.id.clone(),
            from: summary(from),
            to: summary(to),
            score_change: ((new.score - old.score) * 10.0).round() / 10.0,
            changes,
            gained: rules_only_in(new, old),
            lost: rules_only_in(old, new),
        }
    }

    /// The diff as `mailscore wait` prints it, one change a line.
    pub fn text(&self, lang: Lang) -> String {
        let mut out = format!(
            "since send {} ({}): score {:.1} -> {:.1} ({:+.1})\n",
            self.from.n, self.from.received_at, self.from.score, self.to.score, self.score_change
        );
        for c in &self.changes {
            out.push_str(&format!(
                "  {} {}: {} -> {}\n",
                c.name, c.aspect, c.from, c.to
            ));
        }
        for (sign, rules) in [("-", &self.lost), ("+", &self.gained)] {
            for r in rules {
                let title = if lang == Lang::Ja {
                    &r.title.ja
                } else {
                    &r.title.en
                };
                let points = if r.points == 0.0 {
                    "0".into()
                } else {
                    format!("-{}", r.points)
                };
                out.push_str(&format!("  {sign} {} ({points}) {title}\n", r.rule));
            }
        }
        out
    }

    /// Nothing changed at all: the same score, states and rules.
    pub fn is_empty(&self) -> bool {
        self.score_change == 0.0
            && self.changes.is_empty()
            && self.gained.is_empty()
            && self.lost.is_empty()
    }
}

/// `−1.5`, or `0` for a rule that only advises.
pub fn points(points: f64) -> String {
    if points == 0.0 {
        "0".into()
    } else {
        format!("−{points}")
    }
}

fn summary((n, report): (usize, &Report)) -> SendSummary {
    SendSummary {
        n,
        received_at: report.received_at.clone(),
        score: report.score,
    }
}

fn setups(report: &Report) -> [(&'static str, &'static str); 4] {
    let s = &report.setup;
    [
        ("smime", setup_word(s.smime)),
        ("spf", setup_word(s.spf)),
        ("dkim", setup_word(s.dkim)),
        ("dmarc", setup_word(s.dmarc)),
    ]
}

/// Each check's result words, as the page shows them (`pass`, `none`…),
/// by check id. A check of several rows of different things (the From
/// domain's MX, DNSSEC, MTA-STS…; one per mail server) has one entry a
/// row, `posture:MX`, named by the row's name up to its details; DKIM's
/// rows (one a signature) join with commas under `dkim`. Checks whose rows
/// have no word of their own (the content checks) are left to the rules
/// gained and lost.
fn results(report: &Report) -> Vec<(String, String)> {
    let mut results = Vec::new();
    for check in CheckId::ALL {
        let rows = report.checks.rows(check, Lang::En);
        let worded: Vec<_> = rows.iter().filter_map(|r| Some((r, r.word?))).collect();
        if worded.len() == 1 || (check == CheckId::Dkim && !worded.is_empty()) {
            let words: Vec<&str> = worded.iter().map(|(_, w)| *w).collect();
            results.push((check.as_str().to_string(), words.join(",")));
        } else {
            for (row, word) in worded {
                let name = format!("{}:{}", check.as_str(), short_name(&row.name));
                results.push((name, word.to_string()));
            }
        }
    }
    results
}

/// A row's name without its details: `DKIM (d=example.com …)` → `DKIM`.
pub fn short_name(name: &str) -> &str {
    name.split(" (").next().unwrap_or(name).trim()
}

fn rules_only_in(report: &Report, other: &Report) -> Vec<RuleChange> {
    report
        .deductions
        .iter()
        .filter(|d| !other.deductions.iter().any(|o| o.rule == d.rule))
        .map(|d| RuleChange {
            rule: d.rule.clone(),
            check: d.check,
            points: d.points,
            title: d.title.clone(),
        })
        .collect()
}
