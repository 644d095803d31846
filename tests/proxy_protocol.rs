//! The PROXY protocol on the SMTP listener, on the real binary: a trusted
//! load balancer's v1 and v2 headers make the client they name the sender
//! (the report's client IP, what SPF and iprev judge); a header from anyone
//! else is refused and the connection closed; a trusted peer that sends no
//! header is closed too. HAProxy itself (Debian's `haproxy`) plays the
//! balancer in the last test.

mod ops_support;
mod support;

use ops_support::{LoggedServer, PATIENCE, Smtp, connect_from, message};
use serde_json::Value;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::dns::{TestDns, Zone};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The sender behind the balancer (a documentation address).
const SENDER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 25);
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// `proxied.example` may send from 192.0.2.25 only, which names itself
/// `mail.proxied.example` both ways; `lb.example` likewise from 127.0.0.7.
fn zone() -> Zone {
    Zone::new()
        .txt("proxied.example", &["v=spf1 ip4:192.0.2.25 -all"])
        .ptr(IpAddr::V4(SENDER), "mail.proxied.example")
        .a("mail.proxied.example", SENDER)
        .txt("lb.example", &["v=spf1 ip4:127.0.0.7 -all"])
}

fn v1_header(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {family} {} {} {} {}\r\n",
        source.ip(),
        destination.ip(),
        source.port(),
        destination.port()
    )
    .into_bytes()
}

/// A v2 PROXY header for a TCP connection, with one TLV (PP2_TYPE_NOOP)
/// that a receiver must skip.
fn v2_header(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let mut addresses = Vec::new();
    let family = match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            addresses.extend(s.octets());
            addresses.extend(d.octets());
            0x11
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            addresses.extend(s.octets());
            addresses.extend(d.octets());
            0x21
        }
        _ => panic!("one family"),
    };
    addresses.extend(source.port().to_be_bytes());
    addresses.extend(destination.port().to_be_bytes());
    addresses.extend([0x04, 0x00, 0x02, 0xaa, 0xbb]);
    let mut header = V2_SIGNATURE.to_vec();
    header.extend([0x21, family]);
    header.extend((addresses.len() as u16).to_be_bytes());
    header.extend(addresses);
    header
}

/// Connects from 127.0.0.1, writes `header`, then sends one message from
/// `mail_from` to `id`.
fn send_through_header(server: &LoggedServer, header: &[u8], mail_from: &str, id: &str) {
    let mut stream = connect_from(server.smtp, LOCALHOST);
    stream.write_all(header).unwrap();
    let mut smtp = Smtp::new(stream);
    let greeting = smtp.reply();
    assert!(greeting.starts_with("220"), "{greeting:?}");
    let domain = mail_from.rsplit_once('@').unwrap().1;
    smtp.send(
        &format!("mail.{domain}"),
        mail_from,
        &format!("{id}@localhost"),
        &message(&format!("Sender <{mail_from}>"), "proxied"),
    );
}

fn envelope_ip(report: &Value) -> &str {
    report["envelope"]["client_ip"].as_str().unwrap()
}

/// The value of one sample in a `/metrics` scrape.
fn metric(server: &LoggedServer, series: &str) -> f64 {
    let (_, _, body) = server.get("/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{body}"))
}

#[test]
fn trusted_v1_and_v2_headers_make_the_proxied_client_the_sender() {
    let dns = TestDns::start(zone());
    let server = LoggedServer::start(dns.addr, &["--proxy-trusted", "10.9.9.9,127.0.0.1/32"]);
    let sender = SocketAddr::new(IpAddr::V4(SENDER), 40000);

    send_through_header(
        &server,
        &v1_header(sender, server.smtp),
        "a@proxied.example",
        "proxy-v1",
    );
    let report = server.wait_for_report("proxy-v1");
    assert_eq!(envelope_ip(&report), "192.0.2.25");
    assert_eq!(report["envelope"]["client_port"], 40000);
    // SPF and iprev judged the sender, not the balancer at 127.0.0.1.
    assert_eq!(report["checks"]["spf"]["result"], "pass", "{report:#}");
    assert_eq!(report["checks"]["iprev"]["result"], "pass", "{report:#}");

    let sender = SocketAddr::new(IpAddr::V4(SENDER), 40001);
    send_through_header(
        &server,
        &v2_header(sender, server.smtp),
        "a@proxied.example",
        "proxy-v2",
    );
    let report = server.wait_for_report("proxy-v2");
    assert_eq!(envelope_ip(&report), "192.0.2.25");
    assert_eq!(report["envelope"]["client_port"], 40001);
    assert_eq!(report["checks"]["spf"]["result"], "pass", "{report:#}");

    let v6 = SocketAddr::new(
        IpAddr::V6("2001:db8::25".parse::<Ipv6Addr>().unwrap()),
        40002,
    );
    let us = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 25);
    send_through_header(
        &server,
        &v2_header(v6, us),
        "a@proxied.example",
        "proxy-v2-six",
    );
    let report = server.wait_for_report("proxy-v2-six");
    assert_eq!(envelope_ip(&report), "2001:db8::25");
    // Not authorised from there: SPF saw the IPv6 sender too.
    assert_eq!(report["checks"]["spf"]["result"], "fail", "{report:#}");

    // The log says who sent it and through which balancer.
    let line = server.wait_for_log("of the v1 transaction", |l| {
        l.contains("SMTP transaction accepted") && l.contains("test_id=proxy-v1")
    });
    assert!(line.contains("client_ip=192.0.2.25"), "{line}");
    assert!(line.contains("proxy=127.0.0.1:"), "{line}");
}

