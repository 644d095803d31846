//! API keys (`--api-keys FILE`, issue 22) against the real `mailscore
//! serve`: the keys file holds SHA-256 hashes computed here by `sha256sum`,
//! another implementation than the server's. Without the file the API is
//! open; with it creating tests and surveys and reading surveys need a key
//! with the scope (401 with a challenge without one, 403 without the
//! scope), reports stay readable by id unless `--private-reports`, each key
//! has its own rate limit, and a bad file stops the server naming the
//! problem. Every 401, 403 and 429 is checked against the OpenAPI document.

mod support;

use jsonschema::Validator;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::dns::{TestDns, Zone};
use support::server::{Server, fresh_data_dir, http_send, send_mail, serve_command};

/// The keys the servers below take: (name, secret, scopes).
const KEYS: &[(&str, &str, &str)] = &[
    ("ci", "ci-secret-0f3a9c", r#""create""#),
    ("reader", "reader-secret-77b2", r#""read""#),
    ("surveyor", "surveyor-secret-5d1e", r#""survey""#),
    ("root", "root-secret-c0ffee", r#""admin""#),
    ("nightly", "nightly-secret-1234", r#""create", "read""#),
];

fn secret(name: &str) -> &'static str {
    KEYS.iter().find(|(n, _, _)| *n == name).unwrap().1
}

/// `printf %s text | sha256sum`: the hex digest, by coreutils.
fn sha256sum(text: &str) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let digest = String::from_utf8(output.stdout).unwrap();
    let digest = digest.split_whitespace().next().unwrap().to_string();
    assert_eq!(digest.len(), 64, "{digest}");
    digest
}

/// A file in a fresh directory, removed with it on drop.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempFile {
    fn new(text: &str) -> TempFile {
        let dir = fresh_data_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("api-keys.toml");
        std::fs::write(&path, text).unwrap();
        TempFile { dir, path }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn keys_file() -> TempFile {
    let mut text = String::new();
    for (name, secret, scopes) in KEYS {
        text += &format!(
            "[[key]]\nname = \"{name}\"\nsha256 = \"{}\"\nscopes = [{scopes}]\n\n",
            sha256sum(secret)
        );
    }
    TempFile::new(&text)
}

fn zone() -> Zone {
    Zone::new().txt("plain.example", &["v=spf1 ip4:127.0.0.1 -all"])
}

/// The server with the keys file and `extra` flags; the file lives as
/// long as the server.
fn start_with_keys(dns: &TestDns, extra: &[&str]) -> (Server, TempFile) {
    let file = keys_file();
    let mut args = vec!["--api-keys", file.path.to_str().unwrap()];
    args.extend_from_slice(extra);
    (Server::start(dns.addr, &args), file)
}

/// An answer: status, head (lower-cased), body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

/// `method path`, with `Authorization: Bearer <key>` when a key is given
/// (by name, or a raw header value with `raw:`).
fn call(server: &Server, method: &str, path: &str, key: Option<&str>, body: &str) -> Answer {
    let header = key.map(|key| match key.strip_prefix("raw:") {
        Some(raw) => raw.to_string(),
        None => format!("Bearer {}", secret(key)),
    });
    let headers: Vec<(&str, &str)> = header
        .as_deref()
        .map(|value| ("Authorization", value))
        .into_iter()
        .collect();
    let (status, head, body) = http_send(server.http, method, path, &headers, body.as_bytes());
    Answer { status, head, body }
}

fn send(server: &Server, id: &str) {
    let message = format!(
        "From: a@plain.example\r\nTo: {id}@localhost\r\nSubject: keys\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{id}@plain.example>\r\n\r\nHello.\r\n"
    );
    send_mail(
        server.smtp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "mail.plain.example",
        "a@plain.example",
        &[&format!("{id}@localhost")],
        message.as_bytes(),
    );
}

/// Polls `GET /api/tests/{id}` with `key` until the report is done.
fn wait_for_report(server: &Server, id: &str, key: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = call(server, "GET", &format!("/api/tests/{id}"), key, "");
        assert_eq!(answer.status, 200, "{}", answer.body);
        if answer.json()["status"] == "done" {
            return answer.json();
        }
        assert!(Instant::now() < deadline, "no report for {id}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Panics unless `answer` is what the OpenAPI document gives for `status`
/// on `method path`: the documented JSON error, and for a 401 the Bearer
/// challenge.
fn check_documented(answer: &Answer, method: &str, path: &str, status: u16) {
    assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
    let doc = mailscore::web::openapi::document();
    let operation = &doc["paths"][path][method];
    assert!(
        operation["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearerAuth").is_some())),
        "{method} {path} does not document bearerAuth"
    );
    let mut response = &operation["responses"][status.to_string()];
    if let Some(pointer) = response["$ref"].as_str() {
        response = doc.pointer(pointer.trim_start_matches('#')).unwrap();
    }
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status} not documented"
    );
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"],
    });
    let validator: Validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap();
    let body = answer.json();
    assert!(
        validator.is_valid(&body),
        "{method} {path} {status}: {body}"
    );
    assert_eq!(body["status"], status);
    if status == 401 {
        assert!(
            answer
                .head
                .contains("www-authenticate: bearer realm=\"mailscore\""),
            "{}",
            answer.head
        );
    }
}

