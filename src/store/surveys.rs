//! Surveys kept beside the tests: each survey's definition, and one small
//! row per message counted in it. Both are opaque bytes here (the survey
//! stage writes and reads them) and neither follows `--retention-days`:
//! a survey's tables must outlive the raw messages they were made from.
//! They follow `--survey-retention-days` instead, from the survey's last
//! activity: the embedded stores are swept by the survey stage
//! (`survey::retention`), which reads the records' times; Redis gives
//! their keys the survey retention as TTL, renewed by each row.
//!
//! A row is written once per message, under an entry naming the message
//! (its label and sequence number), never read-modified-written: a message
//! analysed again after a crash rewrites its own entry instead of counting
//! twice, two nodes never race on a shared row, and any period's table can
//! be folded from the rows of that period.

use super::{Store, StoreError, redis_store};
use std::time::Duration;

impl Store {
    /// Keeps survey `id`'s definition.
    pub fn put_survey(&self, id: &str, survey: &[u8]) -> Result<(), StoreError> {
        match self {
            Store::Sled(s) => s.put_survey(id, survey),
            Store::Redis(s) => redis_store::wait(s.put_survey(id, survey)),
            Store::Sqlite(s) => s.put_survey(id, survey),
        }
    }

    pub fn survey(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Store::Sled(s) => s.survey(id),
            Store::Redis(s) => redis_store::wait(s.survey(id)),
            Store::Sqlite(s) => s.survey(id),
        }
    }

    /// Keeps the row of one message of survey `id` under `entry`.
    pub fn put_survey_row(&self, id: &str, entry: &str, row: &[u8]) -> Result<(), StoreError> {
        match self {
            Store::Sled(s) => s.put_survey_row(id, entry, row),
            Store::Redis(s) => redis_store::wait(s.put_survey_row(id, entry, row)),
            Store::Sqlite(s) => s.put_survey_row(id, entry, row),
        }
    }

    /// Every row of survey `id`, in no particular order.
    pub fn survey_rows(&self, id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        match self {
            Store::Sled(s) => s.survey_rows(id),
            Store::Redis(s) => redis_store::wait(s.survey_rows(id)),
            Store::Sqlite(s) => s.survey_rows(id),
        }
    }

    /// Surveys are kept `retention` after their last activity: for
    /// Redis, the TTL of their keys. (The embedded stores are swept.)
    pub fn with_survey_retention(self, retention: Duration) -> Store {
        match self {
            Store::Redis(s) => Store::Redis(s.with_survey_retention(retention)),
            other => other,
        }
    }

    /// The surveys the sweep of idle surveys looks at: every one kept in
    /// sled or SQLite; none in Redis, which expires them by itself.
    pub fn survey_ids_to_sweep(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Sled(s) => s.survey_ids(),
            Store::Redis(_) => Ok(Vec::new()),
            Store::Sqlite(s) => s.survey_ids(),
        }
    }

    /// Deletes survey `id`, every row of it, and its webhook (kept under
    /// `webhook_key`).
    pub fn remove_survey(&self, id: &str, webhook_key: &str) -> Result<(), StoreError> {
        match self {
            Store::Sled(s) => s.remove_survey(id, webhook_key),
            Store::Redis(s) => redis_store::wait(s.remove_survey(id, webhook_key)),
            Store::Sqlite(s) => s.remove_survey(id, webhook_key),
        }
    }
}
