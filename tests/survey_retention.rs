//! Surveys follow `--survey-retention-days`, counted from their last
//! activity (their creation or their latest message): a survey idle for
//! longer goes with every row and its webhook; one mailed within it stays
//! whole, its oldest rows included. On real sled and SQLite files, swept
//! with a retention of seconds (the records are dated back, as
//! tests/retention_gc.rs does with messages), and by `mailscore serve`
//! itself at start-up, in days.

mod support;

use mailscore::store::Store;
use mailscore::survey::online::{self, KeptRow, Survey};
use mailscore::survey::retention::remove_idle;
use mailscore::webhooks;
use std::process::Command;
use support::dns::{TestDns, Zone};
use support::server::{Server, fresh_data_dir};
use support::store_files::{data_dir, unix_now};

fn rfc3339(at: u64) -> String {
    mail_parser::DateTime::from_timestamp(at as i64).to_rfc3339()
}

/// Survey `id` as `POST /api/surveys` keeps it, created at `at`, with a
/// webhook.
fn create(store: &Store, id: &str, at: u64) {
    let survey = Survey {
        id: id.into(),
        name: format!("survey {id}"),
        expect_domain: Some("go.jp".into()),
        created_at: rfc3339(at),
    };
    store.put_survey(id, &survey.encode()).unwrap();
    let hook = webhooks::survey_key(id);
    store
        .put_webhook(&hook, "https://hooks.example/s", false)
        .unwrap();
}

/// The row message `seq` from `from` leaves in survey `id`, received at `at`.
fn count(store: &Store, id: &str, seq: u64, from: &str, at: u64) {
    let row = serde_json::from_value(serde_json::json!({
        "from": from, "label": "news", "messages": 1,
        "first_seen": rfc3339(at), "last_seen": rfc3339(at),
        "smime": "not_set", "spf": "set", "dkim": "set", "dmarc": "not_set",
        "score": 8.5, "grade": "safe",
    }))
    .unwrap();
    let entry = online::entry(seq, "news");
    let kept = KeptRow {
        entry: entry.clone(),
        row,
    };
    store.put_survey_row(id, &entry, &kept.encode()).unwrap();
}

/// Three surveys created `age` seconds before `now`: `idle`, whose only
/// message is as old; `mailed`, with a message as old and one at `now`;
/// `quiet`, never mailed. And `fresh`, created at `now`.
fn fill(store: &Store, now: u64, age: u64) {
    let then = now - age;
    create(store, "idle", then);
    count(store, "idle", 1, "a@one.go.jp", then);
    create(store, "mailed", then);
    count(store, "mailed", 2, "b@two.go.jp", then);
    count(store, "mailed", 3, "c@three.go.jp", now);
    create(store, "quiet", then);
    create(store, "fresh", now);
    store.flush().unwrap();
}

/// A survey is gone whole: definition, rows and webhook.
fn assert_gone(store: &Store, id: &str) {
    assert!(store.survey(id).unwrap().is_none(), "{id}");
    assert!(store.survey_rows(id).unwrap().is_empty(), "{id}");
    let hook = webhooks::survey_key(id);
    assert!(store.webhook(&hook).unwrap().is_none(), "{id}");
}

fn assert_kept(store: &Store, id: &str, rows: usize) {
    assert!(store.survey(id).unwrap().is_some(), "{id}");
    assert_eq!(store.survey_rows(id).unwrap().len(), rows, "{id}");
    let hook = webhooks::survey_key(id);
    assert!(store.webhook(&hook).unwrap().is_some(), "{id}");
}

/// A survey retention of 30 s over records a minute old.
fn sweep_idle_surveys(store: Store) {
    let now = unix_now();
    fill(&store, now, 60);
    // The messages' sweep leaves surveys alone, whatever their age.
    assert_eq!(store.remove_received_before(now + 1).unwrap(), 0);
    assert_kept(&store, "idle", 1);

    assert_eq!(remove_idle(&store, now - 30).unwrap(), 2);
    assert_gone(&store, "idle");
    assert_gone(&store, "quiet");
    // Mailed within the retention: every row stays, the old one too.
    assert_kept(&store, "mailed", 2);
    assert_kept(&store, "fresh", 0);
    // Nothing left to sweep.
    assert_eq!(remove_idle(&store, now - 30).unwrap(), 0);
}

#[test]
fn idle_surveys_go_with_their_rows_and_webhook_on_sled() {
    let dir = data_dir("survey-retention-sled");
    sweep_idle_surveys(Store::open_sled(&dir).unwrap());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn idle_surveys_go_with_their_rows_and_webhook_on_sqlite() {
    let dir = data_dir("survey-retention-sqlite");
    sweep_idle_surveys(Store::open(&dir).unwrap());
    std::fs::remove_dir_all(dir).ok();
}

/// `mailscore serve --survey-retention-days 2` over surveys made three
/// days ago: at start-up the idle ones are gone, the one mailed an hour
/// ago answers with its rows.
#[test]
fn serve_sweeps_idle_surveys_at_start_up_on_both_embedded_stores() {
    let dns = TestDns::start(Zone::new());
    for kind in ["sqlite", "sled"] {
        let dir = fresh_data_dir();
        std::fs::create_dir_all(&dir).unwrap();
        {
            let store = match kind {
                "sled" => Store::open_sled(&dir).unwrap(),
                _ => Store::open(&dir).unwrap(),
            };
            let now = unix_now();
            fill(&store, now - 3600, 3 * 86_400 - 3600);
        }
        let args = [
            "--store",
            kind,
            "--retention-days",
            "1",
            "--survey-retention-days",
            "2",
        ];
        let server = Server::start_in(dir, dns.addr, &args, &[]);
        for idle in ["idle", "quiet"] {
            let (status, body) = server.get(&format!("/api/surveys/{idle}"));
            assert_eq!(status, 404, "{kind} {idle}: {body}");
        }
        let (status, body) = server.get("/api/surveys/mailed");
        assert_eq!(status, 200, "{kind}: {body}");
        let tables: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(tables["senders"], 2, "{kind}: {tables:#}");
        let (status, _) = server.get("/api/surveys/fresh");
        assert_eq!(status, 200, "{kind}");
    }
}

#[test]
fn a_survey_retention_shorter_than_the_retention_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .args(["config", "check", "--retention-days", "30"])
        .args(["--survey-retention-days", "7"])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("survey_retention_days")
            && stderr.contains("at least retention_days (30 days)"),
        "{stderr}"
    );
}
