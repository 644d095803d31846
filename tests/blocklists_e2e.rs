//! Blocklists and From-domain posture end to end: listings served by the
//! loopback DNS server, found by `mailscore serve` (domains in a message sent
//! over SMTP) and `mailscore check --ip` (a public client IP, since loopback
//! senders are never looked up).

mod support;

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use support::dns::{TestDns, Zone};
use support::server::{Server, send_mail};
use support::zones::rule_ids;

const LISTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn zone() -> Zone {
    Zone::new()
        .txt(
            "sender.example",
            &["v=spf1 ip4:127.0.0.1 ip4:192.0.2.0/24 -all"],
        )
        .mx("sender.example", 10, "mx.sender.example")
        .txt(
            "_dmarc.sender.example",
            &["v=DMARC1; p=reject; rua=mailto:d@sender.example"],
        )
        // A link domain on the domain list, with the list's reason.
        .a("shady.example.dbl.test", LISTED)
        .txt(
            "shady.example.dbl.test",
            &["phishing domain, see https://dbl.test/shady.example"],
        )
        // 192.0.2.66 is on the IP list.
        .a("66.2.0.192.bl.test", LISTED)
        .txt("66.2.0.192.bl.test", &["listed for spam trap hits"])
        // A From domain that says it accepts no mail (RFC 7505).
        .txt("nomail.example", &["v=spf1 ip4:127.0.0.1 -all"])
        .mx("nomail.example", 0, ".")
        .timeout("66.2.0.192.slow.test")
}

fn message(from: &str, body: &str) -> String {
    format!("From: {from}\r\nTo: t@localhost\r\nSubject: lists\r\n\r\n{body}\r\n")
}

#[test]
fn link_to_a_listed_domain_costs_points_and_shows_the_reason() {
    let dns = TestDns::start(zone());
    let server = Server::start(
        dns.addr,
        &["--domain-blocklists", "dbl.test", "--dnsbl", "bl.test"],
    );
    let localhost = IpAddr::from([127, 0, 0, 1]);
    let body = message(
        "a@sender.example",
        "Log in at https://shady.example/login now",
    );
    send_mail(
        server.smtp,
        localhost,
        "mx.sender.example",
        "a@sender.example",
        &["lists@localhost"],
        body.as_bytes(),
    );
    let report = server.wait_for_report("lists");
    let domains = &report["checks"]["domain_blocklists"];
    assert_eq!(domains["result"], "listed", "{report:#}");
    assert_eq!(domains["listings"][0]["item"], "shady.example");
    assert_eq!(domains["listings"][0]["zone"], "dbl.test");
    assert!(
        domains["listings"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("phishing")
    );
    assert!(rule_ids(&report).contains(&"DOMAIN_BLOCKLISTED".to_string()));
    // The loopback sender is never sent to an IP list.
    assert_eq!(report["checks"]["ip_blocklists"]["result"], "skipped");

    let (_, page) = server.get("/tests/lists");
    assert!(page.contains("shady.example") && page.contains("phishing domain"));

    let clean = message(
        "a@sender.example",
        "Nothing to see at https://sender.example/",
    );
    send_mail(
        server.smtp,
        localhost,
        "mx.sender.example",
        "a@sender.example",
        &["clean@localhost"],
        clean.as_bytes(),
    );
    let report = server.wait_for_report("clean");
    assert_eq!(report["checks"]["domain_blocklists"]["result"], "clean");
    assert!(
        !rule_ids(&report)
            .iter()
            .any(|r| r.starts_with("DOMAIN_BLOCK"))
    );
}

#[test]
fn from_domain_with_a_null_mx_is_flagged() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let body = message("noreply@nomail.example", "We cannot receive replies.");
    send_mail(
        server.smtp,
        IpAddr::from([127, 0, 0, 1]),
        "mx.sender.example",
        "noreply@nomail.example",
        &["nullmx@localhost"],
        body.as_bytes(),
    );
    let report = server.wait_for_report("nullmx");
    assert_eq!(report["checks"]["posture"]["null_mx"], true, "{report:#}");
    assert!(rule_ids(&report).contains(&"FROM_DOMAIN_NO_MX".to_string()));
}

fn check_ip(dns: &TestDns, ip: &str, zones: &str) -> Value {
    let mut out = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        // The test zones are unsigned: nothing to validate.
        .env("MAILSCORE_DNSSEC_VALIDATION", "off")
        .args([
            "check",
            "-",
            "--ip",
            ip,
            "--helo",
            "mx.sender.example",
            "--mail-from",
            "a@sender.example",
        ])
        .args([
            "--dns",
            &dns.addr.to_string(),
            "--dns-timeout",
            "1",
            "--dnsbl",
            zones,
            "--format",
            "json",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let message = "From: a@sender.example\r\nSubject: blocklists\r\n\r\nbody\r\n";
    let mut stdin = out.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, message.as_bytes()).unwrap();
    drop(stdin);
    let out = out.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn listed_client_ip_is_reported_with_zone_code_and_reason() {
    let dns = TestDns::start(zone());
    let report = check_ip(&dns, "192.0.2.66", "bl.test");
    let ip = &report["checks"]["ip_blocklists"];
    assert_eq!(ip["result"], "listed", "{report:#}");
    assert_eq!(ip["listings"][0]["codes"][0], "127.0.0.2");
    assert_eq!(ip["listings"][0]["reason"], "listed for spam trap hits");
    assert!(rule_ids(&report).contains(&"IP_BLOCKLISTED".to_string()));

    let clean = check_ip(&dns, "192.0.2.67", "bl.test");
    assert_eq!(clean["checks"]["ip_blocklists"]["result"], "clean");
}

#[test]
fn blocklist_timeout_is_not_checked_never_listed_or_clean() {
    let dns = TestDns::start(zone());
    let report = check_ip(&dns, "192.0.2.66", "slow.test");
    let ip = &report["checks"]["ip_blocklists"];
    assert_eq!(ip["result"], "unknown", "{report:#}");
    assert_eq!(ip["not_checked"][0], "slow.test");
    let rules = rule_ids(&report);
    assert!(rules.contains(&"IP_BLOCKLIST_NOT_CHECKED".to_string()));
    assert!(!rules.contains(&"IP_BLOCKLISTED".to_string()));
}
