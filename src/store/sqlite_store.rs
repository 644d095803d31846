//! The SQLite store (`--store sqlite`): one file, `mailscore.sqlite3` in
//! the data directory, in WAL mode with `synchronous=FULL` (a commit is
//! on stable storage when it returns: the WAL is fsynced) and
//! `auto_vacuum=INCREMENTAL` (the retention sweep gives its pages back to
//! the filesystem). One table per sled tree ([`super::sled_store`]), with
//! the same values byte for byte: the message value (envelope record and
//! raw message), the history entries, webhooks (8-byte time, then the
//! URL); but no table of latest reports: the latest send in the history
//! is the report, so it is kept once (sled keeps it twice). A sled data
//! directory is copied in on first start ([`super::migrate`]).
//!
//! Transactions: one write connection, behind a mutex. The writer's
//! unflushed puts ([`put_message_unflushed`](SqliteStore::put_message_unflushed))
//! open a transaction if none is open and leave it open;
//! [`flush`](SqliteStore::flush) commits it: one fsync for the batch.
//! Writes sled leaves unflushed (reports, texts, survey rows, deliveries)
//! join an open transaction, or else commit at once without an fsync
//! (`synchronous=NORMAL` for that commit: safe against `kill -9`, and made
//! durable by the next fsynced commit, the WAL being written in order);
//! the writer's reports of one round share one such commit
//! ([`begin_reports`](SqliteStore::begin_reports)). A durable commit of a
//! transaction begun without an fsync fsyncs the WAL itself.
//! Writes sled flushes itself (surveys, webhooks, a delivery's removal, the
//! sweep) commit with an fsync before returning, any open batch with them.
//! Each write inside a shared transaction is a savepoint, so a failed one
//! leaves the others; if SQLite rolls the whole transaction back (a full
//! disk, an I/O error), the next flush says so and nobody hears 250.
//!
//! Reads come from a bounded pool of read-only connections, which WAL lets
//! read while the writer writes; they see what is committed, and never
//! wait for the writer: a report page asked for during a batch's fsync is
//! read at once (reading through the write connection while a batch was
//! open made a probe beside a flood wait for whole batches: p99 56 ms).
//! So that a caller still reads its own writes, a write that returns
//! before its commit is only the writer thread's own (the thread that
//! opened the batch, which commits it before it answers anyone); another
//! thread's write that joins an open batch returns once the batch is
//! committed, and fails if the batch was rolled back.
//!
//! Memory: half of the cache setting is the write connection's page cache,
//! the other half is shared by the [`READERS`] read connections; nothing
//! else grows with the number of stored tests.
//!
//! Measured (tests/sqlite_store.rs, debug build, 2 shared cores, 20,000
//! 2 KB messages from smtp-source over 20 sessions, each its own test,
//! analysed during the ingest; default 64 MB cache): RSS 77 MB flat from
//! 10,000 to 20,000 messages (sled: 141 MB); 14.2 KB on disk per test
//! (sled: 19.2 KB), of which 2.4 KB is the message and 9.7 KB its report
//! kept twice (latest and history), 1.17x the values' bytes; 69.5 KB
//! written per message (sled: 73 KB); ingest 1,369 msg/s (sled: 1,242 in
//! the same run). The retention sweep returns the file to its baseline
//! (tests/sqlite_store.rs: 21.6 MB for 3,000 tests, 127 KB after).

use super::history::{self, MAX_SENDS, Send};
use super::sled_store::stored_message;
use super::{StoreError, StoredMessage};
use crate::smtp::Envelope;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;

/// The database file in the data directory.
pub const FILE_NAME: &str = "mailscore.sqlite3";

/// The schema this build creates and reads (`PRAGMA user_version`).
/// 2: a report is kept once, as the address's latest send in `history`
/// (1 kept it in a `reports` table as well: twice the bytes).
pub const SCHEMA_VERSION: u32 = 2;

/// Read connections at most; a reader beyond them waits for one.
pub const READERS: usize = 4;

/// Pages of 8 KB, not SQLite's 4 KB: a 2 KB message's row (~2.4 KB with
/// its envelope) fits once in a 4 KB page and leaves the rest empty, three
/// times in an 8 KB one. Measured, 10,000 messages of 2 KB from
/// smtp-source with their reports: the database file 48.7 MB with 4 KB
/// pages, 34.6 MB with 8 KB, 34.5 MB with 16 KB (whose WAL frames are
/// twice as large). Set when the file is created.
const PAGE_SIZE: u32 = 8192;

