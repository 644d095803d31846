//! Every send to an address is kept, and what changed between two sends is
//! named: a sender with SPF softfail, no DKIM and no DMARC sends, fixes its
//! DNS zone (the server restarts on a real DNS server serving the fixed
//! zone, so the data directory outlives a restart too), signs with DKIM
//! and sends again. The history, each send, the diff (both directions),
//! the page in English and Japanese and `mailscore wait` all say what the
//! fix changed. Real SMTP, real DKIM, real DNS on loopback.

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};
use support::dkim::{rsa_key_record, rsa_signed, split_255};
use support::dns::{TestDns, Zone};
use support::server::{Server, send_mail};

const ID: &str = "history-fix";
const ADDRESS: &str = "history-fix@localhost";

/// Before the fix: SPF ends in ~all without listing the server, no DKIM
/// key, no DMARC record.
fn broken_zone() -> Zone {
    Zone::new()
        .txt("fix.example", &["v=spf1 ~all"])
        .a("mail.fix.example", Ipv4Addr::LOCALHOST)
        .mx("fix.example", 10, "mail.fix.example")
}

/// After: the server listed, a DKIM key, DMARC p=reject.
fn fixed_zone() -> Zone {
    Zone::new()
        .txt("fix.example", &["v=spf1 ip4:127.0.0.1 -all"])
        .txt("sel1._domainkey.fix.example", &split_255(&rsa_key_record()))
        .txt("_dmarc.fix.example", &["v=DMARC1; p=reject"])
        .a("mail.fix.example", Ipv4Addr::LOCALHOST)
        .mx("fix.example", 10, "mail.fix.example")
}

fn message(subject: &str) -> String {
    format!(
        "From: Alice <alice@fix.example>\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@fix.example>\r\n\r\nHello.\r\n",
        mailscore::test_id::generate()
    )
}

fn json(server: &Server, path: &str) -> (u16, Value) {
    let (status, body) = server.get(path);
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (status, value)
}

/// Polls the history until it has `count` sends.
fn wait_for_sends(server: &Server, count: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, history) = json(server, &format!("/api/tests/{ID}/history"));
        assert_eq!(status, 200, "{history}");
        if history["sends"].as_array().unwrap().len() >= count {
            return history;
        }
        assert!(
            Instant::now() < deadline,
            "{count} sends never arrived: {history}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rules(report: &Value) -> BTreeSet<String> {
    report["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule"].as_str().unwrap().to_string())
        .collect()
}

fn rule_ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_string())
        .collect()
}

fn has_change(diff: &Value, aspect: &str, name: &str, from: &str, to: &str) -> bool {
    diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["aspect"] == aspect && c["name"] == name && c["from"] == from && c["to"] == to)
}

