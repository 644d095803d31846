//! The sled-backed store. Four trees, keyed by test id:
//! `envelopes` and `messages` hold the last message received (replaced by a
//! newer one, as on mail-tester), `reports` the last finished report, and
//! `pending` the sequence number of the message still owed a report — which
//! is what lets a restart resume analysis that a crash interrupted. A fifth,
//! `texts`, keeps the explanations reports name by hash (see
//! [`crate::report::stored`]); they outlive every test, being few. A sixth,
//! `history`, keeps every saved report under `id NUL seq` ([`super::history`]).
//! Surveys ([`super::surveys`]) have two: `surveys` by survey id, and
//! `survey_rows` under `survey id NUL entry`. Webhooks ([`super::webhooks`])
//! two more: `webhooks` (the time set, 8 bytes, then the URL) and
//! `deliveries`, the queue.

use super::group_flush::GroupFlush;
use super::history::{self, MAX_SENDS, Send};
use super::{StoreError, StoredMessage};
use crate::smtp::Envelope;
use std::path::Path;
use std::sync::Arc;

/// sled's page cache unless told otherwise (`--store-cache-mb`). Its own
/// default (1 GiB) let resident memory grow with the store, to ~900 MB
/// after 30,000 messages; reads of older reports come from the OS page
/// cache instead.
pub const CACHE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    envelopes: sled::Tree,
    messages: sled::Tree,
    reports: sled::Tree,
    pending: sled::Tree,
    texts: sled::Tree,
    history: sled::Tree,
    surveys: sled::Tree,
    survey_rows: sled::Tree,
    webhooks: sled::Tree,
    deliveries: sled::Tree,
    /// Deliveries in flight share their fsyncs.
    group_flush: Arc<GroupFlush>,
    /// The data directory, open: what `syncfs` is given.
    dir: Arc<std::fs::File>,
}