/// Deletes the sends of `?1` beyond the latest [`MAX_SENDS`]. The count is
/// in the text, not bound: SQLite re-prepares a statement whose LIMIT or
/// OFFSET is a parameter each time it is bound again (sqlite3ExprIsInteger
/// marks it so), a tenth of the writer thread's CPU under a flood.
static TRIM_HISTORY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "DELETE FROM history WHERE id = ?1 AND seq <= \
         (SELECT seq FROM history WHERE id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET {MAX_SENDS})"
    )
});

/// A statement journal (the copies of the pages a savepoint changes, so
/// that one write of a batch can be undone alone) stays in memory up to
/// this size, then goes on in a temporary file. SQLite's 64 KB sent most
/// writes of a writer round to a file of their own (open, writes, close:
/// a tenth of the writer thread's CPU under a flood, and 103 KB written a
/// 2 KB message where the WAL took 40). Not all in memory
/// (`temp_store = MEMORY`): a retention sweep that joins an open batch
/// changes pages by the thousand.
const STATEMENT_JOURNAL_IN_MEMORY: std::ffi::c_int = 1 << 20;

/// Sets [`STATEMENT_JOURNAL_IN_MEMORY`], once, before the first connection:
/// SQLite takes configuration only before it initialises (after, the call
/// fails and its default stays: slower, not wrong).
fn keep_statement_journals_in_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: no SQLite call runs meanwhile: every connection of this
        // process is opened through `open_file` (this first) or after it
        // returned, and `call_once` holds back other callers until done.
        let code = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_STMTJRNL_SPILL,
                STATEMENT_JOURNAL_IN_MEMORY,
            )
        };
        if code != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(
                code,
                "SQLite was initialised before: statement journals spill at 64 KB"
            );
        }
    });
}

/// How long a statement waits for a lock another process holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a statement that met a held lock looks again.
const LOCK_LOOK_EVERY: Duration = Duration::from_micros(100);

