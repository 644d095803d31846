//! A check that panics or hangs costs its own finding, not the report.
//! Each check runs under [`Guard`]: a panic is caught where it happens, and
//! a time limit cuts a check that never answers. The limit is per check,
//! from its start: a message-wide deadline would also cut the checks that
//! wait for the hung one (DMARC waits for SPF and DKIM). Either
//! way the check is reported as "could not check" (its finding says why,
//! its rules are not applied) and every other check is reported as usual.
//! Without this a panic lost the task, and the message stayed `pending`
//! for ever (and panicked again at each start-up).

use super::CheckId;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

/// Why a check has no finding of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The check panicked (a bug in mailscore, or in a library it uses).
    Panicked,
    /// The check had not answered within its time limit.
    TimedOut,
    /// The analysis around the checks failed (the report's `failed_stage`
    /// says where), so no check has a finding of its own. Not listed in
    /// `checks.failed`: each check's finding says it.
    AnalysisFailed,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Panicked => "panicked",
            FailureReason::TimedOut => "timed_out",
            FailureReason::AnalysisFailed => "analysis_failed",
        }
    }
}

/// A check that could not be done, in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CheckFailure {
    pub check: CheckId,
    pub reason: FailureReason,
}

/// A fault to inject into one check, for the tests that prove the above
/// (`MAILSCORE_TEST_FAULT=dkim:panic` or `spf:hang`). Read only by debug
/// builds: a release binary has no such hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub check: CheckId,
    pub hang: bool,
}

impl Fault {
    pub fn from_env() -> Option<Fault> {
        if !cfg!(debug_assertions) {
            return None;
        }
        let spec = std::env::var("MAILSCORE_TEST_FAULT").ok()?;
        let (check, kind) = spec.split_once(':')?;
        let check = *CheckId::ALL.iter().find(|c| c.as_str() == check)?;
        Some(Fault {
            check,
            hang: kind == "hang",
        })
    }
}

/// The guard of one message's checks: the time each may take, the
/// injected fault, and the checks that failed so far.
pub struct Guard {
    limit: Duration,
    fault: Option<Fault>,
    failed: Mutex<Vec<CheckFailure>>,
}

impl Guard {
    pub fn new(limit: Duration, fault: Option<Fault>) -> Guard {
        Guard {
            limit,
            fault,
            failed: Mutex::new(Vec::new()),
        }
    }

    /// Runs `check`'s future; `instead` gives its finding when it panics or
    /// takes longer than the limit.
    pub async fn run<T>(
        &self,
        check: CheckId,
        future: impl Future<Output = T>,
        instead: impl FnOnce(FailureReason) -> T,
    ) -> T {
        let injected = self.fault.filter(|f| f.check == check);
        let future = async {
            match injected {
                Some(Fault { hang: true, .. }) => std::future::pending().await,
                Some(_) => panic!("injected fault in the {} check", check.as_str()),
                None => future.await,
            }
        };
        let caught = CatchUnwind::new(future);
        let reason = match tokio::time::timeout(self.limit, caught).await {
            Ok(Ok(finding)) => return finding,
            Ok(Err(_)) => FailureReason::Panicked,
            Err(_) => FailureReason::TimedOut,
        };
        self.failed(&[check], reason);
        instead(reason)
    }

    /// [`Guard::run`] for a check that does not wait (no limit: it cannot
    /// be cut short); `checks` are the ids its finding answers for.
    pub fn run_now<T>(
        &self,
        checks: &[CheckId],
        check: impl FnOnce() -> T,
        instead: impl FnOnce(FailureReason) -> T,
    ) -> T {
        let injected = self.fault.is_some_and(|f| checks.contains(&f.check));
        let caught = catch_unwind(AssertUnwindSafe(|| {
            if injected {
                panic!("injected fault in the {} check", checks[0].as_str());
            }
            check()
        }));
        caught.unwrap_or_else(|_| {
            self.failed(checks, FailureReason::Panicked);
            instead(FailureReason::Panicked)
        })
    }

    fn failed(&self, checks: &[CheckId], reason: FailureReason) {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        for &check in checks {
            tracing::error!(
                check = check.as_str(),
                reason = reason.as_str(),
                "check failed"
            );
            failed.push(CheckFailure { check, reason });
        }
    }

    /// The checks that failed, in the order they did.
    pub fn into_failures(self) -> Vec<CheckFailure> {
        self.failed
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The report's words for a finding made up for a failed check.
pub fn could_not_check(reason: FailureReason) -> String {
    match reason {
        FailureReason::Panicked => "could not check: the check failed (a bug, logged)".into(),
        FailureReason::TimedOut => "could not check: no answer within the time limit".into(),
        FailureReason::AnalysisFailed => {
            "could not check: the analysis of the message failed (a bug, logged)".into()
        }
    }
}

/// Polls a future, turning a panic inside it into `Err` with the panic's
/// payload (also for the analysis stages, `analysis::stage`).
pub(crate) struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> CatchUnwind<F> {
        CatchUnwind(Box::pin(future))
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_and_a_hang_become_failures_and_the_rest_goes_on() {
        let guard = Guard::new(Duration::from_millis(100), None);
        let fine = guard.run(CheckId::Spf, async { 1 }, |_| 0).await;
        let panicked = guard
            .run(
                CheckId::Dkim,
                async {
                    tokio::task::yield_now().await;
                    if fine == 1 {
                        panic!("boom");
                    }
                    2
                },
                |_| -1,
            )
            .await;
        let hung = guard
            .run(CheckId::Dmarc, std::future::pending::<i32>(), |_| -2)
            .await;
        let sync = guard.run_now(&[CheckId::Smime], || -> i32 { panic!("sync") }, |_| -3);
        assert_eq!((fine, panicked, hung, sync), (1, -1, -2, -3));
        let failures = guard.into_failures();
        let seen: Vec<(CheckId, FailureReason)> =
            failures.iter().map(|f| (f.check, f.reason)).collect();
        assert_eq!(
            seen,
            [
                (CheckId::Dkim, FailureReason::Panicked),
                (CheckId::Dmarc, FailureReason::TimedOut),
                (CheckId::Smime, FailureReason::Panicked),
            ]
        );
    }
}