#[test]
fn headers_from_untrusted_peers_are_refused_and_plain_smtp_still_works() {
    let dns = TestDns::start(zone());
    // Only 127.0.0.9 is a balancer; the test client at 127.0.0.1 is not.
    let server = LoggedServer::start(dns.addr, &["--proxy-trusted", "127.0.0.9"]);
    let sender = SocketAddr::new(IpAddr::V4(SENDER), 40000);
    for header in [
        v1_header(sender, server.smtp),
        v2_header(sender, server.smtp),
    ] {
        let mut smtp = Smtp::new(connect_from(server.smtp, LOCALHOST));
        assert!(smtp.reply().starts_with("220"));
        let refusal = smtp.raw(&header);
        assert!(refusal.starts_with("554 5.7.0"), "{refusal:?}");
        assert_eq!(smtp.reply(), "", "the connection must be closed");
    }
    assert_eq!(
        metric(
            &server,
            "mailscore_smtp_refused_total{reason=\"proxy_untrusted\"}"
        ),
        2.0
    );

    // Without a header the same client is an ordinary sender.
    let mut smtp = Smtp::new(connect_from(server.smtp, LOCALHOST));
    assert!(smtp.reply().starts_with("220"));
    smtp.send(
        "mail.proxied.example",
        "a@proxied.example",
        "proxy-direct@localhost",
        &message("Sender <a@proxied.example>", "direct"),
    );
    let report = server.wait_for_report("proxy-direct");
    assert_eq!(envelope_ip(&report), "127.0.0.1");
    assert_eq!(report["checks"]["spf"]["result"], "fail", "{report:#}");
}

#[test]
fn trusted_peer_without_a_valid_header_is_closed() {
    let dns = TestDns::start(zone());
    let server = LoggedServer::start(dns.addr, &["--proxy-trusted", "127.0.0.0/8"]);
    let cases: [&[u8]; 3] = [
        b"EHLO client.example\r\n",
        b"PROXY TCP4 192.0.2.25 127.0.0.1 99999 25\r\n",
        b"PROXY TCP6 192.0.2.25 127.0.0.1 1 25\r\n",
    ];
    for case in cases {
        let mut smtp = Smtp::new(connect_from(server.smtp, LOCALHOST));
        // No greeting first: the header must come before anything else.
        let reply = smtp.raw(case);
        assert!(reply.starts_with("421 4.7.0"), "{case:?}: {reply:?}");
        assert_eq!(smtp.reply(), "", "the connection must be closed");
    }
    assert_eq!(
        metric(
            &server,
            "mailscore_smtp_refused_total{reason=\"proxy_header_invalid\"}"
        ),
        3.0
    );
    assert_eq!(metric(&server, "mailscore_messages_received_total"), 0.0);
    let line = server.wait_for_log("of the refusal", |l| l.contains("proxy_header_invalid"));
    assert!(
        line.contains("WARN") && line.contains("proxy=127.0.0.1:"),
        "{line}"
    );
}

/// A free loopback port (bound, then released for HAProxy to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `haproxy` in the foreground, killed on drop.
struct Haproxy {
    child: Child,
    config: std::path::PathBuf,
}

impl Haproxy {
    /// Forwards `v1_port` with `send-proxy` and `v2_port` with
    /// `send-proxy-v2` to `smtp`.
    fn start(v1_port: u16, v2_port: u16, smtp: SocketAddr) -> Option<Haproxy> {
        let binary = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
            .into_iter()
            .find(|path| std::path::Path::new(path).exists());
        let Some(binary) = binary else {
            assert!(
                std::env::var_os("CI").is_none(),
                "haproxy is not installed (.ci/run installs it)"
            );
            eprintln!("SKIPPED: haproxy is not installed (apt-get install haproxy)");
            return None;
        };
        let config = std::env::temp_dir().join(format!(
            "mailscore-haproxy-{}.cfg",
            mailscore::test_id::generate()
        ));
        std::fs::write(
            &config,
            format!(
                "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
                 frontend v1\n  bind 127.0.0.1:{v1_port}\n  default_backend mailscore_v1\n\
                 frontend v2\n  bind 127.0.0.1:{v2_port}\n  default_backend mailscore_v2\n\
                 backend mailscore_v1\n  server ms {smtp} send-proxy\n\
                 backend mailscore_v2\n  server ms {smtp} send-proxy-v2\n"
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .args(["-db", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .spawn()
            .expect("start haproxy");
        let haproxy = Haproxy { child, config };
        let deadline = Instant::now() + PATIENCE;
        for port in [v1_port, v2_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "haproxy did not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Some(haproxy)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}

#[test]
fn haproxy_in_front_passes_the_real_client_with_v1_and_v2() {
    let dns = TestDns::start(zone());
    // HAProxy connects from 127.0.0.1; the sender is at 127.0.0.7.
    let server = LoggedServer::start(dns.addr, &["--proxy-trusted", "127.0.0.1"]);
    let (v1_port, v2_port) = (free_port(), free_port());
    let Some(_haproxy) = Haproxy::start(v1_port, v2_port, server.smtp) else {
        return;
    };
    let sender = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7));
    for (port, id) in [(v1_port, "haproxy-v1"), (v2_port, "haproxy-v2")] {
        let front = SocketAddr::new(LOCALHOST, port);
        let mut smtp = Smtp::new(connect_from(front, sender));
        let greeting = smtp.reply();
        assert!(greeting.starts_with("220"), "{greeting:?}");
        smtp.send(
            "mail.lb.example",
            "a@lb.example",
            &format!("{id}@localhost"),
            &message("Sender <a@lb.example>", "through haproxy"),
        );
        let report = server.wait_for_report(id);
        assert_eq!(envelope_ip(&report), "127.0.0.7", "{id}");
        assert_eq!(
            report["checks"]["spf"]["result"], "pass",
            "{id}: {report:#}"
        );
    }
}
