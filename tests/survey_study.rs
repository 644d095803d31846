//! The JIPDEC study reproduced end to end, twice: its 72 sending addresses
//! (tests/support/study.rs: real DNS zones on loopback, real DKIM and
//! S/MIME signatures) archived as one mbox and surveyed by the real
//! `mailscore survey`, and mailed over real SMTP into an online survey of
//! `mailscore serve` (on sled and on Redis). Every published figure is
//! checked digit for digit against the JSON each prints. Nothing is
//! counted here: the figures come out of the analysis of each message.

mod support;

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use support::dns::TestDns;
use support::redis::RedisServer;
use support::server::{Server, send_mail};
use support::study::{self, RECEIVER, StudySender};
use support::survey::{row, temp_dir, wait_for_messages};

fn survey(dns: &TestDns, mbox: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailscore"))
        // The test zones are unsigned, and the senders' hosts are not
        // public: nothing to validate, nothing to probe.
        .env("MAILSCORE_DNSSEC_VALIDATION", "off")
        .env("MAILSCORE_PROBE", "off")
        .arg("survey")
        .arg(mbox)
        .args(["--received-by", RECEIVER, "--expect-domain", "go.jp"])
        .args(["--dns", &dns.addr.to_string(), "--dns-timeout", "2"])
        .args(extra)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> &[u8] {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    &out.stdout
}

fn sender<'a>(senders: &'a [StudySender], label: &str) -> &'a StudySender {
    senders.iter().find(|s| s.label == label).unwrap()
}

/// `(count, percent)` of `key` in `counts` (`set` → `set`, `set_percent`).
fn figure(counts: &Value, key: &str) -> (u64, f64) {
    (
        counts[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {counts}")),
        counts[format!("{key}_percent")].as_f64().unwrap(),
    )
}

#[test]
fn the_jipdec_study_tables_come_out_digit_for_digit() {
    let senders = study::senders();
    assert_eq!(senders.len(), 72);
    let dns = TestDns::start(study::zone());
    let dir = temp_dir("survey-study");
    let mbox = dir.join("study.mbox");
    let archive = study::mbox(&senders, RECEIVER);
    // mboxrd quoting of the body lines that start with "From ".
    let text = String::from_utf8_lossy(&archive);
    assert!(text.contains("\n>From the editor") && text.contains("\n>>From here"));
    std::fs::write(&mbox, &archive).unwrap();
    let ca = dir.join("smime-ca.pem");
    std::fs::write(&ca, study::smime_ca_pem()).unwrap();

    let out = survey(
        &dns,
        &mbox,
        &["--format", "json", "--smime-ca", ca.to_str().unwrap()],
    );
    let tables: Value = serde_json::from_slice(stdout(&out)).unwrap();

    assert_published_figures(&tables, &senders);
    assert_eq!(tables["skipped"], 0);

    // Each message came over TLS from its sender's host, which has
    // forward-confirmed reverse DNS.
    assert_eq!(tables["tls_receive"]["yes"], 72);
    assert_eq!(tables["rdns"]["ok"], 72);

    // The rows as CSV, this time without the S/MIME CA: untrusted
    // signatures are S/MIME set up all the same.
    let out = survey(&dns, &mbox, &["--format", "csv"]);
    let csv = String::from_utf8(stdout(&out).to_vec()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("from,label,messages,first_seen,last_seen,smime,"));
    assert_eq!(lines.len() - 1, 72, "{csv}");
    let smime_set = lines[1..]
        .iter()
        .filter(|l| l.split(',').nth(5) == Some("set"))
        .count();
    assert_eq!(smime_set, 12, "{csv}");
    let a01 = &sender(&senders, "a01").from;
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("{a01},,3,"))),
        "{csv}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// The study's published tables, and the rows each sender's construction
