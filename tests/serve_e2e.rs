//! End to end, as a user sees it: the real `mailscore serve` binary, real
//! SMTP from loopback, real DKIM signatures, a real DNS server on loopback
//! serving the test zones, and the JSON report read over HTTP.

mod support;

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use support::dkim::rsa_signed;
use support::dns::{TestDns, Zone, silent_dns};
use support::server::{Server, fresh_data_dir, send_mail};
use support::zones::{bank_example, good_example, rule_ids};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const OTHER_SENDER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn zone() -> Zone {
    bank_example(good_example(Zone::new()))
        // An SPF record with a syntax error.
        .txt("broken.example", &["v=spf1 ip4:127.0.0.1 include -all"])
        .txt("_dmarc.broken.example", &["v=DMARC1; p=none"])
}

fn message(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: test@localhost\r\nSubject: {subject}\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@example>\r\n\r\nHello.\r\n.leading dot line\r\n",
        mailscore::test_id::generate()
    )
}

#[test]
fn authenticated_message_scores_ten() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let signed = rsa_signed(
        &message("Alice <alice@good.example>", "Quarterly report"),
        "good.example",
        "sel1",
    );
    server.send_mail_tls(
        "mail.good.example",
        "alice@good.example",
        &["ci-build-42@localhost"],
        &signed,
    );

    let report = server.wait_for_report("ci-build-42");
    let checks = &report["checks"];
    assert_eq!(checks["spf"]["result"], "pass", "{report:#}");
    assert_eq!(checks["spf"]["records"][0], "v=spf1 ip4:127.0.0.1 -all");
    assert_eq!(checks["spf_helo"]["result"], "pass");
    assert_eq!(checks["dkim"][0]["result"], "pass", "{report:#}");
    assert_eq!(checks["dkim"][0]["domain"], "good.example");
    assert_eq!(checks["dkim"][0]["selector"], "sel1");
    assert_eq!(checks["dkim"][0]["algorithm"], "rsa-sha256");
    assert_eq!(checks["dmarc"]["result"], "pass");
    assert_eq!(checks["dmarc"]["policy"], "reject");
    assert_eq!(checks["dmarc"]["spf_aligned"], true);
    assert_eq!(checks["dmarc"]["dkim_aligned"], true);
    assert_eq!(checks["iprev"]["result"], "pass", "{report:#}");
    assert_eq!(checks["helo"]["result"], "match");
    assert_eq!(checks["tls"]["result"], "encrypted");
    assert_eq!(checks["tls"]["version"], "TLSv1.3");
    assert_eq!(report["score"], 10.0, "{report:#}");
    assert_eq!(report["max_score"], 10.0);
    // Only zero-point, informational rules may match (no S/MIME, no DNSSEC…).
    for deduction in report["deductions"].as_array().unwrap() {
        assert_eq!(deduction["points"], 0.0, "{deduction}");
    }
    assert_eq!(report["address"], "ci-build-42@localhost");
    assert_eq!(report["envelope"]["client_ip"], "127.0.0.1");
    assert_eq!(report["envelope"]["helo"], "mail.good.example");
    assert_eq!(report["envelope"]["mail_from"], "alice@good.example");
    assert_eq!(report["envelope"]["rcpt_to"][0], "ci-build-42@localhost");
    assert_eq!(report["message"]["subject"], "Quarterly report");
    assert_eq!(report["message"]["size"], signed.len());
}

#[test]
fn spoofed_p_reject_domain_fails_dmarc() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let body = message("Bank <ceo@bank.example>", "Urgent: wire transfer");
    send_mail(
        server.smtp,
        OTHER_SENDER,
        "mail.bank.example",
        "ceo@bank.example",
        &["spoof-test@localhost"],
        body.as_bytes(),
    );

    let report = server.wait_for_report("spoof-test");
    let checks = &report["checks"];
    assert_eq!(report["envelope"]["client_ip"], "127.0.0.2");
    assert_eq!(checks["spf"]["result"], "fail", "{report:#}");
    assert_eq!(checks["dkim"].as_array().unwrap().len(), 0);
    assert_eq!(checks["dmarc"]["result"], "fail");
    assert_eq!(checks["dmarc"]["policy"], "reject");
    let ids = rule_ids(&report);
    assert_eq!(checks["tls"]["result"], "plaintext");
    for rule in [
        "SPF_FAIL",
        "DKIM_NONE",
        "DMARC_FAIL",
        "DMARC_FAIL_ENFORCED",
        "TLS_PLAINTEXT",
    ] {
        assert!(
            ids.iter().any(|id| id == rule),
            "{rule} missing from {ids:?}"
        );
    }
    let score = report["score"].as_f64().unwrap();
    assert!(score < 5.0, "spoofed mail scored {score}");
    let lost: f64 = report["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["points"].as_f64().unwrap())
        .sum();
    assert_eq!(score, ((10.0_f64 - lost).max(0.0) * 10.0).round() / 10.0);
}

