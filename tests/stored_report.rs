//! Reports are stored without their deductions' texts, which are kept once
//! by hash; reading puts them back. A real report from the pipeline, a real
//! sled store, and the web stage's reader.

mod support;

use mailscore::report::Report;
use mailscore::report::stored::{self, SavedTexts};
use mailscore::smtp::Envelope;
use mailscore::store::Store;
use mailscore::store::arrivals::Arrivals;
use mailscore::web::Reports;
use std::path::PathBuf;
use support::dns::{TestDns, Zone};
use support::pipeline::envelope;

/// No SPF, DKIM or DMARC anywhere, and a subject a page must escape: a
/// report with many deductions and hostile text.
const RAW: &str = "From: \"Eve \\\"<b>\\\"\" <eve@nowhere.example>\r\nTo: box@localhost\r\n\
Subject: =?UTF-8?B?5pel5pys6KqeIDxzY3JpcHQ+?= \"quoted\" \\ back\r\n\r\nhello\r\n";

async fn report() -> (Envelope, Report) {
    let dns = TestDns::start(Zone::new());
    let envelope = envelope("192.0.2.25", "mail.nowhere.example", "eve@nowhere.example");
    let report = support::pipeline::report(&dns, &envelope, RAW.as_bytes()).await;
    assert!(report.deductions.len() >= 3, "{:?}", report.deductions);
    (envelope, report)
}

fn store_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailscore-stored-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Stores `report` for "box" as `serve` does: the texts the store may
/// lack, then the report. Returns how many texts it stored.
fn save(store: &Store, envelope: &Envelope, report: &Report, saved: &SavedTexts) -> usize {
    let seq = store.put_message("box", envelope, RAW.as_bytes()).unwrap();
    let stored = stored::encode(report.clone()).unwrap();
    let texts = saved.unsaved(&stored);
    for (hash, json) in &texts {
        store.put_texts(*hash, json).unwrap();
    }
    saved.saved(texts.iter().map(|(hash, _)| *hash));
    assert!(store.put_report("box", seq, &stored.bytes).unwrap());
    texts.len()
}