#[test]
fn a_fix_between_two_sends_shows_in_the_history_the_diff_the_page_and_wait() {
    // Send 1, before the fix: unsigned, SPF softfail.
    let dns = TestDns::start(broken_zone());
    let server = Server::start(dns.addr, &[]);
    let (status, empty) = json(&server, &format!("/api/tests/{ID}/history"));
    assert_eq!((status, &empty["sends"]), (200, &Value::Array(vec![])));
    send_mail(
        server.smtp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "mail.fix.example",
        "alice@fix.example",
        &[ADDRESS],
        message("before the fix").as_bytes(),
    );
    let first = server.wait_for_report(ID);
    assert_eq!(first["setup"]["dkim"], "missing", "{first:#}");
    // One send: nothing to compare yet.
    let (status, error) = json(&server, &format!("/api/tests/{ID}/diff"));
    assert_eq!(status, 404, "{error}");

    // The sender fixes its zone; the server restarts on the fixed one.
    let data_dir = server.stop();
    drop(dns);
    let dns = TestDns::start(fixed_zone());
    let server = Server::start_in(data_dir, dns.addr, &[], &[]);
    let signed = rsa_signed(&message("after the fix"), "fix.example", "sel1");
    server.send_mail_tls("mail.fix.example", "alice@fix.example", &[ADDRESS], &signed);

    let history = wait_for_sends(&server, 2);
    let sends = history["sends"].as_array().unwrap();
    assert_eq!(sends.len(), 2, "{history:#}");
    assert_eq!(history["id"], ID);
    for (i, send) in sends.iter().enumerate() {
        assert_eq!(send["n"], i + 1);
        let n = i + 1;
        assert!(
            send["report_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/tests/{ID}/{n}"))
        );
        assert!(
            send["json_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/api/tests/{ID}/{n}"))
        );
    }

    // Each send as it was; the latest is also what /api/tests/{id} answers.
    let (_, one) = json(&server, &format!("/api/tests/{ID}/1"));
    let (_, two) = json(&server, &format!("/api/tests/{ID}/2"));
    let (_, latest) = json(&server, &format!("/api/tests/{ID}"));
    assert_eq!(one, first, "send 1 changed");
    assert_eq!(two, latest);
    assert_eq!(sends[0]["score"], one["score"]);
    assert_eq!(sends[1]["score"], two["score"]);
    assert_eq!(two["setup"]["dkim"], "configured", "{two:#}");
    let (s1, s2) = (
        one["score"].as_f64().unwrap(),
        two["score"].as_f64().unwrap(),
    );
    assert!(s2 > s1, "the fix did not raise the score: {s1} -> {s2}");
    for missing in ["3", "0"] {
        let (status, error) = json(&server, &format!("/api/tests/{ID}/{missing}"));
        assert_eq!(status, 404, "send {missing}: {error}");
    }

    // The diff names the fix: setups, results, rules gained and lost.
    let (status, diff) = json(&server, &format!("/api/tests/{ID}/diff"));
    assert_eq!(status, 200, "{diff}");
    assert_eq!(
        (diff["from"]["n"].as_u64(), diff["to"]["n"].as_u64()),
        (Some(1), Some(2))
    );
    let change = diff["score_change"].as_f64().unwrap();
    assert!(
        (change - (s2 - s1)).abs() < 0.05,
        "{change} vs {s1} -> {s2}"
    );
    assert!(
        has_change(&diff, "setup", "dkim", "not_set", "set"),
        "{diff:#}"
    );
    assert!(
        has_change(&diff, "setup", "dmarc", "not_set", "set"),
        "{diff:#}"
    );
    assert!(
        has_change(&diff, "result", "spf", "softfail", "pass"),
        "{diff:#}"
    );
    assert!(
        has_change(&diff, "result", "tls", "plaintext", "encrypted"),
        "{diff:#}"
    );
    let (before, after) = (rules(&one), rules(&two));
    let lost: BTreeSet<String> = before.difference(&after).cloned().collect();
    let gained: BTreeSet<String> = after.difference(&before).cloned().collect();
    for rule in ["SPF_SOFTFAIL", "DKIM_NONE", "DMARC_NONE", "TLS_PLAINTEXT"] {
        assert!(lost.contains(rule), "{rule} not lost: {lost:?}");
    }
    assert_eq!(rule_ids(&diff["lost"]), lost);
    assert_eq!(rule_ids(&diff["gained"]), gained);
    let (_, explicit) = json(&server, &format!("/api/tests/{ID}/diff?from=1&to=2"));
    assert_eq!(explicit, diff);
    let (_, back) = json(&server, &format!("/api/tests/{ID}/diff?from=2&to=1"));
    assert!((back["score_change"].as_f64().unwrap() + change).abs() < 0.05);
    assert!(
        has_change(&back, "setup", "dkim", "set", "not_set"),
        "{back:#}"
    );
    assert_eq!(rule_ids(&back["gained"]), lost);
    for bad in ["from=2&to=2", "from=x", "to=9"] {
        let (status, error) = json(&server, &format!("/api/tests/{ID}/diff?{bad}"));
        assert_eq!(status, 400, "{bad}: {error}");
        assert!(error["error"].as_str().is_some());
    }

    // The page of the latest send leads with how the score moved.
    let (status, page) = server.get(&format!("/tests/{ID}"));
    assert_eq!(status, 200);
    assert!(page.contains("Send 2 of 2 · Score"), "{page}");
    assert!(page.contains(&format!("{s1:.1} → {s2:.1}")), "{page}");
    assert!(page.contains("<section id=\"changes\">"), "{page}");
    assert!(page.contains("DKIM (setup): not set up → set up"), "{page}");
    assert!(
        page.contains("DMARC (setup): not set up → set up"),
        "{page}"
    );
    assert!(
        page.contains(&format!("href=\"/tests/{ID}/1?lang=en\"")),
        "{page}"
    );
    let (_, ja) = server.get(&format!("/tests/{ID}?lang=ja"));
    assert!(ja.contains("2 通中 2 通目"), "{ja}");
    assert!(ja.contains("DKIM (設定): 設定なし → 設定あり"), "{ja}");
    assert!(ja.contains("ソフト失敗 → 成功"), "{ja}");
    // Send 1's page is the report as it was, with nothing before it.
    let (status, page_one) = server.get(&format!("/tests/{ID}/1"));
    assert_eq!(status, 200);
    assert!(
        page_one.contains(&format!("<div class=\"big\">{s1:.1}<span>")),
        "{page_one}"
    );
    assert!(!page_one.contains("id=\"changes\""));
    let (status, _) = server.get(&format!("/tests/{ID}/3"));
    assert_eq!(status, 404);

    // `mailscore wait` says what changed since the send before.
    let out = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .args([
            "wait",
            ID,
            "--server",
            &format!("http://{}", server.http),
            "--min-score",
            "0",
        ])
        .env_remove("MAILSCORE_SERVER")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("since send 1 ("), "{text}");
    assert!(text.contains("dkim setup: not_set -> set"), "{text}");
    assert!(text.contains("spf result: softfail -> pass"), "{text}");
    for rule in &lost {
        assert!(
            text.contains(&format!("  - {rule} (")),
            "{rule} not shown as lost: {text}"
        );
    }
}

/// A first send has no diff in `wait`, and the page shows no change block.
#[test]
fn a_single_send_has_no_diff() {
    let dns = TestDns::start(fixed_zone());
    let server = Server::start(dns.addr, &[]);
    let signed = rsa_signed(&message("only one"), "fix.example", "sel1");
    server.send_mail_tls("mail.fix.example", "alice@fix.example", &[ADDRESS], &signed);
    server.wait_for_report(ID);
    let (_, page) = server.get(&format!("/tests/{ID}"));
    assert!(!page.contains("id=\"changes\"") && !page.contains("class=\"since\""));
    let out = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .args(["wait", ID, "--server", &format!("http://{}", server.http)])
        .env_remove("MAILSCORE_SERVER")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("since send"), "{text}");
}
