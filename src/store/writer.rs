//! Group commit on a thread of its own. Sessions queue their messages here
//! and await the answer; the writer stores everything queued so far and
//! makes the whole batch durable with one flush.
//!
//! Before, each delivery ran on tokio's blocking pool and met the others
//! at a condvar around sled's flush: two thread hand-offs per message and
//! a wake-up storm per flush. Here a message costs one channel send and one
//! wake-up of the session that waits for it.
//!
//! Finished reports are written here too, in the same commit as the
//! round's deliveries, with any explanation texts they are the first to
//! name, so every write to the store comes from this one thread: a write
//! from the background analysis thread could stall a flush while that
//! thread waits for CPU. With a Redis store a round's writes are in flight
//! together ([`super::batch`]).

use super::Store;
use super::arrivals::Arrivals;
use super::batch::{MessageWrite, ReportWrite};
use crate::smtp::Envelope;
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

/// Most messages one flush covers; under a flood the rest wait for the
/// next, so no session waits behind an unbounded batch.
const MAX_BATCH: usize = 256;

/// One delivery: the message, stored once per test id.
struct Job {
    ids: Vec<String>,
    envelope: Envelope,
    raw: Vec<u8>,
    done: oneshot::Sender<Result<Written, String>>,
}

/// A delivery made durable: each id's sequence number, and the message
/// given back (for the analysis, which need not read it back then).
pub struct Written {
    pub seqs: Vec<u64>,
    pub envelope: Envelope,
    pub raw: Vec<u8>,
}

/// What the writer thread is asked to do.
enum Work {
    Deliver(Job),
    /// A finished report; it needs no flush (see `Store::put_report`).
    Report {
        id: String,
        seq: u64,
        json: Vec<u8>,
        /// Stored first: the report names them (see `Store::put_texts`).
        texts: Vec<(u64, Vec<u8>)>,
        done: oneshot::Sender<Result<bool, String>>,
    },
}

/// The handle sessions write through; cheap to clone. The thread ends when
/// the last handle is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Work>,
    arrivals: Arc<Arrivals>,
}

impl Writer {
    /// Starts the writer thread for `store`.
    pub fn start(store: Store) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel();
        let arrivals = Arc::new(Arrivals::default());
        let rings = arrivals.clone();
        std::thread::Builder::new()
            .name("mailscore-writer".into())
            .spawn(move || run(&store, &queue, &rings))?;
        Ok(Writer { jobs, arrivals })
    }

    /// Where the reports this writer commits are announced, by id.
    pub fn arrivals(&self) -> Arc<Arrivals> {
        self.arrivals.clone()
    }

    /// Stores `raw` as the latest message of each of `ids` and returns, once
    /// it is durable, each one's sequence number with the message; or why
    /// it is not stored.
    pub async fn write(
        &self,
        ids: Vec<String>,
        envelope: Envelope,
        raw: Vec<u8>,
    ) -> Result<Written, String> {
        self.ask(|done| {
            Work::Deliver(Job {
                ids,
                envelope,
                raw,
                done,
            })
        })
        .await
    }

    /// Saves a report, after the `texts` (by hash) it names that the store
    /// may lack, through the writer, so that all of sled's writes come from
    /// one thread; see `Store::put_report` for what it returns.
    pub async fn put_report(
        &self,
        id: String,
        seq: u64,
        json: Vec<u8>,
        texts: Vec<(u64, Vec<u8>)>,
    ) -> Result<bool, String> {
        self.ask(|done| Work::Report {
            id,
            seq,
            json,
            texts,
            done,
        })
        .await
    }

    /// Queues the work `work` builds around its answer channel, and waits
    /// for the answer.
    async fn ask<T>(
        &self,
        work: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Work,
    ) -> Result<T, String> {
        const STOPPED: &str = "the store writer has stopped";
        let (done, outcome) = oneshot::channel();
        self.jobs
            .send(work(done))
            .map_err(|_| STOPPED.to_string())?;
        outcome.await.unwrap_or_else(|_| Err(STOPPED.to_string()))
    }
}

