//! A sled data directory, copied into SQLite on the first start of a build
//! whose default store is SQLite (or by `mailscore migrate-store`).
//!
//! Values move byte for byte: the message value (envelope record and raw
//! message), history entries, texts, surveys and their rows, webhooks and
//! their delivery queue, pending marks. Two things change shape: a message
//! of format 0 (the raw message alone, its envelope in a tree of its own)
//! gets its envelope folded in, as format 1 keeps it; and a latest report
//! is kept once, as the latest send of the history (sled keeps it in a
//! tree of its own as well), so a report with no history entry of its own
//! (saved before the history existed) becomes one.
//!
//! Crash-safe in three steps: the copy goes to `mailscore.sqlite3.migrating`
//! in one fsynced transaction; a marker file says it is whole; it is
//! renamed into place; then sled's files move to `sled-before-sqlite/`
//! (kept, not deleted: delete them once satisfied). A start that finds the
//! marker finishes the last two steps; one that finds a copy without it
//! starts the copy again.

use super::history;
use super::sled_store::stored_message;
use super::sqlite_store::{FILE_NAME, Import};
use super::{SledStore, SqliteStore, StoreError, StoredMessage};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where sled's files go once copied.
pub const SLED_ASIDE: &str = "sled-before-sqlite";

/// The copy in progress, and the marker that says it is whole.
const COPY: &str = "mailscore.sqlite3.migrating";
const WHOLE: &str = "mailscore.sqlite3.migrated";

/// What a migration copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub messages: u64,
    /// Messages of format 0 whose envelope was folded in.
    pub folded: u64,
    pub sends: u64,
    /// Latest reports with no history entry, made one.
    pub reports_as_sends: u64,
    pub pending: u64,
    pub texts: u64,
    pub surveys: u64,
    pub survey_rows: u64,
    pub webhooks: u64,
    pub deliveries: u64,
}

impl std::fmt::Display for Migrated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} messages ({} of format 0 given their envelope), {} sends \
             ({} from latest reports), {} pending, {} texts, {} surveys \
             with {} rows, {} webhooks, {} queued deliveries",
            self.messages,
            self.folded,
            self.sends,
            self.reports_as_sends,
            self.pending,
            self.texts,
            self.surveys,
            self.survey_rows,
            self.webhooks,
            self.deliveries
        )
    }
}

/// Whether `dir` holds a sled database.
pub fn holds_sled(dir: &Path) -> bool {
    dir.join("conf").is_file() && dir.join("db").is_file()
}

/// Brings a sled data directory `dir` over to SQLite, or finishes a
/// migration a crash interrupted. None when there was nothing to copy.
pub fn sled_to_sqlite(dir: &Path, cache_bytes: u64) -> Result<Option<Migrated>, StoreError> {
    let at = |name: &str| dir.join(name);
    if at(WHOLE).exists() {
        finish(dir)?;
        return Ok(None);
    }
    if !holds_sled(dir) {
        return Ok(None);
    }
    if at(FILE_NAME).exists() {
        return Err(migration_error(
            dir,
            format!(
                "it holds both sled's files and {FILE_NAME}; start with --store sled \
                 to use sled's, or move one of them away"
            ),
        ));
    }
    remove_copy(dir)?;
    let copied = copy(dir, &at(COPY), cache_bytes)?;
    std::fs::File::create(at(WHOLE))
        .and_then(|f| f.sync_all())
        .and_then(|()| sync_dir(dir))
        .map_err(|e| migration_error(dir, format!("writing {WHOLE}: {e}")))?;
    finish(dir)?;
    Ok(Some(copied))
}

/// Copies every tree of the sled store in `dir` into a new SQLite file
/// `to`, closed (its WAL checkpointed away) when this returns.
fn copy(dir: &Path, to: &Path, cache_bytes: u64) -> Result<Migrated, StoreError> {
    let sled = SledStore::open(dir)?;
    let sqlite = SqliteStore::open_file(to, cache_bytes)?;
    let copied = sqlite.import(|import| copy_trees(&sled, import))?;
    sqlite.close()?;
    Ok(copied)
}

