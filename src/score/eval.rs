//! Applies the rule table to one message's findings.

use super::rules::{Rule, RuleTable, Text};
use crate::checks::CheckId;
#[cfg(doc)]
use crate::checks::Findings;
use crate::checks::facts::Facts;
use serde::{Deserialize, Serialize};

pub const MAX_SCORE: f64 = 10.0;

/// Points taken by one rule, with the text that explains them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Deduction {
    /// The rule id, e.g. `SPF_FAIL`.
    pub rule: String,
    /// The check the rule is about, e.g. `spf`.
    pub check: CheckId,
    /// Points taken (0 for an informational rule).
    pub points: f64,
    pub title: Text,
    pub advice: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Score {
    /// 10 − the sum of deductions, clamped to [0, 10], one decimal.
    pub score: f64,
    pub max_score: f64,
    /// Every rule that matched, zero-point ones included (they inform).
    pub deductions: Vec<Deduction>,
}

/// `facts`: the findings' ([`Findings::facts`]), computed once for the
/// rules and the providers' requirements.
pub fn score(table: &RuleTable, facts: &Facts) -> Score {
    let deductions: Vec<Deduction> = table
        .rules
        .iter()
        .filter(|rule| matches(rule, facts))
        .map(|rule| Deduction {
            rule: rule.id.clone(),
            check: rule.check,
            points: rule.points,
            title: rule.title.clone(),
            advice: rule.advice.clone(),
        })
        .collect();
    let lost: f64 = deductions.iter().map(|d| d.points).sum();
    Score {
        score: ((MAX_SCORE - lost).clamp(0.0, MAX_SCORE) * 10.0).round() / 10.0,
        max_score: MAX_SCORE,
        deductions,
    }
}

fn matches(rule: &Rule, facts: &Facts) -> bool {
    rule.when.iter().all(|(field, expected)| {
        facts
            .get(rule.check, field)
            .is_some_and(|value| expected.values().iter().any(|v| v == value))
    })
}