fn run(store: &Store, queue: &mpsc::Receiver<Work>, arrivals: &Arrivals) {
    batch_scheduling();
    while let Ok(first) = queue.recv() {
        let mut deliveries = Vec::new();
        let mut reports = Vec::new();
        for work in std::iter::once(first).chain(queue.try_iter().take(MAX_BATCH - 1)) {
            match work {
                Work::Deliver(job) => deliveries.push(job),
                Work::Report {
                    id,
                    seq,
                    json,
                    texts,
                    done,
                } => reports.push((id, seq, json, texts, done)),
            }
        }
        // One commit for the round: the reports join the deliveries'
        // transaction and ride along with its fsync (a commit of their own
        // wrote the pages both touch, such as the pending marks', twice).
        // Alone, they commit without an fsync: nobody waits on a report's
        // durability (a lost one is analysed again at start-up).
        let alone = deliveries.is_empty();
        let stored = store_deliveries(store, &deliveries);
        let batch = if alone && !reports.is_empty() {
            store.begin_reports()
        } else {
            Ok(())
        };
        if let Err(e) = &batch {
            tracing::warn!(error = %e, "reports of this round commit one by one");
        }
        let answers = save_reports(store, reports);
        // Answered after the commit: whoever hears "saved" can read it.
        let committed = if !alone {
            // One flush for the batch: nobody hears "stored" before it.
            store.flush().map_err(|e| e.to_string())
        } else if batch.is_ok() && !answers.is_empty() {
            store.commit_reports().map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        if let Err(e) = &committed {
            // The reports' pending marks went with them: analysed again at start-up.
            tracing::error!(error = %e, "the writes of this round were not committed");
        }
        answer_deliveries(deliveries, stored, &committed);
        for (id, seq, saved, done) in answers {
            let saved = committed.clone().and(saved);
            if saved.is_ok() {
                // After the commit: a reader that no longer finds the
                // announcement finds the report in the store.
                arrivals.settled(&id, seq);
                arrivals.arrived(&id);
            }
            let _ = done.send(saved);
        }
    }
}

/// Puts the calling (writer) thread under `SCHED_BATCH`: same share of the
/// CPU, but its wake-ups do not preempt the running session. Under a flood
/// the sessions then queue a fuller round before the writer runs, so one
/// fsync and one pass over the queue cover more messages, and the CPU
/// switches less (measured: +12 % msg/s at 20 sessions, bench/README.md).
/// Where the system refuses, the thread keeps its policy: speed, never
/// correctness.
fn batch_scheduling() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid sched_param that outlives the call;
        // pid 0 names the calling thread only.
        let refused = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } != 0;
        if refused {
            tracing::debug!("the store writer keeps its scheduling policy (SCHED_BATCH refused)");
        }
    }
}

/// Where a report's save is answered.
type ReportDone = oneshot::Sender<Result<bool, String>>;

/// A report queued for the writer: id, seq, JSON, texts, answer channel.
type ReportJob = (String, u64, Vec<u8>, Vec<(u64, Vec<u8>)>, ReportDone);

/// Saves the round's reports (uncommitted where the store has batches):
/// each one's id, seq and outcome, with the channel to answer it on after
/// the commit.
fn save_reports(
    store: &Store,
    reports: Vec<ReportJob>,
) -> Vec<(String, u64, Result<bool, String>, ReportDone)> {
    let writes: Vec<ReportWrite<'_>> = reports
        .iter()
        .map(|(id, seq, json, texts, _)| ReportWrite {
            id,
            seq: *seq,
            json,
            texts,
        })
        .collect();
    let saved = store.put_reports(&writes);
    drop(writes);
    saved
        .into_iter()
        .zip(reports)
        .map(|(saved, (id, seq, .., done))| (id, seq, saved.map_err(|e| e.to_string()), done))
        .collect()
}

