//! Scoring: the rule table in `scoring-rules/` applied to the findings.
//! Only this stage knows points.

mod eval;
pub mod jipdec;
pub mod mschecker;
pub mod providers;
pub mod readiness;
mod rules;

pub use eval::{Deduction, MAX_SCORE, Score, score};
pub use rules::{LiveRules, OneOrMany, Rule, RuleTable, RulesError, Text};
