//! `mailscore wait`, as a CI job runs it: the real binary against a real
//! `mailscore serve` (or, for the polling fallback, a server without the
//! long-poll), judged by its exit status and what it prints.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::dkim::rsa_signed;
use support::dns::{TestDns, Zone};
use support::server::{Server, send_mail};
use support::zones::{bank_example, good_example};

const OTHER_SENDER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn zone() -> Zone {
    bank_example(good_example(Zone::new()))
}

fn message(from: &str) -> String {
    format!(
        "From: {from}\r\nTo: test@localhost\r\nSubject: wait\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@example>\r\n\r\nHello.\r\n",
        mailscore::test_id::generate()
    )
}

/// A DKIM-signed message from good.example over TLS: scores 10.
fn send_good(server: &Server, rcpt: &str) {
    let signed = rsa_signed(&message("alice@good.example"), "good.example", "sel1");
    server.send_mail_tls("mail.good.example", "alice@good.example", &[rcpt], &signed);
}

/// `mailscore wait` with `args`, started in the background.
fn spawn_wait(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .arg("wait")
        .args(args)
        .env_remove("MAILSCORE_SERVER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mailscore wait")
}

fn run_wait(args: &[&str]) -> Output {
    spawn_wait(args).wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn url(server: &Server) -> String {
    format!("http://{}", server.http)
}

#[test]
fn good_message_exits_zero_and_prints_the_summary() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    // Waiting before the mail is sent, as a CI job does.
    let waiting = spawn_wait(&["ci-wait-good", "--server", &url(&server), "--timeout", "30"]);
    std::thread::sleep(Duration::from_millis(300));
    send_good(&server, "ci-wait-good@localhost");

    let output = waiting.wait_with_output().unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.starts_with("ci-wait-good@localhost: 10/10 (excellent), at least the minimum 8\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("failed checks"), "{stdout}");
    assert!(
        stdout.ends_with(&format!("report: {}/tests/ci-wait-good\n", url(&server))),
        "{stdout}"
    );
}

#[test]
fn score_below_the_minimum_exits_one_and_names_the_failed_checks() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    send_good(&server, "ci-wait-bar@localhost");
    let spoofed = message("ceo@bank.example");
    send_mail(
        server.smtp,
        OTHER_SENDER,
        "mail.bank.example",
        "ceo@bank.example",
        &["ci-wait-spoof@localhost"],
        spoofed.as_bytes(),
    );

    // A perfect message under an impossible bar.
    let output = run_wait(&[
        "ci-wait-bar",
        "--server",
        &url(&server),
        "--min-score",
        "11",
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("10/10 (excellent), below the minimum 11"),
        "{stdout}"
    );

    // A spoofed message under the default bar: each failed check, its rules.
    let output = run_wait(&["ci-wait-spoof", "--server", &url(&server)]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("below the minimum 8"), "{stdout}");
    assert!(stdout.contains("\nfailed checks:\n"), "{stdout}");
    let dmarc = stdout
        .lines()
        .find(|line| line.starts_with("  dmarc: "))
        .unwrap_or_else(|| panic!("no dmarc line in {stdout}"));
    assert!(
        dmarc.contains("DMARC_FAIL (") && dmarc.contains("DMARC_FAIL_ENFORCED ("),
        "{dmarc}"
    );
    assert!(stdout.contains("  spf: SPF_FAIL ("), "{stdout}");
}

#[test]
fn no_message_before_the_timeout_exits_two_in_time() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let started = Instant::now();
    let output = run_wait(&[
        "ci-wait-nothing",
        "--server",
        &url(&server),
        "--timeout",
        "2",
    ]);
    let elapsed = started.elapsed();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        elapsed >= Duration::from_secs(2),
        "gave up after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_millis(3500), "took {elapsed:?}");
    assert!(
        stderr.contains("no report for ci-wait-nothing@localhost after 2 s (no message arrived)"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn an_address_at_any_domain_is_waited_for_by_its_local_part() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    send_good(&server, "ci-wait-domain@localhost");
    let output = run_wait(&[
        "CI-Wait-Domain@mailscore.other.example",
        "--server",
        &url(&server),
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.starts_with("ci-wait-domain@localhost: 10/10"),
        "{stdout}"
    );
}

#[test]
fn bad_server_or_address_exits_two_with_a_clear_message() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["some-test", "--server", "not a url"],
            "--server \"not a url\" is not an http(s) URL",
        ),
        (
            &["some-test", "--server", "ftp://127.0.0.1"],
            "is not an http(s) URL: use http://host:port",
        ),
        (
            // Port 9 (discard) on loopback: nothing listens.
            &["some-test", "--server", "http://127.0.0.1:9"],
            "cannot reach the mailscore server at http://127.0.0.1:9/",
        ),
        (
            &["no_such/id", "--server", "http://127.0.0.1:9"],
            "\"no_such/id\" is not a test id or address",
        ),
    ];
    for (args, expected) in cases {
        let started = Instant::now();
        let output = run_wait(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("mailscore: "), "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(5), "{args:?} hung");
    }
}

#[test]
fn a_server_that_is_not_mailscore_exits_two() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    // A mailscore under a path prefix that does not exist: 404s.
    let output = run_wait(&[
        "some-test",
        "--server",
        &format!("{}/nothing/", url(&server)),
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/nothing/api/tests/some-test?wait="),
        "{stderr}"
    );
    assert!(stderr.contains("404 Not Found: no such page"), "{stderr}");
}

/// Answers every request with `pending` at once, the first `pending` times,
/// then with a done report; returns each request line it got.
fn server_without_long_poll(pending: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let thread = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            // Read to the end of the head (no body on a GET).
            let mut header = String::new();
            while reader.read_line(&mut header).unwrap() > 2 {
                header.clear();
            }
            requests.push(line.trim_end().to_string());
            let done = requests.len() > pending;
            let body = if done {
                r#"{"id":"old-server","address":"old-server@legacy.example","status":"done","score":9.5,"max_score":10.0,"deductions":[]}"#
            } else {
                r#"{"id":"old-server","address":"old-server@legacy.example","status":"pending"}"#
            };
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            if done {
                return requests;
            }
        }
        requests
    });
    (url, thread)
}

#[test]
fn without_the_long_poll_it_polls_once_a_second() {
    let (url, server) = server_without_long_poll(2);
    let started = Instant::now();
    let output = run_wait(&["old-server", "--server", &url, "--timeout", "20"]);
    let elapsed = started.elapsed();
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.starts_with("old-server@legacy.example: 9.5/10 (excellent)"),
        "{stdout}"
    );
    let requests = server.join().unwrap();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /api/tests/old-server?wait="),
        "{requests:?}"
    );
    // Two immediate `pending` answers, a second's pause after each.
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}
