//! Storage: raw messages with their envelopes, and the reports made from
//! them. A message is durable before the SMTP listener answers 250.
//!
//! Three places to keep them, one interface: SQLite in the data directory
//! (the default, one node: real fsynced commits, memory bounded by its
//! cache setting, space given back by the retention sweep; see
//! [`sqlite_store`]; a sled directory is copied in on first start, see
//! [`migrate`]), sled there (`--store sled`, the default before; chosen
//! against by measurement, bench/README.md) or a Redis/Valkey server that
//! several nodes share (`--store redis://…`).
//! [`Store`] is a plain enum over them rather than a trait object: there
//! are few, and the callers stay as they were.
//!
//! Several nodes on one Redis: the node that received a message analyses
//! it and writes the report; the others only read. That node already holds
//! the message and its place in its own queue, and analysis needs no
//! coordination beyond the report compare-and-set. The pending marks live
//! in the store, so a node that starts resumes every pending id, its own
//! or one a crashed node left behind. If another live node is analysing
//! one of them at that moment, both analyse it and the compare-and-set
//! keeps exactly one report; wasted work on a restart, never a wrong
//! report. (A crashed node's pending ids wait for the next start of any
//! node; a periodic claim of old pending ids would close that gap.)
//!
//! The interface is synchronous. Delivery already runs off the tokio
//! workers (the [`Writer`] thread, which fsyncs), and a store read is a sled
//! lookup in memory or one Redis round trip, so the web handlers keep
//! calling it directly instead of turning every `.map` into an async
//! `.then`. The Redis side underneath is the async client
//! ([`RedisStore`]'s methods are `async`): its requests run on a runtime of
//! their own, over a fixed few multiplexed connections, at most 256 in
//! flight and each bounded by timeouts; a synchronous call only waits for
//! the answer, and on a tokio worker it first hands the worker's other
//! tasks to another thread (`block_in_place`), so a slow Redis does not
//! stall the SMTP greetings queued there.

pub mod announced;
pub mod arrivals;
mod batch;
pub mod free_space;
mod group_flush;
pub mod history;
pub mod migrate;
mod redis_store;
mod sled_store;
mod sqlite_store;
mod surveys;
pub mod versioned;
mod webhooks;
mod writer;

pub use arrivals::Arrivals;
pub use history::Send;
pub use redis_store::RedisStore;
pub use sled_store::SledStore;
pub use sqlite_store::SqliteStore;
pub use webhooks::survey_webhook_key;
pub use writer::{Writer, Written};

use crate::smtp::Envelope;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Db(#[from] sled::Error),
    #[error("store writer: {0}")]
    Writer(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("shared store {location}: {source}")]
    Redis {
        location: String,
        source: redis::RedisError,
    },
    /// SQLite (`--store sqlite`): a full disk or an I/O error is worth
    /// trying again later; a corrupt file is not.
    #[error("storage error (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "invalid store {location:?}: {reason} (use \"sled\", \"sqlite\" or redis://host:port/db)"
    )]
    Location { location: String, reason: String },
    #[error("moving the sled data directory {dir} to SQLite: {reason}")]
    Migration { dir: String, reason: String },
    /// A record this build cannot read: it is left as it is, for the
    /// newer build that wrote it.
    #[error(
        "{record} written by a newer mailscore (format {format}; this one reads up to {readable}), left untouched"
    )]
    NewerFormat {
        record: &'static str,
        format: u32,
        readable: u32,
    },
}

impl StoreError {
    /// The store cannot be reached or cannot write now (Redis away, the
    /// disk or the writer failing): worth trying again later, unlike a
    /// record that cannot be read.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(_) | StoreError::Writer(_) | StoreError::Redis { .. } => true,
            StoreError::Sqlite(e) => e.sqlite_error_code().is_some_and(|code| {
                !matches!(
                    code,
                    rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
                )
            }),
            _ => false,
        }
    }
}

/// The format of the message records this build writes (the envelope
/// record's `v`, sled's `MSG1` value). Format 0, read and migrated on
/// read, is the raw message alone with its envelope in a tree of its own.
pub const MESSAGE_FORMAT: u32 = 1;

