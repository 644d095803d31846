//! Analysis after the 250: the queue of stored message ids, each with the
//! message the session handed over ([`handed`]) or read back from the
//! store, run through the [`pipeline`] (checks → score → report) on a lane
//! of [`background`], and its report saved through the writer. A panic in
//! any [`stage`] of it gives the report of a failed analysis, saved the
//! same way, so no message stays pending for ever.

pub mod background;
pub mod burst;
pub mod handed;
pub mod pipeline;
pub mod stage;

use crate::metrics::Metrics;
use crate::report::Report;
use crate::report::Subject;
use crate::report::stored::{self, SavedTexts};
use crate::store::{Store, StoreError, Writer};
use crate::survey::SenderRow;
use crate::survey::online;
use crate::webhooks;
use background::Lanes;
use pipeline::Pipeline;
use stage::{Stage, StageFailure, Stages};
use std::sync::Arc;
use std::time::Instant;

/// Where finished reports go (the writer), and where their messages are
/// read from.
#[derive(Clone)]
pub struct Saving {
    pub writer: Writer,
    pub store: Store,
    pub texts: Arc<SavedTexts>,
    /// Told when a report's webhook delivery is queued.
    pub webhooks_queued: Arc<tokio::sync::Notify>,
}

impl Saving {
    /// The report's stored form, and the texts it names that the store
    /// may lack.
    fn encode(&self, report: Report) -> Result<Encoded, StoreError> {
        let stored = stored::encode(report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let texts = self.texts.unsaved(&stored);
        Ok(Encoded { stored, texts })
    }

    /// Stores the report for message `seq` of `id`, and before it the
    /// texts it names that the store may lack.
    async fn save(
        &self,
        id: &str,
        seq: u64,
        encoded: Encoded,
        backoff: &mut Backoff<'_>,
    ) -> Result<(), StoreError> {
        let Encoded { stored, texts } = encoded;
        let hashes: Vec<u64> = texts.iter().map(|(hash, _)| *hash).collect();
        // Someone waiting reads it now, not after the writer's round.
        let arrivals = self.writer.arrivals();
        arrivals.announce(id, seq, &stored.bytes, &texts);
        // Through the writer thread: sled then takes every write from one
        // thread, which measured ~6 % more messages/s than writing here.
        // (A copy per try: the writer takes the bytes.)
        while let Err(e) = self
            .writer
            .put_report(id.to_string(), seq, stored.bytes.clone(), texts.clone())
            .await
        {
            // Announced only while its first save is on its way: a report
            // the store refused is not shown as done while it is retried
            // (and pending again if it is given up).
            arrivals.settled(id, seq);
            backoff.wait_after(StoreError::Writer(e)).await?;
        }
        self.texts.saved(hashes);
        Ok(())
    }
}

/// A report ready for the writer.
struct Encoded {
    stored: stored::Stored,
    texts: Vec<(u64, Vec<u8>)>,
}

/// The pipeline of each lane: the same rules, a resolver each.
pub struct LanePipelines {
    pub background: Arc<Pipeline>,
    pub normal: Arc<Pipeline>,
}

/// A message id owed an analysis, since when, and the message if the
/// session handed it over.
pub struct Queued {
    id: String,
    at: Instant,
    handed: Option<handed::Handed>,
}

impl Queued {
    /// An id whose message is read back from the store.
    pub fn now(id: String) -> Queued {
        Queued::handed(id, None)
    }