fn copy_trees(sled: &SledStore, to: &Import) -> Result<Migrated, StoreError> {
    let mut copied = Migrated::default();
    // When each message came: a latest report made a send is dated so.
    let mut received = HashMap::new();
    copied.messages = sled.dump("messages", &mut |id, value| {
        let id = text(id);
        let Some((value, received_at, folded)) = message_value(sled, &id, value)? else {
            return Ok(());
        };
        copied.folded += u64::from(folded);
        received.insert(id.clone(), received_at);
        to.message(&id, received_at, &value)
    })?;
    copied.pending = sled.dump("pending", &mut |id, seq| to.pending(&text(id), be_u64(seq)))?;
    copied.sends = sled.dump("history", &mut |key, value| {
        let (id, seq) = key.split_at(key.len().saturating_sub(9));
        let seq = be_u64(seq.get(1..).unwrap_or_default());
        to.send(&text(id), seq, history::saved_at(value), value)
    })?;
    sled.dump("reports", &mut |id, value| {
        let id = text(id);
        let saved_at = received.get(&id).copied().unwrap_or_else(history::now);
        copied.reports_as_sends += u64::from(to.latest_report(&id, value, saved_at)?);
        Ok(())
    })?;
    copied.texts = sled.dump("texts", &mut |hash, value| to.texts(be_u64(hash), value))?;
    copied.surveys = sled.dump("surveys", &mut |id, value| to.survey(&text(id), value))?;
    copied.survey_rows = sled.dump("survey_rows", &mut |key, value| {
        let (survey, entry) = split_at_nul(key);
        to.survey_row(&text(survey), &text(entry), value)
    })?;
    copied.webhooks = sled.dump("webhooks", &mut |key, value| {
        to.webhook(
            &text(key),
            be_u64(value.get(..8).unwrap_or_default()),
            value,
        )
    })?;
    copied.deliveries = sled.dump("deliveries", &mut |id, value| to.delivery(&text(id), value))?;
    to.seq_at_least(sled.next_seq()?)?;
    Ok(copied)
}

/// The value SQLite keeps for a sled message value, with when it came
/// and whether its envelope was folded in; None for a message of format 0
/// whose envelope is gone (sled never showed it either).
fn message_value(
    sled: &SledStore,
    id: &str,
    value: &[u8],
) -> Result<Option<(Vec<u8>, u64, bool)>, StoreError> {
    if stored_message::newer_format(value).is_some() {
        // A newer build's: kept as it is, never swept.
        return Ok(Some((value.to_vec(), history::now(), false)));
    }
    // A record that does not parse is copied all the same, as sled kept
    // it (and dated now, so the first sweep does not take it).
    let received_at = |meta: &[u8]| {
        StoredMessage::parse(meta).map_or_else(|_| history::now(), |m| m.envelope.received_at)
    };
    if let Some((meta, _)) = stored_message::decode(value) {
        return Ok(Some((value.to_vec(), received_at(meta), false)));
    }
    let Some(meta) = sled.envelope_record(id.as_bytes())? else {
        return Ok(None);
    };
    Ok(Some((
        stored_message::encode(&meta, value),
        received_at(&meta),
        true,
    )))
}

/// The copy is whole: into place, then sled's files aside. Each step is
/// done again by the next start if a crash stops it.
fn finish(dir: &Path) -> Result<(), StoreError> {
    let copy = dir.join(COPY);
    if copy.exists() && !dir.join(FILE_NAME).exists() {
        std::fs::rename(&copy, dir.join(FILE_NAME))
            .and_then(|()| sync_dir(dir))
            .map_err(|e| migration_error(dir, format!("renaming {COPY}: {e}")))?;
    }
    let aside = dir.join(SLED_ASIDE);
    for name in sled_files(dir).map_err(|e| migration_error(dir, e.to_string()))? {
        std::fs::create_dir_all(&aside)
            .and_then(|()| std::fs::rename(dir.join(&name), aside.join(&name)))
            .map_err(|e| migration_error(dir, format!("moving sled's {name:?} aside: {e}")))?;
    }
    sync_dir(dir)
        .and_then(|()| std::fs::remove_file(dir.join(WHOLE)))
        .map_err(|e| migration_error(dir, format!("removing {WHOLE}: {e}")))
}