/// A message as stored: `seq` orders deliveries to the same id, so a slow
/// analysis of an older message can never overwrite a newer one's report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMessage {
    /// The record's format ([`MESSAGE_FORMAT`]; absent in records written
    /// before formats were numbered, which read as 0).
    #[serde(default, rename = "v")]
    pub format: u32,
    pub seq: u64,
    pub envelope: Envelope,
    #[serde(skip)]
    pub raw: Vec<u8>,
}

/// Where messages and reports live; cheap to clone (shared handles).
#[derive(Clone)]
pub enum Store {
    /// Embedded, in the data directory: one node.
    Sled(SledStore),
    /// A Redis/Valkey server: every node pointed at it sees every test.
    Redis(RedisStore),
    /// Embedded SQLite in the data directory: one node.
    Sqlite(SqliteStore),
}

/// What collecting the texts no report names needs
/// ([`crate::report::collect`]): the embedded stores have it.
pub trait TextGc {
    /// Calls `each` with every stored report, latest and earlier sends.
    fn for_each_report(&self, each: &mut dyn FnMut(&[u8])) -> Result<(), StoreError>;
    /// The hashes of every text kept.
    fn text_hashes(&self) -> Result<Vec<u64>, StoreError>;
    fn remove_texts(&self, hashes: &[u64]) -> Result<(), StoreError>;
}

impl TextGc for SledStore {
    fn for_each_report(&self, each: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        SledStore::for_each_report(self, each)
    }
    fn text_hashes(&self) -> Result<Vec<u64>, StoreError> {
        SledStore::text_hashes(self)
    }
    fn remove_texts(&self, hashes: &[u64]) -> Result<(), StoreError> {
        SledStore::remove_texts(self, hashes)
    }
}

impl TextGc for SqliteStore {
    fn for_each_report(&self, each: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        SqliteStore::for_each_report(self, each)
    }
    fn text_hashes(&self) -> Result<Vec<u64>, StoreError> {
        SqliteStore::text_hashes(self)
    }
    fn remove_texts(&self, hashes: &[u64]) -> Result<(), StoreError> {
        SqliteStore::remove_texts(self, hashes)
    }
}

impl StoredMessage {
    /// A record of this build's format.
    pub fn new(seq: u64, envelope: Envelope) -> StoredMessage {
        StoredMessage {
            format: MESSAGE_FORMAT,
            seq,
            envelope,
            raw: Vec::new(),
        }
    }

    /// Parses an envelope record; one from a newer build is refused.
    pub fn parse(meta: &[u8]) -> Result<StoredMessage, StoreError> {
        let record: StoredMessage =
            serde_json::from_slice(meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if record.format > MESSAGE_FORMAT {
            return Err(StoreError::NewerFormat {
                record: "message",
                format: record.format,
                readable: MESSAGE_FORMAT,
            });
        }
        Ok(record)
    }
}

impl Store {
    /// The default store in `dir`: SQLite with the default cache, a sled
    /// directory found there copied in first ([`migrate`]).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_sqlite(dir, sled_store::CACHE_BYTES)
    }

    /// The embedded sled store in `dir` (`--store sled`).
    pub fn open_sled(dir: &Path) -> Result<Store, StoreError> {
        Ok(Store::Sled(SledStore::open(dir)?))
    }

    /// SQLite in `dir` with `cache_bytes` of page cache; a sled database
    /// there is copied in first, its files kept aside.
    pub fn open_sqlite(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        if let Some(copied) = migrate::sled_to_sqlite(dir, cache_bytes)? {
            tracing::info!(
                data_dir = %dir.display(),
                "copied the sled data directory into SQLite: {copied}; sled's files are kept in {}",
                dir.join(migrate::SLED_ASIDE).display()
            );
        }
        Ok(Store::Sqlite(SqliteStore::open(dir, cache_bytes)?))
    }