impl SledStore {
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_with_cache(dir, CACHE_BYTES)
    }

    /// Opens the store with `cache_bytes` of page cache.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()?;
        Ok(SledStore {
            envelopes: db.open_tree("envelopes")?,
            messages: db.open_tree("messages")?,
            reports: db.open_tree("reports")?,
            pending: db.open_tree("pending")?,
            texts: db.open_tree("texts")?,
            history: db.open_tree("history")?,
            surveys: db.open_tree("surveys")?,
            survey_rows: db.open_tree("survey_rows")?,
            webhooks: db.open_tree("webhooks")?,
            deliveries: db.open_tree("deliveries")?,
            group_flush: Arc::default(),
            dir: Arc::new(std::fs::File::open(dir).map_err(sled::Error::Io)?),
            db,
        })
    }

    /// Stores `raw` as the latest message for `id`, marks it owed a report,
    /// and flushes to disk. Returns the message's sequence number.
    ///
    /// No sled transaction: in sled 0.34 each one seals the log buffer and
    /// writes it out, twice per message, which cost more CPU than the whole
    /// SMTP exchange. Plain inserts in a chosen order keep every crash
    /// recoverable instead (nothing is acknowledged before the flush):
    /// the pending mark goes first, then the message with its envelope as
    /// one value, then the envelope index the retention sweep reads. A
    /// pending mark whose message never landed is dropped at start-up
    /// ([`pending_ids`](Self::pending_ids)).
    pub fn put_message(
        &self,
        id: &str,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<u64, StoreError> {
        let seq = self.put_message_unflushed(id, envelope, raw)?;
        self.group_flush.flush(|| self.flush())?;
        Ok(seq)
    }

    /// [`put_message`](Self::put_message) without the flush, for a caller
    /// that flushes once for many (the [`Writer`](super::Writer)).
    pub fn put_message_unflushed(
        &self,
        id: &str,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<u64, StoreError> {
        let seq = self.db.generate_id()?;
        let record = StoredMessage::new(seq, envelope.clone());
        let meta = serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.pending.insert(id.as_bytes(), &seq.to_be_bytes())?;
        self.messages
            .insert(id.as_bytes(), stored_message::encode(&meta, raw))?;
        self.envelopes.insert(id.as_bytes(), meta)?;
        Ok(seq)
    }

    pub fn message(&self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let Some((mut record, value)) = self.lookup(id)? else {
            return Ok(None);
        };
        record.raw = match stored_message::decode(&value) {
            Some((_, raw)) => raw.to_vec(),
            None => value.to_vec(),
        };
        Ok(Some(record))
    }

    /// The stored value for `id` and its envelope record (`raw` left
    /// empty): what a caller needing only the seq or the envelope reads,
    /// without copying the message.
    fn lookup(&self, id: &str) -> Result<Option<(StoredMessage, sled::IVec)>, StoreError> {
        let Some(value) = self.messages.get(id)? else {
            return Ok(None);
        };
        if let Some(format) = stored_message::newer_format(&value) {
            return Err(StoreError::NewerFormat {
                record: "message",
                format,
                readable: super::MESSAGE_FORMAT,
            });
        }
        let record = match stored_message::decode(&value) {
            Some((meta, _)) => parse_meta(meta)?,
            // Written before messages carried their envelope: it is in its tree.
            None => match self.envelopes.get(id)? {
                Some(meta) => parse_meta(&meta)?,
                None => return Ok(None),
            },
        };
        Ok(Some((record, value)))
    }

    /// Saves the report for message `seq` of `id`, unless a newer message
    /// arrived meanwhile (its own analysis will write the report) or the
    /// message expired.
    /// Returns whether it was saved.
    ///
    /// Without a transaction (see [`put_message`](Self::put_message)): the
    /// report carries its message's `seq`, and a compare-and-swap never lets
    /// an older one replace a newer; the pending mark is then cleared only
    /// if it still names this message.
    pub fn put_report(&self, id: &str, seq: u64, report: &[u8]) -> Result<bool, StoreError> {
        // Only the message still owed a report gets one: a newer message or
        // a retention sweep since then means no.
        if !self.pending_is(id, seq)? {
            return Ok(false);
        }
        let value = stored_report::encode(seq, report);
        let mut current = self.reports.get(id)?;
        loop {
            if current.as_deref().map(stored_report::seq) > Some(seq) {
                return Ok(false);
            }
            match self
                .reports
                .compare_and_swap(id, current, Some(value.as_slice()))?
            {
                Ok(()) => break,
                Err(conflict) => current = conflict.current,
            }
        }
        self.append_history(id, seq, report)?;
        let _ = self.pending.compare_and_swap(
            id,
            Some(&seq.to_be_bytes()[..]),
            None as Option<&[u8]>,
        )?;
        // No fsync of its own: a crash before sled's next flush (every
        // 500 ms, or the next delivery's) can lose the report, never the
        // pending mark before it, so the message is analysed again at
        // start-up.
        Ok(true)
    }

    /// Appends the report of `seq` to `id`'s history, and drops the
    /// oldest sends beyond [`MAX_SENDS`].
    fn append_history(&self, id: &str, seq: u64, report: &[u8]) -> Result<(), StoreError> {
        self.history.insert(
            history_key(id, seq),
            history::encode(seq, history::now(), report),
        )?;
        let keys: Vec<sled::IVec> = self
            .history
            .scan_prefix(history_prefix(id))
            .keys()
            .collect::<Result<_, _>>()?;
        for key in keys.iter().take(keys.len().saturating_sub(MAX_SENDS)) {
            self.history.remove(key)?;
        }
        Ok(())
    }

    pub fn history(&self, id: &str) -> Result<Vec<Send>, StoreError> {
        let mut sends = Vec::new();
        for entry in self.history.scan_prefix(history_prefix(id)).values() {
            let value = entry?;
            sends.push(history::decode(&value).ok_or_else(|| {
                StoreError::Corrupt(format!("a history entry of {id} is too short"))
            })?);
        }
        Ok(sends)
    }

    pub fn report(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .reports
            .get(id)?
            .map(|v| stored_report::json(&v).to_vec()))
    }

    /// Keeps the explanation `texts` under `hash`. Unflushed: the report
    /// naming it is written after it, and flushed with it.
    pub fn put_texts(&self, hash: u64, texts: &[u8]) -> Result<(), StoreError> {
        self.texts.insert(hash.to_be_bytes(), texts)?;
        Ok(())
    }

    pub fn texts(&self, hash: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.texts.get(hash.to_be_bytes())?.map(|v| v.to_vec()))
    }

    /// Calls `each` with every stored report, latest and earlier sends.
    pub fn for_each_report(&self, each: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        for value in self.reports.iter().values() {
            each(stored_report::json(&value?));
        }
        for value in self.history.iter().values() {
            if let Some(send) = history::decode(&value?) {
                each(&send.report);
            }
        }
        Ok(())
    }

    /// The hashes of every text kept.
    pub fn text_hashes(&self) -> Result<Vec<u64>, StoreError> {
        let mut hashes = Vec::new();
        for key in self.texts.iter().keys() {
            if let Some(hash) = key?.first_chunk::<8>() {
                hashes.push(u64::from_be_bytes(*hash));
            }
        }
        Ok(hashes)
    }

    pub fn remove_texts(&self, hashes: &[u64]) -> Result<(), StoreError> {
        for hash in hashes {
            self.texts.remove(hash.to_be_bytes())?;
        }
        Ok(())
    }

    pub fn put_survey(&self, id: &str, survey: &[u8]) -> Result<(), StoreError> {
        self.surveys.insert(id, survey)?;
        self.db.flush()?;
        Ok(())
    }

    pub fn survey(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.surveys.get(id)?.map(|v| v.to_vec()))
    }

    /// Not flushed: the row is remade from the message (still kept and
    /// pending until its report is flushed) if a crash loses it.
    pub fn put_survey_row(&self, id: &str, entry: &str, row: &[u8]) -> Result<(), StoreError> {
        self.survey_rows.insert(survey_row_key(id, entry), row)?;
        Ok(())
    }

    pub fn survey_rows(&self, id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        self.survey_rows
            .scan_prefix(survey_row_key(id, ""))
            .values()
            .map(|v| Ok(v?.to_vec()))
            .collect()
    }

    pub fn survey_ids(&self) -> Result<Vec<String>, StoreError> {
        self.surveys
            .iter()
            .keys()
            .map(|id| Ok(String::from_utf8_lossy(&id?).into_owned()))
            .collect()
    }

    /// Deletes survey `id`, its rows and the webhook kept under
    /// `webhook_key`, flushed.
    pub fn remove_survey(&self, id: &str, webhook_key: &str) -> Result<(), StoreError> {
        for key in self.survey_rows.scan_prefix(survey_row_key(id, "")).keys() {
            self.survey_rows.remove(key?)?;
        }
        self.surveys.remove(id)?;
        self.webhooks.remove(webhook_key)?;
        self.db.flush()?;
        Ok(())
    }

    /// A webhook that does not expire is kept with time 0, which the
    /// retention sweep never reaches.
    pub fn put_webhook(&self, key: &str, url: &str, expires: bool) -> Result<(), StoreError> {
        let set_at = if expires { history::now() } else { 0 };
        let value = [&set_at.to_be_bytes()[..], url.as_bytes()].concat();
        self.webhooks.insert(key, value)?;
        self.db.flush()?;
        Ok(())
    }

    pub fn webhook(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.webhooks.get(key)?.and_then(|v| {
            v.get(8..)
                .map(|url| String::from_utf8_lossy(url).into_owned())
        }))
    }

    /// Not flushed: queued before the report, it is on disk once the
    /// report's own flush is.
    pub fn put_delivery(&self, id: &str, delivery: &[u8]) -> Result<(), StoreError> {
        self.deliveries.insert(id, delivery)?;
        Ok(())
    }

    pub fn deliveries(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.deliveries
            .iter()
            .values()
            .map(|v| Ok(v?.to_vec()))
            .collect()
    }

    pub fn remove_delivery(&self, id: &str) -> Result<(), StoreError> {
        self.deliveries.remove(id)?;
        self.db.flush()?;
        Ok(())
    }

    fn pending_is(&self, id: &str, seq: u64) -> Result<bool, StoreError> {
        Ok(self
            .pending
            .get(id)?
            .is_some_and(|s| s.as_ref() == seq.to_be_bytes()))
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
            // A newer build's record is not ours to judge: it stays.
            let Ok(record) = StoredMessage::parse(&meta) else {
                continue;
            };
            if record.envelope.received_at < cutoff {
                expired.push(id);
            }
        }
        for id in &expired {
            // The pending mark first, so an analysis still running for this
            // id saves nothing.
            self.pending.remove(id)?;
            self.messages.remove(id)?;
            self.reports.remove(id)?;
            self.envelopes.remove(id)?;
            let id = String::from_utf8_lossy(id);
            for key in self.history.scan_prefix(history_prefix(&id)).keys() {
                self.history.remove(key?)?;
            }
        }
        // Sends older than the retention go too, also those of an address
        // that received something newer.
        let mut old = Vec::new();
        for entry in self.history.iter() {
            let (key, value) = entry?;
            if history::saved_at(&value) < cutoff {
                old.push(key);
            }
        }
        for key in &old {
            self.history.remove(key)?;
        }
        for entry in self.webhooks.iter() {
            let (key, value) = entry?;
            let set_at = value
                .first_chunk::<8>()
                .map_or(0, |b| u64::from_be_bytes(*b));
            if set_at != 0 && set_at < cutoff {
                self.webhooks.remove(key)?;
            }
        }
        if !expired.is_empty() || !old.is_empty() {
            self.db.flush()?;
        }
        Ok(expired.len())
    }

    /// Everything written so far, on stable storage. sled's own flush is
    /// `sync_file_range`, which neither flushes the device's write cache
    /// nor file metadata, and its blob files (values and nodes over a
    /// quarter segment, 128 KB) are written without any sync: it survives
    /// `kill -9`, not a power cut. So after it, one `syncfs` of the data
    /// directory's filesystem, which covers the log, the blobs and their
    /// directory entries (the writer's group commit shares it between
    /// every message of a batch).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        sync_filesystem(&self.dir).map_err(sled::Error::Io)?;
        Ok(())
    }

    /// Bytes of the database's files.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Ids whose latest message has no report yet (after a crash, say).
    /// A mark whose message never landed (a crash between the two writes
    /// of a delivery that was never acknowledged) is dropped here.
    pub fn pending_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for entry in self.pending.iter() {
            let (id, seq) = entry?;
            let id = String::from_utf8_lossy(&id).into_owned();
            let landed = self.lookup(&id)?.map(|(m, _)| m.seq.to_be_bytes());
            if landed.as_ref().map(|s| &s[..]) == Some(seq.as_ref()) {
                ids.push(id);
            } else {
                let _ = self
                    .pending
                    .compare_and_swap(&id, Some(seq), None as Option<&[u8]>)?;
            }
        }
        Ok(ids)
    }
}