    pub fn handed(id: String, handed: Option<handed::Handed>) -> Queued {
        Queued {
            id,
            at: Instant::now(),
            handed,
        }
    }
}

/// Hands each queued message, once [`burst::Intake`] lets it go, to a
/// slot in [`Lanes`]: in the background while it keeps up, at normal
/// priority when it is behind or when someone waits for the report.
pub async fn analyze_queued(
    saving: Saving,
    pipelines: LanePipelines,
    domain: String,
    mut intake: burst::Intake,
    metrics: Arc<Metrics>,
    lanes: Lanes,
) {
    let arrivals = saving.writer.arrivals();
    let backlog = || metrics.unanalysed();
    while let Some((Queued { id, handed, .. }, owed_since)) = intake.next(&arrivals, backlog).await
    {
        let behind = intake.is_behind(backlog());
        // A wait that begins on another id while this one waits for a
        // background slot sends this one to a normal slot, so the intake
        // can hand out the awaited message at once rather than after it.
        let seen = arrivals.waits_begun();
        let awaited = async {
            tokio::select! {
                () = arrivals.watched(&id) => {}
                () = arrivals.wait_begun_since(seen) => {}
            }
        };
        let slot = lanes.slot(owed_since, awaited, behind).await;
        metrics.analysis_started();
        let pipeline = if slot.in_background() {
            pipelines.background.clone()
        } else {
            metrics.analysis_promoted();
            pipelines.normal.clone()
        };
        let (saving, domain, metrics) = (saving.clone(), domain.clone(), metrics.clone());
        slot.spawn_releasing(|held| async move {
            // Counts the analysis as ended however the task ends, a panic
            // included, so backpressure cannot wedge on a lost count.
            let _ended = AnalysisEnded(metrics.clone());
            // On the heap: the task, ~19 KB with it inline, is moved
            // whole at each spawn and when it ends.
            let analysed = analyze_one(&saving, &pipeline, &domain, &id, handed, &metrics, held);
            if let Err(e) = Box::pin(analysed).await {
                metrics.analysis_failed();
                tracing::error!(test_id = %id, error = %e, "analysis failed");
            }
        });
    }
}

/// Tells the metrics an analysis ended when dropped.
struct AnalysisEnded(Arc<Metrics>);

impl Drop for AnalysisEnded {
    fn drop(&mut self) {
        self.0.analysis_ended();
    }
}

async fn analyze_one(
    saving: &Saving,
    pipeline: &Pipeline,
    domain: &str,
    id: &str,
    handed: Option<handed::Handed>,
    metrics: &Metrics,
    held: background::Held,
) -> Result<(), AnalysisError> {
    // Analysis is CPU work between the sessions' short steps. Spawned from
    // a session's wake-up it would run next on that worker, ahead of every
    // session waiting for its reply; yielding puts it behind them.
    tokio::task::yield_now().await;
    // A store that fails (a full disk, Redis away) may be back soon: each
    // read and write is tried again with growing waits rather than given
    // up (the message would otherwise stay pending until the next start).
    let mut backoff = Backoff::new(id);
    let message = match handed {
        Some(handed) => Message::Handed(handed),
        None => loop {
            match saving.store.message(id) {
                Ok(Some(message)) => break Message::Stored(message),
                Ok(None) => return Ok(()),
                Err(e) => backoff.wait_after(e).await?,
            }
        },
    };
    let (seq, envelope, raw) = message.parts();
    let address = format!("{id}@{domain}");
    let subject = Subject {
        id,
        address: &address,
    };
    let started = std::time::Instant::now();
    let report = pipeline
        .report_then_release(subject, envelope, raw, held)
        .await;
    tokio::task::yield_now().await;
    match &report.failed_stage {
        // Its made-up findings are no DNS verdicts.
        Some(failure) => {
            metrics.analysis_finished(started.elapsed(), []);
            metrics.analysis_stage_failed(failure.stage);
        }
        None => metrics.analysis_finished(started.elapsed(), report.checks.dns_tallies()),
    }
    for failure in &report.checks.failed {
        metrics.check_failed(failure.reason == crate::checks::guard::FailureReason::TimedOut);
    }
    let stages = Stages::of(id);
    let kept = match keep(saving, stages, id, seq, report, &mut backoff).await? {
        Ok(kept) => kept,
        Err(failure) => {
            metrics.analysis_stage_failed(failure.stage);
            let failed = Report::failed(subject, envelope, failure);
            // The stages that failed are tried once more with this report,
            // which holds nothing they could fail on again; if one still
            // does, the message stays pending (and the error is counted).
            let stages = stages.without_faults();
            keep(saving, stages, id, seq, failed, &mut backoff)
                .await?
                .map_err(|again| AnalysisError::FailedAgain(again.stage))?
        }
    };
    drop(message);
    saving.save(id, seq, kept.encoded, &mut backoff).await?;
    if kept.deliveries > 0 {
        saving.webhooks_queued.notify_one();
    }
    Ok(())
}

/// The message an analysis reads: handed over by its session, or read
/// back from the store.
enum Message {
    Handed(handed::Handed),
    Stored(crate::store::StoredMessage),
}

impl Message {
    fn parts(&self) -> (u64, &crate::smtp::Envelope, &[u8]) {
        match self {
            Message::Handed(h) => (h.seq, &h.envelope, &h.raw),
            Message::Stored(m) => (m.seq, &m.envelope, &m.raw),
        }
    }
}

/// A report counted, queued for its webhooks and encoded: ready to save.
struct Kept {
    encoded: Encoded,
    deliveries: usize,
}

/// The stages between the report and the store: its survey row, its
/// webhook deliveries, its stored form. The outer error is the store's
/// (given up after the backoff), the inner one a stage that panicked.
async fn keep(
    saving: &Saving,
    stages: Stages<'_>,
    id: &str,
    seq: u64,
    report: Report,
    backoff: &mut Backoff<'_>,
) -> Result<Result<Kept, StageFailure>, StoreError> {
    let store = &saving.store;
    // Before the report: until the report is saved the message stays
    // pending, so a crash in between analyses it again and rewrites the row
    // and the deliveries (under the same names).
    loop {
        match stages.run_now(Stage::Survey, || count_in_survey(store, id, seq, &report)) {
            Ok(Ok(())) => break,
            Ok(Err(e)) => backoff.wait_after(e).await?,
            Err(failure) => return Ok(Err(failure)),
        }
    }
    let deliveries = loop {
        let queued = stages.run_now(Stage::Webhook, || {
            webhooks::delivery::queue_report(store, id, seq, &report)
        });
        match queued {
            Ok(Ok(deliveries)) => break deliveries,
            Ok(Err(e)) => backoff.wait_after(e).await?,
            Err(failure) => return Ok(Err(failure)),
        }
    };
    Ok(
        match stages.run_now(Stage::Store, || saving.encode(report)) {
            Ok(Ok(encoded)) => Ok(Kept {
                encoded,
                deliveries,
            }),
            // A report that does not serialise is a bug like a panic: no
            // wait mends it.
            Ok(Err(e)) => {
                tracing::error!(test_id = %id, error = %e, "report not encoded");
                Err(StageFailure::of(Stage::Store))
            }
            Err(failure) => Err(failure),
        },
    )
}

/// Why an analysis ended without a saved report; the message stays
/// pending, for the next start-up.
#[derive(Debug, thiserror::Error)]
enum AnalysisError {
    /// The store failed past every try.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The report of a failed analysis failed in a stage too.
    #[error("the report of a failed analysis failed too, in the {} stage", .0.as_str())]
    FailedAgain(Stage),
}

/// Waits between tries of a failed store write: 1 s, doubling, then the
/// error is given up on (about 17 minutes in all).
struct Backoff<'a> {
    id: &'a str,
    wait: std::time::Duration,
}

