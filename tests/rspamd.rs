//! Rspamd beside SpamAssassin: a real rspamd (HTTP `/checkv2`) scores mail
//! received over SMTP, and the JSON report and the page list its action,
//! score and every symbol. rspamd not listening or silent leaves the
//! section "not checked" and the rest of the report as it was.

mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener};
use support::corpus::{check, content_rules, dir};
use support::dns::{TestDns, Zone};
use support::rspamd::Rspamd;
use support::spamd::free_port;
use support::zones::rule_ids;

fn symbol_names(rspamd: &serde_json::Value) -> Vec<&str> {
    rspamd["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect()
}

/// The server asks rspamd (config `rspamd` via MAILSCORE_RSPAMD) with the
/// envelope of the SMTP transaction, and the JSON report and the page show
/// rspamd's action, score and symbols.
#[test]
fn serve_reports_rspamd_action_score_and_symbols_for_mail_received_over_smtp() {
    let dns = TestDns::start(Zone::new());
    let Some(rspamd) = Rspamd::start(dns.addr) else {
        return;
    };
    let addr = rspamd.addr.to_string();
    let server = support::server::Server::start_with_env(
        dns.addr,
        &[],
        &[("MAILSCORE_RSPAMD", addr.as_str())],
    );
    let localhost: IpAddr = "127.0.0.1".parse().unwrap();

    // GTUBE: rspamd's reject, whatever else it finds.
    let raw = std::fs::read(dir().join("gtube.eml")).unwrap();
    support::server::send_mail(
        server.smtp,
        localhost,
        "mail.example.com",
        "test@example.com",
        &["rspamd-gtube@localhost"],
        &raw,
    );
    let report = server.wait_for_report("rspamd-gtube");
    let rs = &report["checks"]["rspamd"];
    assert_eq!(rs["status"], "checked", "{rs:#}\n{}", rspamd.log());
    assert_eq!(rs["server"], addr.as_str());
    assert_eq!(rs["action"], "reject", "{rs:#}");
    let required = rs["required_score"].as_f64().unwrap();
    assert!(rs["score"].as_f64().unwrap() >= required, "{rs:#}");
    assert!(symbol_names(rs).contains(&"GTUBE"), "{rs:#}");
    assert!(rule_ids(&report).contains(&"RSPAMD_REJECT".to_string()));
    // SpamAssassin is not configured: its section says so, rspamd's stands.
    assert_eq!(report["checks"]["spamassassin"]["status"], "not_configured");
    let (status, page) = server.get("/tests/rspamd-gtube?lang=en");
    assert_eq!(status, 200);
    assert!(
        page.contains("Rspamd (score ") && page.contains("GTUBE") && page.contains("reject"),
        "{page}"
    );
    let (status, page) = server.get("/tests/rspamd-gtube?lang=ja");
    assert_eq!(status, 200);
    assert!(
        page.contains("Rspamd（迷惑メール判定）") && page.contains("Rspamd (スコア "),
        "{page}"
    );

    // A plain letter: checked, every symbol listed with its score, and
    // described where rspamd describes it.
    let raw = std::fs::read(dir().join("ham_personal_plain.eml")).unwrap();
    support::server::send_mail(
        server.smtp,
        localhost,
        "mail.example.com",
        "alice@example.com",
        &["rspamd-letter@localhost"],
        &raw,
    );
    let report = server.wait_for_report("rspamd-letter");
    let rs = &report["checks"]["rspamd"];
    assert_eq!(rs["status"], "checked", "{rs:#}\n{}", rspamd.log());
    assert_ne!(rs["action"], "reject", "{rs:#}");
    let symbols = rs["symbols"].as_array().unwrap();
    assert!(!symbols.is_empty(), "{rs:#}");
    assert!(
        symbols
            .iter()
            .any(|s| !s["description"].as_str().unwrap().is_empty()),
        "{rs:#}"
    );
    // Highest score first.
    let scores: Vec<f64> = symbols
        .iter()
        .map(|s| s["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let (_, page) = server.get("/tests/rspamd-letter?lang=en");
    for name in symbol_names(rs) {
        assert!(page.contains(name), "{name} not on the page");
    }
    // The other checks ran as ever.
    assert!(report["checks"]["spf"]["result"].is_string(), "{report:#}");
}

/// `mailscore check` asks rspamd too, and its summary lists each symbol.
#[test]
fn check_lists_rspamd_symbols_in_json_and_text() {
    let dns = TestDns::start(Zone::new());
    let Some(rspamd) = Rspamd::start(dns.addr) else {
        return;
    };
    let flag = ["--rspamd", &rspamd.addr.to_string()];
    let gtube = check(&dir().join("gtube.eml"), dns.addr, &flag);
    let rs = &gtube["checks"]["rspamd"];
    assert_eq!(rs["status"], "checked", "{rs:#}\n{}", rspamd.log());
    assert_eq!(rs["action"], "reject", "{rs:#}");
    assert!(symbol_names(rs).contains(&"GTUBE"), "{rs:#}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .env("MAILSCORE_DNSSEC_VALIDATION", "off")
        .arg("check")
        .arg(dir().join("gtube.eml"))
        .args(["--ip", "192.0.2.25", "--helo", "mail.example.com"])
        .args(["--dns", &dns.addr.to_string(), "--dns-timeout", "1"])
        .args(["--dnsbl", "", "--domain-blocklists", ""])
        .args(flag)
        .args(["--format", "text"])
        .output()
        .expect("run mailscore check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let verdict = text
        .lines()
        .find(|l| l.starts_with("rspamd "))
        .unwrap_or_else(|| panic!("no rspamd line:\n{text}"));
    assert!(
        verdict.contains("reject") && verdict.contains("required"),
        "{verdict}"
    );
    assert!(
        text.lines().any(|l| l.contains(" GTUBE ")),
        "GTUBE not listed:\n{text}"
    );
}

/// rspamd not listening: "not checked", saying where, over SMTP as with
/// `check`; every other check reported and scored as without rspamd.
#[test]
fn rspamd_not_listening_is_not_checked_and_changes_nothing_else() {
    let dns = TestDns::start(Zone::new());
    let path = dir().join("spam_shouting_subject.eml");
    let without = check(&path, dns.addr, &[]);
    assert_eq!(without["checks"]["rspamd"]["status"], "not_configured");

    let closed = format!("127.0.0.1:{}", free_port());
    let with = check(&path, dns.addr, &["--rspamd", &closed]);
    let rs = &with["checks"]["rspamd"];
    assert_eq!(rs["status"], "not_checked", "{rs:#}");
    assert!(rs["error"].as_str().unwrap().contains(&closed), "{rs:#}");
    assert!(rs["symbols"].as_array().unwrap().is_empty());
    assert!(rs["action"].is_null() && rs["score"].is_null(), "{rs:#}");
    assert_eq!(with["score"], without["score"]);
    assert_eq!(with["checks"]["content"], without["checks"]["content"]);
    assert_eq!(with["checks"]["spf"], without["checks"]["spf"]);
    assert!(rule_ids(&with).contains(&"RSPAMD_NOT_CHECKED".to_string()));

    let server = support::server::Server::start(dns.addr, &["--rspamd", &closed]);
    let raw = std::fs::read(&path).unwrap();
    support::server::send_mail(
        server.smtp,
        "127.0.0.1".parse().unwrap(),
        "mail.example.com",
        "test@example.com",
        &["rspamd-down@localhost"],
        &raw,
    );
    let report = server.wait_for_report("rspamd-down");
    assert_eq!(report["status"], "done", "{report:#}");
    let rs = &report["checks"]["rspamd"];
    assert_eq!(rs["status"], "not_checked", "{rs:#}");
    assert!(rs["error"].as_str().unwrap().contains(&closed), "{rs:#}");
    // (Its envelope has a MAIL FROM, `check`'s none: the headers differ.)
    let content = &report["checks"]["content"];
    assert_eq!(content["body"], without["checks"]["content"]["body"]);
    assert_eq!(content["headers"]["subject_shouting"], true);
    assert!(report["checks"]["spf"]["result"].is_string());
    assert!(report["score"].is_number());
    let (status, page) = server.get("/tests/rspamd-down?lang=en");
    assert_eq!(status, 200);
    assert!(
        page.contains("not checked") && page.contains(&closed),
        "{page}"
    );
}

/// Accepts, reads, never answers: an rspamd stuck on a huge message. The
/// request it was sent is rspamd's protocol, with the envelope.
#[test]
fn silent_rspamd_times_out_as_not_checked() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done, wait_for_done) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_millis(500)))
            .unwrap();
        let mut sink = Vec::new();
        let mut buf = [0; 4096];
        // The client keeps the connection open for the answer: read what
        // comes until it pauses.
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.extend_from_slice(&buf[..n]);
        }
        wait_for_done.recv().ok();
        conn.write_all(b"").ok();
        sink
    });
    let dns = TestDns::start(Zone::new());
    let report = check(
        &dir().join("ham_personal_plain.eml"),
        dns.addr,
        &["--rspamd", &addr.to_string(), "--rspamd-timeout", "1"],
    );
    done.send(()).unwrap();
    let rs = &report["checks"]["rspamd"];
    assert_eq!(rs["status"], "not_checked", "{rs:#}");
    assert!(
        rs["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within 1 s"),
        "{rs:#}"
    );
    assert_eq!(content_rules(&report), Vec::<String>::new());
    let request = String::from_utf8(holder.join().unwrap()).unwrap();
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("post /checkv2 http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nip: 192.0.2.25\r\n"), "{head}");
    assert!(head.contains("\r\nhelo: mail.example.com\r\n"), "{head}");
    // `check` has no envelope sender or recipient: a bounce's `<>`.
    assert!(head.contains("\r\nfrom: <>\r\n"), "{head}");
    assert!(!head.contains("\r\nrcpt: "), "{head}");
    assert!(body.contains("Subject: Notes from yesterday"), "{body}");
}
