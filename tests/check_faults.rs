//! A check that panics or hangs, on a real `mailscore serve` (the fault is
//! injected with the debug builds' `MAILSCORE_TEST_FAULT` hook): the report
//! still comes, `"status": "error"`, the check named and reported as "could
//! not check" with none of its rules applied, every other check reported,
//! the message kept, the metrics counting it, and `mailscore wait` refusing
//! to pass on it.

mod support;

use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};
use support::dkim::rsa_signed;
use support::dns::{TestDns, Zone};
use support::server::Server;
use support::zones::good_example;

fn message(id: &str) -> Vec<u8> {
    let text = format!(
        "From: alice@good.example\r\nTo: {id}@localhost\r\nSubject: faults\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{id}@good.example>\r\n\r\nHello.\r\n"
    );
    rsa_signed(&text, "good.example", "sel1")
}

fn send(server: &Server, id: &str) -> Value {
    server.send_mail_tls(
        "mail.good.example",
        "alice@good.example",
        &[&format!("{id}@localhost")],
        &message(id),
    );
    server.wait_for_report(id)
}

#[test]
fn a_panicking_check_is_could_not_check_and_the_rest_is_reported() {
    let dns = TestDns::start(good_example(Zone::new()));
    let server = Server::start_with_env(dns.addr, &[], &[("MAILSCORE_TEST_FAULT", "dkim:panic")]);
    let report = send(&server, "fault-panic");

    assert_eq!(report["status"], "error", "{report:#}");
    assert_eq!(
        report["checks"]["failed"],
        serde_json::json!([{"check": "dkim", "reason": "panicked"}])
    );
    // The others ran as usual: SPF and TLS pass.
    assert_eq!(report["checks"]["spf"]["result"], "pass");
    assert_eq!(report["checks"]["tls"]["result"], "encrypted", "{report:#}");
    // No DKIM rule took points from a check that never ran.
    let deductions = report["deductions"].as_array().unwrap();
    assert!(
        deductions.iter().all(|d| d["check"] != "dkim"),
        "{deductions:#?}"
    );
    // The message is kept, the page says so, the metrics count it.
    let (status, _) = server.get("/tests/fault-panic/message.eml");
    assert_eq!(status, 200);
    let (_, page) = server.get("/tests/fault-panic");
    assert!(
        page.contains("Could not check (left out of the score): DKIM"),
        "{page}"
    );
    let (_, page) = server.get("/tests/fault-panic?lang=ja");
    assert!(page.contains("確認できませんでした"));
    assert_eq!(
        server.metric::<u64>("mailscore_check_failures_total{reason=\"panicked\"}"),
        1
    );

    // `mailscore wait` prints it and does not pass it, whatever the score.
    let output = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .args(["wait", "fault-panic", "--server"])
        .arg(format!("http://{}", server.http))
        .args(["--timeout", "10", "--min-score", "0"])
        .env_remove("MAILSCORE_SERVER")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("could not check: dkim (panicked)"),
        "{stdout}"
    );

    // The server goes on: the next message is analysed the same way.
    let again = send(&server, "fault-panic-2");
    assert_eq!(again["status"], "error");
}

#[test]
fn a_hung_check_is_cut_at_the_analysis_deadline() {
    let dns = TestDns::start(good_example(Zone::new()));
    let server = Server::start_with_env(
        dns.addr,
        &["--analysis-timeout", "1"],
        &[("MAILSCORE_TEST_FAULT", "spf:hang")],
    );
    let started = Instant::now();
    let report = send(&server, "fault-hang");
    let elapsed = started.elapsed();

    assert_eq!(report["status"], "error", "{report:#}");
    assert_eq!(
        report["checks"]["failed"],
        serde_json::json!([{"check": "spf", "reason": "timed_out"}])
    );
    let spf = &report["checks"]["spf"];
    assert_eq!(spf["result"], "temperror");
    assert!(
        spf["error"]
            .as_str()
            .unwrap()
            .starts_with("could not check"),
        "{spf}"
    );
    assert_eq!(report["checks"]["dkim"][0]["result"], "pass");
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert_eq!(
        server.metric::<u64>("mailscore_check_failures_total{reason=\"timed_out\"}"),
        1
    );
}

#[test]
fn without_a_fault_the_report_is_done_and_has_no_failures() {
    let dns = TestDns::start(good_example(Zone::new()));
    let server = Server::start(dns.addr, &[]);
    let report = send(&server, "fault-none");
    assert_eq!(report["status"], "done");
    assert!(report["checks"].get("failed").is_none(), "{report:#}");
    assert_eq!(
        server.metric::<u64>("mailscore_check_failures_total{reason=\"panicked\"}"),
        0
    );
}