#[test]
fn broken_spf_record_is_reported_as_misconfigured() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let body = message("ops@broken.example", "Status");
    send_mail(
        server.smtp,
        LOCALHOST,
        "mail.broken.example",
        "ops@broken.example",
        &["broken-spf@localhost"],
        body.as_bytes(),
    );

    let report = server.wait_for_report("broken-spf");
    let spf = &report["checks"]["spf"];
    assert_eq!(spf["result"], "permerror", "{report:#}");
    assert_eq!(spf["setup"], "misconfigured");
    assert_eq!(spf["records"][0], "v=spf1 ip4:127.0.0.1 include -all");
    let error = spf["error"].as_str().unwrap();
    assert!(
        error.contains("syntax error") && error.contains("\"include\""),
        "{error}"
    );
    assert!(rule_ids(&report).contains(&"SPF_PERMERROR".to_string()));
    assert_eq!(report["checks"]["dmarc"]["policy"], "none");
    assert!(rule_ids(&report).contains(&"DMARC_POLICY_NONE".to_string()));
}

#[test]
fn dns_server_down_gives_temperror_and_keeps_the_message() {
    let server = Server::start(silent_dns(), &[]);
    let body = message("alice@good.example", "DNS is down");
    send_mail(
        server.smtp,
        LOCALHOST,
        "mail.good.example",
        "alice@good.example",
        &["dns-down@localhost"],
        body.as_bytes(),
    );

    let report = server.wait_for_report("dns-down");
    let checks = &report["checks"];
    assert_eq!(checks["spf"]["result"], "temperror", "{report:#}");
    assert_eq!(checks["spf"]["setup"], "unknown");
    assert_eq!(checks["dmarc"]["result"], "temperror", "{report:#}");
    assert_eq!(report["message"]["subject"], "DNS is down");
    assert!(rule_ids(&report).contains(&"SPF_TEMPERROR".to_string()));
}

#[test]
fn second_message_replaces_the_report() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let first = message("alice@good.example", "first");
    send_mail(
        server.smtp,
        LOCALHOST,
        "mail.good.example",
        "alice@good.example",
        &["again@localhost"],
        first.as_bytes(),
    );
    assert_eq!(
        server.wait_for_report("again")["message"]["subject"],
        "first"
    );

    let second = message("ceo@bank.example", "second");
    send_mail(
        server.smtp,
        LOCALHOST,
        "mail.good.example",
        "ceo@bank.example",
        &["again@localhost"],
        second.as_bytes(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let report = server.wait_for_report("again");
        if report["message"]["subject"] == "second" {
            assert_eq!(report["checks"]["spf"]["result"], "fail");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "report never replaced"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn api_hands_out_unguessable_addresses_that_start_pending() {
    let dns = TestDns::start(zone());
    let server = Server::start(
        dns.addr,
        &[
            "--domain",
            "Mail.Test",
            "--public-url",
            "https://score.example/",
        ],
    );
    let (status, body) = server.post("/api/tests");
    assert_eq!(status, 201, "{}", body);
    let created: Value = serde_json::from_str(&body).unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(id.len() >= 13 && mailscore::test_id::is_valid(id), "{id}");
    assert_eq!(created["address"], format!("{id}@mail.test"));
    assert_eq!(
        created["report_url"],
        format!("https://score.example/tests/{id}")
    );
    assert_eq!(
        created["json_url"],
        format!("https://score.example/api/tests/{id}")
    );
    let (_, again) = server.post("/api/tests");
    assert_ne!(
        serde_json::from_str::<Value>(&again).unwrap()["id"],
        created["id"]
    );

    let (status, body) = server.get(&format!("/api/tests/{id}"));
    assert_eq!(status, 200);
    let pending: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["address"], format!("{id}@mail.test"));

    let (status, page) = server.get(&format!("/tests/{id}"));
    assert_eq!(status, 200);
    assert!(
        page.contains("data-wait=") && page.contains("/assets/wait.js"),
        "pending page must wait for its report"
    );

    let (status, body) = server.get("/api/tests/NOT_VALID");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid test id"));
    let (status, _) = server.get("/no/such/page");
    assert_eq!(status, 404);
}

#[test]
fn score_page_shows_the_checks_and_escapes_the_message() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    // Injections in the Subject, the From display name, another header and
    // an HTML body.
    let body = String::from(
        "From: \"<img src=x onerror=alert(1)>\" <ceo@bank.example>\r\nTo: t@localhost\r\n\
         Subject: <script>alert('subject')</script>\r\nX-Injected: <script>alert('header')</script>\r\n\
         Content-Type: text/html\r\n\r\n<html><body><script>alert('body')</script>\
         <iframe src=\"https://evil.example/\"></iframe></body></html>\r\n",
    );
    send_mail(
        server.smtp,
        OTHER_SENDER,
        "mail.bank.example",
        "ceo@bank.example",
        &["page-test@localhost"],
        body.as_bytes(),
    );
    server.wait_for_report("page-test");

    let (status, head, page) = server.get_with_head("/tests/page-test");
    assert_eq!(status, 200);
    // The one script is our own print helper; none came from the message.
    assert_eq!(page.matches("<script").count(), 1, "a script injected live");
    assert!(page.contains("<script src=\"/assets/print.js?v="));
    assert!(!page.contains("<img src=x"), "display name injected live");
    assert!(
        page.contains("&lt;script&gt;alert(&#39;header&#39;)"),
        "header shown as text"
    );
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("referrer-policy: no-referrer"), "{head}");
    // The raw view shows the HTML body as text, never as live HTML.
    let (status, head, raw) = server.get_with_head("/tests/page-test/raw");
    assert_eq!(status, 200);
    assert!(
        !raw.contains("<script") && !raw.contains("<iframe"),
        "body rendered live"
    );
    assert!(raw.contains("&lt;script&gt;alert(&#39;body&#39;)"));
    assert!(head.contains("content-security-policy"), "{head}");
    assert!(page.contains("&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;"));
    assert!(page.contains("band-bad"), "spoofed mail is in the red band");
    assert!(page.contains("SPF_FAIL"));
    assert!(
        page.contains("v=DMARC1; p=reject"),
        "the DMARC record found is shown"
    );
    assert!(
        page.contains("never opens the links"),
        "the page says links are not fetched"
    );
    assert!(
        !page.contains("http-equiv=\"refresh\""),
        "a finished page does not refresh"
    );

    let (_, japanese) = server.get_with("/tests/page-test", &[("Accept-Language", "ja,en;q=0.5")]);
    assert!(japanese.contains("lang=\"ja\""));
    assert!(japanese.contains("SPF 認証失敗"));
    let (_, english) = server.get("/tests/page-test?lang=en");
    assert!(english.contains("SPF fails"));
}

