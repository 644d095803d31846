//! Group commit on a thread of its own. Sessions queue their messages here
//! and await the answer; the writer stores everything queued so far and
//! makes the whole batch durable with one flush.
//!
//! Before, each delivery ran on tokio's blocking pool and met the others
//! at a condvar around sled's flush: two thread hand-offs per message and
//! a wake-up storm per flush. Here a message costs one channel send and one
//! wake-up of the session that waits for it.

use super::Store;
use crate::smtp::Envelope;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Most messages one flush covers; under a flood the rest wait for the
/// next, so no session waits behind an unbounded batch.
const MAX_BATCH: usize = 256;

/// One delivery: the message, stored once per test id.
struct Job {
    ids: Vec<String>,
    envelope: Envelope,
    raw: Vec<u8>,
    done: oneshot::Sender<Result<Vec<u64>, String>>,
}

/// The handle sessions write through; cheap to clone. The thread ends when
/// the last handle is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread for `store`.
    pub fn start(store: Store) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("mailscore-writer".into())
            .spawn(move || run(&store, &queue))?;
        Ok(Writer { jobs })
    }

    /// Stores `raw` as the latest message of each of `ids` and returns, once
    /// it is durable, each one's sequence number; or why it is not stored.
    pub async fn write(
        &self,
        ids: Vec<String>,
        envelope: Envelope,
        raw: Vec<u8>,
    ) -> Result<Vec<u64>, String> {
        const STOPPED: &str = "the store writer has stopped";
        let (done, outcome) = oneshot::channel();
        let job = Job {
            ids,
            envelope,
            raw,
            done,
        };
        self.jobs.send(job).map_err(|_| STOPPED.to_string())?;
        outcome.await.unwrap_or_else(|_| Err(STOPPED.to_string()))
    }
}

fn run(store: &Store, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        let written: Vec<Result<Vec<u64>, String>> = batch
            .iter()
            .map(|job| {
                job.ids
                    .iter()
                    .map(|id| store.put_message_unflushed(id, &job.envelope, &job.raw))
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())
            })
            .collect();
        // One flush for the batch: nobody hears "stored" before it.
        let flushed = store.flush().map_err(|e| e.to_string());
        for (job, written) in batch.into_iter().zip(written) {
            let outcome = flushed.clone().and(written);
            // A session that gave up (its client left) no longer listens.
            let _ = job.done.send(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            client_ip: "127.0.0.1".parse().unwrap(),
            client_port: 4000,
            helo: "mail.example.com".into(),
            mail_from: "a@example.com".into(),
            rcpt_to: vec!["box@localhost".into()],
            received_at: 1,
            tls: None,
        }
    }

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
            assert_eq!(written.len(), 2, "one seq per id");
            seqs.extend(written);
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
}
