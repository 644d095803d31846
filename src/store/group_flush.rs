//! Group commit for sled: concurrent deliveries share one fsync.
//!
//! Every message must be on disk before its 250, and an fsync costs far more
//! than the write before it. With 20 sessions delivering at once, each
//! calling `Db::flush` would queue 20 fsyncs; here a caller whose write is
//! already in sled's buffers waits for a flush that started after it asked,
//! and one caller at a time runs that flush for everyone waiting.

use std::sync::{Condvar, Mutex, PoisonError};

#[derive(Default)]
struct Tickets {
    /// Highest ticket handed out: a write that finished before asking.
    issued: u64,
    /// Every ticket up to this one is covered by a completed flush.
    flushed: u64,
    /// A caller is running `flush` right now.
    running: bool,
}

#[derive(Default)]
pub(super) struct GroupFlush {
    tickets: Mutex<Tickets>,
    done: Condvar,
}

impl GroupFlush {
    /// Returns once a flush that began after this call has succeeded, so
    /// whatever the caller wrote before calling is durable. Blocks: call it
    /// from a blocking thread, as the delivery path does.
    pub(super) fn flush<E>(&self, flush: impl Fn() -> Result<(), E>) -> Result<(), E> {
        let mut tickets = self.tickets.lock().unwrap_or_else(PoisonError::into_inner);
        tickets.issued += 1;
        let mine = tickets.issued;
        loop {
            if tickets.flushed >= mine {
                return Ok(());
            }
            if tickets.running {
                tickets = self
                    .done
                    .wait(tickets)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Everyone who asked so far had written before asking, so this
            // flush covers them all.
            let covers = tickets.issued;
            tickets.running = true;
            drop(tickets);
            let result = flush();
            tickets = self.tickets.lock().unwrap_or_else(PoisonError::into_inner);
            tickets.running = false;
            if result.is_ok() {
                tickets.flushed = covers;
            }
            self.done.notify_all();
            // On error, waiters retry with a flush of their own; this
            // caller reports the failure (its message gets no 250).
            result?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_callers_all_return_after_a_flush_that_covers_them() {
        let dir =
            std::env::temp_dir().join(format!("mailscore-group-flush-{}", std::process::id()));
        let db = sled::open(&dir).expect("open sled");
        let group = Arc::new(GroupFlush::default());
        let threads: Vec<_> = (0..8)
            .map(|n| {
                let (db, group) = (db.clone(), Arc::clone(&group));
                std::thread::spawn(move || {
                    db.insert(format!("k{n}"), "v").expect("insert");
                    group.flush(|| db.flush().map(drop)).expect("flush");
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        let tickets = group.tickets.lock().unwrap();
        assert_eq!(tickets.issued, 8);
        assert_eq!(tickets.flushed, 8, "the last flush covers every ticket");
        assert!(!tickets.running);
        drop(tickets);
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
