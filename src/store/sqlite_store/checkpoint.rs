//! WAL checkpoints on a thread of their own. SQLite's automatic
//! checkpoint runs inside the commit that crosses 1,000 WAL pages: it
//! copies ~4 MB into the database file and fsyncs it while the writer
//! holds the batch, so every few hundred messages a batch of senders
//! waited for it (measured: 250 p99 22.9 ms unloaded, against 0.4 ms with
//! sled). Here the write connection never checkpoints; this thread does,
//! PASSIVE (it neither waits for nor blocks the writer or the readers),
//! a few times a second.
//!
//! PASSIVE alone lets the WAL grow without bound under a steady flood
//! (measured: 140 MB after 10,000 messages): SQLite starts the WAL over
//! only when a write begins with every frame copied, and under load a
//! commit always lands between. So once the WAL holds [`RESTART_FRAMES`],
//! a RESTART checkpoint: it holds new writes back while it copies the few
//! frames written since the last PASSIVE one and syncs, and the next write
//! starts the WAL over (cut back to `journal_size_limit`). And when no
//! write came since the last round, a TRUNCATE one empties the file: an
//! idle server keeps no WAL on disk.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the WAL is copied into the database.
const EVERY: Duration = Duration::from_millis(200);

/// WAL frames (pages of 8 KB) past which the WAL is started over: 16 MB.
const RESTART_FRAMES: i64 = 2048;

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
    let mut conn = match rusqlite::Connection::open(path) {
        Ok(conn) => conn,
        Err(e) => {
            tracing::error!(error = %e, "the SQLite checkpoint thread could not open the database; SQLite checkpoints at commits instead");
            return;
        }
    };
    // A RESTART that waits for a reader holds the writer back meanwhile:
    // it must look again as soon as the reader is done.
    let _ = super::wait_for_locks(&mut conn, Duration::from_millis(100));
    let mut failing = false;
    let mut last = 0;
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(EVERY);
        let done = checkpoint(&conn, "PASSIVE").and_then(|frames| {
            if frames >= RESTART_FRAMES {
                checkpoint(&conn, "RESTART")?;
            } else if frames > 0 && frames == last {
                checkpoint(&conn, "TRUNCATE")?;
            }
            last = frames;
            Ok(())
        });
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

/// Runs a checkpoint of `mode`; returns the frames in the WAL.
fn checkpoint(conn: &rusqlite::Connection, mode: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        r.get::<_, i64>(1)
    })
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
