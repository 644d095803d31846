//! Storage: raw messages with their envelopes, and the reports made from
//! them. A message is durable before the SMTP listener answers 250.

mod sled_store;

pub use sled_store::{Store, StoredMessage};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Db(#[from] sled::Error),
    #[error("storage transaction failed: {0}")]
    Transaction(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}