#[test]
fn without_a_keys_file_the_api_is_open() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let created = call(&server, "POST", "/api/tests", None, "");
    assert_eq!(created.status, 201, "{}", created.body);
    // A key nobody configured is not looked at either.
    let created = call(&server, "POST", "/api/tests", Some("raw:Bearer nope"), "");
    assert_eq!(created.status, 201, "{}", created.body);
}

#[test]
fn creating_a_test_needs_a_key_with_create() {
    let dns = TestDns::start(zone());
    let (server, _file) = start_with_keys(&dns, &[]);

    let none = call(&server, "POST", "/api/tests", None, "");
    check_documented(&none, "post", "/api/tests", 401);
    let wrong = call(
        &server,
        "POST",
        "/api/tests",
        Some("raw:Bearer not-a-key"),
        "",
    );
    check_documented(&wrong, "post", "/api/tests", 401);
    assert!(
        wrong.head.contains("error=\"invalid_token\""),
        "{}",
        wrong.head
    );
    let basic = call(
        &server,
        "POST",
        "/api/tests",
        Some("raw:Basic Y2k6eA=="),
        "",
    );
    check_documented(&basic, "post", "/api/tests", 401);
    // The hash itself is not the key.
    let hash = format!("raw:Bearer {}", sha256sum(secret("ci")));
    check_documented(
        &call(&server, "POST", "/api/tests", Some(&hash), ""),
        "post",
        "/api/tests",
        401,
    );
    let reader = call(&server, "POST", "/api/tests", Some("reader"), "");
    check_documented(&reader, "post", "/api/tests", 403);
    assert!(reader.json()["error"].as_str().unwrap().contains("create"));
    // The method is checked before the key: a wrong one is still a 405.
    assert_eq!(call(&server, "GET", "/api/tests", None, "").status, 405);

    let created = call(
        &server,
        "POST",
        "/api/tests",
        Some("ci"),
        r#"{"id": "keyed-one"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["address"], "keyed-one@localhost");
    let admin = call(&server, "POST", "/api/tests", Some("root"), "");
    assert_eq!(admin.status, 201, "{}", admin.body);

    // The address works, and its report is readable by id without a key.
    send(&server, "keyed-one");
    let report = wait_for_report(&server, "keyed-one", None);
    assert_eq!(report["id"], "keyed-one");
    for path in ["/tests/keyed-one", "/api/tests/keyed-one/history"] {
        let answer = call(&server, "GET", path, None, "");
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    // What was open stays open.
    for path in ["/", "/healthz", "/readyz", "/metrics", "/api/openapi.json"] {
        let answer = call(&server, "GET", path, None, "");
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
}

#[test]
fn surveys_need_a_key_with_survey_to_create_and_to_read() {
    let dns = TestDns::start(zone());
    let (server, _file) = start_with_keys(&dns, &[]);
    let body = r#"{"name": "Keyed", "expect_domain": "plain.example"}"#;

    check_documented(
        &call(&server, "POST", "/api/surveys", None, body),
        "post",
        "/api/surveys",
        401,
    );
    check_documented(
        &call(&server, "POST", "/api/surveys", Some("ci"), body),
        "post",
        "/api/surveys",
        403,
    );
    let created = call(&server, "POST", "/api/surveys", Some("surveyor"), body);
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_string();

    for (path, documented) in [
        (format!("/api/surveys/{id}"), "/api/surveys/{id}"),
        (format!("/surveys/{id}"), "/surveys/{id}"),
    ] {
        check_documented(
            &call(&server, "GET", &path, None, ""),
            "get",
            documented,
            401,
        );
        check_documented(
            &call(&server, "GET", &path, Some("reader"), ""),
            "get",
            documented,
            403,
        );
        for key in ["surveyor", "root"] {
            let answer = call(&server, "GET", &path, Some(key), "");
            assert_eq!(answer.status, 200, "{path} with {key}: {}", answer.body);
        }
    }
}

#[test]
fn private_reports_need_a_key_with_read() {
    let dns = TestDns::start(zone());
    let (server, _file) = start_with_keys(&dns, &["--private-reports"]);
    send(&server, "private-one");
    wait_for_report(&server, "private-one", Some("reader"));

    let endpoints = [
        ("/api/tests/private-one", "/api/tests/{id}"),
        ("/api/tests/private-one/history", "/api/tests/{id}/history"),
        ("/api/tests/private-one/diff", "/api/tests/{id}/diff"),
        ("/api/tests/private-one/1", "/api/tests/{id}/{n}"),
        (
            "/api/tests/private-one/badge.svg",
            "/api/tests/{id}/badge.svg",
        ),
        ("/tests/private-one", "/tests/{id}"),
        ("/tests/private-one/1", "/tests/{id}/{n}"),
        ("/tests/private-one/raw", "/tests/{id}/raw"),
        ("/tests/private-one/message.eml", "/tests/{id}/message.eml"),
    ];
    for (path, documented) in endpoints {
        check_documented(
            &call(&server, "GET", path, None, ""),
            "get",
            documented,
            401,
        );
        check_documented(
            &call(&server, "GET", path, Some("ci"), ""),
            "get",
            documented,
            403,
        );
        for key in ["reader", "nightly", "root"] {
            let answer = call(&server, "GET", path, Some(key), "");
            // The diff of a single send is the handler's own refusal: the
            // key got the request through.
            let passed = match documented {
                "/api/tests/{id}/diff" => ![401, 403].contains(&answer.status),
                _ => answer.status == 200,
            };
            assert!(
                passed,
                "{path} with {key}: {} {}",
                answer.status, answer.body
            );
        }
    }
    // A pending address is a report endpoint too.
    check_documented(
        &call(&server, "GET", "/api/tests/nothing-yet", None, ""),
        "get",
        "/api/tests/{id}",
        401,
    );
    assert_eq!(call(&server, "GET", "/healthz", None, "").status, 200);

    // `mailscore wait` presents its key from MAILSCORE_API_KEY.
    let wait = |key: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mailscore"));
        command
            .args(["wait", "private-one", "--min-score", "0", "--timeout", "10"])
            .arg("--server")
            .arg(format!("http://{}", server.http))
            .env_remove("MAILSCORE_SERVER")
            .env_remove("MAILSCORE_API_KEY");
        if let Some(key) = key {
            command.env("MAILSCORE_API_KEY", secret(key));
        }
        command.output().unwrap()
    };
    let refused = wait(None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("401") && stderr.contains("API key"),
        "{stderr}"
    );
    let passed = wait(Some("reader"));
    assert!(
        passed.status.success(),
        "{}{}",
        String::from_utf8_lossy(&passed.stdout),
        String::from_utf8_lossy(&passed.stderr)
    );
}

#[test]
fn each_key_has_its_own_rate_limit() {
    let dns = TestDns::start(zone());
    let (server, _file) = start_with_keys(&dns, &[]);
    // Refusals take no token: were the limit checked before the key, this
    // keyless flood from 127.0.0.1 would turn into 429s.
    for key in [None, Some("raw:Bearer not-a-key")] {
        for _ in 0..12 {
            assert_eq!(call(&server, "POST", "/api/tests", key, "").status, 401);
        }
    }
    // Every request below comes from 127.0.0.1: only the key tells them apart.
    let mut created = 0;
    let limited = loop {
        let answer = call(&server, "POST", "/api/tests", Some("ci"), "");
        match answer.status {
            201 => created += 1,
            429 => break answer,
            other => panic!("POST /api/tests answered {other}: {}", answer.body),
        }
        assert!(created <= 12, "no 429 after {created} addresses");
    };
    // The burst is 10 (src/web/ratelimit.rs); at 30 a minute at most one
    // more refilled meanwhile.
    assert!((10..=11).contains(&created), "{created} created before 429");
    check_documented(&limited, "post", "/api/tests", 429);
    assert!(limited.head.contains("retry-after: "), "{}", limited.head);
    assert!(
        limited.json()["error"]
            .as_str()
            .unwrap()
            .contains("with this API key"),
        "{}",
        limited.body
    );
    let other = call(&server, "POST", "/api/tests", Some("nightly"), "");
    assert_eq!(
        other.status, 201,
        "another key, another bucket: {}",
        other.body
    );
    // Reading is never limited.
    assert_eq!(
        call(&server, "GET", "/api/tests/some-test", None, "").status,
        200
    );
}

/// `mailscore serve` with `args`: its exit status and standard error,
/// once it has exited (within 20 s).
fn serve_fails(dns: &TestDns, args: &[&str]) -> (std::process::ExitStatus, String) {
    let data_dir = fresh_data_dir();
    let mut child = serve_command(dns.addr, &data_dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mailscore serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&data_dir);
            panic!("serve {args:?} is still running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = std::fs::remove_dir_all(&data_dir);
    (status, stderr)
}

fn entry(name: &str, sha256: &str, scopes: &str) -> String {
    format!("[[key]]\nname = \"{name}\"\nsha256 = \"{sha256}\"\nscopes = [{scopes}]\n")
}

#[test]
fn a_bad_keys_file_stops_serve_naming_the_problem() {
    let dns = TestDns::start(zone());
    let good = sha256sum("k");
    let other = sha256sum("l");
    let cases = [
        (
            entry("ci", &good, r#""create", "wirte""#),
            "unknown scope \"wirte\"",
        ),
        (entry("ci", &good[..40], r#""read""#), "64 hex digits"),
        (
            entry("ci", &good, r#""read""#) + &entry("ci", &other, r#""create""#),
            "\"ci\" is named twice",
        ),
        ("[[key]]\nname = \"ci\"\n".to_string(), "missing field"),
    ];
    for (text, problem) in cases {
        let file = TempFile::new(&text);
        let (status, stderr) = serve_fails(&dns, &["--api-keys", file.path.to_str().unwrap()]);
        assert!(!status.success(), "{text}");
        assert!(stderr.contains(problem), "{problem:?} not in {stderr:?}");
        assert!(
            stderr.contains("api-keys.toml"),
            "the file is named: {stderr}"
        );
    }
    let missing = Path::new("/nonexistent/mailscore-api-keys.toml");
    let (status, stderr) = serve_fails(&dns, &["--api-keys", missing.to_str().unwrap()]);
    assert!(!status.success());
    assert!(stderr.contains("mailscore-api-keys.toml"), "{stderr}");
    // Private reports without keys would be open reports: refused.
    let (status, stderr) = serve_fails(&dns, &["--private-reports"]);
    assert!(!status.success());
    assert!(
        stderr.contains("private_reports") && stderr.contains("api_keys"),
        "{stderr}"
    );
}
