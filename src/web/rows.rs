//! The one row renderer: any check's [`Row`] as the page shows it, with a
//! marker that reads without colour (icon and result word) and the rules
//! that took points for it, with their advice. The rows themselves come
//! from each check's own module ([`crate::checks::Findings::rows`]).

use crate::checks::CheckId;
use crate::checks::row::{Row, Tone};
use crate::i18n::Lang;
use crate::report::Report;
use crate::score::Deduction;

impl Tone {
    /// The CSS class: `check ok|warn|bad|info`.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Ok => "ok",
            Tone::Info => "info",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
        }
    }

    /// The marker shown beside the colour, so colour is never the only cue.
    pub fn icon(self) -> &'static str {
        match self {
            Tone::Ok => "✔",
            Tone::Info => "i",
            Tone::Warn => "!",
            Tone::Bad => "✘",
        }
    }
}

/// A check's row on the page: its mark and word settled, its deductions
/// attached. Reads through to the [`Row`] for the rest (`row.name`…).
#[derive(Debug)]
pub struct Shown {
    pub row: Row,
    /// The `id` of the check's first row (`#spf`, `#dkim`…): stable
    /// anchors support staff can paste, and the "fix these first" links.
    pub anchor: Option<&'static str>,
    pub tone: Tone,
    pub word: &'static str,
    pub deductions: Vec<DeductionView>,
}

impl std::ops::Deref for Shown {
    type Target = Row;

    fn deref(&self) -> &Row {
        &self.row
    }
}

impl Shown {
    pub fn class(&self) -> &'static str {
        self.tone.class()
    }

    pub fn icon(&self) -> &'static str {
        self.tone.icon()
    }

    /// Problems start open; passing and informational rows start closed.
    pub fn open(&self) -> bool {
        matches!(self.tone, Tone::Warn | Tone::Bad)
    }

    /// The points this row cost ("−1.5"), if any.
    pub fn points(&self) -> Option<String> {
        lost(&self.deductions)
    }

    /// The rules that took points here; the zero-point ones are the
    /// section's "good to have".
    pub fn costly(&self) -> Vec<&DeductionView> {
        costly(&self.deductions)
    }
}

/// A matched rule, in the page's language.
#[derive(Debug)]
pub struct DeductionView {
    pub rule: String,
    /// "−1.5", or "0" for a rule that only informs.
    pub points: String,
    pub value: f64,
    pub title: String,
    pub advice: String,
}

impl DeductionView {
    pub fn new(lang: Lang, d: &Deduction) -> DeductionView {
        let (title, advice) = match lang {
            Lang::En => (&d.title.en, &d.advice.en),
            Lang::Ja => (&d.title.ja, &d.advice.ja),
        };
        DeductionView {
            rule: d.rule.clone(),
            points: points_text(d.points),
            value: d.points,
            title: title.clone(),
            advice: advice.clone(),
        }
    }
}

impl DeductionView {
    /// A rule that only advises: no points, so it folds under "good to have".
    pub fn advises_only(&self) -> bool {
        self.value <= 0.0
    }
}

/// The deductions that cost points, in order.
pub fn costly(deductions: &[DeductionView]) -> Vec<&DeductionView> {
    deductions.iter().filter(|d| !d.advises_only()).collect()
}

/// The deductions of `check`, in the page's language.
pub fn deductions_of(lang: Lang, report: &Report, check: CheckId) -> Vec<DeductionView> {
    report
        .deductions
        .iter()
        .filter(|d| d.check == check)
        .map(|d| DeductionView::new(lang, d))
        .collect()
}

/// The rows of `checks`, shown: each check's deductions go to one of its
/// rows, the worst-marked one (the first of equals), so a check shown as
/// several rows (one per DKIM signature) counts its points once. With
/// `attach` false they go nowhere: the section lists them itself.
pub fn shown(lang: Lang, report: &Report, checks: &[CheckId], attach: bool) -> Vec<Shown> {
    let mut shown = Vec::new();
    for &check in checks {
        let rows = report.checks.rows(check, lang);
        let deductions = if attach {
            deductions_of(lang, report, check)
        } else {
            Vec::new()
        };
        let worst = (0..rows.len()).fold(0, |best, j| {
            if rows[j].tone > rows[best].tone {
                j
            } else {
                best
            }
        });
        let mut deductions = Some(deductions);
        for (i, row) in rows.into_iter().enumerate() {
            let deductions = if i == worst {
                deductions.take().unwrap_or_default()
            } else {
                Vec::new()
            };
            let mut row = settle(lang, row, deductions);
            row.anchor = (i == 0).then(|| check.as_str());
            shown.push(row);
        }
    }
    shown
}

/// A row whose mark or word is left to its points gets them here.
fn settle(lang: Lang, row: Row, deductions: Vec<DeductionView>) -> Shown {
    let (by_points, said) = points_tone(&deductions);
    Shown {
        anchor: None,
        tone: row.tone.unwrap_or(by_points),
        word: super::words::shown(lang, row.word.unwrap_or(said)),
        row,
        deductions,
    }
}

/// The tone and word of what a row's rules took.
fn points_tone(deductions: &[DeductionView]) -> (Tone, &'static str) {
    let lost: f64 = deductions.iter().map(|d| d.value).sum();
    match lost {
        l if l >= 1.5 => (Tone::Bad, "problem"),
        l if l > 0.0 => (Tone::Warn, "attention"),
        _ if !deductions.is_empty() => (Tone::Info, "ok"),
        _ => (Tone::Ok, "ok"),
    }
}

/// The points a set of deductions cost ("−2.5"), if any.
pub fn lost(deductions: &[DeductionView]) -> Option<String> {
    let sum: f64 = deductions.iter().map(|d| d.value).sum();
    (round(sum) > 0.0).then(|| points_text(sum))
}

/// "−1.5", "−3", or "0".
pub fn points_text(points: f64) -> String {
    let points = round(points);
    if points == 0.0 {
        "0".to_string()
    } else {
        format!("−{points}")
    }
}

fn round(points: f64) -> f64 {
    (points * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_read_as_losses_rounded_to_a_tenth() {
        assert_eq!(points_text(3.0), "−3");
        assert_eq!(points_text(0.1 + 0.2), "−0.3");
        assert_eq!(points_text(0.0), "0");
    }
}