/// The store at `dir` opened again. sled lets go of its lock when its
/// flusher thread, which wakes every 500 ms, drops the last handle: until
/// then a second open fails (seen when the machine is loaded).
fn reopen(dir: &std::path::Path) -> Store {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Ok(store) => return store,
            Err(e) if std::time::Instant::now() > deadline => panic!("reopen: {e}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

/// A new store holding `bytes` as the report for "box", and no texts.
fn store_with_report(name: &str, envelope: &Envelope, bytes: &[u8]) -> Store {
    let store = Store::open(&store_dir(name)).unwrap();
    let seq = store.put_message("box", envelope, RAW.as_bytes()).unwrap();
    assert!(store.put_report("box", seq, bytes).unwrap());
    store
}

#[tokio::test]
async fn a_stored_report_reads_back_as_the_same_json() {
    let (envelope, report) = report().await;
    let full = serde_json::to_vec(&report).unwrap();
    let stored = stored::encode(report.clone()).unwrap();
    for d in &report.deductions {
        let title = serde_json::to_string(&d.title.ja).unwrap();
        assert!(
            !stored
                .bytes
                .windows(title.len())
                .any(|w| w == title.as_bytes()),
            "{} stored with its text",
            d.rule
        );
    }
    assert!(
        stored.bytes.len() * 2 < full.len(),
        "{} of {}",
        stored.bytes.len(),
        full.len()
    );

    let dir = store_dir("same");
    let store = Store::open(&dir).unwrap();
    save(&store, &envelope, &report, &SavedTexts::default());
    let reports = Reports::new(store.clone());
    assert_eq!(reports.json("box").unwrap().unwrap(), full);
    assert_eq!(reports.report("box").unwrap().unwrap(), report);
    drop((reports, store));
    // A new process has an empty cache: the texts come from the store.
    let reports = Reports::new(reopen(&dir));
    assert_eq!(reports.json("box").unwrap().unwrap(), full);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn each_text_is_written_once() {
    let (envelope, report) = report().await;
    let store = Store::open(&store_dir("once")).unwrap();
    let texts = SavedTexts::default();
    let distinct: std::collections::HashSet<_> = report
        .deductions
        .iter()
        .map(|d| (&d.title.en, &d.title.ja, &d.advice.en, &d.advice.ja))
        .collect();
    assert_eq!(save(&store, &envelope, &report, &texts), distinct.len());
    assert_eq!(save(&store, &envelope, &report, &texts), 0);
    // An edited explanation is a new text; the old reports keep theirs.
    let mut edited = report.clone();
    edited.deductions[0].advice.en = "Publish an SPF record today.".into();
    assert_eq!(save(&store, &envelope, &edited, &texts), 1);
    let read = Reports::new(store).report("box").unwrap().unwrap();
    assert_eq!(read, edited);
    let _ = std::fs::remove_dir_all(store_dir("once"));
}

#[tokio::test]
async fn missing_texts_leave_the_rest_of_the_report_readable() {
    let (envelope, report) = report().await;
    let stored = stored::encode(report.clone()).unwrap();
    let store = store_with_report("missing", &envelope, &stored.bytes);
    let read = Reports::new(store).report("box").unwrap().unwrap();
    assert_eq!(read.score, report.score);
    assert_eq!(read.checks, report.checks);
    let rules = |r: &Report| {
        r.deductions
            .iter()
            .map(|d| (d.rule.clone(), d.check, d.points))
            .collect::<Vec<_>>()
    };
    assert_eq!(rules(&read), rules(&report));
    assert!(
        read.deductions
            .iter()
            .all(|d| d.title.en == "(explanation not found)"),
        "{:?}",
        read.deductions
    );
    let _ = std::fs::remove_dir_all(store_dir("missing"));
}

#[tokio::test]
async fn reports_stored_whole_read_as_before() {
    let (envelope, report) = report().await;
    let full = serde_json::to_vec(&report).unwrap();
    let store = store_with_report("whole", &envelope, &full);
    let reports = Reports::new(store);
    assert_eq!(reports.json("box").unwrap().unwrap(), full);
    assert_eq!(reports.report("box").unwrap().unwrap(), report);
    let _ = std::fs::remove_dir_all(store_dir("whole"));
}

#[test]
fn a_cut_stored_report_is_an_error_not_a_panic() {
    for bytes in [
        &b"\x01"[..],
        b"\x01\xff\x00\x00\x00{",
        b"\x01\x02\x00\x00\x00{}[[1",
    ] {
        assert!(
            stored::expand(bytes.to_vec(), |_| None).is_err(),
            "{bytes:?}"
        );
    }
}

/// A report with a probe of the sender's servers, as the probe writes one.
fn with_probe(mut report: Report, banner: &str) -> Report {
    let finding: mailscore::checks::mail_server::MailServerFinding = serde_json::from_value(serde_json::json!({
        "status": "probed",
        "domains": [{
            "domain": "nowhere.example", "role": "from", "targets": "exchangers", "errors": [],
            "hosts": [{
                "host": "mx.nowhere.example", "preference": 10, "implicit": false,
                "address": "192.0.2.25", "reached": "completed", "error": null,
                "banner": banner, "extensions": ["PIPELINING", "STARTTLS"],
                "starttls": "not_offered", "tls": null,
                "relay": {"verdict": "closed", "mail_from_refused": null, "attempts": [], "error": null}
            }]
        }]
    }))
    .unwrap();
    report.checks.mail_server = finding;
    report
}

#[tokio::test]
async fn a_probe_is_stored_once_and_read_back_in_place() {
    let (envelope, report) = report().await;
    // A banner with the very bytes the probe's place is found by: a
    // sender's text is escaped, so it cannot be mistaken for it.
    let report = with_probe(
        report,
        "220 \"mail_server\":{\"status\":\"not_checked\",\"domains\":[]}},\"grade\":",
    );
    let full = serde_json::to_vec(&report).unwrap();
    let stored = stored::encode(report.clone()).unwrap();
    let plain = stored::uncompressed(&stored.bytes).unwrap();
    assert!(
        plain.windows(6).any(|w| w == b"\"spf\":"),
        "the head is there"
    );
    assert!(
        !plain.windows(18).any(|w| w == b"mx.nowhere.example"),
        "the probe is kept apart"
    );
    // The texts it names are exactly the texts it needs kept (what the
    // retention sweep's collection marks).
    let named: std::collections::HashSet<u64> = stored::referenced_texts(&stored.bytes)
        .into_iter()
        .collect();
    let needed: std::collections::HashSet<u64> = SavedTexts::default()
        .unsaved(&stored)
        .into_iter()
        .map(|(hash, _)| hash)
        .collect();
    assert_eq!(named, needed);
    assert!(named.len() >= 2, "the probe and at least one explanation");

    let dir = store_dir("probe");
    let store = Store::open(&dir).unwrap();
    let texts = SavedTexts::default();
    let first = save(&store, &envelope, &report, &texts);
    assert_eq!(
        save(&store, &envelope, &report, &texts),
        0,
        "the same probe is written once"
    );
    let reports = Reports::new(store.clone());
    assert_eq!(reports.json("box").unwrap().unwrap(), full);
    assert_eq!(reports.report("box").unwrap().unwrap(), report);
    // Another probe result is another text.
    let other = with_probe(report.clone(), "220 mx ESMTP");
    assert_eq!(save(&store, &envelope, &other, &texts), 1);
    assert_eq!(reports.report("box").unwrap().unwrap(), other);
    assert!(first >= 2);

    // A store that lost the probe still reads: not checked.
    let lost = store_with_report("probe-lost", &envelope, &stored.bytes);
    let read = Reports::new(lost).report("box").unwrap().unwrap();
    assert_eq!(read.checks.mail_server, Default::default());
    assert_eq!(read.score, report.score);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(store_dir("probe-lost"));
}

/// A report someone waits for is read from its announcement before the
/// writer commits it, its texts with it (the store has none yet), as the
/// latest send of the history and of the page; once the store has it and
/// the announcement is settled, the store's copy reads the same.
#[tokio::test]
async fn a_report_waited_for_reads_the_same_before_its_commit() {
    let (envelope, report) = report().await;
    let full = serde_json::to_vec(&report).unwrap();
    let store = Store::open(&store_dir("announced")).unwrap();
    let arrivals = std::sync::Arc::new(Arrivals::default());
    let reports = Reports::announced_by(store.clone(), arrivals.clone());
    let seq = store.put_message("box", &envelope, RAW.as_bytes()).unwrap();
    let stored = stored::encode(report.clone()).unwrap();
    let saved = SavedTexts::default();
    let texts = saved.unsaved(&stored);
    assert!(!texts.is_empty());
    assert!(
        !arrivals.announce("box", seq, &stored.bytes, &texts),
        "nobody waits"
    );
    assert_eq!(reports.json("box").unwrap(), None);

    let watch = arrivals.watch("box");
    assert!(arrivals.announce("box", seq, &stored.bytes, &texts));
    assert_eq!(store.report("box").unwrap(), None);
    assert_eq!(reports.json("box").unwrap().unwrap(), full);
    assert_eq!(reports.history_json("box").unwrap(), vec![full.clone()]);
    let page = reports.send_and_previous("box", None).unwrap().unwrap();
    assert_eq!((page.count, &page.report), (1, &report));

    // Committed as the writer does, then settled.
    for (hash, json) in &texts {
        store.put_texts(*hash, json).unwrap();
    }
    assert!(store.put_report("box", seq, &stored.bytes).unwrap());
    arrivals.settled("box", seq);
    assert!(arrivals.announced("box").is_none());
    assert_eq!(reports.json("box").unwrap().unwrap(), full);

    // A second send announced: the page shows it with the first before it.
    let second = store.put_message("box", &envelope, RAW.as_bytes()).unwrap();
    assert!(arrivals.announce("box", second, &stored.bytes, &[]));
    let page = reports.send_and_previous("box", None).unwrap().unwrap();
    assert_eq!((page.count, page.n), (2, 2));
    assert_eq!(page.previous.as_ref(), Some(&report));
    assert_eq!(reports.history_json("box").unwrap().len(), 2);
    drop(watch);
}
