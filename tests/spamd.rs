//! SpamAssassin through spamd: a real spamd scores the corpus' GTUBE as
//! spam and a personal letter as ham, and the report lists every rule it
//! hit. spamd unreachable or silent leaves the section "not checked" and
//! the rest of the report as it was.

mod support;

use std::io::Read;
use std::net::TcpListener;
use support::corpus::{check, content_rules, dir, expected};
use support::dns::{TestDns, Zone};
use support::spamd::{Spamd, free_port};
use support::zones::rule_ids;

#[test]
fn real_spamd_scores_gtube_as_spam_and_a_letter_as_ham() {
    let Some(spamd) = Spamd::start() else { return };
    let dns = TestDns::start(Zone::new());
    let flag = ["--spamd", &spamd.addr.to_string()];

    let gtube = check(&dir().join("gtube.eml"), dns.addr, &flag);
    let sa = &gtube["checks"]["spamassassin"];
    assert_eq!(sa["status"], "checked", "{sa:#}\n{}", spamd.log());
    assert_eq!(sa["spam"], true, "{sa:#}");
    assert!(sa["score"].as_f64().unwrap() >= 1000.0, "{sa:#}");
    assert_eq!(sa["threshold"], 5.0);
    let rules = sa["rules"].as_array().unwrap();
    let hit = rules
        .iter()
        .find(|r| r["name"] == "GTUBE")
        .expect("GTUBE listed");
    assert_eq!(hit["points"], 1000.0);
    assert!(
        hit["description"].as_str().unwrap().contains("Unsolicited"),
        "{hit}"
    );
    assert!(rule_ids(&gtube).contains(&"SPAMASSASSIN_10_PLUS".to_string()));
    assert_eq!(content_rules(&gtube), vec!["GTUBE"]);

    // The terminal summary says it too, rule by rule.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailscore"))
        // The test zones are unsigned: nothing to validate.
        .env("MAILSCORE_DNSSEC_VALIDATION", "off")
        .arg("check")
        .arg(dir().join("gtube.eml"))
        .args(["--ip", "192.0.2.25", "--helo", "mail.example.com"])
        .args(["--dns", &dns.addr.to_string(), "--dns-timeout", "1"])
        .args(["--dnsbl", "", "--domain-blocklists", ""])
        .args(flag)
        .args(["--format", "text"])
        .output()
        .expect("run mailscore check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let verdict = text
        .lines()
        .find(|l| l.starts_with("spamassn"))
        .unwrap_or_else(|| panic!("no SpamAssassin line:\n{text}"));
    assert!(
        verdict.contains("spam ") && verdict.contains("threshold 5.0"),
        "{verdict}"
    );
    assert!(
        text.lines().any(|l| l.contains("1000.0 GTUBE")),
        "GTUBE rule not listed:\n{text}"
    );

    let letter = check(&dir().join("ham_personal_plain.eml"), dns.addr, &flag);
    let sa = &letter["checks"]["spamassassin"];
    assert_eq!(sa["status"], "checked", "{sa:#}");
    assert_eq!(sa["spam"], false, "{sa:#}");
    assert!(sa["score"].as_f64().unwrap() < 5.0, "{sa:#}");
    assert!(
        !rule_ids(&letter)
            .iter()
            .any(|r| r.starts_with("SPAMASSASSIN_5") || r.starts_with("SPAMASSASSIN_10")),
        "{letter:#}"
    );
}

/// The whole corpus through spamd, printed side by side with our content
/// findings (`cargo test --test spamd -- --nocapture`). Every message is
/// checked, and SpamAssassin's own verdict on GTUBE stays spam.
#[test]
fn corpus_side_by_side_with_spamassassin() {
    let Some(spamd) = Spamd::start() else { return };
    let dns = TestDns::start(Zone::new());
    let flag = ["--spamd", &spamd.addr.to_string()];
    println!("| message | ours (content) | content rules | SA score | SA rules (points) |");
    println!("|---|---|---|---|---|");
    for (name, entry) in expected() {
        let mut extra = flag.to_vec();
        if let Some(profile) = &entry.profile {
            extra.extend(["--content-profile", profile.as_str()]);
        }
        let report = check(&entry.path(&name), dns.addr, &extra);
        let sa = &report["checks"]["spamassassin"];
        assert_eq!(sa["status"], "checked", "{name}: {sa:#}");
        let content = content_rules(&report);
        let lost: f64 = report["deductions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| content.contains(&d["rule"].as_str().unwrap().to_string()))
            .map(|d| d["points"].as_f64().unwrap())
            .sum();
        let sa_rules: Vec<String> = sa["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["points"].as_f64().unwrap() != 0.0)
            .map(|r| format!("{} {}", r["name"].as_str().unwrap(), r["points"]))
            .collect();
        println!(
            "| {name} | {:.1} | {} | {} | {} |",
            10.0 - lost,
            content.join(" "),
            sa["score"],
            sa_rules.join(", ")
        );
    }
}

#[test]
fn unreachable_spamd_is_not_checked_and_changes_nothing_else() {
    let dns = TestDns::start(Zone::new());
    let path = dir().join("spam_shouting_subject.eml");
    let without = check(&path, dns.addr, &[]);
    assert_eq!(
        without["checks"]["spamassassin"]["status"],
        "not_configured"
    );

    let closed = format!("127.0.0.1:{}", free_port());
    let with = check(&path, dns.addr, &["--spamd", &closed]);
    let sa = &with["checks"]["spamassassin"];
    assert_eq!(sa["status"], "not_checked", "{sa:#}");
    assert!(sa["error"].as_str().unwrap().contains(&closed), "{sa:#}");
    assert!(sa["rules"].as_array().unwrap().is_empty());
    assert_eq!(with["score"], without["score"]);
    assert_eq!(with["checks"]["content"], without["checks"]["content"]);
    assert!(rule_ids(&with).contains(&"SPAMASSASSIN_NOT_CHECKED".to_string()));
}

#[test]
fn silent_spamd_times_out_as_not_checked() {
    // Accepts, reads, never answers: a spamd stuck on a huge message.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done, wait_for_done) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut sink = Vec::new();
        conn.read_to_end(&mut sink).ok();
        // Keep the connection open, unanswered, until the check is over.
        wait_for_done.recv().ok();
        sink
    });
    let dns = TestDns::start(Zone::new());
    let report = check(
        &dir().join("ham_personal_plain.eml"),
        dns.addr,
        &["--spamd", &addr.to_string(), "--spamd-timeout", "1"],
    );
    done.send(()).unwrap();
    let sa = &report["checks"]["spamassassin"];
    assert_eq!(sa["status"], "not_checked", "{sa:#}");
    assert!(
        sa["error"].as_str().unwrap().contains("did not answer"),
        "{sa:#}"
    );
    assert_eq!(content_rules(&report), Vec::<String>::new());
    // What spamd was sent: a SPAMC/1.5 REPORT request with the message.
    let request = String::from_utf8(holder.join().unwrap()).unwrap();
    assert!(
        request.starts_with("REPORT SPAMC/1.5\r\nContent-length: "),
        "{request}"
    );
    assert!(request.contains("Subject: Notes from yesterday"));
}

/// The server asks spamd too (config `spamd` via MAILSCORE_SPAMD), and the
/// JSON report and the page show SpamAssassin's rules.
#[test]
fn serve_reports_spamassassin_rules_for_mail_received_over_smtp() {
    let Some(spamd) = Spamd::start() else { return };
    let dns = TestDns::start(Zone::new());
    let addr = spamd.addr.to_string();
    let server = support::server::Server::start_with_env(
        dns.addr,
        &["--content-profile", "fisc"],
        &[("MAILSCORE_SPAMD", addr.as_str())],
    );
    let raw = std::fs::read(dir().join("gtube.eml")).unwrap();
    support::server::send_mail(
        server.smtp,
        "127.0.0.1".parse().unwrap(),
        "mail.example.com",
        "test@example.com",
        &["spamd-gtube@localhost"],
        &raw,
    );
    let report = server.wait_for_report("spamd-gtube");
    let sa = &report["checks"]["spamassassin"];
    assert_eq!(sa["status"], "checked", "{sa:#}\n{}", spamd.log());
    assert_eq!(sa["spam"], true);
    assert!(
        sa["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "GTUBE")
    );
    assert_eq!(report["checks"]["content"]["profile"], "fisc");
    let (status, page) = server.get("/tests/spamd-gtube?lang=en");
    assert_eq!(status, 200);
    assert!(
        page.contains("SpamAssassin (score 10") && page.contains("GTUBE"),
        "{page}"
    );
}
