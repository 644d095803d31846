//! Webhooks against a real HTTP receiver on loopback: a report is POSTed
//! once it is done, signed (checked with `openssl dgst -hmac`, another
//! implementation of HMAC-SHA256), with one delivery id however often it
//! is tried; a receiver that is down, then answers 500, then 200, with the
//! server killed (-9) and restarted in between, gets the report exactly
//! once with a 2xx. Refusals: no secret, private targets, another's
//! address. On sled and on Redis.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::dns::{TestDns, Zone};
use support::redis::RedisServer;
use support::server::{Server, send_mail};

const SECRET: &str = "webhook-test-secret";

/// One request the receiver got, and the status it answered.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 that keeps every request and
/// answers the statuses it is given in turn, then 200.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(port: u16, statuses: &[u16]) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(statuses.to_vec()));
        let kept = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = header.trim_end().split_once(':') {
                        headers.push((name.trim().to_string(), value.trim().to_string()));
                    }
                }
                let length = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let answered = {
                    let mut statuses = statuses.lock().unwrap();
                    if statuses.is_empty() {
                        200
                    } else {
                        statuses.remove(0)
                    }
                };
                kept.lock().unwrap().push(Received {
                    path,
                    headers,
                    body,
                    answered,
                });
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {answered} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        Receiver { port, got }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until a request was answered with a 2xx.
    fn wait_delivered(&self) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.got();
            if got.iter().any(|r| (200..300).contains(&r.answered)) {
                return got;
            }
            assert!(Instant::now() < deadline, "never delivered: {got:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A free loopback port, with nothing listening on it.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn zone() -> Zone {
    Zone::new().txt("hooks.example", &["v=spf1 ip4:127.0.0.1 -all"])
}

fn webhook_flags() -> Vec<&'static str> {
    vec![
        "--webhook-secret",
        SECRET,
        "--webhook-allow-private",
        "--webhook-retry-ms",
        "300",
        "--webhook-timeout",
        "2",
    ]
}

fn send(server: &Server, to: &str) {
    let message = format!(
        "From: news@hooks.example\r\nTo: {to}\r\nSubject: Hooked\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@hooks.example>\r\n\r\nHi.\r\n",
        mailscore::test_id::generate()
    );
    send_mail(
        server.smtp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "mail.hooks.example",
        "news@hooks.example",
        &[to],
        message.as_bytes(),
    );
}

/// `sha256=<hex>` by openssl, not by the code under test.
fn openssl_signature(body: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", SECRET, "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256={}", text.split_whitespace().next().unwrap())
}

fn create(server: &Server, path: &str, body: &str) -> Value {
    let (status, answer) = server.post_json(path, body);
    assert_eq!(status, 201, "{answer}");
    serde_json::from_str(&answer).unwrap()
}

/// A test with a webhook: one signed POST of the report, as the API has it.
fn report_is_posted_signed(server: &Server) {
    let receiver = Receiver::start(0, &[]);
    let created = create(
        server,
        "/api/tests",
        &format!(r#"{{"id": "hooked", "webhook": "{}"}}"#, receiver.url()),
    );
    assert_eq!(created["webhook"], receiver.url());
    send(server, "hooked@localhost");
    let report = server.wait_for_report("hooked");
    let got = receiver.wait_delivered();
    assert_eq!(got.len(), 1, "{got:?}");
    let post = &got[0];
    assert_eq!(post.path, "/hook");
    assert_eq!(post.header("content-type"), "application/json");
    assert_eq!(
        post.header("x-mailscore-signature"),
        openssl_signature(&post.body)
    );
    assert!(
        post.header("x-mailscore-delivery").starts_with("hooked."),
        "{post:?}"
    );
    let posted: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(
        posted, report,
        "the webhook carries the report the API serves"
    );
}

#[test]
fn a_report_is_posted_signed_on_sled() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &webhook_flags());
    report_is_posted_signed(&server);
}

#[test]
fn a_report_is_posted_signed_on_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dns = TestDns::start(zone());
    let url = redis.url();
    let mut flags = webhook_flags();
    flags.extend(["--store", &url]);
    let server = Server::start(dns.addr, &flags);
    report_is_posted_signed(&server);
}

#[test]
fn a_delivery_survives_a_receiver_down_a_500_and_kill_9_and_arrives_once() {
    let dns = TestDns::start(zone());
    let port = free_port();
    let server = Server::start(dns.addr, &webhook_flags());
    let hook = format!("http://127.0.0.1:{port}/hook");
    create(
        &server,
        "/api/tests",
        &format!(r#"{{"id": "retried", "webhook": "{hook}"}}"#),
    );
    send(&server, "retried@localhost");
    server.wait_for_report("retried");
    // Nothing listens yet: the attempts fail (connection refused).
    std::thread::sleep(Duration::from_millis(800));
    let data_dir = server.crash();

    let receiver = Receiver::start(port, &[500]);
    let server = Server::start_in(data_dir, dns.addr, &webhook_flags(), &[]);
    let got = receiver.wait_delivered();
    // Nothing more comes once it is delivered.
    std::thread::sleep(Duration::from_millis(1500));
    let got_later = receiver.got();
    assert_eq!(got_later.len(), got.len(), "{got_later:?}");
    let answered: Vec<u16> = got.iter().map(|r| r.answered).collect();
    assert_eq!(answered, [500, 200], "{got:?}");
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.header("x-mailscore-delivery"))
        .collect();
    assert!(
        ids[0].starts_with("retried.") && ids.iter().all(|id| *id == ids[0]),
        "{ids:?}"
    );
    drop(server);
}

#[test]
fn a_survey_webhook_gets_each_counted_report() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &webhook_flags());
    let receiver = Receiver::start(0, &[]);
    let survey = create(
        &server,
        "/api/surveys",
        &format!(r#"{{"name": "hooked", "webhook": "{}"}}"#, receiver.url()),
    );
    let id = survey["id"].as_str().unwrap();
    send(&server, &format!("{id}.weekly@localhost"));
    let got = receiver.wait_delivered();
    assert!(
        got[0].header("x-mailscore-delivery").ends_with(".survey"),
        "{got:?}"
    );
    let posted: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(posted["id"], format!("{id}.weekly"));
}

#[test]
fn webhooks_are_refused_without_a_secret_to_private_targets_and_over_anothers() {
    let dns = TestDns::start(zone());
    let open = Server::start(dns.addr, &[]);
    let (status, body) = open.post_json(
        "/api/tests",
        r#"{"webhook": "https://hooks.example.com/x"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("webhooks are off"), "{body}");

    let public = Server::start(dns.addr, &["--webhook-secret", SECRET]);
    for target in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://10.0.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
    ] {
        let (status, body) =
            public.post_json("/api/tests", &format!(r#"{{"webhook": "{target}"}}"#));
        assert_eq!(status, 400, "{target}: {body}");
    }
    let first = r#"{"id": "taken", "webhook": "https://hooks.example.com/a"}"#;
    let (status, body) = public.post_json("/api/tests", first);
    assert_eq!(status, 201, "{body}");
    let (status, _) = public.post_json("/api/tests", first);
    assert_eq!(status, 201, "the same webhook again is fine");
    let other = r#"{"id": "taken", "webhook": "https://evil.example.com/a"}"#;
    let (status, body) = public.post_json("/api/tests", other);
    assert_eq!(status, 409, "{body}");
}
