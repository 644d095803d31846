//! The API says what it does with what it is given: a client-chosen id in
//! `POST /api/tests` is honoured or refused (never ignored), a `wait` out
//! of its range is a 400 naming the range (not silently capped), and an
//! address nothing has arrived at says so. The real binary over HTTP.

mod support;

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use support::dns::{TestDns, Zone};
use support::server::Server;

/// One raw HTTP/1.1 request with `head` lines and `body`: (status, body).
fn raw_request(http: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(http).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("{head}\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

fn post(http: SocketAddr, body: &str) -> (u16, Value) {
    let head = format!(
        "POST /api/tests HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
        body.len()
    );
    let (status, text) = raw_request(http, &head, body.as_bytes());
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

#[test]
fn a_chosen_id_is_honoured_or_refused() {
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &[]);
    let (status, created) = post(server.http, r#"{"id": "ci-build-42"}"#);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], "ci-build-42");
    assert_eq!(created["address"], "ci-build-42@localhost");

    for (body, says) in [
        (r#"{"id": "CI Build!"}"#, "invalid test id"),
        (r#"{"id": "ab"}"#, "invalid test id"),
        (r#"{"id": "ok-id", "domain": "x"}"#, "unknown field"),
        (r#"{"name": "x"}"#, "unknown field"),
        ("ci-build-42", "invalid body"),
    ] {
        let (status, error) = post(server.http, body);
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["status"], 400);
        assert!(
            error["error"].as_str().unwrap().contains(says),
            "{body}: {error}"
        );
    }
    // No body, with or without a Content-Length: a fresh id, as before.
    let (status, fresh) = post(server.http, "");
    assert_eq!(status, 201);
    assert_eq!(fresh["id"].as_str().unwrap().len(), 16);
    let (status, _) = raw_request(server.http, "POST /api/tests HTTP/1.1", b"");
    assert_eq!(status, 201, "curl -X POST sends no Content-Length");
    // Too big to be an id request.
    let big = format!(r#"{{"id": "{}"}}"#, "a".repeat(5000));
    let (status, error) = post(server.http, &big);
    assert_eq!(status, 413, "{error}");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("at most 4096 bytes")
    );
}

#[test]
fn wait_out_of_range_is_refused_naming_the_range() {
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &[]);
    for wait in ["61", "99999", "-1", "abc", "1.5"] {
        let (status, body) = server.get(&format!("/api/tests/some-test?wait={wait}"));
        assert_eq!(status, 400, "wait={wait}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(
            error["error"].as_str().unwrap().contains("from 0 to 60"),
            "wait={wait}: {error}"
        );
    }
    let (status, body) = server.get("/api/tests/some-test?wait=0");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn an_address_nothing_has_arrived_at_says_so() {
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &[]);
    let (status, body) = server.get("/api/tests/nothing-yet");
    assert_eq!(status, 200);
    let pending: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["message_received"], false);
    for (lang, says) in [
        ("en", "No message has arrived at this address yet"),
        ("ja", "このアドレスにはまだメールが届いていません"),
    ] {
        let (status, page) = server.get(&format!("/tests/nothing-yet?lang={lang}"));
        assert_eq!(status, 200);
        assert!(
            page.contains(says) && page.contains("<code>nothing-yet@localhost</code>"),
            "{lang}"
        );
    }
}
