//! Analysis after the 250: the queue of stored message ids, each with the
//! message the session handed over ([`handed`]) or read back from the
//! store, run through the [`pipeline`] (checks → score → report) on a lane
//! of [`background`], and its report saved through the writer.

pub mod background;
pub mod handed;
pub mod pipeline;

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
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

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
    /// Stores the report for message `seq` of `id`, and before it the
    /// texts it names that the store may lack.
    async fn save(
        &self,
        id: &str,
        seq: u64,
        report: Report,
        backoff: &mut Backoff<'_>,
    ) -> Result<(), StoreError> {
        let stored = stored::encode(report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let texts = self.texts.unsaved(&stored);
        let hashes: Vec<u64> = texts.iter().map(|(hash, _)| *hash).collect();
        // Through the writer thread: sled then takes every write from one
        // thread, which measured ~6 % more messages/s than writing here.
        // (A copy per try: the writer takes the bytes.)
        while let Err(e) = self
            .writer
            .put_report(id.to_string(), seq, stored.bytes.clone(), texts.clone())
            .await
        {
            backoff.wait_after(StoreError::Writer(e)).await?;
        }
        self.texts.saved(hashes);
        Ok(())
    }
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

/// Hands each queued message to a slot in [`Lanes`]: in the background
/// while it keeps up, at normal priority when it does not.
pub async fn analyze_queued(
    saving: Saving,
    pipelines: LanePipelines,
    domain: String,
    mut queued: mpsc::UnboundedReceiver<Queued>,
    metrics: Arc<Metrics>,
    lanes: Lanes,
) {
    while let Some(Queued { id, at, handed }) = queued.recv().await {
        let slot = lanes.slot(at).await;
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
            let analysed = analyze_one(&saving, &pipeline, &domain, &id, handed, &metrics, held);
            if let Err(e) = analysed.await {
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
) -> Result<(), StoreError> {
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
    let started = std::time::Instant::now();
    let report = pipeline
        .report_then_release(
            Subject {
                id,
                address: &address,
            },
            envelope,
            raw,
            held,
        )
        .await;
    tokio::task::yield_now().await;
    metrics.analysis_finished(started.elapsed(), report.checks.dns_tallies());
    for failure in &report.checks.failed {
        metrics.check_failed(failure.reason == crate::checks::guard::FailureReason::TimedOut);
    }
    // Before the report: until the report is saved the message stays
    // pending, so a crash in between analyses it again and rewrites the row.
    let deliveries = loop {
        let written = count_in_survey(&saving.store, id, seq, &report)
            .and_then(|()| webhooks::delivery::queue_report(&saving.store, id, seq, &report));
        match written {
            Ok(deliveries) => break deliveries,
            Err(e) => backoff.wait_after(e).await?,
        }
    };
    drop(message);
    saving.save(id, seq, report, &mut backoff).await?;
    if deliveries > 0 {
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
