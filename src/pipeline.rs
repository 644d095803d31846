//! One message through analyze → score → report. `serve` runs this after
//! each delivery; `check` runs it on a file. Same code path, same report.

use crate::analyze::Analyzer;
use crate::report::{Report, Subject};
use crate::score::{self, RuleTable};
use crate::smtp::Envelope;

/// The analysis context and the rule table.
pub struct Pipeline {
    pub analyzer: Analyzer,
    pub rules: RuleTable,
}

impl Pipeline {
    pub async fn report(&self, subject: Subject<'_>, envelope: &Envelope, raw: &[u8]) -> Report {
        let findings = self.analyzer.analyze(envelope, raw).await;
        let score = score::score(&self.rules, &findings);
        Report::new(subject, envelope, findings, score)
    }
}
