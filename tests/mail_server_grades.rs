//! MSchecker's four levels end to end: real SMTP into `mailscore serve`,
//! real probes out to a real Postfix playing the sender's MX on loopback,
//! real DNS. One test per level (安全, 見直しを推奨, 改善が必要, 危険), each
//! checked in the JSON, on the page in both languages, and through
//! `mailscore wait` and `mailscore check`.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::dkim::rsa_signed;
use support::dns::{TestDns, Zone};
use support::mx::{Relay, TestCa, postfix_mx};
use support::postfix::Postfix;
use support::server::Server;
use support::zones::good_example;

/// good.example as in the other end-to-end tests, DNSSEC-signed or not
/// (the grade reads publication: DNSKEY at the apex).
fn zone(signed: bool) -> Zone {
    let zone = good_example(Zone::new()).soa("good.example");
    if signed {
        zone.dnskey("good.example")
    } else {
        zone
    }
}

fn message(id: &str) -> Vec<u8> {
    let text = format!(
        "From: Alice <alice@good.example>\r\nTo: {id}@localhost\r\nSubject: Monthly report\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{id}@good.example>\r\n\r\nHello.\r\n"
    );
    rsa_signed(&text, "good.example", "sel1")
}

struct Scenario {
    _mx: Postfix,
    _dns: TestDns,
    server: Server,
    dir: PathBuf,
}

/// An MX as `relay` says, with STARTTLS when `tls`, and serve probing it.
fn scenario(relay: Relay, tls: bool, signed: bool) -> Option<Scenario> {
    let dir = std::env::temp_dir().join(format!(
        "mailscore-grade-{}",
        mailscore::test_id::generate()
    ));
    let ca = TestCa::new(&dir);
    let (crt, key) = ca.issue(&dir, "mx", "mail.good.example", false);
    let mx = postfix_mx(relay, tls.then_some((crt.as_path(), key.as_path())))?;
    let dns = TestDns::start(zone(signed));
    let port = mx.smtp.port().to_string();
    let ca_file = ca.pem_path.display().to_string();
    let server = Server::start(dns.addr, &probe_flags(&port, &ca_file));
    Some(Scenario {
        _mx: mx,
        _dns: dns,
        server,
        dir,
    })
}