    /// The store a config names: `location` is None or "sqlite" for SQLite
    /// in `data_dir` with `cache_bytes` of page cache (a sled database
    /// there copied in first), "sled" for sled there with as much, or a
    /// `redis://` URL; `retention` becomes the Redis TTL.
    pub fn open_location(
        location: Option<&str>,
        data_dir: &Path,
        cache_bytes: u64,
        retention: Duration,
    ) -> Result<Store, StoreError> {
        match location {
            None | Some("sqlite") => Store::open_sqlite(data_dir, cache_bytes),
            Some("sled") => Ok(Store::Sled(SledStore::open_with_cache(
                data_dir,
                cache_bytes,
            )?)),
            Some(url) => Ok(Store::Redis(RedisStore::connect(url, retention)?)),
        }
    }

    /// The journal whose committed bytes still wait to be copied into the
    /// database file (SQLite's WAL), for the disk reserve to count.
    pub fn journal_file(&self) -> Option<std::path::PathBuf> {
        match self {
            Store::Sqlite(store) => Some(store.wal_file()),
            _ => None,
        }
    }

    /// Checks a `store` setting without connecting: "sled", "sqlite" or a
    /// Redis URL this build can use (no TLS, no cluster).
    pub fn check_location(location: &str) -> Result<(), StoreError> {
        if location == "sled" || location == "sqlite" {
            return Ok(());
        }
        redis_store::check_url(location).map(drop)
    }

