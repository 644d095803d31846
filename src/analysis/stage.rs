//! A panic anywhere in one message's analysis costs that message's report,
//! not the message. The checks each run under their own guard
//! ([`crate::checks::guard`]); everything around them (parsing and
//! assembling the findings, scoring, building the report, counting it in a
//! survey, queueing its webhook, encoding it for the store) runs here as a
//! named [`Stage`]. A panic in a stage is caught where it happens and the
//! message gets the report of a failed analysis instead
//! ([`Report::failed`](crate::report::Report)): `"status": "error"`, the
//! stage named, nothing scored. That report is saved like any other, so
//! the message stops being pending. Without this the task died with the
//! panic, the message stayed `pending` for ever, and every start-up
//! analysed it again (and panicked again).

use crate::checks::guard::CatchUnwind;
use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

pub use crate::stage::{Stage, StageFailure};

/// The stages of one message: its test id (what the injected faults
/// name) and whether they may fire.
#[derive(Debug, Clone, Copy)]
pub struct Stages<'a> {
    id: &'a str,
    inject: bool,
}

impl<'a> Stages<'a> {
    pub fn of(id: &'a str) -> Stages<'a> {
        Stages { id, inject: true }
    }

    /// The same message's stages with no fault injected: the report of a
    /// failed analysis is kept through the stages that failed before.
    pub fn without_faults(self) -> Stages<'a> {
        Stages {
            inject: false,
            ..self
        }
    }

    /// Runs `stage`'s future; a panic in it is the stage's failure.
    pub async fn run<T>(
        &self,
        stage: Stage,
        future: impl Future<Output = T>,
    ) -> Result<T, StageFailure> {
        let injected = self.injected(stage);
        // Pinned where it is, so the wrapper below holds a pointer, not a
        // second copy (a big future comes boxed: `Pipeline::staged`).
        let mut future = std::pin::pin!(future);
        let future = async {
            if injected {
                panic!("injected fault in the {} stage", stage.as_str());
            }
            future.as_mut().await
        };
        CatchUnwind::new(future)
            .await
            .map_err(|panic| self.failed(stage, panic))
    }

    /// Runs `stage`'s work that does not wait; a panic in it is the
    /// stage's failure.
    pub fn run_now<T>(&self, stage: Stage, work: impl FnOnce() -> T) -> Result<T, StageFailure> {
        let injected = self.injected(stage);
        catch_unwind(AssertUnwindSafe(|| {
            if injected {
                panic!("injected fault in the {} stage", stage.as_str());
            }
            work()
        }))
        .map_err(|panic| self.failed(stage, panic))
    }

    fn injected(&self, stage: Stage) -> bool {
        self.inject && faults().iter().any(|f| f.hits(stage, self.id))
    }

    fn failed(&self, stage: Stage, panic: Box<dyn Any + Send>) -> StageFailure {
        let message = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        tracing::error!(
            test_id = %self.id,
            stage = stage.as_str(),
            panic = message,
            "analysis stage failed; the message gets the report of a failed analysis"
        );
        StageFailure::of(stage)
    }
}

/// A fault the tests inject into one stage, for one test id or every one:
/// `MAILSCORE_TEST_FAULT=score:panic:some-id` (several separated by
/// commas; the checks' own faults, `dkim:panic`, are the guard's). Read
/// only by debug builds: a release binary has no such hook.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StageFault {
    stage: Stage,
    id: Option<String>,
}

impl StageFault {
    fn parse(spec: &str) -> Option<StageFault> {
        let mut parts = spec.trim().splitn(3, ':');
        let stage = parts.next()?;
        let stage = *Stage::ALL.iter().find(|s| s.as_str() == stage)?;
        if parts.next()? != "panic" {
            return None;
        }
        Some(StageFault {
            stage,
            id: parts.next().map(str::to_string),
        })
    }

    fn hits(&self, stage: Stage, id: &str) -> bool {
        self.stage == stage && self.id.as_deref().is_none_or(|only| only == id)
    }
}

/// The stage faults of this process, read once.
fn faults() -> &'static [StageFault] {
    static FAULTS: OnceLock<Vec<StageFault>> = OnceLock::new();
    FAULTS.get_or_init(|| {
        if !cfg!(debug_assertions) {
            return Vec::new();
        }
        std::env::var("MAILSCORE_TEST_FAULT")
            .map(|specs| specs.split(',').filter_map(StageFault::parse).collect())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_specs_name_a_stage_and_maybe_one_test() {
        let only = StageFault::parse("score:panic:stage-score").unwrap();
        assert!(only.hits(Stage::Score, "stage-score"));
        assert!(!only.hits(Stage::Score, "another"));
        assert!(!only.hits(Stage::Store, "stage-score"));
        let every = StageFault::parse("store:panic").unwrap();
        assert!(every.hits(Stage::Store, "any-id"));
        // The guard's faults, and kinds a stage does not have.
        assert_eq!(StageFault::parse("dkim:panic"), None);
        assert_eq!(StageFault::parse("score:hang"), None);
    }

    #[tokio::test]
    async fn a_panicking_stage_is_its_failure_and_the_next_stage_runs() {
        let stages = Stages::of("t1");
        let failed = stages
            .run(Stage::Checks, async {
                tokio::task::yield_now().await;
                panic!("boom");
            })
            .await;
        let failed: Result<(), _> = failed;
        assert_eq!(failed.unwrap_err().stage, Stage::Checks);
        let sync = stages.run_now(Stage::Score, || -> u8 { panic!("{}", 1) });
        assert_eq!(
            sync.unwrap_err(),
            StageFailure {
                stage: Stage::Score,
                error: "could not score the message (a bug in mailscore, logged)".into(),
            }
        );
        assert_eq!(stages.run_now(Stage::Report, || 7), Ok(7));
        for (i, stage) in Stage::ALL.iter().enumerate() {
            assert_eq!(stage.index(), i);
        }
    }
}
