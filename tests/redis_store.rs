//! The shared store against a real `redis-server`: the store contract
//! (messages, the report compare-and-set, pending ids, retention as TTL),
//! and two real mailscore nodes sharing it — mail delivered to one, its
//! report, page and raw message read from the other.

mod support;

use mailscore::smtp::Envelope;
use mailscore::store::{Store, StoreError};
use redis::Commands;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::dns::{TestDns, Zone};
use support::redis::RedisServer;
use support::server::{Server, deliver_reply, send_mail, try_deliver};
use support::zones::good_example;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const RETENTION: Duration = Duration::from_secs(2 * 86_400);

fn envelope(id: &str) -> Envelope {
    Envelope {
        client_ip: LOCALHOST,
        client_port: 40_000,
        helo: "mail.good.example".into(),
        mail_from: "alice@good.example".into(),
        rcpt_to: vec![format!("{id}@localhost")],
        received_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        tls: None,
    }
}

fn store(redis: &RedisServer, retention: Duration) -> Store {
    Store::open_location(Some(&redis.url()), Path::new("/nonexistent"), 0, retention)
        .expect("connect to redis-server")
}

/// A plain client, to look at what the store left in Redis.
fn inspect(redis: &RedisServer) -> redis::Connection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

#[test]
fn messages_round_trip_and_only_the_pending_seq_gets_a_report() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = store(&redis, RETENTION);
    // Bytes as received: CRLF, a NUL, and invalid UTF-8 survive.
    let raw = b"Subject: one\r\n\r\nbody \x00\xff\xfe\r\n".to_vec();
    let old = store
        .put_message("box-one", &envelope("box-one"), &raw)
        .unwrap();
    let stored = store.message("box-one").unwrap().expect("stored message");
    assert_eq!(stored.raw, raw);
    assert_eq!(stored.seq, old);
    assert_eq!(stored.envelope, envelope("box-one"));
    assert!(store.is_pending("box-one").unwrap());
    assert_eq!(store.pending_ids().unwrap(), vec!["box-one".to_string()]);
    assert_eq!(store.report("box-one").unwrap(), None);

    // A newer message to the same address: the older analysis is refused.
    let new = store
        .put_message("box-one", &envelope("box-one"), b"Subject: two\r\n\r\n")
        .unwrap();
    assert_ne!(old, new);
    assert!(!store.put_report("box-one", old, b"{\"old\":1}").unwrap());
    assert_eq!(store.report("box-one").unwrap(), None);
    assert!(store.is_pending("box-one").unwrap());
    assert!(store.put_report("box-one", new, b"{\"new\":1}").unwrap());
    assert_eq!(store.report("box-one").unwrap().unwrap(), b"{\"new\":1}");
    assert!(!store.is_pending("box-one").unwrap());
    assert!(store.pending_ids().unwrap().is_empty());
    // Once reported, the same seq cannot write again.
    assert!(!store.put_report("box-one", new, b"{\"again\":1}").unwrap());
    assert_eq!(
        store.message("box-one").unwrap().unwrap().raw,
        b"Subject: two\r\n\r\n"
    );
    assert_eq!(store.message("no-such-box").unwrap().map(|m| m.seq), None);
}

/// The writer hands a round's writes to Redis together (store/batch.rs):
/// every acknowledged message is stored, and of several to one address
/// the one with the highest seq is the latest, as when they went in turn.
#[test]
fn a_writer_round_in_flight_together_keeps_the_latest_message_of_an_address() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = store(&redis, RETENTION);
    let writer = mailscore::store::Writer::start(store.clone()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let written = runtime.block_on(async {
        let writes = (0..60).map(|n| {
            let writer = writer.clone();
            // Every third write goes to one address, the rest each to their own.
            let id = if n % 3 == 0 {
                "same".to_string()
            } else {
                format!("box{n}")
            };
            tokio::spawn(async move {
                let raw = format!("Subject: {n}\r\n\r\n").into_bytes();
                let written = writer.write(vec![id.clone()], envelope(&id), raw).await;
                (id, n, written.expect("stored").seqs[0])
            })
        });
        let mut written = Vec::new();
        for write in writes.collect::<Vec<_>>() {
            written.push(write.await.unwrap());
        }
        written
    });
    for (id, n, seq) in &written {
        if id != "same" {
            let message = store.message(id).unwrap().expect("acknowledged, so stored");
            assert_eq!(
                (message.seq, message.raw),
                (*seq, format!("Subject: {n}\r\n\r\n").into_bytes())
            );
        }
    }
    let (_, n, seq) = written
        .iter()
        .filter(|(id, ..)| id == "same")
        .max_by_key(|(.., seq)| *seq)
        .unwrap();
    let latest = store.message("same").unwrap().unwrap();
    assert_eq!(latest.seq, *seq, "the highest seq is the latest message");
    assert_eq!(latest.raw, format!("Subject: {n}\r\n\r\n").into_bytes());
    assert_eq!(
        store.pending_ids().unwrap().len(),
        41,
        "40 addresses of their own and one shared"
    );
}

