//! The sled store's unit tests, on SQLite: the same semantics.

use super::*;
use crate::store::test_envelope as envelope;

fn temp_store() -> (SqliteStore, PathBuf) {
    let dir = std::env::temp_dir().join(format!("mailscore-sqlite-{}", crate::test_id::generate()));
    (SqliteStore::open(&dir, 8 << 20).unwrap(), dir)
}

fn reopen(dir: &Path) -> SqliteStore {
    SqliteStore::open(dir, 8 << 20).unwrap()
}

#[test]
fn message_survives_reopen_and_stays_pending_until_reported() {
    let (store, dir) = temp_store();
    let seq = store
        .put_message("box1", &envelope(), b"Subject: x\r\n\r\nhi\r\n")
        .unwrap();
    drop(store);
    let store = reopen(&dir);
    let msg = store.message("box1").unwrap().unwrap();
    assert_eq!(msg.raw, b"Subject: x\r\n\r\nhi\r\n");
    assert_eq!(msg.envelope, envelope());
    assert_eq!(msg.seq, seq);
    assert_eq!(store.pending_ids().unwrap(), vec!["box1".to_string()]);
    assert!(store.put_report("box1", seq, b"{}").unwrap());
    assert!(store.pending_ids().unwrap().is_empty());
    assert_eq!(store.report("box1").unwrap().unwrap(), b"{}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn unflushed_writes_are_read_after_the_flush_and_durable() {
    let (store, dir) = temp_store();
    let seq = store
        .put_message_unflushed("box1", &envelope(), b"m")
        .unwrap();
    // Readers see what is committed: not the open batch.
    assert!(store.message("box1").unwrap().is_none());
    assert!(!store.is_pending("box1").unwrap());
    // A report of a message in the open batch joins it.
    assert!(store.put_report("box1", seq, b"{\"a\":1}").unwrap());
    assert!(store.report("box1").unwrap().is_none());
    store.flush().unwrap();
    assert_eq!(store.message("box1").unwrap().unwrap().raw, b"m");
    assert_eq!(store.report("box1").unwrap().unwrap(), b"{\"a\":1}");
    // Nothing open: a second flush has nothing to do.
    store.flush().unwrap();
    drop(store);
    let store = reopen(&dir);
    assert_eq!(store.report("box1").unwrap().unwrap(), b"{\"a\":1}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn concurrent_put_messages_share_commits_and_all_land() {
    let (store, dir) = temp_store();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|n| {
                        store
                            .put_message(&format!("b{t}-{n}"), &envelope(), b"m")
                            .unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 200, "every message has a seq of its own");
    drop(store);
    let store = reopen(&dir);
    assert_eq!(store.pending_ids().unwrap().len(), 200);
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
    let other = store.put_message("box10", &envelope(), b"m").unwrap();
    store.put_report("box10", other, b"{}").unwrap();
    drop(store);
    let store = reopen(&dir);
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
fn report_of_an_older_message_does_not_replace_a_newer_one() {
    let (store, dir) = temp_store();
    let old = store.put_message("box2", &envelope(), b"old").unwrap();
    let new = store.put_message("box2", &envelope(), b"new").unwrap();
    assert!(!store.put_report("box2", old, b"old report").unwrap());
    assert!(store.report("box2").unwrap().is_none());
    assert!(store.put_report("box2", new, b"new report").unwrap());
    assert_eq!(store.report("box2").unwrap().unwrap(), b"new report");
    assert!(!store.is_pending("box2").unwrap());
    // Even with its pending mark back, an older seq never replaces a
    // newer report.
    store
        .execute(
            "INSERT OR REPLACE INTO pending (id, seq) VALUES ('box2', ?1)",
            [old as i64],
        )
        .unwrap();
    assert!(!store.put_report("box2", old, b"old report").unwrap());
    assert_eq!(store.report("box2").unwrap().unwrap(), b"new report");
    // The pending mark is cleared only for its own seq.
    assert!(store.is_pending("box2").unwrap());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_report_clears_only_its_own_pending_mark() {
    let (store, dir) = temp_store();
    let first = store.put_message("box5", &envelope(), b"1").unwrap();
    let second = store
        .put_message_unflushed("box5", &envelope(), b"2")
        .unwrap();
    store.flush().unwrap();
    assert!(!store.put_report("box5", first, b"{}").unwrap());
    assert!(store.is_pending("box5").unwrap());
    assert!(store.put_report("box5", second, b"{}").unwrap());
    assert!(!store.is_pending("box5").unwrap());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn retention_sweep_drops_old_sends_of_a_live_address() {
    let (store, dir) = temp_store();
    let now = history::now();
    let mut live = envelope();
    live.received_at = now + 3_600;
    for report in ["{\"send\":1}", "{\"send\":2}"] {
        let seq = store.put_message("box1", &live, b"m").unwrap();
        store.put_report("box1", seq, report.as_bytes()).unwrap();
    }
    assert_eq!(store.remove_received_before(now + 60).unwrap(), 0);
    // The older send goes; the latest is the report of a kept message.
    assert_eq!(store.report("box1").unwrap().unwrap(), b"{\"send\":2}");
    let sends = store.history("box1").unwrap();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].report, b"{\"send\":2}");
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
    let late = store.put_message("late-box", &old, b"late").unwrap();
    store.remove_received_before(500).unwrap();
    assert!(!store.put_report("late-box", late, b"{}").unwrap());
    assert!(store.report("late-box").unwrap().is_none());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_webhook_is_found_when_set_here_and_after_a_reopen() {
    let (store, dir) = temp_store();
    // None set yet: answered without reading the table.
    assert_eq!(store.webhook("test:t1").unwrap(), None);
    store
        .put_webhook("test:t1", "https://hooks.example/t", true)
        .unwrap();
    assert_eq!(
        store.webhook("test:t1").unwrap().as_deref(),
        Some("https://hooks.example/t")
    );
    drop(store);
    let store = reopen(&dir);
    assert_eq!(
        store.webhook("test:t1").unwrap().as_deref(),
        Some("https://hooks.example/t")
    );
    assert_eq!(store.webhook("test:t2").unwrap(), None);
    drop(store);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn surveys_and_their_webhooks_outlive_the_retention_sweep() {
    let (store, dir) = temp_store();
    store.put_survey("s1", b"{}").unwrap();
    store.put_survey_row("s1", "1.news", b"row").unwrap();
    store.put_survey_row("s10", "1.news", b"other").unwrap();
    store
        .put_webhook("survey:s1", "https://hooks.example/s", false)
        .unwrap();
    store
        .put_webhook("test:t1", "https://hooks.example/t", true)
        .unwrap();
    store.put_delivery("d1", b"delivery").unwrap();
    store.remove_received_before(u64::MAX).unwrap();
    assert!(store.survey("s1").unwrap().is_some());
    assert_eq!(store.survey_rows("s1").unwrap(), [b"row".to_vec()]);
    assert_eq!(
        store.webhook("survey:s1").unwrap().as_deref(),
        Some("https://hooks.example/s")
    );
    assert_eq!(store.webhook("test:t1").unwrap(), None);
    assert_eq!(store.deliveries().unwrap(), [b"delivery".to_vec()]);
    store.remove_delivery("d1").unwrap();
    assert!(store.deliveries().unwrap().is_empty());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_pending_mark_whose_message_never_landed_is_dropped_at_start_up() {
    let (store, dir) = temp_store();
    let seq = store.put_message("box3", &envelope(), b"kept").unwrap();
    store
        .execute(
            "INSERT OR REPLACE INTO pending (id, seq) VALUES ('box3', ?1)",
            [seq as i64 + 1],
        )
        .unwrap();
    store
        .execute("INSERT INTO pending (id, seq) VALUES ('box4', 7)", [])
        .unwrap();
    assert!(store.pending_ids().unwrap().is_empty());
    assert!(!store.is_pending("box3").unwrap());
    assert_eq!(store.message("box3").unwrap().unwrap().raw, b"kept");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn texts_are_kept_listed_and_removed() {
    let (store, dir) = temp_store();
    store.put_texts(u64::MAX - 1, b"big hash").unwrap();
    store.put_texts(7, b"seven").unwrap();
    assert_eq!(store.texts(u64::MAX - 1).unwrap().unwrap(), b"big hash");
    let mut hashes = store.text_hashes().unwrap();
    hashes.sort_unstable();
    assert_eq!(hashes, [7, u64::MAX - 1]);
    store.remove_texts(&[7]).unwrap();
    assert_eq!(store.texts(7).unwrap(), None);
    let seq = store.put_message("r", &envelope(), b"m").unwrap();
    store.put_report("r", seq, b"report").unwrap();
    let mut seen = Vec::new();
    store
        .for_each_report(&mut |r| seen.push(r.to_vec()))
        .unwrap();
    // Kept once: the latest send is the report.
    assert_eq!(seen, [b"report".to_vec()]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_newer_builds_message_and_database_are_refused() {
    let (store, dir) = temp_store();
    store
        .execute(
            "INSERT INTO messages (id, received_at, value) VALUES ('later', 1, ?1)",
            [&b"MSG7\x00\x00\x00\x02{}whatever format 7 means"[..]],
        )
        .unwrap();
    assert!(matches!(
        store.message("later").unwrap_err(),
        StoreError::NewerFormat {
            record: "message",
            format: 7,
            readable: 1
        }
    ));
    store.execute("PRAGMA user_version = 3", []).unwrap();
    drop(store);
    assert!(matches!(
        SqliteStore::open(&dir, 8 << 20).err().unwrap(),
        StoreError::NewerFormat { format: 3, .. }
    ));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_rolled_back_batch_fails_its_flush() {
    let (store, dir) = temp_store();
    store
        .put_message_unflushed("box", &envelope(), b"m")
        .unwrap();
    roll_back_as_sqlite_does(&store);
    // A write after it goes on in a transaction of its own.
    store.put_texts(1, b"t").unwrap();
    assert_eq!(store.texts(1).unwrap().unwrap(), b"t");
    assert!(store.flush().is_err(), "nobody hears 250 for a lost batch");
    assert!(store.message("box").unwrap().is_none());
    // And the store goes on.
    store.put_message("box", &envelope(), b"m2").unwrap();
    assert_eq!(store.message("box").unwrap().unwrap().raw, b"m2");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_round_of_reports_is_one_commit_and_a_durable_write_inside_it_fsyncs() {
    let (store, dir) = temp_store();
    let a = store.put_message("a", &envelope(), b"a").unwrap();
    let b = store.put_message("b", &envelope(), b"b").unwrap();
    store.begin_reports().unwrap();
    assert!(store.put_report("a", a, b"{\"a\":1}").unwrap());
    // Read once committed.
    assert!(store.report("a").unwrap().is_none());
    // A write sled flushes commits the round with it, durably.
    store.put_survey("s", b"{}").unwrap();
    assert!(!store.inner.lock_writer().in_txn);
    assert_eq!(store.report("a").unwrap().unwrap(), b"{\"a\":1}");
    // The rest of the round commits one by one; nothing left open.
    assert!(store.put_report("b", b, b"{\"b\":1}").unwrap());
    store.commit_reports().unwrap();
    assert!(!store.inner.lock_writer().in_txn);
    store.begin_reports().unwrap();
    store.commit_reports().unwrap();
    drop(store);
    let store = reopen(&dir);
    assert_eq!(store.report("a").unwrap().unwrap(), b"{\"a\":1}");
    assert_eq!(store.report("b").unwrap().unwrap(), b"{\"b\":1}");
    assert!(store.survey("s").unwrap().is_some());
    assert!(store.pending_ids().unwrap().is_empty());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn another_threads_write_into_an_open_batch_returns_once_it_is_committed() {
    let (store, dir) = temp_store();
    store
        .put_message_unflushed("box", &envelope(), b"m")
        .unwrap();
    let joined = std::thread::spawn({
        let store = store.clone();
        move || {
            store.put_survey_row("s", "e", b"row").unwrap();
            // Its own write is readable when it returns.
            store.survey_rows("s").unwrap()
        }
    });
    // The other thread is in the batch and waits for its commit.
    while !joined_in(&store) {
        std::thread::yield_now();
    }
    assert!(!joined.is_finished());
    store.flush().unwrap();
    assert_eq!(joined.join().unwrap(), vec![b"row".to_vec()]);
    // A batch rolled back under a joined write fails that write.
    store
        .put_message_unflushed("box2", &envelope(), b"m")
        .unwrap();
    let lost = std::thread::spawn({
        let store = store.clone();
        move || store.put_survey_row("s", "f", b"row")
    });
    while !joined_in(&store) {
        std::thread::yield_now();
    }
    roll_back_as_sqlite_does(&store);
    assert!(store.flush().is_err());
    assert!(
        lost.join().unwrap().is_err(),
        "nobody hears stored for a lost row"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// What SQLite does to an open batch on a full disk or an I/O error.
fn roll_back_as_sqlite_does(store: &SqliteStore) {
    store
        .inner
        .lock_writer()
        .conn
        .execute_batch("ROLLBACK")
        .unwrap();
}

/// The open batch holds a survey row: another thread's write joined it.
fn joined_in(store: &SqliteStore) -> bool {
    let w = store.inner.lock_writer();
    w.in_txn
        && w.conn
            .query_row("SELECT count(*) FROM survey_rows", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
            > store.survey_rows("s").unwrap().len() as i64
}

#[test]
fn a_schema_1_database_keeps_its_reports_once_as_sends() {
    let (store, dir) = temp_store();
    let seq = store.put_message("both", &envelope(), b"m").unwrap();
    store.put_report("both", seq, b"{\"kept\":1}").unwrap();
    let lone = store.put_message("lone", &envelope(), b"m").unwrap();
    // Schema 1: the latest report in a table of its own as well; one
    // with no send of its own (as a copy of sled's older data may hold).
    store
        .execute(
            "CREATE TABLE reports (id TEXT PRIMARY KEY, value BLOB NOT NULL)",
            [],
        )
        .unwrap();
    for (id, seq, json) in [
        ("both", seq, "{\"kept\":1}"),
        ("lone", lone, "{\"lone\":1}"),
    ] {
        let value = crate::store::sled_store::stored_report::encode(seq, json.as_bytes());
        store
            .execute(
                "INSERT INTO reports (id, value) VALUES (?1, ?2)",
                params![id, value],
            )
            .unwrap();
    }
    store.execute("PRAGMA user_version = 1", []).unwrap();
    drop(store);
    let store = reopen(&dir);
    assert_eq!(store.report("both").unwrap().unwrap(), b"{\"kept\":1}");
    assert_eq!(store.history("both").unwrap().len(), 1);
    assert_eq!(store.report("lone").unwrap().unwrap(), b"{\"lone\":1}");
    assert_eq!(store.history("lone").unwrap()[0].seq, lone);
    let version: u32 = store
        .inner
        .lock_writer()
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    std::fs::remove_dir_all(dir).ok();
}

/// A write that meets a lock another connection holds (as the checkpoint
/// thread's RESTART) goes through once the lock is let go within the
/// limit, and fails as "locked" when it is held past it.
#[test]
fn a_write_waits_for_a_held_lock_up_to_its_limit() {
    let (store, dir) = temp_store();
    drop(store);
    let path = dir.join(FILE_NAME);
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut writer = Connection::open(&path).unwrap();
    wait_for_locks(&mut writer, Duration::from_millis(50)).unwrap();
    let refused = writer
        .execute_batch("BEGIN IMMEDIATE; COMMIT;")
        .unwrap_err();
    assert_eq!(
        refused.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy),
        "{refused}"
    );

    wait_for_locks(&mut writer, BUSY_TIMEOUT).unwrap();
    let released = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        holder.execute_batch("COMMIT").unwrap();
        holder
    });
    writer.execute_batch("BEGIN IMMEDIATE; COMMIT;").unwrap();
    released.join().unwrap();
    std::fs::remove_dir_all(dir).ok();
}
