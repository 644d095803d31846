//! One message through analyze → score → report. `serve` runs this after
//! each delivery; `check` runs it on a file. Same code path, same report.

use crate::checks::Analyzer;
use crate::report::{Report, Subject};
use crate::score::{self, RuleTable};
use crate::smtp::Envelope;
use std::sync::{Arc, PoisonError, RwLock};

/// The analysis context and the rule table.
pub struct Pipeline {
    pub analyzer: Analyzer,
    /// Build it with `RuleTable::…().into()`; `serve` swaps it on SIGHUP.
    pub rules: LiveRules,
}

/// The rule table in force, replaceable while messages are being scored
/// (SIGHUP): each message is scored with the table current when its
/// scoring starts, and a swap never waits for scoring to finish. Clones
/// share the table: a swap through one is seen by all.
#[derive(Clone)]
pub struct LiveRules(Arc<RwLock<Arc<RuleTable>>>);

impl LiveRules {
    pub fn current(&self) -> Arc<RuleTable> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `table` in force for every message scored from now on.
    pub fn replace(&self, table: RuleTable) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
    }
}

impl From<RuleTable> for LiveRules {
    fn from(table: RuleTable) -> LiveRules {
        LiveRules(Arc::new(RwLock::new(Arc::new(table))))
    }
}

impl Pipeline {
    pub async fn report(&self, subject: Subject<'_>, envelope: &Envelope, raw: &[u8]) -> Report {
        self.report_then_release(subject, envelope, raw, ()).await
    }

    /// [`Pipeline::report`], dropping `slot` once the analysis proper is
    /// done: the probe of the sender's servers that follows mostly waits
    /// on the network, and must not hold an analysis slot while it does.
    pub async fn report_then_release<S>(
        &self,
        subject: Subject<'_>,
        envelope: &Envelope,
        raw: &[u8],
        slot: S,
    ) -> Report {
        let mut analysis = self.analyzer.analyze(envelope, raw).await;
        drop(slot);
        analysis.findings.mail_server = self.analyzer.probe_servers(&analysis, envelope).await;
        // Scoring and the report are CPU work too: in `serve`, SMTP
        // sessions waiting for a reply go first.
        tokio::task::yield_now().await;
        let score = score::score(&self.rules.current(), &analysis.findings);
        Report::new(subject, envelope, analysis, score)
    }
}