#[test]
fn reports_and_raw_messages_carry_the_retention_as_ttl() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = store(&redis, RETENTION);
    let seq = store
        .put_message("box-ttl", &envelope("box-ttl"), b"x")
        .unwrap();
    store.put_report("box-ttl", seq, b"{}").unwrap();
    let mut conn = inspect(&redis);
    let retention_ms = RETENTION.as_millis() as i64;
    for key in ["raw", "message", "report"] {
        let ttl: i64 = conn.pttl(format!("mailscore:{{box-ttl}}:{key}")).unwrap();
        // Set from retention_days (and not lost on the way): within a
        // minute below it, however slow the machine.
        assert!(
            ttl <= retention_ms && ttl > retention_ms - 60_000,
            "{key}: {ttl}"
        );
    }
    // The sweep has nothing to do: Redis expires the keys itself.
    assert_eq!(store.remove_received_before(u64::MAX).unwrap(), 0);
    assert!(store.message("box-ttl").unwrap().is_some());
}

/// Every saved report is kept in order, at most MAX_SENDS, with the
/// retention as TTL; a refused (stale) report adds nothing.
#[test]
fn every_send_is_kept_in_order_with_the_retention() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = store(&redis, RETENTION);
    let max = mailscore::store::history::MAX_SENDS;
    let mut seqs = Vec::new();
    for n in 0..max + 2 {
        let seq = store
            .put_message("box-hist", &envelope("box-hist"), b"x")
            .unwrap();
        assert!(
            store
                .put_report("box-hist", seq, format!("{{\"n\":{n}}}").as_bytes())
                .unwrap()
        );
        seqs.push(seq);
    }
    assert!(!store.put_report("box-hist", seqs[0], b"{}").unwrap());
    let sends = store.history("box-hist").unwrap();
    assert_eq!(sends.len(), max);
    assert_eq!(sends.iter().map(|s| s.seq).collect::<Vec<_>>(), seqs[2..]);
    assert_eq!(sends[0].report, b"{\"n\":2}");
    assert!(store.history("box-none").unwrap().is_empty());
    let ttl: i64 = inspect(&redis)
        .pttl("mailscore:{box-hist}:history")
        .unwrap();
    let retention_ms = RETENTION.as_millis() as i64;
    assert!(ttl <= retention_ms && ttl > retention_ms - 60_000, "{ttl}");
}

