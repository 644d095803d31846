//! The sled-backed store. Four trees, keyed by test id:
//! `envelopes` and `messages` hold the last message received (replaced by a
//! newer one, as on mail-tester), `reports` the last finished report, and
//! `pending` the sequence number of the message still owed a report — which
//! is what lets a restart resume analysis that a crash interrupted.

use super::group_flush::GroupFlush;
use super::{StoreError, StoredMessage};
use crate::smtp::Envelope;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::Path;
use std::sync::Arc;

/// sled's page cache. Its default (1 GiB) let resident memory grow with the
/// store, to ~900 MB after 30,000 messages; reads of older reports come from
/// the OS page cache instead.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    envelopes: sled::Tree,
    messages: sled::Tree,
    reports: sled::Tree,
    pending: sled::Tree,
    /// Deliveries in flight share their fsyncs.
    group_flush: Arc<GroupFlush>,
}

impl SledStore {
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .open()?;
        Ok(SledStore {
            envelopes: db.open_tree("envelopes")?,
            messages: db.open_tree("messages")?,
            reports: db.open_tree("reports")?,
            pending: db.open_tree("pending")?,
            group_flush: Arc::default(),
            db,
        })
    }

    /// Stores `raw` as the latest message for `id`, marks it owed a report,
    /// and flushes to disk. Returns the message's sequence number.
    pub fn put_message(
        &self,
        id: &str,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<u64, StoreError> {
        let seq = self.db.generate_id()?;
        let record = StoredMessage {
            seq,
            envelope: envelope.clone(),
            raw: Vec::new(),
        };
        let meta = serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        (&self.envelopes, &self.messages, &self.pending)
            .transaction(|(envelopes, messages, pending)| {
                envelopes.insert(id.as_bytes(), meta.as_slice())?;
                messages.insert(id.as_bytes(), raw)?;
                pending.insert(id.as_bytes(), &seq.to_be_bytes())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(transaction_error)?;
        self.group_flush.flush(&self.db)?;
        Ok(seq)
    }

    pub fn message(&self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let (Some(meta), Some(raw)) = (self.envelopes.get(id)?, self.messages.get(id)?) else {
            return Ok(None);
        };
        let mut record: StoredMessage =
            serde_json::from_slice(&meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        record.raw = raw.to_vec();
        Ok(Some(record))
    }

    /// Saves the report for message `seq` of `id`, unless a newer message
    /// arrived meanwhile (its own analysis will write the report) or the
    /// message expired.
    /// Returns whether it was saved.
    pub fn put_report(&self, id: &str, seq: u64, report: &[u8]) -> Result<bool, StoreError> {
        let saved = (&self.reports, &self.pending)
            .transaction(|(reports, pending)| {
                // Only the message still owed a report gets one: a newer
                // message or a retention sweep since then means no.
                let current = pending.get(id.as_bytes())?;
                if current.is_none_or(|s| s.as_ref() != seq.to_be_bytes()) {
                    return Ok(false);
                }
                reports.insert(id.as_bytes(), report)?;
                pending.remove(id.as_bytes())?;
                Ok::<_, ConflictableTransactionError<()>>(true)
            })
            .map_err(transaction_error)?;
        // No fsync of its own: the report and the cleared pending mark are
        // one transaction, so a crash before sled's next flush (every
        // 500 ms, or the next delivery's) loses both, and the message, still
        // pending, is analysed again at start-up.
        Ok(saved)
    }

    pub fn report(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.reports.get(id)?.map(|v| v.to_vec()))
    }

    /// True while a received message still waits for its report.
    pub fn is_pending(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.pending.contains_key(id)?)
    }

    /// Deletes every message (and its report) received before `cutoff`
    /// (Unix seconds): the retention sweep. Returns how many ids went.
    pub fn remove_received_before(&self, cutoff: u64) -> Result<usize, StoreError> {
        let mut expired = Vec::new();
        for entry in self.envelopes.iter() {
            let (id, meta) = entry?;
            let record: StoredMessage =
                serde_json::from_slice(&meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if record.envelope.received_at < cutoff {
                expired.push(id);
            }
        }
        for id in &expired {
            (
                &self.envelopes,
                &self.messages,
                &self.reports,
                &self.pending,
            )
                .transaction(|(envelopes, messages, reports, pending)| {
                    envelopes.remove(id)?;
                    messages.remove(id)?;
                    reports.remove(id)?;
                    pending.remove(id)?;
                    Ok::<_, ConflictableTransactionError<()>>(())
                })
                .map_err(transaction_error)?;
        }
        if !expired.is_empty() {
            self.db.flush()?;
        }
        Ok(expired.len())
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Bytes of the database's files.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Ids whose latest message has no report yet (after a crash, say).
    pub fn pending_ids(&self) -> Result<Vec<String>, StoreError> {
        self.pending
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
    }
}

fn transaction_error(e: TransactionError<()>) -> StoreError {
    StoreError::Transaction(format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            client_ip: "127.0.0.1".parse().unwrap(),
            client_port: 4000,
            helo: "mail.example.com".into(),
            mail_from: "a@example.com".into(),
            rcpt_to: vec!["box@localhost".into()],
            received_at: 1,
            tls: None,
        }
    }

    fn temp_store() -> (SledStore, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("mailscore-store-{}", crate::test_id::generate()));
        (SledStore::open(&dir).unwrap(), dir)
    }

    #[test]
    fn message_survives_reopen_and_stays_pending_until_reported() {
        let (store, dir) = temp_store();
        let seq = store
            .put_message("box1", &envelope(), b"Subject: x\r\n\r\nhi\r\n")
            .unwrap();
        drop(store);
        let store = SledStore::open(&dir).unwrap();
        let msg = store.message("box1").unwrap().unwrap();
        assert_eq!(msg.raw, b"Subject: x\r\n\r\nhi\r\n");
        assert_eq!(msg.envelope, envelope());
        assert_eq!(store.pending_ids().unwrap(), vec!["box1".to_string()]);
        assert!(store.put_report("box1", seq, b"{}").unwrap());
        assert!(store.pending_ids().unwrap().is_empty());
        assert_eq!(store.report("box1").unwrap().unwrap(), b"{}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn retention_sweep_removes_only_old_messages_and_their_reports() {
        let (store, dir) = temp_store();
        let mut old = envelope();
        old.received_at = 100;
        let mut new = envelope();
        new.received_at = 1_000;
        let seq = store.put_message("old-box", &old, b"old").unwrap();
        store.put_report("old-box", seq, b"{}").unwrap();
        store.put_message("new-box", &new, b"new").unwrap();
        assert_eq!(store.remove_received_before(500).unwrap(), 1);
        assert!(store.message("old-box").unwrap().is_none());
        assert!(store.report("old-box").unwrap().is_none());
        assert!(store.message("new-box").unwrap().is_some());
        assert_eq!(store.pending_ids().unwrap(), vec!["new-box".to_string()]);
        // An analysis that was running when the sweep came saves nothing.
        let late = store.put_message("late-box", &old, b"late").unwrap();
        store.remove_received_before(500).unwrap();
        assert!(!store.put_report("late-box", late, b"{}").unwrap());
        assert!(store.report("late-box").unwrap().is_none());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn report_of_an_older_message_does_not_replace_a_newer_one() {
        let (store, dir) = temp_store();
        let old = store.put_message("box2", &envelope(), b"old").unwrap();
        let new = store.put_message("box2", &envelope(), b"new").unwrap();
        assert!(!store.put_report("box2", old, b"old report").unwrap());
        assert!(store.report("box2").unwrap().is_none());
        assert!(store.put_report("box2", new, b"new report").unwrap());
        assert_eq!(store.report("box2").unwrap().unwrap(), b"new report");
        std::fs::remove_dir_all(dir).ok();
    }
}
