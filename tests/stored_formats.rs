//! Stored formats across builds. `tests/fixtures/datadir-v1/` is a data
//! directory written by the build that numbered the formats (message
//! format 1, report format 2): every later build must serve its reports
//! and history as they were (`FIXTURE=update cargo test --test
//! stored_formats` writes it again, with its summary beside it; do that
//! only when a format is meant to change, with a migration). And a record
//! a newer build wrote is refused with its format named, and left as it is.

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use support::dkim::rsa_signed;
use support::dns::{TestDns, Zone};
use support::server::{Server, fresh_data_dir};
use support::zones::good_example;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/datadir-v1")
}

fn summary_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/datadir-v1.json")
}

/// The addresses in the fixture and how many sends each has.
const SENDS: [(&str, usize); 2] = [("fixture-a", 2), ("fixture-b", 1)];

/// What a build reads back from the fixture, in a form that later fields
/// (added with serde defaults) do not disturb.
fn summary(server: &Server) -> Value {
    let mut out = serde_json::Map::new();
    for (id, _) in SENDS {
        let (status, body) = server.get(&format!("/api/tests/{id}"));
        assert_eq!(status, 200, "{id}: {body}");
        let report: Value = serde_json::from_str(&body).unwrap();
        let (status, body) = server.get(&format!("/api/tests/{id}/history"));
        assert_eq!(status, 200, "{id}: {body}");
        let history: Value = serde_json::from_str(&body).unwrap();
        let rules: Vec<&Value> = report["deductions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| &d["rule"])
            .collect();
        out.insert(
            id.to_string(),
            json!({
                "status": report["status"],
                "score": report["score"],
                "received_at": report["received_at"],
                "subject": report["message"]["subject"],
                "spf": report["checks"]["spf"]["result"],
                "dkim": report["checks"]["dkim"][0]["result"],
                "dmarc": report["checks"]["dmarc"]["result"],
                "rules": rules,
                "sends": history["sends"].as_array().map(Vec::len),
                "first_title": report["deductions"][0]["title"]["en"],
            }),
        );
    }
    Value::Object(out)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Writes the fixture with this build: two sends to one address (a DKIM
/// pass, then a fail), one spoofed message to another.
fn write_fixture(dns: &TestDns) {
    // sled, the default store when the formats were numbered: the fixture
    // is also the data directory a first start on SQLite migrates.
    let server = Server::start_with_env(
        dns.addr,
        &["--store", "sled"],
        &[("MAILSCORE_PROBE", "off")],
    );
    let message = |id: &str, n: u32| {
        format!(
            "From: alice@good.example\r\nTo: {id}@localhost\r\nSubject: fixture {id} {n}\r\n\
             Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{id}.{n}@good.example>\r\n\r\nHello.\r\n"
        )
    };
    let signed = rsa_signed(&message("fixture-a", 1), "good.example", "sel1");
    server.send_mail_tls(
        "mail.good.example",
        "alice@good.example",
        &["fixture-a@localhost"],
        &signed,
    );
    server.wait_for_report("fixture-a");
    let mut broken = rsa_signed(&message("fixture-a", 2), "good.example", "sel1");
    broken.extend_from_slice(b"Altered after signing.\r\n");
    server.send_mail_tls(
        "mail.good.example",
        "alice@good.example",
        &["fixture-a@localhost"],
        &broken,
    );
    let unsigned = message("fixture-b", 1);
    server.send_mail_tls(
        "mail.good.example",
        "bounce@other.example",
        &["fixture-b@localhost"],
        unsigned.as_bytes(),
    );
    for (id, sends) in SENDS {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let (_, body) = server.get(&format!("/api/tests/{id}/history"));
            let history: Value = serde_json::from_str(&body).unwrap_or_default();
            if history["sends"].as_array().map(Vec::len) == Some(sends) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{id}: {body}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let expected = summary(&server);
    let data = server.stop();
    std::fs::remove_dir_all(fixture_dir()).ok();
    copy_dir(&data, &fixture_dir());
    // The self-signed TLS pair is made again at start-up.
    std::fs::remove_dir_all(fixture_dir().join("tls")).ok();
    std::fs::remove_dir_all(&data).ok();
    let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
    std::fs::write(summary_file(), text).unwrap();
}

#[test]
fn a_data_dir_of_format_1_is_read_by_every_later_build() {
    let dns = TestDns::start(good_example(Zone::new()));
    if std::env::var_os("FIXTURE").is_some_and(|v| v == "update") {
        write_fixture(&dns);
    }
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(summary_file()).unwrap()).unwrap();
    let data = fresh_data_dir();
    copy_dir(&fixture_dir(), &data);
    // Kept however old the fixture gets. The fixture is sled's: the first
    // start copies it into SQLite, the default store.
    let start = |data| {
        Server::start_in(
            data,
            dns.addr,
            &["--retention-days", "36500"],
            &[("MAILSCORE_PROBE", "off")],
        )
    };
    let server = start(data);
    assert_eq!(summary(&server), expected);
    assert_eq!(expected["fixture-a"]["sends"], 2);
    assert_eq!(expected["fixture-a"]["dkim"], "fail");
    let data = server.stop();
    assert!(data.join("mailscore.sqlite3").is_file());
    assert!(!data.join("db").exists(), "sled's files moved aside");
    let aside = data.join("sled-before-sqlite");
    assert!(aside.join("db").is_file() && aside.join("conf").is_file());
    // The next start reads SQLite alone, the same.
    let server = start(data);
    assert_eq!(summary(&server), expected);
    std::fs::remove_dir_all(server.stop()).ok();
}

#[test]
fn a_report_of_a_newer_format_is_refused_and_left_untouched() {
    let dns = TestDns::start(Zone::new());
    let data = fresh_data_dir();
    // Format 7 of a later build: whatever its bytes mean.
    let newer = b"\x07\x00\x00\x00\x10{\"from\":\"the future\"}".to_vec();
    {
        let store = mailscore::store::Store::open(&data).unwrap();
        let envelope = mailscore::smtp::Envelope {
            client_ip: "192.0.2.1".parse().unwrap(),
            client_port: 0,
            helo: "client.example".into(),
            mail_from: "a@example.org".into(),
            rcpt_to: vec!["from-the-future@localhost".into()],
            // Now: older would be swept by the retention at start-up.
            received_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            tls: None,
        };
        let seq = store
            .put_message(
                "from-the-future",
                &envelope,
                b"Subject: later\r\n\r\nHi.\r\n",
            )
            .unwrap();
        assert!(store.put_report("from-the-future", seq, &newer).unwrap());
        store.flush().unwrap();
    }
    let server = Server::start_in(data, dns.addr, &[], &[("MAILSCORE_PROBE", "off")]);
    let (status, body) = server.get("/api/tests/from-the-future");
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains(
            "report written by a newer mailscore (format 7; this one reads up to 3), left untouched"
        ),
        "{body}"
    );
    let (status, page) = server.get("/tests/from-the-future");
    assert_eq!(status, 500, "{page}");
    assert!(page.contains("could not be read"), "{page}");
    let data = server.stop();
    let store = mailscore::store::Store::open(&data).unwrap();
    assert_eq!(store.report("from-the-future").unwrap(), Some(newer));
    drop(store);
    std::fs::remove_dir_all(data).ok();
}
