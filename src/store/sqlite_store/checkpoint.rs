//! WAL checkpoints on a thread of their own. SQLite's automatic
//! checkpoint runs inside the commit that crosses 1,000 WAL pages: it
//! copies ~4 MB into the database file and fsyncs it while the writer
//! holds the batch, so every few hundred messages a batch of senders
//! waited for it (measured: 250 p99 22.9 ms unloaded, against 0.4 ms with
//! sled). Here the write connection never checkpoints; this thread does,
//! PASSIVE (it neither waits for nor blocks the writer or the readers),
//! a few times a second.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the WAL is copied into the database.
const EVERY: Duration = Duration::from_millis(200);

/// The checkpointing thread; stopped (and joined) when dropped.
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` (in WAL mode).
    pub(super) fn start(path: &Path) -> std::io::Result<Checkpointer> {
        let stop = Arc::new(AtomicBool::new(false));
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("mailscore-checkpoint".into())
            .spawn({
                let stop = stop.clone();
                move || run(&path, &stop)
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

fn run(path: &Path, stop: &AtomicBool) {
    let conn = match rusqlite::Connection::open(path) {
        Ok(conn) => conn,
        Err(e) => {
            tracing::error!(error = %e, "the SQLite checkpoint thread could not open the database; SQLite checkpoints at commits instead");
            return;
        }
    };
    let _ = conn.busy_timeout(Duration::from_millis(100));
    let mut failing = false;
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(EVERY);
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
        match done {
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "SQLite checkpoint failed; trying again");
            }
            Err(_) => {}
            Ok(_) => failing = false,
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