/// Two sends to one address through two nodes: either node lists both
/// and names what changed (the second one DKIM-signed).
#[test]
fn the_history_of_an_address_is_shared_by_nodes() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dns = TestDns::start(good_example(Zone::new()));
    let url = redis.url();
    let node_a = Server::start(dns.addr, &["--store", &url]);
    let node_b = Server::start(dns.addr, &["--store", &url]);
    let id = "shared-history";
    let rcpt = format!("{id}@localhost");
    let message = |subject: &str| {
        format!(
            "From: Alice <alice@good.example>\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\
             Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@good.example>\r\n\r\nHi.\r\n",
            mailscore::test_id::generate()
        )
    };
    send_mail(
        node_a.smtp,
        LOCALHOST,
        "mail.good.example",
        "alice@good.example",
        &[&rcpt],
        message("unsigned").as_bytes(),
    );
    node_a.wait_for_report(id);
    let signed = support::dkim::rsa_signed(&message("signed"), "good.example", "sel1");
    send_mail(
        node_b.smtp,
        LOCALHOST,
        "mail.good.example",
        "alice@good.example",
        &[&rcpt],
        &signed,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let history = loop {
        let (_, body) = node_a.get(&format!("/api/tests/{id}/history"));
        let history: serde_json::Value = serde_json::from_str(&body).unwrap();
        if history["sends"].as_array().unwrap().len() == 2 {
            break history;
        }
        assert!(Instant::now() < deadline, "{history}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (_, from_b) = node_b.get(&format!("/api/tests/{id}/history"));
    let from_b: serde_json::Value = serde_json::from_str(&from_b).unwrap();
    assert_eq!(from_b["sends"], history["sends"]);
    let (status, diff) = node_b.get(&format!("/api/tests/{id}/diff"));
    assert_eq!(status, 200, "{diff}");
    let diff: serde_json::Value = serde_json::from_str(&diff).unwrap();
    let dkim_set = diff["changes"].as_array().unwrap().iter().any(|c| {
        c["aspect"] == "setup" && c["name"] == "dkim" && c["from"] == "not_set" && c["to"] == "set"
    });
    assert!(dkim_set, "{diff:#}");
    assert!(
        diff["lost"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "DKIM_NONE"),
        "{diff:#}"
    );
}

/// Reports name their deductions' texts by hash; every node reads the
/// texts any node wrote, and they are kept ten minutes longer than the
/// retention from their last save: past every report that names them,
/// and not for ever (Redis's side of the text collection).
#[test]
fn texts_are_shared_by_nodes_and_outlive_the_reports_naming_them() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (one, two) = (store(&redis, RETENTION), store(&redis, RETENTION));
    let texts = br#"{"title":{"en":"t","ja":"\u65e5"},"advice":{"en":"a","ja":"b"}}"#;
    one.put_texts(0xfeed_0000_0000_0001, texts).unwrap();
    assert_eq!(two.texts(0xfeed_0000_0000_0001).unwrap().unwrap(), texts);
    assert_eq!(two.texts(0xfeed_0000_0000_0002).unwrap(), None);
    let ttl: i64 = inspect(&redis)
        .pttl("mailscore:texts:feed000000000001")
        .unwrap();
    let retention_ms = RETENTION.as_millis() as i64;
    assert!(
        ttl > retention_ms + 590_000 && ttl <= retention_ms + 600_000,
        "retention {retention_ms} ms, text TTL {ttl} ms"
    );
}

/// A survey's keys carry the survey retention as TTL (not the tests'),
/// and each row renews all of them: a survey goes once idle that long,
/// whole, by Redis's own expiry; the sweep has nothing to do.
#[test]
fn surveys_carry_the_survey_retention_as_ttl_which_each_row_renews() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let survey_retention = 3 * RETENTION;
    let store = store(&redis, RETENTION).with_survey_retention(survey_retention);
    store
        .put_webhook("survey:s-ttl", "https://hooks.example/s", false)
        .unwrap();
    store.put_survey("s-ttl", b"{}").unwrap();
    let keys = [
        "mailscore:survey:{s-ttl}",
        "mailscore:survey:{s-ttl}:rows",
        "mailscore:webhook:survey:s-ttl",
    ];
    let mut conn = inspect(&redis);
    let survey_ms = survey_retention.as_millis() as i64;
    let near = |ttl: i64| ttl <= survey_ms && ttl > survey_ms - 60_000;
    for key in [keys[0], keys[2]] {
        let ttl: i64 = conn.pttl(key).unwrap();
        assert!(near(ttl), "{key}: {ttl}");
        // As if most of it had passed: the next row renews it.
        let _: () = conn.pexpire(key, 60_000).unwrap();
    }
    store.put_survey_row("s-ttl", "1.news", b"row").unwrap();
    for key in keys {
        let ttl: i64 = conn.pttl(key).unwrap();
        assert!(near(ttl), "{key}: {ttl}");
    }
    assert!(store.survey_ids_to_sweep().unwrap().is_empty());

    // Expired by Redis itself: a survey retention of a second.
    let short = self::store(&redis, RETENTION).with_survey_retention(Duration::from_secs(1));
    short.put_survey("s-gone", b"{}").unwrap();
    short.put_survey_row("s-gone", "1.news", b"row").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while short.survey("s-gone").unwrap().is_some() {
        assert!(Instant::now() < deadline, "the survey never expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    while !short.survey_rows("s-gone").unwrap().is_empty() {
        assert!(Instant::now() < deadline, "its rows never expired");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_expired_message_gets_no_report() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // Expired by Redis itself: a retention of a second.
    let store = store(&redis, Duration::from_secs(1));
    let seq = store
        .put_message("box-gone", &envelope("box-gone"), b"x")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.is_pending("box-gone").unwrap() {
        assert!(Instant::now() < deadline, "key never expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(store.message("box-gone").unwrap().is_none());
    assert!(!store.put_report("box-gone", seq, b"{}").unwrap());
    assert_eq!(store.report("box-gone").unwrap(), None);

    // Only the message gone (keys expire one by one): still no report.
    let store = self::store(&redis, RETENTION);
    let seq = store
        .put_message("box-half", &envelope("box-half"), b"x")
        .unwrap();
    let _: () = inspect(&redis).del("mailscore:{box-half}:message").unwrap();
    assert!(!store.put_report("box-half", seq, b"{}").unwrap());
    assert_eq!(store.report("box-half").unwrap(), None);
}

#[test]
fn an_unreachable_or_invalid_store_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://:secret@127.0.0.1:{port}/0");
    let err = Store::open_location(Some(&url), Path::new("/nonexistent"), 0, RETENTION)
        .err()
        .expect("nothing listens there");
    assert!(matches!(err, StoreError::Redis { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("secret"), "{text}");

    // The server refuses TLS (no TLS client in this build) before starting.
    let output = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .args(["serve", "--store", "rediss://:secret@redis.example/0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("store"), "{stderr}");
    assert!(stderr.contains("TLS"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
}

#[test]
fn mail_delivered_to_one_node_is_read_from_another() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dns = TestDns::start(good_example(Zone::new()));
    let url = redis.url();
    // One node configured by flag, the other by environment.
    let node_a = Server::start(dns.addr, &["--store", &url]);
    let node_b = Server::start_with_env(dns.addr, &[], &[("MAILSCORE_STORE", &url)]);
    let id = "shared-store-1";
    let (status, body) = node_b.get(&format!("/api/tests/{id}"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"message_received\":false"), "{body}");

    let marker = mailscore::test_id::generate();
    let message = format!(
        "From: Alice <alice@good.example>\r\nTo: {id}@localhost\r\nSubject: Across nodes\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{marker}@good.example>\r\n\r\nBody {marker}.\r\n"
    );
    send_mail(
        node_a.smtp,
        LOCALHOST,
        "mail.good.example",
        "alice@good.example",
        &[&format!("{id}@localhost")],
        message.as_bytes(),
    );

    let report = node_b.wait_for_report(id);
    assert_eq!(report["address"], format!("{id}@localhost"));
    assert_eq!(report["checks"]["spf"]["result"], "pass", "{report:#}");
    assert_eq!(report["envelope"]["client_ip"], "127.0.0.1");
    // Node A serves the very same report.
    let (_, from_a) = node_a.get(&format!("/api/tests/{id}"));
    let from_a: serde_json::Value = serde_json::from_str(&from_a).unwrap();
    assert_eq!(from_a, report);

    let (status, page) = node_b.get(&format!("/tests/{id}"));
    assert_eq!(status, 200);
    assert!(page.contains("Across nodes"), "{page}");
    let (status, raw) = node_b.get(&format!("/tests/{id}/message.eml"));
    assert_eq!(status, 200);
    assert!(raw.contains(&format!("Body {marker}.")), "{raw}");
    let (status, raw_page) = node_b.get(&format!("/tests/{id}/raw"));
    assert_eq!(status, 200);
    assert!(raw_page.contains(&marker), "{raw_page}");
    // Nothing of it went to node B's own data directory.
    assert!(!node_b.data_dir.join("db").exists());
    // Its store size is the shared Redis server's memory.
    let (status, metrics) = node_b.get("/metrics");
    assert_eq!(status, 200);
    let bytes: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("mailscore_store_bytes "))
        .unwrap_or_else(|| panic!("no mailscore_store_bytes:\n{metrics}"))
        .parse()
        .unwrap();
    assert!(bytes > 100_000.0, "Redis used_memory {bytes}");
}

#[test]
fn a_starting_node_analyses_what_another_left_pending() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // As if a node acknowledged this message and died before its report.
    let id = "left-pending";
    let message = "From: Alice <alice@good.example>\r\nTo: left-pending@localhost\r\nSubject: Left behind\r\n\r\nHello.\r\n";
    store(&redis, RETENTION)
        .put_message(id, &envelope(id), message.as_bytes())
        .unwrap();
    let dns = TestDns::start(good_example(Zone::new()));
    let node = Server::start(dns.addr, &["--store", &redis.url()]);
    let report = node.wait_for_report(id);
    assert_eq!(report["address"], format!("{id}@localhost"));
    assert_eq!(report["checks"]["spf"]["result"], "pass", "{report:#}");
    assert!(!store(&redis, RETENTION).is_pending(id).unwrap());
}

/// One transaction from good.example; true when it got 250.
fn deliver(smtp: std::net::SocketAddr, id: &str) -> bool {
    try_deliver(smtp, "mail.good.example", "alice@good.example", id)
}

#[test]
fn what_a_killed_node_acknowledged_is_reported_by_the_next_node() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dns = TestDns::start(good_example(Zone::new()));
    let url = redis.url();
    let node_a = Server::start(
        dns.addr,
        &["--store", &url, "--messages-per-ip-per-minute", "100000"],
    );
    let smtp = node_a.smtp;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let acknowledged = Arc::clone(&acknowledged);
        std::thread::spawn(move || {
            for n in 0..400 {
                let id = format!("killed-{n}");
                if !deliver(smtp, &id) {
                    break;
                }
                acknowledged.lock().unwrap().push(id);
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 20 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL mid-stream: what it acknowledged is in Redis, some of it
    // still pending.
    let _ = node_a.crash();
    sender.join().unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();

    let left = store(&redis, RETENTION).pending_ids().unwrap().len();
    eprintln!(
        "{} acknowledged, {left} pending at the kill",
        acknowledged.len()
    );
    let node_b = Server::start(dns.addr, &["--store", &url]);
    for id in &acknowledged {
        let report = node_b.wait_for_report(id);
        assert_eq!(report["message"]["subject"], id.as_str());
    }
    assert!(store(&redis, RETENTION).pending_ids().unwrap().is_empty());
}

#[test]
fn the_store_reconnects_after_redis_restarts() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let store = store(&redis, RETENTION);
    store
        .put_message("box-before", &envelope("box-before"), b"before")
        .unwrap();
    // The pooled connections now point at a server that is gone.
    redis.restart();
    let seq = store
        .put_message("box-after", &envelope("box-after"), b"after")
        .unwrap();
    assert!(store.put_report("box-after", seq, b"{}").unwrap());
    assert_eq!(store.message("box-after").unwrap().unwrap().raw, b"after");
}

/// Redis stalls between the 250 and the report (the analysis is held back
/// by a hung check, `MAILSCORE_TEST_FAULT`): the report is not dropped, it
/// is saved once Redis answers again, without a restart.
#[test]
fn a_report_the_store_could_not_take_is_saved_when_it_returns() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dns = TestDns::start(good_example(Zone::new()));
    let server = Server::start_with_env(
        dns.addr,
        &["--store", &redis.url(), "--analysis-timeout", "2"],
        &[("MAILSCORE_TEST_FAULT", "spf:hang")],
    );
    send_mail(
        server.smtp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "mail.good.example",
        "alice@good.example",
        &["stalled-store@localhost"],
        b"From: alice@good.example\r\nSubject: stalled\r\n\r\nHello.\r\n",
    );
    redis.pause();
    // The analysis ends at ~2 s; its save waits out the store's 5 s socket
    // timeout, fails, and is tried again.
    std::thread::sleep(Duration::from_secs(9));
    redis.resume();
    let report = server.wait_for_report("stalled-store");
    assert_eq!(report["id"], "stalled-store");
    assert_eq!(report["checks"]["failed"][0]["check"], "spf");
}

/// Two nodes on one Redis (durable: fsynced AOF), a flood through both, and
/// Redis killed in the middle of it and started again: while it is down
/// SMTP answers 451 (never 250) and the API 503 saying why; once it is back
/// both nodes take mail again without a restart, and every message that got
/// a 250, before or after, has its report.
#[test]
fn redis_killed_under_two_nodes_loses_nothing_accepted() {
    let Some(mut redis) = RedisServer::start_durable() else {
        return;
    };
    let dns = TestDns::start(good_example(Zone::new()));
    let url = redis.url();
    let args = [
        "--store",
        url.as_str(),
        "--messages-per-ip-per-minute",
        "100000",
    ];
    let nodes = [
        Server::start(dns.addr, &args),
        Server::start(dns.addr, &args),
    ];
    let smtps = [nodes[0].smtp, nodes[1].smtp];
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // (id, final reply, when it came)
    let replies = Arc::new(Mutex::new(Vec::<(String, String, Instant)>::new()));
    let flood = {
        let (stop, replies) = (Arc::clone(&stop), Arc::clone(&replies));
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let id = format!("outage-{n}");
                let reply =
                    deliver_reply(smtps[n % 2], "mail.good.example", "alice@good.example", &id);
                replies.lock().unwrap().push((id, reply, Instant::now()));
                n += 1;
            }
        })
    };
    let accepted = |replies: &Mutex<Vec<(String, String, Instant)>>| {
        replies
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, reply, _)| reply.starts_with("250"))
            .count()
    };
    while accepted(&replies) < 30 {
        std::thread::sleep(Duration::from_millis(10));
    }

    redis.crash();
    let down = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    for node in &nodes {
        let (status, body) = node.get("/api/tests/outage-0");
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("shared store"), "{body}");
        let (status, body) = node.get("/readyz");
        assert_eq!(status, 503, "{body}");
    }
    let up = Instant::now();
    redis.restart();
    let before = accepted(&replies);
    let deadline = Instant::now() + Duration::from_secs(30);
    while accepted(&replies) < before + 30 {
        assert!(Instant::now() < deadline, "the nodes never took mail again");
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    flood.join().unwrap();

    let replies = replies.lock().unwrap().clone();
    // Replies that came while Redis was down (with a margin for the
    // transactions it was killed in the middle of): none is a 250.
    let during: Vec<&(String, String, Instant)> = replies
        .iter()
        .filter(|(_, _, at)| *at > down + Duration::from_millis(200) && *at < up)
        .collect();
    assert!(!during.is_empty(), "no mail tried during the outage");
    for (id, reply, _) in &during {
        assert!(
            reply.starts_with("451"),
            "{id} during the outage: {reply:?}"
        );
    }
    let accepted: Vec<&String> = replies
        .iter()
        .filter(|(_, reply, _)| reply.starts_with("250"))
        .map(|(id, _, _)| id)
        .collect();
    for id in &accepted {
        let report = nodes[0].wait_for_report(id);
        assert_eq!(report["message"]["subject"], id.as_str());
        assert_eq!(nodes[1].wait_for_report(id)["id"], id.as_str());
    }
    eprintln!(
        "{} accepted, {} refused with 451 during the outage",
        accepted.len(),
        during.len()
    );
}

/// Redis stalls for 2 s (`DEBUG SLEEP 2`) while four web requests wait on
/// it: a new SMTP client is still greeted at once. The requests run on
/// the Redis client's own runtime, and the web handlers waiting for their
/// answers give up their tokio worker first. (Once, the two workers of this
/// 2-core machine both waited and the greeting took ~2 s.)
#[test]
fn a_stalled_redis_does_not_stall_other_clients_greetings() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &["--store", &redis.url()]);
    let mut sleeper = inspect(&redis);
    let stall = std::thread::spawn(move || {
        redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(2)
            .query::<()>(&mut sleeper)
            .unwrap();
    });
    std::thread::sleep(Duration::from_millis(200));
    let http = server.http;
    let readers: Vec<_> = (0..4)
        .map(|n| {
            std::thread::spawn(move || {
                support::server::http_exchange(http, "GET", &format!("/api/tests/stalled-{n}"), &[])
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let stream = std::net::TcpStream::connect(server.smtp).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut greeting = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut greeting).unwrap();
    let waited = started.elapsed();
    eprintln!("SMTP greeting during a 2 s Redis stall: {waited:?}");
    assert!(greeting.starts_with("220"), "{greeting}");
    assert!(
        waited < Duration::from_secs(1),
        "greeting stalled {waited:?}"
    );
    stall.join().unwrap();
    for reader in readers {
        let (status, _, body) = reader.join().unwrap();
        assert_eq!(status, 200, "{body}");
    }
}
