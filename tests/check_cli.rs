//! `mailscore check`: the same analysis as the server, on a file, from the
//! command line. iprev cases use documentation addresses (192.0.2.0/24),
//! because the resolver answers PTR for 127/8 itself.

mod support;

use serde_json::Value;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use support::dns::{TestDns, Zone};
use support::zones::rule_ids;

fn zone() -> Zone {
    Zone::new()
        .txt("iprev.example", &["v=spf1 ip4:192.0.2.0/24 -all"])
        .txt("_dmarc.iprev.example", &["v=DMARC1; p=quarantine"])
        // Forward-confirmed: PTR and A agree.
        .ptr("192.0.2.25".parse().unwrap(), "mail.iprev.example")
        .a("mail.iprev.example", Ipv4Addr::new(192, 0, 2, 25))
        // PTR points at a name that resolves elsewhere.
        .ptr("192.0.2.26".parse().unwrap(), "other.iprev.example")
        .a("other.iprev.example", Ipv4Addr::new(192, 0, 2, 99))
        // 192.0.2.27 has no PTR at all.
        .txt("_dmarc.badpolicy.example", &["v=DMARC1; p=sometimes"])
        // Two SPF records: a common mistake when adding a mail provider.
        .txt("twospf.example", &["v=spf1 ip4:192.0.2.0/24 -all"])
        .txt("twospf.example", &["v=spf1 include:_spf.esp.example ~all"])
}

const MESSAGE: &str = "From: a@iprev.example\r\nTo: b@localhost\r\nSubject: check\r\n\r\nbody\r\n";