/// gives, in `tables` (the survey's JSON, offline or online alike).
fn assert_published_figures(tables: &Value, senders: &[StudySender]) {
    // Every sender's row has the states its construction gives it.
    let wrong: Vec<String> = senders
        .iter()
        .filter_map(|s| {
            let r = row(tables, &s.from);
            let got = ["smime", "spf", "dkim", "dmarc"].map(|m| r[m].as_str().unwrap_or("?"));
            (got != s.expected()).then(|| {
                format!(
                    "{} {} ({:?} {:?} {:?}): got {got:?}, expected {:?}",
                    s.label,
                    s.from,
                    s.spf,
                    s.dkim,
                    s.dmarc,
                    s.expected()
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    assert_eq!(tables["senders"], 72);
    let messages: usize = senders.iter().map(|s| s.messages.len()).sum();
    assert_eq!(messages, 77);
    assert_eq!(tables["messages"], 77);

    // One row per From address, however it is written, with its count;
    // the latest message's states, and whether an earlier one differed.
    let rows = tables["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .all(|r| { r["from"].as_str().unwrap() == r["from"].as_str().unwrap().to_lowercase() })
    );
    for (label, count) in [("a01", 3), ("a02", 2), ("a03", 2), ("c01", 2), ("b01", 1)] {
        let r = row(tables, &sender(senders, label).from);
        assert_eq!(r["messages"], count, "{label}: {r:#}");
    }
    let mixed = &sender(senders, "a02").messages[1];
    assert!(String::from_utf8_lossy(mixed).contains("<News@A02.GO.JP>"));
    let a03 = row(tables, &sender(senders, "a03").from);
    assert_eq!(
        (&a03["dkim"], &a03["changed"]),
        (&"set".into(), &true.into())
    );
    assert_eq!(row(tables, &sender(senders, "a01").from)["changed"], false);

    // Table 1: the combinations (true = set).
    let mut combinations: Vec<(bool, bool, bool, bool, u64, f64)> = tables["combinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let set = |m: &str| c[m].as_bool().unwrap();
            (
                set("smime"),
                set("spf"),
                set("dkim"),
                set("dmarc"),
                c["count"].as_u64().unwrap(),
                c["percent"].as_f64().unwrap(),
            )
        })
        .collect();
    let first: Vec<u64> = combinations.iter().map(|c| c.4).collect();
    assert_eq!(first, [30, 21, 12, 6, 1, 1, 1], "most senders first");
    combinations.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut published = vec![
        // (S/MIME, SPF, DKIM, DMARC)
        (false, true, true, false, 30, 41.7),
        (false, true, false, false, 21, 29.2),
        (true, true, false, false, 12, 16.7),
        (false, true, true, true, 6, 8.3),
        (false, true, false, true, 1, 1.4),
        (false, false, true, false, 1, 1.4),
        (false, false, false, false, 1, 1.4),
    ];
    published.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(combinations, published);

    // Each mechanism: set, not set, set up wrongly.
    let mechanisms = &tables["mechanisms"];
    let published = [
        ("spf", "set", 70, 97.2),
        ("spf", "not_set", 1, 1.4),
        ("spf", "misconfigured", 1, 1.4),
        ("dkim", "set", 37, 51.4),
        ("dkim", "not_set", 32, 44.4),
        ("dkim", "misconfigured", 3, 4.2),
        ("dmarc", "set", 7, 9.7),
        ("dmarc", "not_set", 38, 52.8),
        ("dmarc", "misconfigured", 27, 37.5),
        ("smime", "set", 12, 16.7),
        ("smime", "not_set", 60, 83.3),
        ("smime", "misconfigured", 0, 0.0),
    ];
    for (mechanism, state, count, percent) in published {
        assert_eq!(
            figure(&mechanisms[mechanism], state),
            (count, percent),
            "{mechanism} {state}"
        );
    }
    for mechanism in ["smime", "spf", "dkim", "dmarc"] {
        assert_eq!(mechanisms[mechanism]["not_checked"], 0, "{mechanism}");
    }

    // Cross tables, as the construction gives them.
    let cross = |a: &str, sa: &str, b: &str, sb: &str| tables["cross"][a][sa][b][sb].clone();
    assert_eq!(cross("smime", "set", "spf", "set"), 12);
    assert_eq!(cross("smime", "set", "dkim", "not_set"), 12);
    assert_eq!(cross("smime", "set", "dmarc", "misconfigured"), 6);
    assert_eq!(cross("dkim", "set", "dmarc", "set"), 6);
    assert_eq!(cross("dkim", "misconfigured", "dmarc", "set"), 1);
    assert_eq!(cross("dmarc", "misconfigured", "dkim", "set"), 14);
    assert_eq!(cross("spf", "misconfigured", "dkim", "misconfigured"), 1);
    assert_eq!(cross("spf", "not_set", "dkim", "set"), 1);

    // The two senders outside go.jp.
    let outside = &tables["outside_expected_domain"];
    assert_eq!(outside["expected"], "go.jp");
    assert_eq!(outside["count"], 2);
    let mut rows: Vec<&str> = outside["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    rows.sort();
    let mut expected = [
        sender(senders, "a30").from.as_str(),
        sender(senders, "f01").from.as_str(),
    ];
    expected.sort();
    assert_eq!(rows, expected);
}

/// Mails every sender's messages, oldest first, to `<survey>.<label>@`
/// over real SMTP, each sender from a loopback address of its own (as its
/// own mail host would, and under the per-address rate limit); MAIL FROM
/// is the sender (its SPF is judged on the record, set or not, whatever
/// the connecting address).
fn mail_the_study(server: &Server, survey: &str, senders: &[StudySender]) {
    for sender in senders {
        let to = format!("{survey}.{}@localhost", sender.label);
        for message in &sender.messages {
            send_mail(
                server.smtp,
                IpAddr::V4(Ipv4Addr::new(127, 0, 1, sender.index as u8 + 1)),
                &format!("mail.{}", sender.domain),
                &sender.from,
                &[&to],
                message,
            );
        }
    }
}

/// The study mailed into an online survey of `server`: the same figures.
fn the_study_online(server: &Server, senders: &[StudySender]) {
    let (status, body) = server.post_json(
        "/api/surveys",
        r#"{"name": "Government mail magazines", "expect_domain": "go.jp"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let survey = created["id"].as_str().unwrap().to_string();
    mail_the_study(server, &survey, senders);
    let tables = wait_for_messages(server, &survey, 77, Duration::from_secs(120));
    assert_published_figures(&tables, senders);
    // Each row names the label its mail came to, and the CSV has them all.
    let a01 = row(&tables, &sender(senders, "a01").from);
    assert_eq!(a01["label"], "a01");
    let (status, csv) = server.get(&format!("/api/surveys/{survey}?format=csv"));
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count(), 73, "{csv}");
}

fn serve(dns: &TestDns, extra: &[&str]) -> Server {
    // The senders' hosts are not public: nothing to probe.
    Server::start_with_env(dns.addr, extra, &[("MAILSCORE_PROBE", "off")])
}

#[test]
fn the_jipdec_study_mailed_to_an_online_survey_on_sled() {
    let senders = study::senders();
    let dns = TestDns::start(study::zone());
    let server = serve(&dns, &[]);
    the_study_online(&server, &senders);
}

#[test]
fn the_jipdec_study_mailed_to_an_online_survey_on_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let senders = study::senders();
    let dns = TestDns::start(study::zone());
    let server = serve(&dns, &["--store", &redis.url()]);
    the_study_online(&server, &senders);
}