fn probe_flags<'a>(port: &'a str, ca_file: &'a str) -> [&'a str; 6] {
    [
        "--probe-port",
        port,
        "--probe-allow-private",
        "--probe-ca",
        ca_file,
        "--probe-timeout=10",
    ]
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Scenario {
    /// The report of a well-authenticated message sent over TLS.
    fn report(&self, id: &str) -> Value {
        let rcpt = format!("{id}@localhost");
        self.server.send_mail_tls(
            "mail.good.example",
            "alice@good.example",
            &[&rcpt],
            &message(id),
        );
        self.server.wait_for_report(id)
    }

    fn page(&self, id: &str, lang: &str) -> String {
        let (status, page) = self.server.get(&format!("/tests/{id}?lang={lang}"));
        assert_eq!(status, 200);
        page
    }
}

fn deductions(report: &Value) -> Vec<(String, f64)> {
    report["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["points"].as_f64().unwrap() > 0.0)
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_string(),
                d["points"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn host(report: &Value) -> &Value {
    &report["checks"]["mail_server"]["domains"][0]["hosts"][0]
}

#[test]
fn a_well_run_sender_is_safe_and_scores_ten() {
    let Some(s) = scenario(Relay::Closed, true, true) else {
        return;
    };
    let report = s.report("grade-safe");
    assert_eq!(report["grade"]["level"], "safe", "{report:#}");
    assert_eq!(report["grade"]["decided_by"], serde_json::json!([]));
    assert_eq!(report["score"], 10.0, "{:?}", deductions(&report));
    let host = host(&report);
    assert_eq!(host["reached"], "completed", "{host:#}");
    assert_eq!(host["starttls"], "offered");
    assert_eq!(host["tls"]["certificate"]["chain"], "valid");
    assert_eq!(host["relay"]["verdict"], "closed");
    let setup = &report["setup"];
    assert_eq!(
        [
            &setup["smime"],
            &setup["spf"],
            &setup["dkim"],
            &setup["dmarc"]
        ],
        ["missing", "configured", "configured", "configured"]
    );

    let en = s.page("grade-safe", "en");
    assert!(en.contains("Mail server grade (MSchecker levels):</strong> <span class=\"icon\" aria-hidden=\"true\">✔</span> Safe"), "{en}");
    assert!(
        en.contains("Your mail server (MX), probed") && en.contains("refuses to relay"),
        "{en}"
    );
    let ja = s.page("grade-safe", "ja");
    assert!(ja.contains("</span> 安全"), "{ja}");
    assert!(
        ja.contains("送信ドメインのメールサーバー（MX）の確認") && ja.contains("中継を拒否"),
        "{ja}"
    );
    assert!(
        ja.contains("<td class=\"setup-missing\">設定なし</td>"),
        "{ja}"
    );

    // `mailscore wait` prints the grade too.
    let out = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .args([
            "wait",
            "grade-safe",
            "--server",
            &format!("http://{}", s.server.http),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\nmail server grade: safe\n"), "{stdout}");
}

#[test]
fn an_unsigned_zone_asks_for_review() {
    let Some(s) = scenario(Relay::Closed, true, false) else {
        return;
    };
    let report = s.report("grade-review");
    assert_eq!(report["grade"]["level"], "review", "{report:#}");
    assert_eq!(
        report["grade"]["decided_by"],
        serde_json::json!(["dnssec_not_ok"])
    );
    let ja = s.page("grade-review", "ja");
    assert!(
        ja.contains("見直しを推奨") && ja.contains("DNSSEC NG"),
        "{ja}"
    );
}

#[test]
fn an_mx_without_starttls_needs_improvement() {
    let Some(s) = scenario(Relay::Closed, false, true) else {
        return;
    };
    let report = s.report("grade-improve");
    assert_eq!(report["grade"]["level"], "improve", "{report:#}");
    assert_eq!(
        report["grade"]["decided_by"],
        serde_json::json!(["mx_no_starttls"])
    );
    assert_eq!(deductions(&report), [("MX_NO_STARTTLS".to_string(), 1.0)]);
    assert_eq!(report["score"], 9.0);
    let en = s.page("grade-improve", "en");
    assert!(
        en.contains("Needs improvement") && en.contains("no STARTTLS at the MX"),
        "{en}"
    );
    assert!(en.contains("does not offer STARTTLS"), "{en}");
    let ja = s.page("grade-improve", "ja");
    assert!(
        ja.contains("改善が必要") && ja.contains("MX の STARTTLS 非対応"),
        "{ja}"
    );
}

#[test]
fn an_open_relay_is_dangerous_and_the_variant_is_named() {
    let Some(s) = scenario(Relay::Open, true, true) else {
        return;
    };
    let report = s.report("grade-danger");
    assert_eq!(report["grade"]["level"], "danger", "{report:#}");
    assert_eq!(
        report["grade"]["decided_by"],
        serde_json::json!(["open_relay"])
    );
    let attempts = host(&report)["relay"]["attempts"].as_array().unwrap();
    let plain = attempts.iter().find(|a| a["variant"] == "plain").unwrap();
    assert_eq!(plain["accepted"], true, "{attempts:#?}");
    assert!(deductions(&report).contains(&("MX_OPEN_RELAY".to_string(), 3.0)));
    let en = s.page("grade-danger", "en");
    assert!(en.contains("Dangerous"), "{en}");
    assert!(en.contains("OPEN RELAY: accepted a recipient outside its domains: plain &lt;relay-test@relay-test.invalid&gt;"), "{en}");
    let ja = s.page("grade-danger", "ja");
    assert!(
        ja.contains("危険") && ja.contains("不正中継：ドメイン外の宛先を受け付けました"),
        "{ja}"
    );
}

/// `mailscore check` probes too, unless told not to.
#[test]
fn check_probes_unless_probing_is_off() {
    let Some(mx) = postfix_mx(Relay::Open, None) else {
        return;
    };
    let dns = TestDns::start(zone(true));
    let dir = std::env::temp_dir().join(format!(
        "mailscore-grade-check-{}",
        mailscore::test_id::generate()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let eml = dir.join("m.eml");
    std::fs::write(&eml, message("grade-check")).unwrap();
    let port = mx.smtp.port().to_string();
    let run = |extra: &[&str]| {
        let out = check(&eml, dns.addr, extra);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let probed = run(&["--probe-port", &port, "--probe-allow-private"]);
    assert!(
        probed.contains("\ngrade: danger (open_relay)\n"),
        "{probed}"
    );
    assert!(probed.contains("mx        completed"), "{probed}");
    assert!(probed.contains("relay=open"), "{probed}");
    let off = run(&["--probe", "off"]);
    assert!(off.contains("\nmx        off"), "{off}");
    assert!(
        off.contains("\ngrade: not_checked (not checked: open_relay)\n"),
        "{off}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn check(eml: &Path, dns: std::net::SocketAddr, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mailscore"))
        // The test zones are unsigned: nothing to validate.
        .env("MAILSCORE_DNSSEC_VALIDATION", "off")
        .arg("check")
        .arg(eml)
        .args([
            "--ip",
            "127.0.0.1",
            "--helo",
            "mail.good.example",
            "--mail-from",
            "alice@good.example",
        ])
        .args(["--dns", &dns.to_string(), "--dns-timeout", "1"])
        .args(extra)
        .output()
        .unwrap()
}

/// good.example's records as zone-file lines, for the signed test root.
fn good_example_records() -> String {
    let key = support::dkim::rsa_key_record();
    let key: String = support::dkim::split_255(&key)
        .iter()
        .map(|part| format!("\"{part}\" "))
        .collect();
    format!(
        "good.example.\tIN TXT \"v=spf1 ip4:127.0.0.1 -all\"\n\
         good.example.\tIN MX 10 mail.good.example.\n\
         sel1._domainkey.good.example.\tIN TXT {key}\n\
         _dmarc.good.example.\tIN TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@good.example\"\n\
         mail.good.example.\tIN A 127.0.0.1\n\
         mail.good.example.\tIN TXT \"v=spf1 a -all\"\n"
    )
}

/// 安全 with DNSSEC validated for real: every answer comes from a signed
/// root (knotd), validated from its key.
#[test]
fn a_well_run_sender_with_validated_dnssec_is_safe() {
    let Some(root) = support::signed_root::SignedRoot::start(&good_example_records()) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "mailscore-grade-{}",
        mailscore::test_id::generate()
    ));
    let ca = TestCa::new(&dir);
    let (crt, key) = ca.issue(&dir, "mx", "mail.good.example", false);
    let Some(mx) = postfix_mx(Relay::Closed, Some((crt.as_path(), key.as_path()))) else {
        return;
    };
    let (port, ca_file) = (
        mx.smtp.port().to_string(),
        ca.pem_path.display().to_string(),
    );
    let anchor = root.anchor.display().to_string();
    let mut flags = probe_flags(&port, &ca_file).to_vec();
    flags.extend([
        "--dnssec-validation",
        "on",
        "--dnssec-trust-anchor",
        &anchor,
    ]);
    let server = Server::start(root.addr, &flags);
    let id = "grade-validated";
    let rcpt = format!("{id}@localhost");
    server.send_mail_tls(
        "mail.good.example",
        "alice@good.example",
        &[&rcpt],
        &message(id),
    );
    let report = server.wait_for_report(id);
    assert_eq!(
        report["checks"]["posture"]["dnssec_validation"]["status"], "secure",
        "{report:#}"
    );
    assert_eq!(report["grade"]["level"], "safe", "{report:#}");
    assert_eq!(report["score"], 10.0, "{:?}", deductions(&report));
    let (_, page) = server.get(&format!("/tests/{id}?lang=en"));
    assert!(
        page.contains("<strong>DNSSEC validated</strong> <span class=\"result\">secure</span>"),
        "{page}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A stalled MX holds back only its own sender's report: the others come
/// at once, and the stalled one ends at the probe's bound as "could not
/// check" (the analysis slot is given up while the probe waits).
#[test]
fn a_stalled_mx_slows_only_its_own_report() {
    // Accepts on 127.0.0.3 and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let dns = TestDns::start(
        Zone::new()
            .mx("slow.example", 10, "mx.slow.example")
            .a("mx.slow.example", std::net::Ipv4Addr::new(127, 0, 0, 3)),
    );
    let server = Server::start(
        dns.addr,
        &[
            "--probe-port",
            &port,
            "--probe-allow-private",
            "--probe-timeout",
            "12",
        ],
    );
    let send = |id: &str, from: &str| {
        let text = format!(
            "From: <a@{from}>\r\nTo: {id}@localhost\r\nSubject: hi\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{id}@{from}>\r\n\r\nHello.\r\n"
        );
        let rcpt = format!("{id}@localhost");
        support::server::send_mail(
            server.smtp,
            std::net::Ipv4Addr::LOCALHOST.into(),
            "mail.example",
            &format!("a@{from}"),
            &[&rcpt],
            text.as_bytes(),
        );
    };
    for i in 0..3 {
        send(&format!("stalled-{i}"), "slow.example");
    }
    for i in 0..10 {
        send(&format!("quick-{i}"), "quick.example");
    }
    for i in 0..10 {
        let report = server.wait_for_report(&format!("quick-{i}"));
        assert_eq!(
            report["checks"]["mail_server"]["domains"][0]["targets"],
            "nowhere"
        );
    }
    // Not a timing assertion: the stalled probe waits 6 s for a greeting,
    // and every other report is in before it ends.
    let (_, pending) = server.get("/api/tests/stalled-0");
    assert!(pending.contains("\"status\":\"pending\""), "{pending}");

    let report = server.wait_for_report("stalled-0");
    let host = host(&report);
    assert_eq!(host["reached"], "failed", "{host:#}");
    assert!(
        host["error"]
            .as_str()
            .unwrap()
            .starts_with("timed out after 6 s waiting for the greeting"),
        "{host:#}"
    );
    assert_eq!(report["grade"]["level"], "not_checked");
    // One conversation served all three stalled reports (the cache).
    for i in 1..3 {
        assert_eq!(
            host,
            self::host(&server.wait_for_report(&format!("stalled-{i}")))
        );
    }
    let (_, page) = server.get("/tests/stalled-0?lang=en");
    assert!(
        page.contains("could not check: timed out after 6 s waiting for the greeting"),
        "{page}"
    );
}
