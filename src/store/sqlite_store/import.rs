//! Rows copied in from another store ([`crate::store::migrate`]), in one
//! transaction committed with an fsync: a copy is whole or absent.

use super::{Commit, SqliteStore};
use crate::store::StoreError;
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

impl Import<'_> {
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

    /// Whether `id` has a send of `seq` or later kept.
    pub fn has_send(&self, id: &str, seq: u64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM history WHERE id = ?1 AND seq >= ?2")?
            .exists(params![id, seq as i64])?)
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
