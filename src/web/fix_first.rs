//! "Fix these first": the deductions that cost the most, at the top of the
//! score page, each with its advice and a link to its check. A marketer
//! reads three lines, not a 6,000-pixel page. Ties go to the check shown
//! first (authentication before content), the page's own order.

use super::rows::DeductionView;
use crate::checks::CheckId;
use crate::i18n::Lang;
use crate::report::Report;

/// At most this many are listed.
pub const MAX_FIXES: usize = 5;

/// One thing to fix, in the page's language.
pub struct Fix {
    pub deduction: DeductionView,
    /// Where on the page its check is: `spf`, `dkim`… or its section.
    pub anchor: &'static str,
}

/// The deductions that took points, biggest first, with their anchors:
/// `order` is the checks in page order, `anchor` where each one is.
pub fn fixes(
    lang: Lang,
    report: &Report,
    order: &[CheckId],
    anchor: impl Fn(CheckId) -> &'static str,
) -> Vec<Fix> {
    let rank = |check: CheckId| {
        order
            .iter()
            .position(|c| *c == check)
            .unwrap_or(order.len())
    };
    let mut taken: Vec<_> = report
        .deductions
        .iter()
        .filter(|d| d.points > 0.0)
        .collect();
    taken.sort_by(|a, b| {
        b.points
            .total_cmp(&a.points)
            .then_with(|| rank(a.check).cmp(&rank(b.check)))
    });
    taken
        .into_iter()
        .take(MAX_FIXES)
        .map(|d| Fix {
            deduction: DeductionView::new(lang, d),
            anchor: anchor(d.check),
        })
        .collect()
}

/// Every point taken, summed: more than the score has when it stops at 0.
pub fn total(report: &Report) -> f64 {
    report.deductions.iter().map(|d| d.points).sum()
}