impl<'a> Backoff<'a> {
    const FIRST: std::time::Duration = std::time::Duration::from_secs(1);
    const LAST: std::time::Duration = std::time::Duration::from_secs(512);

    fn new(id: &'a str) -> Backoff<'a> {
        Backoff {
            id,
            wait: Self::FIRST,
        }
    }

    /// Waits before the next try, or gives `error` back when tries are
    /// over or no wait can mend it (a record that cannot be read).
    async fn wait_after(&mut self, error: StoreError) -> Result<(), StoreError> {
        if self.wait > Self::LAST || !error.is_unavailable() {
            return Err(error);
        }
        tracing::warn!(test_id = %self.id, %error, retry_in = ?self.wait, "store failed, trying again");
        tokio::time::sleep(self.wait).await;
        self.wait *= 2;
        Ok(())
    }
}

/// Mail to a survey's address (`<survey>.<label>`) leaves its row there.
/// A survey that does not exist counts nothing: the mail is still a test.
fn count_in_survey(store: &Store, id: &str, seq: u64, report: &Report) -> Result<(), StoreError> {
    let Some((survey, label)) = crate::test_id::survey_address(id) else {
        return Ok(());
    };
    if store.survey(survey)?.is_none() || report.message.from_address.is_none() {
        return Ok(());
    }
    let mut row = SenderRow::of(report, true);
    row.label = label.to_string();
    let entry = online::entry(seq, label);
    let kept = online::KeptRow {
        entry: entry.clone(),
        row,
    };
    store.put_survey_row(survey, &entry, &kept.encode())
}
