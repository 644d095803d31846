//! Rows copied in from another store ([`crate::store::migrate`]), in one
//! transaction committed with an fsync: a copy is whole or absent.

use super::{Commit, SqliteStore};
use crate::store::StoreError;
use crate::store::history;
use crate::store::sled_store::stored_report;
use rusqlite::{Connection, params};

/// The open transaction of a copy; each method stores one value as it
/// was, byte for byte.
pub struct Import<'a> {
    conn: &'a Connection,
}

impl SqliteStore {
    /// Runs `copy` in one transaction, committed durably when it returns Ok.
    pub(in crate::store) fn import<T>(
        &self,
        copy: impl FnOnce(&Import) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.inner
            .write(Commit::Durable, |conn| copy(&Import { conn }))
    }
}

impl<'a> Import<'a> {
    /// Rows written on `conn`, inside a transaction the caller holds (a
    /// schema upgrade: [`super::upgrade`]).
    pub(super) fn on(conn: &'a Connection) -> Import<'a> {
        Import { conn }
    }

    fn insert(&self, sql: &str, values: impl rusqlite::Params) -> Result<(), StoreError> {
        self.conn.prepare_cached(sql)?.execute(values)?;
        Ok(())
    }

    pub fn message(&self, id: &str, received_at: u64, value: &[u8]) -> Result<(), StoreError> {
        self.insert(
            "INSERT OR REPLACE INTO messages (id, received_at, value) VALUES (?1, ?2, ?3)",
            params![id, received_at as i64, value],
        )
    }

    pub fn pending(&self, id: &str, seq: u64) -> Result<(), StoreError> {
        self.insert(
            "INSERT OR REPLACE INTO pending (id, seq) VALUES (?1, ?2)",
            params![id, seq as i64],
        )
    }

    pub fn send(&self, id: &str, seq: u64, saved_at: u64, value: &[u8]) -> Result<(), StoreError> {
        self.insert(
            "INSERT OR REPLACE INTO history (id, seq, saved_at, value) VALUES (?1, ?2, ?3, ?4)",
            params![id, seq as i64, saved_at as i64, value],
        )
    }

    /// A latest report as sled kept it (seq, then the report) made the
    /// send it is, dated `saved_at`, unless `id` keeps a send of its seq or
    /// later: SQLite keeps a report only as a send. Returns whether one was
    /// added.
    pub fn latest_report(&self, id: &str, value: &[u8], saved_at: u64) -> Result<bool, StoreError> {
        let seq = stored_report::seq(value);
        let kept = self
            .conn
            .prepare_cached("SELECT 1 FROM history WHERE id = ?1 AND seq >= ?2")?
            .exists(params![id, seq as i64])?;
        if kept {
            return Ok(false);
        }
        let entry = history::encode(seq, saved_at, stored_report::json(value));
        self.send(id, seq, saved_at, &entry)?;
        Ok(true)
    }

    pub fn texts(&self, hash: u64, value: &[u8]) -> Result<(), StoreError> {
        self.insert(
            "INSERT OR REPLACE INTO texts (hash, value) VALUES (?1, ?2)",
            params![hash as i64, value],
        )
    }

    pub fn survey(&self, id: &str, value: &[u8]) -> Result<(), StoreError> {
        self.insert(
            "INSERT OR REPLACE INTO surveys (id, value) VALUES (?1, ?2)",
            params![id, value],
        )
    }

    pub fn survey_row(&self, survey: &str, entry: &str, value: &[u8]) -> Result<(), StoreError> {
        self.insert(
            "INSERT OR REPLACE INTO survey_rows (survey, entry, value) VALUES (?1, ?2, ?3)",
            params![survey, entry, value],
        )
    }

    pub fn webhook(&self, key: &str, set_at: u64, value: &[u8]) -> Result<(), StoreError> {
        self.insert(
            "INSERT OR REPLACE INTO webhooks (key, set_at, value) VALUES (?1, ?2, ?3)",
            params![key, set_at as i64, value],
        )
    }

    pub fn delivery(&self, id: &str, value: &[u8]) -> Result<(), StoreError> {
        self.insert(
            "INSERT OR REPLACE INTO deliveries (id, value) VALUES (?1, ?2)",
            params![id, value],
        )
    }

    /// The next message gets a sequence number above `seq`.
    pub fn seq_at_least(&self, seq: u64) -> Result<(), StoreError> {
        self.insert(
            "UPDATE meta SET value = max(value, ?1) WHERE key = 'seq'",
            params![seq as i64],
        )
    }
}