/// What [`SledStore::dump`] calls with each key and value.
pub(super) type Entry<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StoreError> + 'a;

impl SledStore {
    /// Calls `each` with every key and value of the tree `name`, as
    /// stored: what a copy to another store reads ([`super::migrate`]).
    pub(super) fn dump(&self, name: &str, each: &mut Entry<'_>) -> Result<u64, StoreError> {
        let mut count = 0;
        for entry in self.db.open_tree(name)?.iter() {
            let (key, value) = entry?;
            each(&key, &value)?;
            count += 1;
        }
        Ok(count)
    }

    /// The envelope record kept apart for a message of format 0.
    pub(super) fn envelope_record(&self, id: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.envelopes.get(id)?.map(|v| v.to_vec()))
    }

    /// A number above every sequence number this store handed out.
    pub(super) fn next_seq(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    /// Writes a value as it is (tests: records of earlier formats).
    #[cfg(test)]
    pub(super) fn insert_raw(&self, tree: &str, key: &[u8], value: &[u8]) {
        self.db.open_tree(tree).unwrap().insert(key, value).unwrap();
    }
}

/// History keys: the id, a NUL (never in an id), the seq big-endian, so
/// that one id's sends are one prefix, in order.
fn history_prefix(id: &str) -> Vec<u8> {
    let mut key = id.as_bytes().to_vec();
    key.push(0);
    key
}