/// Makes `conn` wait up to `limit` for a lock another connection holds
/// (the checkpoint thread's RESTART, which holds writes back while it
/// copies and syncs; another process), looking again every
/// [`LOCK_LOOK_EVERY`]. SQLite's own `busy_timeout` sleeps 1, 2, 5, 10 ms
/// and so on between looks: a round of deliveries that met a 3 ms
/// checkpoint waited 8, and one that met a longer one 18 (measured beside
/// a flood; they were most of the 250's p99, bench/README.md).
pub(super) fn wait_for_locks(conn: &mut Connection, limit: Duration) -> rusqlite::Result<()> {
    let mut since = std::time::Instant::now();
    conn.busy_handler(Some(move |tries: i32| {
        if tries == 0 {
            since = std::time::Instant::now();
        }
        if since.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(LOCK_LOOK_EVERY);
        true
    }))
}

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (key, value) VALUES ('seq', 0);
CREATE TABLE messages (id TEXT PRIMARY KEY, received_at INTEGER NOT NULL, value BLOB NOT NULL);
CREATE INDEX messages_received_at ON messages (received_at);
CREATE TABLE pending (id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE history (
    id TEXT NOT NULL, seq INTEGER NOT NULL, saved_at INTEGER NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (id, seq)
);
CREATE INDEX history_saved_at ON history (saved_at);
CREATE TABLE texts (hash INTEGER PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE surveys (id TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE survey_rows (
    survey TEXT NOT NULL, entry TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (survey, entry)
);
CREATE TABLE webhooks (key TEXT PRIMARY KEY, set_at INTEGER NOT NULL, value BLOB NOT NULL);
CREATE TABLE deliveries (id TEXT PRIMARY KEY, value BLOB NOT NULL);
PRAGMA user_version = 2;
";

/// Cheap to clone: one database, shared.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Writer>,
    /// Signalled when a transaction ends, for writes that joined it from
    /// another thread.
    ended: Condvar,
    readers: Mutex<Readers>,
    reader_free: Condvar,
    reader_cache_kib: i64,
    /// Copies the WAL into the database off the writer's path; dropped
    /// (stopped) with the store.
    _checkpointer: checkpoint::Checkpointer,
    /// The webhooks table may hold a row: false only while it has held
    /// none since this process opened it (one SQLite store has one node),
    /// so the analysis of a message nobody set a webhook for skips a read
    /// transaction (4 % of the analysis thread's CPU under a flood).
    webhooks_kept: AtomicBool,
}

struct Writer {
    conn: Connection,
    /// A transaction is open (BEGIN IMMEDIATE, not yet committed).
    in_txn: bool,
    /// The thread that opened it: its writes return before the commit.
    owner: Option<ThreadId>,
    /// Transactions begun so far, and the number of the last one
    /// committed: a write that joined transaction `n` is stored once
    /// `committed >= n`, lost if `n` ended otherwise.
    begun: u64,
    committed: u64,
    /// The open transaction began with `synchronous=NORMAL`: a commit
    /// that must be durable fsyncs the WAL itself.
    normal_txn: bool,
    /// SQLite rolled back an open transaction after an error: what the
    /// writer put in it is gone, and its flush must say so.
    lost: bool,
}

#[derive(Default)]
struct Readers {
    idle: Vec<Connection>,
    /// Read connections open, idle or lent.
    open: usize,
}

/// How a write ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// Left in the open transaction for [`SqliteStore::flush`].
    Leave,
    /// Joins an open transaction, or commits at once without an fsync.
    Lazy,
    /// Committed with an fsync before returning, with any open transaction.
    Durable,
}

impl SqliteStore {
    /// Opens (or creates) `dir/mailscore.sqlite3` with `cache_bytes` of
    /// page cache in all.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Location {
            location: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        SqliteStore::open_file(&dir.join(FILE_NAME), cache_bytes)
    }

    /// Opens (or creates) the database file `path`.
    pub(super) fn open_file(path: &Path, cache_bytes: u64) -> Result<SqliteStore, StoreError> {
        keep_statement_journals_in_memory();
        let path = path.to_path_buf();
        let mut conn = Connection::open(&path)?;
        let cache_kib = i64::try_from(cache_bytes / 1024)
            .unwrap_or(i64::MAX)
            .max(64);
        wait_for_locks(&mut conn, BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(64);
        // Before the first table, or it has no effect.
        conn.execute_batch(&format!(
            "PRAGMA page_size = {PAGE_SIZE}; PRAGMA auto_vacuum = INCREMENTAL"
        ))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Location {
                location: path.display().to_string(),
                reason: format!("SQLite refused WAL mode (journal_mode is {mode})"),
            });
        }
        // wal_autocheckpoint = 0: the checkpoint thread does it, not a
        // commit (see checkpoint.rs).
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL; PRAGMA cache_size = -{}; \
             PRAGMA journal_size_limit = {}; PRAGMA wal_autocheckpoint = 0;",
            cache_kib / 2,
            16 * 1024 * 1024
        ))?;
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerFormat {
                record: "SQLite database",
                format: version,
                readable: SCHEMA_VERSION,
            });
        }
        match version {
            0 => conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))?,
            1 => upgrade::from_1(&conn)?,
            _ => {}
        }
        let webhooks_kept: bool =
            conn.query_row("SELECT EXISTS (SELECT 1 FROM webhooks)", [], |r| r.get(0))?;
        let checkpointer = checkpoint::Checkpointer::start(&path).map_err(|e| {
            StoreError::Writer(format!("starting the SQLite checkpoint thread: {e}"))
        })?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(Writer {
                    conn,
                    in_txn: false,
                    owner: None,
                    begun: 0,
                    committed: 0,
                    normal_txn: false,
                    lost: false,
                }),
                ended: Condvar::new(),
                readers: Mutex::default(),
                reader_free: Condvar::new(),
                reader_cache_kib: (cache_kib / 2 / READERS as i64).max(64),
                _checkpointer: checkpointer,
                webhooks_kept: AtomicBool::new(webhooks_kept),
            }),
        })
    }

    /// The WAL beside the database file.
    pub fn wal_file(&self) -> PathBuf {
        self.inner.wal_path()
    }

    /// Stores `raw` as the latest message for `id`, marks it owed a report,
    /// and commits with an fsync. Returns the message's sequence number.
    /// Concurrent callers share commits: one that finds its write already
    /// committed by another's returns at once.
    pub fn put_message(
        &self,
        id: &str,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<u64, StoreError> {
        let seq = self.put_message_unflushed(id, envelope, raw)?;
        self.flush()?;
        Ok(seq)
    }

    /// [`put_message`](Self::put_message) left in the open transaction,
    /// for a caller that flushes once for many (the [`Writer`](super::Writer)).
    /// The pending mark and the message are one savepoint: both or neither.
    pub fn put_message_unflushed(
        &self,
        id: &str,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<u64, StoreError> {
        self.inner.write(Commit::Leave, |c| {
            let seq: i64 = c
                .prepare_cached(
                    "UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value",
                )?
                .query_row([], |r| r.get(0))?;
            let record = StoredMessage::new(seq as u64, envelope.clone());
            let meta =
                serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            c.prepare_cached("INSERT OR REPLACE INTO pending (id, seq) VALUES (?1, ?2)")?
                .execute(params![id, seq])?;
            c.prepare_cached(
                "INSERT OR REPLACE INTO messages (id, received_at, value) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                id,
                envelope.received_at as i64,
                stored_message::encode(&meta, raw)
            ])?;
            Ok(seq as u64)
        })
    }

    pub fn message(&self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let Some(value) = self.inner.read(|c| {
            Ok(
                c.prepare_cached("SELECT value FROM messages WHERE id = ?1")?
                    .query_row([id], |r| r.get::<_, Vec<u8>>(0))
                    .optional()?,
            )
        })?
        else {
            return Ok(None);
        };
        let (mut record, raw) = parse_message(&value)?;
        record.raw = raw.to_vec();
        Ok(Some(record))
    }

    /// Saves the report for message `seq` of `id`, unless a newer message
    /// arrived meanwhile or the message expired; as sled's, but the check
    /// and the write are one transaction, so no compare-and-swap loop.
    /// Kept once: the latest entry of the address's history is its report.
    /// Returns whether it was saved. Committed without an fsync (or with
    /// the open batch): a crash can lose it, never the pending mark before
    /// it, so the message is analysed again at start-up.
    pub fn put_report(&self, id: &str, seq: u64, report: &[u8]) -> Result<bool, StoreError> {
        self.inner.write(Commit::Lazy, |c| {
            let pending: Option<i64> = c
                .prepare_cached("SELECT seq FROM pending WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            if pending != Some(seq as i64) {
                return Ok(false);
            }
            let (latest, sends): (Option<i64>, i64) = c
                .prepare_cached("SELECT max(seq), count(*) FROM history WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if latest.is_some_and(|latest| latest as u64 > seq) {
                return Ok(false);
            }
            let now = history::now();
            c.prepare_cached(
                "INSERT OR REPLACE INTO history (id, seq, saved_at, value) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                id,
                seq as i64,
                now as i64,
                history::encode(seq, now, report)
            ])?;
            // Beyond MAX_SENDS, the oldest go.
            if sends >= MAX_SENDS as i64 {
                c.prepare_cached(&TRIM_HISTORY)?.execute([id])?;
            }
            c.prepare_cached("DELETE FROM pending WHERE id = ?1 AND seq = ?2")?
                .execute(params![id, seq as i64])?;
            Ok(true)
        })
    }

    pub fn history(&self, id: &str) -> Result<Vec<Send>, StoreError> {
        self.inner.read(|c| {
            let mut statement =
                c.prepare_cached("SELECT value FROM history WHERE id = ?1 ORDER BY seq")?;
            let mut rows = statement.query([id])?;
            let mut sends = Vec::new();
            while let Some(row) = rows.next()? {
                let value: Vec<u8> = row.get(0)?;
                sends.push(history::decode(&value).ok_or_else(|| {
                    StoreError::Corrupt(format!("a history entry of {id} is too short"))
                })?);
            }
            Ok(sends)
        })
    }

    /// The report of the latest send: the last entry of the history.
    pub fn report(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value: Option<Vec<u8>> = self.inner.read(|c| {
            Ok(c.prepare_cached(
                "SELECT value FROM history WHERE id = ?1 ORDER BY seq DESC LIMIT 1",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?)
        })?;
        value
            .map(|v| {
                history::decode(&v).map(|send| send.report).ok_or_else(|| {
                    StoreError::Corrupt(format!("the latest history entry of {id} is too short"))
                })
            })
            .transpose()
    }

    /// Keeps the explanation `texts` under `hash`; written before the
    /// report naming it, and committed with it or before it.
    pub fn put_texts(&self, hash: u64, texts: &[u8]) -> Result<(), StoreError> {
        self.inner.write(Commit::Lazy, |c| {
            c.prepare_cached("INSERT OR REPLACE INTO texts (hash, value) VALUES (?1, ?2)")?
                .execute(params![hash as i64, texts])?;
            Ok(())
        })
    }

    pub fn texts(&self, hash: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.read(|c| {
            Ok(c.prepare_cached("SELECT value FROM texts WHERE hash = ?1")?
                .query_row([hash as i64], |r| r.get(0))
                .optional()?)
        })
    }

    /// Calls `each` with every stored report, latest and earlier sends
    /// (all in the history).
    pub fn for_each_report(&self, each: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        self.inner.read(|c| {
            let mut statement = c.prepare("SELECT value FROM history")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                if let Some(send) = history::decode(blob(row)?) {
                    each(&send.report);
                }
            }
            Ok(())
        })
    }

    /// The hashes of every text kept.
    pub fn text_hashes(&self) -> Result<Vec<u64>, StoreError> {
        let hashes: Vec<i64> = self.inner.column("SELECT hash FROM texts")?;
        Ok(hashes.into_iter().map(|h| h as u64).collect())
    }

    pub fn remove_texts(&self, hashes: &[u64]) -> Result<(), StoreError> {
        self.inner.write(Commit::Lazy, |c| {
            let mut statement = c.prepare_cached("DELETE FROM texts WHERE hash = ?1")?;
            for hash in hashes {
                statement.execute([*hash as i64])?;
            }
            Ok(())
        })
    }

    pub fn put_survey(&self, id: &str, survey: &[u8]) -> Result<(), StoreError> {
        self.inner.write(Commit::Durable, |c| {
            c.prepare_cached("INSERT OR REPLACE INTO surveys (id, value) VALUES (?1, ?2)")?
                .execute(params![id, survey])?;
            Ok(())
        })
    }

    pub fn survey(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.read(|c| {
            Ok(c.prepare_cached("SELECT value FROM surveys WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?)
        })
    }

    /// Not fsynced: the row is remade from the message (still kept and
    /// pending until its report is saved) if a crash loses it.
    pub fn put_survey_row(&self, id: &str, entry: &str, row: &[u8]) -> Result<(), StoreError> {
        self.inner.write(Commit::Lazy, |c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO survey_rows (survey, entry, value) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, entry, row])?;
            Ok(())
        })
    }

    pub fn survey_rows(&self, id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner.read(|c| {
            let mut statement =
                c.prepare_cached("SELECT value FROM survey_rows WHERE survey = ?1 ORDER BY entry")?;
            let rows = statement
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    pub fn survey_ids(&self) -> Result<Vec<String>, StoreError> {
        self.inner.column("SELECT id FROM surveys")
    }

    /// Deletes survey `id`, its rows and the webhook kept under
    /// `webhook_key`, in one fsynced transaction. (The pages go back to
    /// the filesystem at the next retention sweep.)
    pub fn remove_survey(&self, id: &str, webhook_key: &str) -> Result<(), StoreError> {
        self.inner.write(Commit::Durable, |c| {
            c.prepare_cached("DELETE FROM survey_rows WHERE survey = ?1")?
                .execute([id])?;
            c.prepare_cached("DELETE FROM surveys WHERE id = ?1")?
                .execute([id])?;
            c.prepare_cached("DELETE FROM webhooks WHERE key = ?1")?
                .execute([webhook_key])?;
            Ok(())
        })
    }

    /// A webhook that does not expire is kept with time 0, which the
    /// retention sweep never reaches.
    pub fn put_webhook(&self, key: &str, url: &str, expires: bool) -> Result<(), StoreError> {
        let set_at = if expires { history::now() } else { 0 };
        let value = [&set_at.to_be_bytes()[..], url.as_bytes()].concat();
        // Before the row: a lookup in between reads the table, finds none.
        self.inner.webhooks_kept.store(true, Ordering::Release);
        self.inner.write(Commit::Durable, |c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO webhooks (key, set_at, value) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![key, set_at as i64, value])?;
            Ok(())
        })
    }

    pub fn webhook(&self, key: &str) -> Result<Option<String>, StoreError> {
        if !self.inner.webhooks_kept.load(Ordering::Acquire) {
            return Ok(None);
        }
        let value: Option<Vec<u8>> = self.inner.read(|c| {
            Ok(
                c.prepare_cached("SELECT value FROM webhooks WHERE key = ?1")?
                    .query_row([key], |r| r.get(0))
                    .optional()?,
            )
        })?;
        Ok(value.and_then(|v| {
            v.get(8..)
                .map(|url| String::from_utf8_lossy(url).into_owned())
        }))
    }

    /// Not fsynced: queued before the report, it is on disk once the
    /// report is.
    pub fn put_delivery(&self, id: &str, delivery: &[u8]) -> Result<(), StoreError> {
        self.inner.write(Commit::Lazy, |c| {
            c.prepare_cached("INSERT OR REPLACE INTO deliveries (id, value) VALUES (?1, ?2)")?
                .execute(params![id, delivery])?;
            Ok(())
        })
    }

    pub fn deliveries(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner
            .column("SELECT value FROM deliveries ORDER BY id")
    }

    pub fn remove_delivery(&self, id: &str) -> Result<(), StoreError> {
        self.inner.write(Commit::Durable, |c| {
            c.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?
                .execute([id])?;
            Ok(())
        })
    }

    /// True while a received message still waits for its report.
    pub fn is_pending(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.read(|c| {
            Ok(c.prepare_cached("SELECT 1 FROM pending WHERE id = ?1")?
                .exists([id])?)
        })
    }

    /// Deletes every message (and its report and history) received before
    /// `cutoff` (Unix seconds), sends saved before it, and expiring
    /// webhooks set before it, in one fsynced transaction; then gives the
    /// freed pages back to the filesystem (`incremental_vacuum`, and a
    /// checkpoint that truncates the WAL). Returns how many ids went.
    pub fn remove_received_before(&self, cutoff: u64) -> Result<usize, StoreError> {
        let cutoff = i64::try_from(cutoff).unwrap_or(i64::MAX);
        let removed = self.inner.write(Commit::Durable, |c| {
            let expired: Vec<String> = c
                .prepare_cached("DELETE FROM messages WHERE received_at < ?1 RETURNING id")?
                .query_map([cutoff], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            // The pending mark goes with the message, in the same
            // transaction: an analysis still running for it saves nothing.
            let mut pending = c.prepare_cached("DELETE FROM pending WHERE id = ?1")?;
            let mut sends = c.prepare_cached("DELETE FROM history WHERE id = ?1")?;
            for id in &expired {
                pending.execute([id])?;
                sends.execute([id])?;
            }
            // Not the latest send of a kept message: it is its report.
            c.prepare_cached(
                "DELETE FROM history WHERE saved_at < ?1 AND seq < \
                 (SELECT max(seq) FROM history AS latest WHERE latest.id = history.id)",
            )?
            .execute([cutoff])?;
            c.prepare_cached("DELETE FROM webhooks WHERE set_at != 0 AND set_at < ?1")?
                .execute([cutoff])?;
            Ok(expired.len())
        })?;
        self.inner.give_back_space()?;
        Ok(removed)
    }

    /// Commits the open transaction: everything written so far is on
    /// stable storage (the WAL fsynced). Fails if a write since the last
    /// flush was rolled back, so that nobody is told it is stored.
    pub fn flush(&self) -> Result<(), StoreError> {
        let mut w = self.inner.lock_writer();
        self.inner.notice_rollback(&mut w);
        let committed = if w.in_txn {
            self.inner.end(&mut w, true)
        } else {
            Ok(())
        };
        let lost = std::mem::take(&mut w.lost);
        committed?;
        if lost {
            return Err(StoreError::Writer(
                "a write failed and SQLite rolled back the batch".into(),
            ));
        }
        Ok(())
    }

    /// Opens a transaction the writer's reports of one round share,
    /// committed by [`commit_reports`](Self::commit_reports) without an
    /// fsync: one commit for the round instead of one per report.
    pub fn begin_reports(&self) -> Result<(), StoreError> {
        let mut w = self.inner.lock_writer();
        self.inner.notice_rollback(&mut w);
        if !w.in_txn {
            self.inner.begin(&mut w, true)?;
        }
        Ok(())
    }

    /// Commits the reports' transaction (if nothing committed it since).
    pub fn commit_reports(&self) -> Result<(), StoreError> {
        let mut w = self.inner.lock_writer();
        self.inner.notice_rollback(&mut w);
        if w.in_txn && w.normal_txn {
            self.inner.end(&mut w, false)?;
        }
        Ok(())
    }

    /// Checkpoints the WAL into the database file and closes it: what a
    /// caller about to rename the file needs (its WAL is named after it).
    pub(super) fn close(self) -> Result<(), StoreError> {
        let w = self.inner.lock_writer();
        let (busy, _, _): (i64, i64, i64) =
            w.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        if busy != 0 {
            return Err(StoreError::Writer(
                "the WAL could not be checkpointed: a reader holds it".into(),
            ));
        }
        Ok(())
    }

    /// Bytes of the database file and its WAL.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        Ok(size(&self.inner.path) + size(&self.inner.wal_path()))
    }

    /// Ids whose latest message has no report yet (after a crash, say). A
    /// mark whose message is not the one it names is dropped here (it
    /// cannot happen in one transaction, but sled's data could, and the
    /// rule is the same).
    pub fn pending_ids(&self) -> Result<Vec<String>, StoreError> {
        let marks: Vec<(String, i64, Option<Vec<u8>>)> = self.inner.read(|c| {
            let mut statement = c.prepare(
                "SELECT p.id, p.seq, m.value FROM pending p LEFT JOIN messages m ON m.id = p.id",
            )?;
            let marks = statement
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            Ok(marks)
        })?;
        let mut ids = Vec::new();
        let mut stale = Vec::new();
        for (id, seq, value) in marks {
            let landed = match value {
                Some(value) => Some(parse_message(&value)?.0.seq),
                None => None,
            };
            if landed == Some(seq as u64) {
                ids.push(id);
            } else {
                stale.push((id, seq));
            }
        }
        if !stale.is_empty() {
            self.inner.write(Commit::Lazy, |c| {
                let mut statement =
                    c.prepare_cached("DELETE FROM pending WHERE id = ?1 AND seq = ?2")?;
                for (id, seq) in &stale {
                    statement.execute(params![id, seq])?;
                }
                Ok(())
            })?;
        }
        Ok(ids)
    }

    /// Runs `sql` on the write connection as a durable write (tests: to
    /// write what this build never writes).
    #[cfg(test)]
    fn execute(&self, sql: &str, values: impl rusqlite::Params) -> Result<(), StoreError> {
        self.inner.write(Commit::Durable, |c| {
            c.execute(sql, values)?;
            Ok(())
        })
    }
}

