//! "What changed since the previous send" on the score page: a
//! [`ReportDiff`] in the page's language. One line beside the score says
//! how the score moved; the section below lists every state that changed
//! and the rules gained and lost.

use super::words;
use crate::checks::CheckId;
use crate::i18n::{Lang, Ui};
use crate::report::Report;
use crate::report::diff::{Change, ReportDiff, RuleChange, points, short_name};

pub struct ChangesView {
    /// "Send 2 of 3".
    pub send_line: String,
    /// "What changed since send 1 (received …)".
    pub heading: String,
    /// `4.2 → 9.1 (+4.9)`.
    pub score_line: String,
    /// `DKIM (setup): not set up → set up`, in the page's language.
    pub lines: Vec<String>,
    /// Rules that apply now and did not: `−1.5 title`.
    pub gained: Vec<String>,
    /// Rules that no longer apply.
    pub lost: Vec<String>,
    /// `/tests/{id}/{n}` of the send compared with.
    pub from_url: String,
    /// Nothing but the score stayed, nothing changed at all.
    pub same: bool,
}

/// The view of `diff` (to the send `report` shows, one of `count`).
pub fn view(lang: Lang, diff: &ReportDiff, report: &Report, count: usize) -> ChangesView {
    let t = lang.ui();
    let (n, from) = (diff.to.n, diff.from.n);
    let when = &diff.from.received_at;
    let (send_line, heading) = match lang {
        Lang::En => (
            format!("Send {n} of {count}"),
            format!("What changed since send {from} ({when})"),
        ),
        Lang::Ja => (
            format!("{count} 通中 {n} 通目"),
            format!("{from} 通目（{when}）からの変化"),
        ),
    };
    let rule = |r: &RuleChange| {
        let title = if lang == Lang::Ja {
            &r.title.ja
        } else {
            &r.title.en
        };
        format!("{} {title}", points(r.points))
    };
    ChangesView {
        send_line,
        heading,
        score_line: format!(
            "{:.1} → {:.1} ({:+.1})",
            diff.from.score, diff.to.score, diff.score_change
        ),
        lines: diff
            .changes
            .iter()
            .map(|c| line(lang, t, c, report))
            .collect(),
        gained: diff.gained.iter().map(rule).collect(),
        lost: diff.lost.iter().map(rule).collect(),
        from_url: format!("/tests/{}/{}?lang={}", diff.id, diff.from.n, lang.code()),
        same: diff.is_empty(),
    }
}

fn line(lang: Lang, t: &Ui, change: &Change, report: &Report) -> String {
    let (name, from, to) = match change.aspect.as_str() {
        "setup" => (
            format!("{} ({})", mechanism(&change.name), t.changes_setup),
            setup(t, &change.from),
            setup(t, &change.to),
        ),
        "grade" => (
            t.grade_label.to_string(),
            grade(t, &change.from),
            grade(t, &change.to),
        ),
        "readiness" => (
            format!("{} ({})", change.name, t.changes_readiness),
            ready(t, &change.from),
            ready(t, &change.to),
        ),
        _ => (
            check_name(lang, &change.name, report),
            result(lang, &change.from),
            result(lang, &change.to),
        ),
    };
    format!("{name}: {from} → {to}")
}

/// The check's name as its row on the page says it, without details
/// (`Reverse DNS`, `DKIM`); a row of a several-row check by its own name
/// (`MX`, a mail server).
pub(super) fn check_name(lang: Lang, name: &str, report: &Report) -> String {
    if let Some((_, row)) = name.split_once(':') {
        return row.to_string();
    }
    CheckId::ALL
        .into_iter()
        .find(|c| c.as_str() == name)
        .and_then(|c| report.checks.rows(c, lang).into_iter().next())
        .map_or_else(|| name.to_string(), |row| short_name(&row.name).to_string())
}

fn mechanism(name: &str) -> String {
    match name {
        "smime" => "S/MIME".into(),
        other => other.to_uppercase(),
    }
}

fn setup(t: &Ui, word: &str) -> String {
    match word {
        "set" => t.setup_configured,
        "not_set" => t.setup_missing,
        "misconfigured" => t.setup_misconfigured,
        _ => t.setup_unknown,
    }
    .into()
}

fn grade(t: &Ui, word: &str) -> String {
    match word {
        "safe" => t.grade_safe,
        "review" => t.grade_review,
        "improve" => t.grade_improve,
        "danger" => t.grade_danger,
        _ => t.grade_not_checked,
    }
    .into()
}

fn ready(t: &Ui, word: &str) -> String {
    match word {
        "ready" => t.ready_yes,
        "not_ready" => t.ready_no,
        "not_checked" => t.ready_not_checked,
        _ => t.ready_none,
    }
    .into()
}

/// Result words (`pass`, `none,pass` for two DKIM signatures), each in the
/// page's language.
fn result(lang: Lang, words: &str) -> String {
    words
        .split(',')
        .map(|w| match lang {
            Lang::En => w,
            Lang::Ja => words::japanese(w).unwrap_or(w),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