fn check(dns: &TestDns, ip: &str, extra: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        // The test zones are unsigned: nothing to validate.
        .env("MAILSCORE_DNSSEC_VALIDATION", "off")
        .args(["check", "-", "--ip", ip, "--helo", "mail.iprev.example"])
        .args([
            "--mail-from",
            "a@iprev.example",
            "--dns",
            &dns.addr.to_string(),
        ])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn json_report(dns: &TestDns, ip: &str) -> Value {
    let out = check(dns, ip, &["--format", "json"], MESSAGE);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn forward_confirmed_reverse_dns_passes_iprev() {
    let dns = TestDns::start(zone());
    let report = json_report(&dns, "192.0.2.25");
    let iprev = &report["checks"]["iprev"];
    assert_eq!(iprev["result"], "pass", "{report:#}");
    assert_eq!(iprev["ptr"][0], "mail.iprev.example");
    assert_eq!(iprev["forward_confirmed"], true);
    assert_eq!(report["checks"]["spf"]["result"], "pass");
    assert!(!rule_ids(&report).iter().any(|r| r.starts_with("IPREV")));
}

#[test]
fn ptr_that_does_not_resolve_back_fails_iprev() {
    let dns = TestDns::start(zone());
    let report = json_report(&dns, "192.0.2.26");
    let iprev = &report["checks"]["iprev"];
    assert_eq!(iprev["result"], "fail", "{report:#}");
    assert_eq!(iprev["ptr"][0], "other.iprev.example");
    assert_eq!(iprev["forward_confirmed"], false);
    assert!(rule_ids(&report).contains(&"IPREV_FAIL".to_string()));
}

#[test]
fn missing_ptr_is_reported_as_not_set_up() {
    let dns = TestDns::start(zone());
    let report = json_report(&dns, "192.0.2.27");
    let iprev = &report["checks"]["iprev"];
    assert_eq!(iprev["result"], "none", "{report:#}");
    assert_eq!(iprev["setup"], "missing");
    assert!(rule_ids(&report).contains(&"IPREV_NONE".to_string()));
}

#[test]
fn unusable_dmarc_record_is_misconfigured_not_missing() {
    let dns = TestDns::start(zone());
    let message = MESSAGE.replace("From: a@iprev.example", "From: a@badpolicy.example");
    let out = check(&dns, "192.0.2.25", &["--format", "json"], &message);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dmarc = &report["checks"]["dmarc"];
    assert_eq!(dmarc["result"], "permerror", "{report:#}");
    assert_eq!(dmarc["setup"], "misconfigured");
    assert_eq!(dmarc["records"][0], "v=DMARC1; p=sometimes");
    assert!(rule_ids(&report).contains(&"DMARC_PERMERROR".to_string()));
}

#[test]
fn text_format_summarises_each_check() {
    let dns = TestDns::start(zone());
    let out = check(&dns, "192.0.2.27", &[], MESSAGE);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("score: "), "{text}");
    assert!(text.contains("iprev"));
    assert!(text.contains("IPREV_NONE"));
}

#[test]
fn invalid_rule_table_is_refused_with_file_and_rule() {
    let dns = TestDns::start(zone());
    let dir = std::env::temp_dir().join(format!("mailscore-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("custom.toml"),
        "[[rule]]\nid = \"MY_RULE\"\ncheck = \"spff\"\nwhen = { result = \"fail\" }\npoints = 1\ntitle = { en = \"x\", ja = \"x\" }\nadvice = { en = \"x\", ja = \"x\" }\n",
    )
    .unwrap();
    let out = check(
        &dns,
        "192.0.2.25",
        &["--rules", dir.to_str().unwrap()],
        MESSAGE,
    );
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("custom.toml") && err.contains("MY_RULE") && err.contains("spff"),
        "{err}"
    );
}

#[test]
fn serve_refuses_to_start_with_an_invalid_rule_table() {
    let dir = std::env::temp_dir().join(format!("mailscore-badrules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad.toml"), "[[rule]]\nid = \"X\"\nbogus = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .args([
            "serve",
            "--smtp-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .args(["--rules", dir.to_str().unwrap()])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("bogus"), "{err}");
}

#[test]
fn two_spf_records_are_misconfigured() {
    let dns = TestDns::start(zone());
    let mut out = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        // The test zones are unsigned: nothing to validate.
        .env("MAILSCORE_DNSSEC_VALIDATION", "off")
        .args([
            "check",
            "-",
            "--ip",
            "192.0.2.25",
            "--helo",
            "mail.twospf.example",
        ])
        .args([
            "--mail-from",
            "a@twospf.example",
            "--dns",
            &dns.addr.to_string(),
        ])
        .args(["--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let message = "From: a@twospf.example\r\nSubject: two\r\n\r\nbody\r\n";
    let mut stdin = out.stdin.take().unwrap();
    stdin.write_all(message.as_bytes()).unwrap();
    drop(stdin);
    let out = out.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let spf = &report["checks"]["spf"];
    assert_eq!(spf["result"], "permerror", "{report:#}");
    assert_eq!(spf["setup"], "misconfigured");
    assert_eq!(spf["records"].as_array().unwrap().len(), 2);
    assert!(spf["error"].as_str().unwrap().contains("2 SPF records"));
}

#[test]
fn what_is_not_a_message_is_refused_with_exit_2() {
    let dns = TestDns::start(zone());
    let random: String = (0..400u32)
        .map(|i| char::from(b"\x01\x7f#%&()*+ "[(i * 7 % 10) as usize]))
        .collect();
    for (input, reason) in [
        ("", "the input is empty"),
        ("\r\n\r\n", "the input is empty"),
        (random.as_str(), "does not start with a header field"),
        (
            "Hello, this is just a body.\r\nNo headers.\r\n",
            "does not start with a header field",
        ),
        (
            "\r\nFrom: a@iprev.example\r\n",
            "does not start with a header field",
        ),
    ] {
        let out = check(&dns, "192.0.2.25", &[], input);
        assert_eq!(out.status.code(), Some(2), "{input:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("not an RFC 5322 message") && stderr.contains(reason),
            "{input:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "no score printed for {input:?}");
        let json = check(&dns, "192.0.2.25", &["--format", "json"], input);
        assert_eq!(json.status.code(), Some(2));
        let error: Value = serde_json::from_slice(&json.stdout).expect("a JSON error object");
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .starts_with("not an RFC 5322 message: "),
            "{error}"
        );
    }
    // An mbox "From " line before the headers is still a message.
    let mbox = format!("From a@iprev.example Tue Nov 25 10:00:00 2025\n{MESSAGE}");
    assert!(check(&dns, "192.0.2.25", &[], &mbox).status.success());
}

/// A name this machine's /etc/hosts gives an address, other than localhost
/// (which the resolver answers itself, RFC 6761).
fn name_in_etc_hosts() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(|line| line.split_whitespace().skip(1))
        .find(|name| !name.starts_with("localhost") && !name.contains("localhost"))
        .map(str::to_string)
}

#[test]
fn iprev_asks_the_configured_dns_server_not_etc_hosts() {
    // 192.0.2.31's PTR is a name /etc/hosts also lists (with another
    // address): forward-confirmed only if the A lookup asks --dns.
    let Some(name) = name_in_etc_hosts() else {
        eprintln!("no non-localhost name in /etc/hosts: nothing to shadow, nothing to test");
        return;
    };
    let zone = zone()
        .ptr("192.0.2.31".parse().unwrap(), &name)
        .a(&name, Ipv4Addr::new(192, 0, 2, 31));
    let dns = TestDns::start(zone);
    let out = check(&dns, "192.0.2.31", &["--format", "json"], MESSAGE);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let iprev = &report["checks"]["iprev"];
    assert_eq!(iprev["ptr"][0], name.as_str(), "{iprev:#}");
    assert_eq!(iprev["forward_confirmed"], true, "{iprev:#}");
    assert_eq!(iprev["result"], "pass", "{iprev:#}");
}