    /// Stores `raw` as the latest message for `id`, marks it owed a report,
    /// and makes it durable (sled: flushed; Redis: acknowledged). Returns
    /// the message's sequence number.
    pub fn put_message(
        &self,
        id: &str,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<u64, StoreError> {
        match self {
            Store::Sled(s) => s.put_message(id, envelope, raw),
            Store::Redis(s) => redis_store::wait(s.put_message(id, envelope, raw)),
            Store::Sqlite(s) => s.put_message(id, envelope, raw),
        }
    }

    /// [`put_message`](Self::put_message) without sled's flush: the
    /// [`Writer`] flushes once for a batch. (A Redis write is durable when
    /// acknowledged.)
    pub fn put_message_unflushed(
        &self,
        id: &str,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<u64, StoreError> {
        match self {
            Store::Sled(s) => s.put_message_unflushed(id, envelope, raw),
            Store::Redis(s) => redis_store::wait(s.put_message(id, envelope, raw)),
            Store::Sqlite(s) => s.put_message_unflushed(id, envelope, raw),
        }
    }

    pub fn message(&self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        match self {
            Store::Sled(s) => s.message(id),
            Store::Redis(s) => redis_store::wait(s.message(id)),
            Store::Sqlite(s) => s.message(id),
        }
    }

    /// Saves the report for message `seq` of `id`, unless a newer message
    /// arrived meanwhile or the message expired: a compare-and-set on the
    /// sequence numbers. Returns whether it was saved.
    pub fn put_report(&self, id: &str, seq: u64, report: &[u8]) -> Result<bool, StoreError> {
        match self {
            Store::Sled(s) => s.put_report(id, seq, report),
            Store::Redis(s) => redis_store::wait(s.put_report(id, seq, report)),
            Store::Sqlite(s) => s.put_report(id, seq, report),
        }
    }

    pub fn report(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Store::Sled(s) => s.report(id),
            Store::Redis(s) => redis_store::wait(s.report(id)),
            Store::Sqlite(s) => s.report(id),
        }
    }

    /// Every finished send to `id` still kept, oldest first
    /// ([`history`]). Reports saved before the history existed are not in
    /// it; [`report`](Self::report) still has the latest.
    pub fn history(&self, id: &str) -> Result<Vec<Send>, StoreError> {
        match self {
            Store::Sled(s) => s.history(id),
            Store::Redis(s) => redis_store::wait(s.history(id)),
            Store::Sqlite(s) => s.history(id),
        }
    }

    /// Keeps a deduction's explanation under the hash reports name it by
    /// ([`crate::report::stored`]). Never expires: there are few.
    pub fn put_texts(&self, hash: u64, texts: &[u8]) -> Result<(), StoreError> {
        match self {
            Store::Sled(s) => s.put_texts(hash, texts),
            Store::Redis(s) => redis_store::wait(s.put_texts(hash, texts)),
            Store::Sqlite(s) => s.put_texts(hash, texts),
        }
    }

    pub fn texts(&self, hash: u64) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Store::Sled(s) => s.texts(hash),
            Store::Redis(s) => redis_store::wait(s.texts(hash)),
            Store::Sqlite(s) => s.texts(hash),
        }
    }

    /// The texts no kept report names any more can go: the sled store's
    /// hashes, every report's, and a way to drop them. None for Redis,
    /// whose texts are not collected (see `report::collect`).
    pub fn sled(&self) -> Option<&SledStore> {
        match self {
            Store::Sled(s) => Some(s),
            Store::Redis(_) | Store::Sqlite(_) => None,
        }
    }

    /// The store's texts can be collected ([`TextGc`]): sled's and
    /// SQLite's; None for Redis (see `report::collect`).
    pub fn text_gc(&self) -> Option<&dyn TextGc> {
        match self {
            Store::Sled(s) => Some(s),
            Store::Sqlite(s) => Some(s),
            Store::Redis(_) => None,
        }
    }

    /// True while a received message still waits for its report.
    pub fn is_pending(&self, id: &str) -> Result<bool, StoreError> {
        match self {
            Store::Sled(s) => s.is_pending(id),
            Store::Redis(s) => redis_store::wait(s.is_pending(id)),
            Store::Sqlite(s) => s.is_pending(id),
        }
    }

    /// The retention sweep: deletes every test received before `cutoff`
    /// (Unix seconds) and returns how many went. Redis expires keys by
    /// itself (their TTL is the retention), so there it removes nothing.
    pub fn remove_received_before(&self, cutoff: u64) -> Result<usize, StoreError> {
        match self {
            Store::Sled(s) => s.remove_received_before(cutoff),
            Store::Redis(_) => Ok(0),
            Store::Sqlite(s) => s.remove_received_before(cutoff),
        }
    }

    /// SQLite: the writer's reports of one round share one commit, made by
    /// [`commit_reports`](Self::commit_reports). Sled and Redis: nothing
    /// (their writes need no transaction).
    pub fn begin_reports(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.begin_reports(),
            Store::Sled(_) | Store::Redis(_) => Ok(()),
        }
    }

    /// Ends what [`begin_reports`](Self::begin_reports) began: committed,
    /// not yet fsynced (as sled's unflushed report).
    pub fn commit_reports(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.commit_reports(),
            Store::Sled(_) | Store::Redis(_) => Ok(()),
        }
    }

    /// Sled: writes everything to disk. Redis: nothing to do, every write
    /// was acknowledged when it returned.
    pub fn flush(&self) -> Result<(), StoreError> {
        match self {
            Store::Sled(s) => s.flush(),
            Store::Redis(_) => Ok(()),
            Store::Sqlite(s) => s.flush(),
        }
    }

    /// The store's size for `/metrics`: sled's files on disk, or the Redis
    /// server's `used_memory` (shared by every node). None when it cannot be
    /// read (Redis down: the scrape still succeeds, `/readyz` says why).
    pub fn size_bytes(&self) -> Option<u64> {
        match self {
            Store::Sled(s) => s.size_on_disk().ok(),
            Store::Redis(r) => redis_store::wait(r.used_bytes()).ok(),
            Store::Sqlite(s) => s.size_on_disk().ok(),
        }
    }

    /// Ids whose latest message has no report yet (after a crash, say).
    /// With Redis, those of every node sharing the store.
    pub fn pending_ids(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Sled(s) => s.pending_ids(),
            Store::Redis(s) => redis_store::wait(s.pending_ids()),
            Store::Sqlite(s) => s.pending_ids(),
        }
    }
}

/// The envelope the store's unit tests deliver with.
#[cfg(test)]
pub(crate) fn test_envelope() -> Envelope {
    Envelope {
        client_ip: "127.0.0.1".parse().expect("an IP address"),
        client_port: 4000,
        helo: "mail.example.com".into(),
        mail_from: "a@example.com".into(),
        rcpt_to: vec!["box@localhost".into()],
        received_at: 1,
        tls: None,
    }
}
