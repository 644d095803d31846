//! One message through analyze → score → report. `serve` runs this after
//! each delivery; `check` runs it on a file. Same code path, same report.
//! A panic in any of the three gives the report of a failed analysis
//! ([`super::stage`]).

use super::stage::{Stage, StageFailure, Stages};
use crate::checks::{Analysis, Analyzer};
use crate::report::{Report, Subject};
use crate::score::{self, LiveRules};
use crate::smtp::Envelope;

/// How long a probe may keep the analysis slot before giving it up: a
/// kept probe takes microseconds, a real conversation milliseconds to
/// seconds.
const PROBE_HOLDS_SLOT: std::time::Duration = std::time::Duration::from_millis(5);

/// The analysis context and the rule table.
pub struct Pipeline {
    pub analyzer: Analyzer,
    /// Build it with `RuleTable::…().into()`; `serve` swaps it on SIGHUP.
    pub rules: LiveRules,
}

impl Pipeline {
    pub async fn report(&self, subject: Subject<'_>, envelope: &Envelope, raw: &[u8]) -> Report {
        self.report_then_release(subject, envelope, raw, ()).await
    }

    /// [`Pipeline::report`], giving up `slot` while the probe of the
    /// sender's servers waits on the network: a probe kept from an earlier
    /// message answers at once and keeps the slot (giving it up then let
    /// more analyses into a starved background lane: report p99 beside a
    /// 20-session flood went from 41 to 167 ms), one that talks to the
    /// sender's MX for seconds must not hold an analysis slot meanwhile.
    pub async fn report_then_release<S>(
        &self,
        subject: Subject<'_>,
        envelope: &Envelope,
        raw: &[u8],
        slot: S,
    ) -> Report {
        let stages = Stages::of(subject.id);
        self.staged(&stages, subject, envelope, raw, slot)
            .await
            .unwrap_or_else(|failure| Report::failed(subject, envelope, failure))
    }

    /// Checks, score and report, each a [`Stage`] whose panic is its
    /// failure.
    async fn staged<S>(
        &self,
        stages: &Stages<'_>,
        subject: Subject<'_>,
        envelope: &Envelope,
        raw: &[u8],
        slot: S,
    ) -> Result<Report, StageFailure> {
        // On the heap from the start: the checks' future is ~15 KB, and
        // each future that holds it inline is as big, copied whole at each
        // construction and move (memcpy was 12 % of the analysis thread).
        let checks = Box::pin(self.checks_then_release(envelope, raw, slot));
        let analysis = stages.run(Stage::Checks, checks).await?;
        // Scoring and the report are CPU work too: in `serve`, SMTP
        // sessions waiting for a reply go first.
        tokio::task::yield_now().await;
        let (score, readiness) = stages.run_now(Stage::Score, || {
            let table = self.rules.current();
            let facts = analysis.findings.facts();
            let score = score::score(&table, &facts);
            let domain = &analysis.findings.posture.domain;
            let readiness = score::readiness::readiness(&table.providers, &facts, domain);
            (score, readiness)
        })?;
        stages.run_now(Stage::Report, || {
            Report::new(subject, envelope, analysis, score, readiness)
        })
    }

    /// Every check, then the probe of the sender's servers.
    async fn checks_then_release<S>(&self, envelope: &Envelope, raw: &[u8], slot: S) -> Analysis {
        let mut analysis = self.analyzer.analyze(envelope, raw).await;
        let mut slot = Some(slot);
        let servers = {
            let probe = self.analyzer.probe_servers(&analysis, envelope);
            tokio::pin!(probe);
            tokio::select! {
                biased;
                servers = &mut probe => servers,
                _ = tokio::time::sleep(PROBE_HOLDS_SLOT) => {
                    drop(slot.take());
                    probe.await
                }
            }
        };
        analysis.findings.mail_server = servers;
        analysis
    }
}