fn history_key(id: &str, seq: u64) -> Vec<u8> {
    let mut key = history_prefix(id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn parse_meta(meta: &[u8]) -> Result<StoredMessage, StoreError> {
    StoredMessage::parse(meta)
}

/// A message value: its envelope record and the raw bytes, in one value so
/// that one insert stores both.
pub(super) mod stored_message {
    /// `MSG` and the format's digit ([`super::super::MESSAGE_FORMAT`]).
    const MAGIC: &[u8; 4] = b"MSG1";

    /// The format of a value a newer build wrote (`MSG2`…`MSG9`).
    pub(in crate::store) fn newer_format(value: &[u8]) -> Option<u32> {
        let digit = *value.strip_prefix(b"MSG")?.first()?;
        let format = u32::from(digit.checked_sub(b'0')?);
        (2..=9).contains(&format).then_some(format)
    }

    pub(in crate::store) fn encode(meta: &[u8], raw: &[u8]) -> Vec<u8> {
        let len = u32::try_from(meta.len()).expect("an envelope record is small");
        let mut value = Vec::with_capacity(8 + meta.len() + raw.len());
        value.extend_from_slice(MAGIC);
        value.extend_from_slice(&len.to_be_bytes());
        value.extend_from_slice(meta);
        value.extend_from_slice(raw);
        value
    }

    /// The envelope record and the raw message; None for a value written
    /// before this format (the raw message alone).
    pub(in crate::store) fn decode(value: &[u8]) -> Option<(&[u8], &[u8])> {
        let rest = value.strip_prefix(MAGIC)?;
        let (len, rest) = rest.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        (rest.len() >= len).then(|| rest.split_at(len))
    }
}

/// A report value: the `seq` of the message it reports on, then the JSON
/// served as is. Reports written before this format are the bare JSON (an
/// object, so they start with `{`), with seq 0.
pub(super) mod stored_report {
    const TAG: u8 = b'R';

    pub(in crate::store) fn encode(seq: u64, json: &[u8]) -> Vec<u8> {
        let mut value = Vec::with_capacity(9 + json.len());
        value.push(TAG);
        value.extend_from_slice(&seq.to_be_bytes());
        value.extend_from_slice(json);
        value
    }

    pub(in crate::store) fn seq(value: &[u8]) -> u64 {
        match value.split_first() {
            Some((&TAG, rest)) => rest
                .first_chunk::<8>()
                .map_or(0, |seq| u64::from_be_bytes(*seq)),
            _ => 0,
        }
    }

    pub(in crate::store) fn json(value: &[u8]) -> &[u8] {
        match value.split_first() {
            Some((&TAG, rest)) => rest.get(8..).unwrap_or_default(),
            _ => value,
        }
    }
}

/// `id NUL entry`: ids have no NUL, so one survey's prefix is no other's.
fn survey_row_key(id: &str, entry: &str) -> Vec<u8> {
    [id.as_bytes(), b"\0", entry.as_bytes()].concat()
}

/// `syncfs(2)` on the filesystem holding `dir`.
fn sync_filesystem(dir: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a file descriptor we own, open for as long as the call.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surveys_and_their_webhooks_outlive_the_retention_sweep() {
        let dir =
            std::env::temp_dir().join(format!("mailscore-sled-survey-{}", std::process::id()));
        let store = SledStore::open(&dir).unwrap();
        store.put_survey("s1", b"{}").unwrap();
        store.put_survey_row("s1", "1.news", b"row").unwrap();
        store.put_survey_row("s10", "1.news", b"other").unwrap();
        store
            .put_webhook("survey:s1", "https://hooks.example/s", false)
            .unwrap();
        store
            .put_webhook("test:t1", "https://hooks.example/t", true)
            .unwrap();
        store.remove_received_before(u64::MAX).unwrap();
        assert!(store.survey("s1").unwrap().is_some());
        assert_eq!(store.survey_rows("s1").unwrap(), [b"row".to_vec()]);
        assert!(store.webhook("survey:s1").unwrap().is_some());
        assert_eq!(
            store.webhook("test:t1").unwrap(),
            None,
            "a test's webhook expires"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    use crate::store::test_envelope as envelope;

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
    fn every_send_is_kept_in_order_up_to_the_cap_and_survives_reopen() {
        let (store, dir) = temp_store();
        let mut seqs = Vec::new();
        for n in 0..MAX_SENDS + 3 {
            let seq = store.put_message("box1", &envelope(), b"m").unwrap();
            let report = format!("{{\"n\":{n}}}");
            assert!(store.put_report("box1", seq, report.as_bytes()).unwrap());
            seqs.push(seq);
        }
        // A report for another address is not in this one's history.
        let other = store.put_message("box10", &envelope(), b"m").unwrap();
        store.put_report("box10", other, b"{}").unwrap();
        drop(store);
        let store = SledStore::open(&dir).unwrap();
        let sends = store.history("box1").unwrap();
        assert_eq!(sends.len(), MAX_SENDS);
        assert_eq!(sends.first().unwrap().report, b"{\"n\":3}");
        assert_eq!(
            sends.last().unwrap().report,
            format!("{{\"n\":{}}}", MAX_SENDS + 2).as_bytes()
        );
        let kept: Vec<u64> = sends.iter().map(|s| s.seq).collect();
        assert_eq!(kept, seqs[3..]);
        assert_eq!(store.history("box10").unwrap().len(), 1);
        assert!(store.history("box").unwrap().is_empty());
        // A stale analysis adds nothing to the history.
        assert!(!store.put_report("box1", seqs[0], b"{}").unwrap());
        assert_eq!(store.history("box1").unwrap().len(), MAX_SENDS);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn retention_sweep_drops_old_sends_of_a_live_address() {
        let (store, dir) = temp_store();
        let now = history::now();
        let mut live = envelope();
        live.received_at = now + 3_600;
        let seq = store.put_message("box1", &live, b"m").unwrap();
        store.put_report("box1", seq, b"{}").unwrap();
        assert_eq!(store.remove_received_before(now + 60).unwrap(), 0);
        assert!(store.report("box1").unwrap().is_some());
        assert!(store.history("box1").unwrap().is_empty());
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
        assert_eq!(store.history("old-box").unwrap().len(), 1);
        assert_eq!(store.remove_received_before(500).unwrap(), 1);
        assert!(store.message("old-box").unwrap().is_none());
        assert!(store.report("old-box").unwrap().is_none());
        assert!(store.history("old-box").unwrap().is_empty());
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

    #[test]
    fn a_pending_mark_whose_message_never_landed_is_dropped_at_start_up() {
        let (store, dir) = temp_store();
        let seq = store.put_message("box3", &envelope(), b"kept").unwrap();
        // A crash after the mark of a newer delivery, before its message.
        store
            .pending
            .insert("box3", &(seq + 1).to_be_bytes())
            .unwrap();
        store.pending.insert("box4", &7u64.to_be_bytes()).unwrap();
        assert!(store.pending_ids().unwrap().is_empty());
        assert!(!store.is_pending("box3").unwrap());
        assert_eq!(store.message("box3").unwrap().unwrap().raw, b"kept");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn values_written_before_the_one_value_format_still_read() {
        let (store, dir) = temp_store();
        let record = StoredMessage::new(3, envelope());
        let meta = serde_json::to_vec(&record).unwrap();
        store.envelopes.insert("old", meta).unwrap();
        store
            .messages
            .insert("old", &b"Subject: old\r\n"[..])
            .unwrap();
        store.reports.insert("old", &b"{\"score\":1}"[..]).unwrap();
        let message = store.message("old").unwrap().unwrap();
        assert_eq!(
            (message.seq, message.raw.as_slice()),
            (3, &b"Subject: old\r\n"[..])
        );
        assert_eq!(store.report("old").unwrap().unwrap(), b"{\"score\":1}");
        // A new message's report replaces the old-format one.
        let seq = store.put_message("old", &envelope(), b"new").unwrap();
        assert!(store.put_report("old", seq, b"{}").unwrap());
        assert_eq!(store.report("old").unwrap().unwrap(), b"{}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_newer_builds_message_is_refused_with_its_format_and_kept() {
        let (store, dir) = temp_store();
        let newer = &b"MSG7\x00\x00\x00\x02{}whatever format 7 means"[..];
        store.messages.insert("later", newer).unwrap();
        let err = store.message("later").unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::NewerFormat {
                    record: "message",
                    format: 7,
                    readable: 1
                }
            ),
            "{err}"
        );
        assert_eq!(store.messages.get("later").unwrap().unwrap(), newer);

        store
            .put_message("meta", &envelope(), b"Subject: x\r\n")
            .unwrap();
        let value = store.messages.get("meta").unwrap().unwrap();
        let (meta, raw) = stored_message::decode(&value).unwrap();
        let meta = String::from_utf8_lossy(meta).replace("\"v\":1", "\"v\":3");
        assert!(meta.contains("\"v\":3"), "{meta}");
        let value = stored_message::encode(meta.as_bytes(), raw);
        store.messages.insert("meta", value).unwrap();
        assert!(matches!(
            store.message("meta").unwrap_err(),
            StoreError::NewerFormat { format: 3, .. }
        ));
        std::fs::remove_dir_all(dir).ok();
    }
}
