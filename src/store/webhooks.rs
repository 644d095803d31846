//! Webhooks kept beside the tests: where to POST a finished report (per
//! test id or survey, under a key the web stage chooses) and the queue of
//! deliveries still owed. Opaque bytes here; the webhooks stage reads them.
//!
//! The queue is what lets a restart, even `kill -9`, lose no delivery: a
//! delivery is queued before its report is saved, and leaves the queue
//! (flushed) as soon as its receiver has answered 2xx.

use super::{Store, StoreError, redis_store};

/// The key of a survey's webhook: the store removes it with its survey
/// (the survey retention), so the store names it.
pub fn survey_webhook_key(id: &str) -> String {
    format!("survey:{id}")
}

impl Store {
    /// Where `key`'s reports go; `expires` says whether it follows the
    /// retention (a test's does, a survey's does not).
    pub fn put_webhook(&self, key: &str, url: &str, expires: bool) -> Result<(), StoreError> {
        match self {
            Store::Sled(s) => s.put_webhook(key, url, expires),
            Store::Redis(s) => redis_store::wait(s.put_webhook(key, url, expires)),
            Store::Sqlite(s) => s.put_webhook(key, url, expires),
        }
    }

    pub fn webhook(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            Store::Sled(s) => s.webhook(key),
            Store::Redis(s) => redis_store::wait(s.webhook(key)),
            Store::Sqlite(s) => s.webhook(key),
        }
    }

    /// Queues (or rewrites) delivery `id`.
    pub fn put_delivery(&self, id: &str, delivery: &[u8]) -> Result<(), StoreError> {
        match self {
            Store::Sled(s) => s.put_delivery(id, delivery),
            Store::Redis(s) => redis_store::wait(s.put_delivery(id, delivery)),
            Store::Sqlite(s) => s.put_delivery(id, delivery),
        }
    }

    /// Every queued delivery, in no particular order.
    pub fn deliveries(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        match self {
            Store::Sled(s) => s.deliveries(),
            Store::Redis(s) => redis_store::wait(s.deliveries()),
            Store::Sqlite(s) => s.deliveries(),
        }
    }

    /// Takes delivery `id` off the queue, durably.
    pub fn remove_delivery(&self, id: &str) -> Result<(), StoreError> {
        match self {
            Store::Sled(s) => s.remove_delivery(id),
            Store::Redis(s) => redis_store::wait(s.remove_delivery(id)),
            Store::Sqlite(s) => s.remove_delivery(id),
        }
    }

    /// True when this node may attempt delivery `id` for the next `hold`:
    /// nodes sharing a Redis never attempt one delivery at once. (One sled or
    /// SQLite store has one node.)
    pub fn claim_delivery(&self, id: &str, hold: std::time::Duration) -> Result<bool, StoreError> {
        match self {
            Store::Sled(_) | Store::Sqlite(_) => Ok(true),
            Store::Redis(s) => redis_store::wait(s.claim_delivery(id, hold)),
        }
    }
}