/// Stores each delivery of the round, unflushed: each id's seq, or why not.
fn store_deliveries(store: &Store, batch: &[Job]) -> Vec<Result<Vec<u64>, String>> {
    let writes: Vec<MessageWrite<'_>> = batch
        .iter()
        .flat_map(|job| {
            job.ids.iter().map(|id| MessageWrite {
                id,
                envelope: &job.envelope,
                raw: &job.raw,
            })
        })
        .collect();
    let mut stored = store.put_messages_unflushed(&writes).into_iter();
    batch
        .iter()
        .map(|job| {
            // All of the job's answers taken before one error ends the collect.
            let answers: Vec<_> = stored.by_ref().take(job.ids.len()).collect();
            answers
                .into_iter()
                .collect::<Result<Vec<u64>, _>>()
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Tells each session whether its message is stored: only if the round's
/// flush (`committed`) succeeded.
fn answer_deliveries(
    batch: Vec<Job>,
    stored: Vec<Result<Vec<u64>, String>>,
    committed: &Result<(), String>,
) {
    for (job, written) in batch.into_iter().zip(stored) {
        let outcome = committed.clone().and(written).map(|seqs| Written {
            seqs,
            envelope: job.envelope,
            raw: job.raw,
        });
        // A session that gave up (its client left) no longer listens.
        let _ = job.done.send(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_envelope as envelope;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_stored_durably_in_order_of_their_seqs() {
        let dir =
            std::env::temp_dir().join(format!("mailscore-writer-{}", crate::test_id::generate()));
        let store = Store::open(&dir).unwrap();
        let writer = Writer::start(store.clone()).unwrap();
        let writes = (0..50).map(|n| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let ids = vec![format!("box{n}"), format!("copy{n}")];
                writer.write(ids, envelope(), format!("m{n}").into()).await
            })
        });
        let mut seqs = Vec::new();
        for write in writes.collect::<Vec<_>>() {
            let written = write.await.unwrap().unwrap();
            assert_eq!(written.seqs.len(), 2, "one seq per id");
            assert!(written.raw.starts_with(b"m"), "the message comes back");
            seqs.extend(written.seqs);
        }
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), 100, "every stored copy has its own seq");
        drop((writer, store));
        // Reopened: everything acknowledged is there, and owed a report.
        // (The writer thread lets go of the database just after its handle
        // is dropped, once it sees the channel closed.)
        let reopen = || Store::open(&dir);
        let store = (0..100)
            .find_map(|_| {
                reopen()
                    .inspect_err(|_| std::thread::sleep(std::time::Duration::from_millis(20)))
                    .ok()
            })
            .expect("the database reopens once the writer has stopped");
        assert_eq!(store.message("box7").unwrap().unwrap().raw, b"m7");
        assert_eq!(store.message("copy49").unwrap().unwrap().raw, b"m49");
        assert_eq!(store.pending_ids().unwrap().len(), 100);
        drop(store);
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn reports_go_through_the_writer_and_an_older_one_never_wins() {
        let dir = std::env::temp_dir().join(format!(
            "mailscore-writer-report-{}",
            crate::test_id::generate()
        ));
        let store = Store::open(&dir).unwrap();
        let writer = Writer::start(store.clone()).unwrap();
        let ids = || vec!["box".to_string()];
        let old = writer
            .write(ids(), envelope(), b"old".to_vec())
            .await
            .unwrap()
            .seqs[0];
        let new = writer
            .write(ids(), envelope(), b"new".to_vec())
            .await
            .unwrap()
            .seqs[0];
        let report =
            |seq: u64, json: &str| writer.put_report("box".into(), seq, json.into(), Vec::new());
        assert_eq!(report(old, "{\"old\":1}").await, Ok(false));
        assert_eq!(report(new, "{\"new\":1}").await, Ok(true));
        assert_eq!(store.report("box").unwrap().unwrap(), b"{\"new\":1}");
        assert!(!store.is_pending("box").unwrap());
        drop((writer, store));
        std::fs::remove_dir_all(dir).ok();
    }
}
