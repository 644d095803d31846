//! The HTTP port against slow and greedy clients, on a real `mailscore
//! serve`: slowloris headers and idle keep-alive connections are cut at
//! `--http-header-timeout`, oversized heads get `431`, connections over
//! `--http-max-connections` wait their turn, 500 slow clients do not stop
//! a reader, and `X-Forwarded-For` picks the rate-limit bucket only when a
//! `--proxy-trusted` peer sends it.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::dns::{TestDns, Zone};
use support::server::{Server, http_exchange, send_mail};

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads until the server closes; what it sent.
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no close: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_trickled_header_and_an_idle_keep_alive_are_cut_at_the_header_timeout() {
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &["--http-header-timeout", "1"]);

    // One byte every 200 ms: never idle, never done.
    let mut slow = connect(server.http);
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let trickle = slow.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut trickle = trickle;
        while trickle.write_all(b"x").is_ok() && started.elapsed() < Duration::from_secs(8) {
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let answer = read_to_close(&mut slow);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(8), "never cut: {elapsed:?}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    writer.join().unwrap();

    // A keep-alive connection is served, then closed once idle.
    let mut idle = connect(server.http);
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let answer = read_to_close(&mut idle);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn too_many_or_too_big_header_fields_get_431() {
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &[]);
    let many: Vec<(String, String)> = (0..80).map(|n| (format!("x-h{n}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, _) = http_exchange(server.http, "GET", "/healthz", &many);
    assert_eq!(status, 431);
    let big = "v".repeat(40 * 1024);
    let (status, _, _) = http_exchange(server.http, "GET", "/healthz", &[("x-big", &big)]);
    assert_eq!(status, 431);
    let (status, _, _) = http_exchange(server.http, "GET", "/healthz", &many[..20]);
    assert_eq!(status, 200, "twenty fields are fine");
}

#[test]
fn connections_over_the_cap_wait_for_a_slot() {
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &["--http-max-connections", "4"]);
    // Four silent clients take every slot.
    let mut silent: Vec<TcpStream> = (0..4).map(|_| connect(server.http)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut waiting = connect(server.http);
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0; 64];
    let early = waiting.read(&mut buf);
    assert!(
        matches!(&early, Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut),
        "served while every slot was taken: {early:?}"
    );
    // One leaves: the waiting client is served.
    drop(silent.pop());
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let answer = read_to_close(&mut waiting);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn five_hundred_slow_clients_do_not_stop_a_reader() {
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &["--http-header-timeout", "60"]);
    let id = mailscore::test_id::generate();
    send_mail(
        server.smtp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "client.example",
        "sender@example.org",
        &[&format!("{id}@localhost")],
        b"From: sender@example.org\r\nSubject: hello\r\n\r\nHello.\r\n",
    );
    server.wait_for_report(&id);

    let mut slow: Vec<TcpStream> = (0..500)
        .map(|_| {
            let mut stream = connect(server.http);
            stream
                .write_all(b"GET /api/tests/x HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            stream
        })
        .collect();
    // They keep trickling while the reader reads.
    for stream in &mut slow {
        stream.write_all(b"a").unwrap();
    }
    let started = Instant::now();
    let (status, _, body) = http_exchange(server.http, "GET", &format!("/api/tests/{id}"), &[]);
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"done\""), "{body}");
    // Measured, not judged here (the figure goes in the note);
    // the bound only says it was served while all 500 held on.
    println!("report read beside 500 slow clients in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    for stream in &mut slow {
        stream
            .write_all(b"a")
            .expect("the slow clients are still open");
    }
}

/// Creates addresses until refused; how many were created.
fn created_before_429(server: &Server, forwarded_for: impl Fn(usize) -> String) -> usize {
    for n in 0..40 {
        let header = forwarded_for(n);
        let (status, _, body) = http_exchange(
            server.http,
            "POST",
            "/api/tests",
            &[("x-forwarded-for", &header)],
        );
        match status {
            201 => continue,
            429 => return n,
            other => panic!("{other}: {body}"),
        }
    }
    40
}

#[test]
fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let burst = mailscore::web::ADDRESS_CREATION_BURST as usize;
    let dns = TestDns::start(Zone::new());

    // Anyone else's header is ignored: a new claimed address each time
    // does not buy a new bucket.
    let direct = Server::start(dns.addr, &[]);
    assert_eq!(
        created_before_429(&direct, |n| format!("198.51.100.{n}")),
        burst
    );

    // Behind a trusted proxy each client has its own bucket: the address
    // the proxy appended, not the one the client claimed before it.
    let proxied = Server::start(dns.addr, &["--proxy-trusted", "127.0.0.1"]);
    assert_eq!(
        created_before_429(&proxied, |n| format!("203.0.113.9, 198.51.100.{n}")),
        40
    );
    assert_eq!(
        created_before_429(&proxied, |n| format!("198.51.100.{n}, 203.0.113.9")),
        burst
    );
}