/// sled 0.34's files: `conf`, `db`, `blobs/` and `snap.*`.
fn sled_files(dir: &Path) -> std::io::Result<Vec<std::ffi::OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let text = name.to_string_lossy();
        if matches!(text.as_ref(), "conf" | "db" | "blobs") || text.starts_with("snap.") {
            names.push(name);
        }
    }
    Ok(names)
}

/// Removes a copy a crash left unfinished (no marker): it starts again.
fn remove_copy(dir: &Path) -> Result<(), StoreError> {
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", dir.join(COPY).display()));
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| migration_error(dir, e.to_string()))?;
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn migration_error(dir: &Path, reason: String) -> StoreError {
    StoreError::Migration {
        dir: dir.display().to_string(),
        reason,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn be_u64(bytes: &[u8]) -> u64 {
    bytes
        .first_chunk::<8>()
        .map_or(0, |b| u64::from_be_bytes(*b))
}

fn split_at_nul(key: &[u8]) -> (&[u8], &[u8]) {
    match key.iter().position(|&b| b == 0) {
        Some(at) => (&key[..at], &key[at + 1..]),
        None => (key, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, test_envelope as envelope};

    /// Everything a store shows of the tests `ids`, for comparing two.
    fn seen(store: &Store, ids: &[&str]) -> Vec<String> {
        let mut seen = Vec::new();
        for id in ids {
            let message = store.message(id).unwrap().map(|m| {
                let envelope = serde_json::to_string(&m.envelope).unwrap();
                (m.seq, envelope, m.raw)
            });
            let sends: Vec<_> = store
                .history(id)
                .unwrap()
                .into_iter()
                .map(|s| (s.seq, s.report))
                .collect();
            seen.push(format!(
                "{id}: {message:?} report {:?} sends {sends:?} pending {}",
                store.report(id).unwrap(),
                store.is_pending(id).unwrap()
            ));
        }
        seen
    }

    fn sled_with_every_kind_of_record(dir: &Path) -> SledStore {
        let sled = SledStore::open(dir).unwrap();
        for n in 1..=2 {
            let seq = sled.put_message("sent-twice", &envelope(), b"m").unwrap();
            let report = format!("{{\"send\":{n}}}");
            assert!(
                sled.put_report("sent-twice", seq, report.as_bytes())
                    .unwrap()
            );
        }
        sled.put_message("waiting", &envelope(), b"pending")
            .unwrap();
        // Format 0: the raw message alone, its envelope and its report
        // (untagged, from before the history) in trees of their own.
        let meta = serde_json::to_vec(&StoredMessage::new(3, envelope())).unwrap();
        sled.insert_raw("envelopes", b"old", &meta);
        sled.insert_raw("messages", b"old", b"Subject: old\r\n\r\nHi.\r\n");
        sled.insert_raw("reports", b"old", b"{\"score\":1}");
        sled.put_texts(42, b"{\"en\":\"advice\"}").unwrap();
        sled.put_survey("survey1", b"{\"v\":1}").unwrap();
        sled.put_survey_row("survey1", "a@example.com", b"row a")
            .unwrap();
        sled.put_webhook("hook", "http://127.0.0.1:9/hook", true)
            .unwrap();
        sled.put_delivery("d1", b"delivery").unwrap();
        sled.flush().unwrap();
        sled
    }

    /// sled shows the report saved before the history existed outside it;
    /// SQLite keeps a report only as a send.
    fn with_old_report_as_a_send(mut seen: Vec<String>) -> Vec<String> {
        let send = format!("sends [(0, {:?})]", b"{\"score\":1}".to_vec());
        seen[2] = seen[2].replace("sends []", &send);
        seen
    }

    const IDS: [&str; 4] = ["sent-twice", "waiting", "old", "never-seen"];

    /// Runs `open`, which opens a sled store just dropped, until sled's
    /// background threads have let go of its lock file (they do so a
    /// moment after the handle is dropped; a clean clone's CI run once
    /// caught it still held).
    fn once_sled_lets_go<T>(open: impl Fn() -> Result<T, StoreError>) -> T {
        for _ in 0..250 {
            match open() {
                Err(e) if e.to_string().contains("could not acquire lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                result => return result.unwrap(),
            }
        }
        panic!("sled kept its lock for 5 s after its handle was dropped")
    }

    #[test]
    fn every_record_is_copied_and_reads_the_same_from_sqlite() {
        let dir =
            std::env::temp_dir().join(format!("mailscore-migrate-{}", crate::test_id::generate()));
        let sled = Store::Sled(sled_with_every_kind_of_record(&dir));
        let before = with_old_report_as_a_send(seen(&sled, &IDS));
        let texts = sled.texts(42).unwrap();
        drop(sled);
        let copied = once_sled_lets_go(|| sled_to_sqlite(&dir, 8 << 20)).expect("a copy");
        assert_eq!(
            (
                copied.messages,
                copied.folded,
                copied.sends,
                copied.reports_as_sends
            ),
            (3, 1, 2, 1)
        );
        assert_eq!(
            (copied.pending, copied.texts, copied.survey_rows),
            (1, 1, 1)
        );
        let Store::Sqlite(sqlite) = Store::open(&dir).unwrap() else {
            panic!("the default store is SQLite")
        };
        let store = Store::Sqlite(sqlite.clone());
        assert_eq!(seen(&store, &IDS), before);
        assert_eq!(store.texts(42).unwrap(), texts);
        assert_eq!(store.pending_ids().unwrap(), vec!["waiting".to_string()]);
        assert_eq!(
            sqlite.survey_rows("survey1").unwrap(),
            vec![b"row a".to_vec()]
        );
        assert_eq!(sqlite.survey("survey1").unwrap().unwrap(), b"{\"v\":1}");
        assert_eq!(
            sqlite.webhook("hook").unwrap().as_deref(),
            Some("http://127.0.0.1:9/hook")
        );
        assert_eq!(sqlite.deliveries().unwrap(), vec![b"delivery".to_vec()]);
        // A new message is numbered after every copied one.
        let seq = store.put_message("sent-twice", &envelope(), b"m3").unwrap();
        assert!(
            store
                .history("sent-twice")
                .unwrap()
                .iter()
                .all(|s| s.seq < seq)
        );
        assert!(holds_sled(&dir.join(SLED_ASIDE)) && !holds_sled(&dir));
        drop((store, sqlite));
        // Nothing left to copy the next time.
        assert_eq!(sled_to_sqlite(&dir, 8 << 20).unwrap(), None);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_copy_a_crash_interrupted_is_made_again_or_finished() {
        let dir =
            std::env::temp_dir().join(format!("mailscore-migrate-{}", crate::test_id::generate()));
        let before = with_old_report_as_a_send(seen(
            &Store::Sled(sled_with_every_kind_of_record(&dir)),
            &IDS,
        ));
        // A crash mid-copy: a partial copy and no marker.
        std::fs::write(dir.join(COPY), b"half a database").unwrap();
        assert!(once_sled_lets_go(|| sled_to_sqlite(&dir, 8 << 20)).is_some());
        assert_eq!(seen(&Store::open(&dir).unwrap(), &IDS), before);
        std::fs::remove_dir_all(&dir).ok();

        // A crash after the marker, before the rename: finished at start.
        let sled = sled_with_every_kind_of_record(&dir);
        drop(sled);
        once_sled_lets_go(|| copy(&dir, &dir.join(COPY), 8 << 20));
        std::fs::File::create(dir.join(WHOLE)).unwrap();
        assert_eq!(sled_to_sqlite(&dir, 8 << 20).unwrap(), None);
        assert!(!dir.join(WHOLE).exists() && !holds_sled(&dir));
        assert_eq!(seen(&Store::open(&dir).unwrap(), &IDS), before);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn sled_beside_a_database_of_its_own_is_refused_by_name() {
        let dir =
            std::env::temp_dir().join(format!("mailscore-migrate-{}", crate::test_id::generate()));
        drop(sled_with_every_kind_of_record(&dir));
        std::fs::write(dir.join(FILE_NAME), b"").unwrap();
        let err = sled_to_sqlite(&dir, 8 << 20).unwrap_err().to_string();
        assert!(
            err.contains("--store sled") && err.contains(FILE_NAME),
            "{err}"
        );
        assert!(holds_sled(&dir), "nothing moved");
        std::fs::remove_dir_all(dir).ok();
    }
}