#[test]
fn environment_configures_and_flags_override_it() {
    let dns = TestDns::start(zone());
    let env = [
        ("MAILSCORE_DOMAIN", "env.example"),
        ("MAILSCORE_PUBLIC_URL", "https://env.example"),
    ];
    let server = Server::start_with_env(dns.addr, &[], &env);
    let (_, body) = server.post("/api/tests");
    let created: Value = serde_json::from_str(&body).unwrap();
    assert!(
        created["address"]
            .as_str()
            .unwrap()
            .ends_with("@env.example"),
        "{created}"
    );
    assert!(
        created["report_url"]
            .as_str()
            .unwrap()
            .starts_with("https://env.example/tests/")
    );

    let server = Server::start_with_env(dns.addr, &["--domain", "flag.example"], &env);
    let (_, body) = server.post("/api/tests");
    let created: Value = serde_json::from_str(&body).unwrap();
    assert!(
        created["address"]
            .as_str()
            .unwrap()
            .ends_with("@flag.example"),
        "{created}"
    );
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Stores messages as the SMTP stage would have, without their reports:
/// (id, received at, subject) each.
fn stored_without_report(data_dir: &std::path::Path, messages: &[(&str, u64, &str)]) {
    // One handle: sled locks its directory until the last one is dropped.
    let store = mailscore::store::Store::open(data_dir).unwrap();
    for (id, received_at, subject) in messages {
        let envelope = mailscore::smtp::Envelope {
            client_ip: LOCALHOST,
            client_port: 2525,
            helo: "mail.good.example".into(),
            mail_from: "alice@good.example".into(),
            rcpt_to: vec![format!("{id}@localhost")],
            received_at: *received_at,
            tls: None,
        };
        let body = message("alice@good.example", subject);
        store.put_message(id, &envelope, body.as_bytes()).unwrap();
    }
}

#[test]
fn message_stored_before_a_crash_is_analysed_at_start_up() {
    // A message that got its 250 but no report: what a crash between the
    // flush and the analysis leaves behind.
    let data_dir = fresh_data_dir();
    let received_at = unix_now() - 60;
    stored_without_report(&data_dir, &[("crashed", received_at, "survived a crash")]);

    let dns = TestDns::start(zone());
    let server = Server::start_in(data_dir, dns.addr, &[], &[]);
    let report = server.wait_for_report("crashed");
    assert_eq!(report["message"]["subject"], "survived a crash");
    assert_eq!(report["checks"]["spf"]["result"], "pass");
    let expected = mail_parser::DateTime::from_timestamp(received_at as i64).to_rfc3339();
    assert_eq!(report["received_at"], expected.as_str());
}

#[test]
fn messages_older_than_the_retention_are_deleted_at_start_up() {
    let data_dir = fresh_data_dir();
    let eight_days = 8 * 86_400;
    stored_without_report(
        &data_dir,
        &[
            ("expired-box", unix_now() - eight_days, "old"),
            ("recent-box", unix_now() - 60, "recent"),
        ],
    );

    let dns = TestDns::start(zone());
    let server = Server::start_in(data_dir, dns.addr, &["--retention-days", "7"], &[]);
    assert_eq!(
        server.wait_for_report("recent-box")["message"]["subject"],
        "recent"
    );
    let (status, body) = server.get("/api/tests/expired-box");
    assert_eq!(status, 200);
    let gone: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(gone["status"], "pending", "{gone}");
    assert_eq!(
        gone["message_received"], false,
        "the expired message is gone"
    );
    let (status, _) = server.get("/tests/expired-box/message.eml");
    assert_eq!(status, 404);
}