/// The first column of `row`, a blob, borrowed.
fn blob<'a>(row: &'a rusqlite::Row<'_>) -> Result<&'a [u8], StoreError> {
    row.get_ref(0)?
        .as_blob()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A message value's envelope record and raw bytes; a newer build's is
/// refused with its format.
fn parse_message(value: &[u8]) -> Result<(StoredMessage, &[u8]), StoreError> {
    if let Some(format) = stored_message::newer_format(value) {
        return Err(StoreError::NewerFormat {
            record: "message",
            format,
            readable: super::MESSAGE_FORMAT,
        });
    }
    let (meta, raw) = stored_message::decode(value)
        .ok_or_else(|| StoreError::Corrupt("a message value without its envelope".into()))?;
    Ok((StoredMessage::parse(meta)?, raw))
}

impl Inner {
    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The transaction is over (committed or rolled back): wakes the
    /// writes that joined it.
    fn closed(&self, w: &mut Writer) {
        w.in_txn = false;
        w.owner = None;
        self.ended.notify_all();
    }

    /// Opens a transaction; `normal`: committed without an fsync
    /// (`synchronous=NORMAL`, which cannot change inside a transaction).
    fn begin(&self, w: &mut Writer, normal: bool) -> Result<(), StoreError> {
        if normal {
            w.conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        }
        if let Err(e) = run(&w.conn, "BEGIN IMMEDIATE") {
            if normal {
                let _ = w.conn.execute_batch("PRAGMA synchronous = FULL");
            }
            return Err(e);
        }
        w.in_txn = true;
        w.owner = Some(std::thread::current().id());
        w.begun += 1;
        w.normal_txn = normal;
        Ok(())
    }

    /// Commits the open transaction (rolled back if the commit fails);
    /// `durable`: on stable storage when this returns Ok, also a
    /// transaction begun without an fsync (then its WAL is fsynced here).
    fn end(&self, w: &mut Writer, durable: bool) -> Result<(), StoreError> {
        let mut result = run(&w.conn, "COMMIT");
        if result.is_err() && !w.conn.is_autocommit() {
            let _ = w.conn.execute_batch("ROLLBACK");
        }
        if result.is_ok() {
            w.committed = w.begun;
        }
        if std::mem::take(&mut w.normal_txn) {
            let restored = w.conn.execute_batch("PRAGMA synchronous = FULL");
            if result.is_ok() && durable {
                result = self.sync_wal();
            }
            if result.is_ok() {
                result = restored.map_err(StoreError::from);
            }
        }
        self.closed(w);
        result
    }

    /// Undoes the open transaction after a failed write.
    fn rollback(&self, w: &mut Writer) {
        if !w.conn.is_autocommit() {
            let _ = w.conn.execute_batch("ROLLBACK");
        }
        if std::mem::take(&mut w.normal_txn) {
            let _ = w.conn.execute_batch("PRAGMA synchronous = FULL");
        }
        self.closed(w);
    }

    /// SQLite rolls an open transaction back by itself after some errors
    /// (a full disk, an I/O error): what was in it is lost.
    fn notice_rollback(&self, w: &mut Writer) {
        if w.in_txn && w.conn.is_autocommit() {
            self.rollback(w);
            w.lost = true;
        }
    }

    /// The WAL beside the database file (SQLite names it so).
    fn wal_path(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push("-wal");
        PathBuf::from(name)
    }

    /// fsync of the WAL: what `synchronous=FULL` does at a commit, for a
    /// transaction that began without it.
    fn sync_wal(&self) -> Result<(), StoreError> {
        std::fs::File::open(self.wal_path())
            .and_then(|f| f.sync_data())
            .map_err(|e| StoreError::Writer(format!("fsync of the SQLite WAL: {e}")))
    }

    /// Runs `write` on the write connection and ends it as `commit` says.
    fn write<T>(
        &self,
        commit: Commit,
        write: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut w = self.lock_writer();
        self.notice_rollback(&mut w);
        let own = !w.in_txn;
        if own {
            self.begin(&mut w, commit == Commit::Lazy)?;
        }
        let result = if own {
            write(&w.conn)
        } else {
            in_savepoint(&w.conn, write)
        };
        match result {
            Err(e) => {
                if own {
                    self.rollback(&mut w);
                } else {
                    // SQLite may have rolled back the batch this write joined.
                    self.notice_rollback(&mut w);
                }
                Err(e)
            }
            Ok(value) => match commit {
                Commit::Leave => Ok(value),
                Commit::Lazy if !own => self.await_commit(w).map(|()| value),
                Commit::Lazy | Commit::Durable => {
                    let ended = self.end(&mut w, commit == Commit::Durable);
                    if ended.is_err() && !own {
                        // The batch it committed with it is gone too.
                        w.lost = true;
                    }
                    ended.map(|()| value)
                }
            },
        }
    }

    /// After a write joined the open transaction: the writer thread's own
    /// returns at once (it commits before it answers anyone); another
    /// thread's waits for the commit, so that it reads what it wrote.
    fn await_commit(&self, mut w: MutexGuard<'_, Writer>) -> Result<(), StoreError> {
        if w.owner == Some(std::thread::current().id()) {
            return Ok(());
        }
        let joined = w.begun;
        while w.in_txn && w.begun == joined {
            w = self.ended.wait(w).unwrap_or_else(PoisonError::into_inner);
        }
        if w.committed >= joined {
            Ok(())
        } else {
            Err(StoreError::Writer(
                "SQLite rolled back the batch this write joined".into(),
            ))
        }
    }

    /// The first column of every row `sql` selects.
    fn column<T: rusqlite::types::FromSql>(&self, sql: &str) -> Result<Vec<T>, StoreError> {
        self.read(|c| {
            let mut statement = c.prepare_cached(sql)?;
            let values = statement
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(values)
        })
    }

    /// Runs `read` on a read connection: it sees what is committed, and
    /// does not wait for the writer.
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.take_reader()?;
        let result = read(&conn);
        self.give_back(conn);
        result
    }

    fn take_reader(&self) -> Result<Connection, StoreError> {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = readers.idle.pop() {
                return Ok(conn);
            }
            if readers.open < READERS {
                readers.open += 1;
                drop(readers);
                return self.open_reader().inspect_err(|_| {
                    let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
                    readers.open -= 1;
                    self.reader_free.notify_one();
                });
            }
            readers = self
                .reader_free
                .wait(readers)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        readers.idle.push(conn);
        self.reader_free.notify_one();
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let mut conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        wait_for_locks(&mut conn, BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(32);
        conn.execute_batch(&format!(
            "PRAGMA cache_size = -{}; PRAGMA query_only = ON;",
            self.reader_cache_kib
        ))?;
        Ok(conn)
    }

    /// Frees the pages deletions left empty and truncates the WAL, when no
    /// batch is open (else at the next sweep).
    fn give_back_space(&self) -> Result<(), StoreError> {
        let mut w = self.lock_writer();
        if w.in_txn {
            return Ok(());
        }
        let free: i64 = w
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        if free > 0 {
            let mut statement = w.conn.prepare("PRAGMA incremental_vacuum")?;
            let mut rows = statement.query([])?;
            while rows.next()?.is_some() {}
        }
        // SQLite runs one checkpoint at a time and answers another "busy"
        // at once: the checkpoint thread may be copying just now (a
        // clean-clone CI run caught the sweep's WAL left at 102 MB so). So
        // tried again for up to a second, the writer let go in between;
        // then left to the checkpoint thread's next idle round.
        for _ in 0..100 {
            let busy: i64 = w
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy == 0 {
                break;
            }
            drop(w);
            std::thread::sleep(Duration::from_millis(10));
            w = self.lock_writer();
            if w.in_txn {
                break;
            }
        }
        Ok(())
    }
}

/// `write` inside a savepoint of the open transaction: undone alone if it
/// fails.
fn in_savepoint<T>(
    conn: &Connection,
    write: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    run(conn, "SAVEPOINT write")?;
    match write(conn) {
        Ok(value) => {
            run(conn, "RELEASE write")?;
            Ok(value)
        }
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK TO write; RELEASE write");
            }
            Err(e)
        }
    }
}

/// Runs one statement that returns no rows, prepared once per connection:
/// the transaction statements run several times per batch, and parsing
/// them each time showed in profiles. Not for `PRAGMA synchronous`, which
/// takes effect when it is prepared, not when it runs (SQLite's pragma.c).
fn run(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

mod checkpoint;
mod import;
pub use import::Import;
#[cfg(test)]
mod tests;
mod upgrade;
