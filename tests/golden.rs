//! Golden reports: the JSON report, the English and Japanese pages and the
//! `mailscore check` summary of every message in both corpora and of a few
//! end-to-end scenarios, byte for byte as committed under `tests/golden/`. They pin what users see
//! while the code under them moves (issue 19): a change in any byte fails
//! here with the first line that differs.
//!
//! `GOLDEN=update cargo test --test golden` rewrites them after a change
//! that is meant to show; the diff then says what changed for users.

mod support;

use mailscore::analysis::pipeline::Pipeline;
use mailscore::checks::Analyzer;
use mailscore::checks::Settings;
use mailscore::checks::content::Profile;
use mailscore::report::{Report, Subject};
use mailscore::score::RuleTable;
use mailscore::smtp::{Envelope, TlsInfo};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::dkim::{rsa_key_record, split_255};
use support::dns::{TestDns, Zone};
use support::zones::bank_example;

/// 2025-06-15T15:06:40Z: a fixed arrival time, so date checks do not drift.
const RECEIVED_AT: u64 = 1_750_000_000;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn updating() -> bool {
    std::env::var("GOLDEN").is_ok_and(|v| v == "update")
}

fn pipeline(dns: &TestDns, profile: Profile) -> Pipeline {
    let resolver = mailscore::dns::resolver(Some(dns.addr), Duration::from_secs(1))
        .expect("resolver for the test DNS server");
    let lists = Settings {
        content_profile: profile,
        ..Settings::none()
    };
    Pipeline {
        analyzer: Analyzer::new(resolver, "localhost", &lists).expect("trust store"),
        rules: RuleTable::embedded().expect("embedded rule table").into(),
    }
}

fn envelope(ip: &str, helo: &str, mail_from: &str) -> Envelope {
    Envelope {
        client_ip: ip.parse().expect("a client IP"),
        client_port: 42_025,
        helo: helo.into(),
        mail_from: mail_from.into(),
        rcpt_to: vec!["golden@localhost".into()],
        received_at: RECEIVED_AT,
        tls: None,
    }
}

async fn report_of(pipeline: &Pipeline, envelope: &Envelope, raw: &[u8]) -> Report {
    let subject = Subject {
        id: "golden",
        address: "golden@localhost",
    };
    tokio::time::timeout(
        Duration::from_secs(30),
        pipeline.report(subject, envelope, raw),
    )
    .await
    .expect("analysis finished")
}

/// The three renderings of `report`, each compared with (or written to)
/// `tests/golden/<name>.{json,en.html,ja.html,txt}`. Returns the names that
/// differ.
fn compare(name: &str, report: &Report) -> Vec<String> {
    let json = serde_json::to_string_pretty(report).expect("report serialises") + "\n";
    let renderings = [
        ("json", json),
        ("en.html", mailscore::web::render_report_page(report, "en")),
        ("ja.html", mailscore::web::render_report_page(report, "ja")),
        ("txt", mailscore::check::text(report)),
    ];
    let mut differ = Vec::new();
    for (ext, text) in renderings {
        let path = golden_dir().join(format!("{name}.{ext}"));
        if updating() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (GOLDEN=update writes it)", path.display()));
        if expected != text {
            let line = expected
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(expected.lines().count().min(text.lines().count()));
            differ.push(format!(
                "{}: line {}\n  golden: {}\n  now:    {}",
                path.display(),
                line + 1,
                expected.lines().nth(line).unwrap_or("<end>"),
                text.lines().nth(line).unwrap_or("<end>"),
            ));
        }
    }
    differ
}

fn emls(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn assert_none_differ(differ: Vec<String>, count: usize) {
    assert!(count > 0, "no cases");
    assert!(
        differ.is_empty(),
        "{} of {count} renderings differ from tests/golden:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// The shared MIME corpus (RFC examples, third-party samples, malformed
/// input), delivered as `tests/mime_corpus.rs` delivers it.
#[tokio::test]
async fn mime_corpus_reports_match_golden() {
    let dns = TestDns::start(Zone::new());
    let pipeline = pipeline(&dns, Profile::Default);
    let envelope = envelope("192.0.2.25", "mail.example.com", "sender@example.com");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/examples/mime");
    let (mut differ, mut count) = (Vec::new(), 0);
    for dir in ["rfc", "thirdparty", "malformed"] {
        for path in emls(&root.join(dir)) {
            let report = report_of(&pipeline, &envelope, &std::fs::read(&path).unwrap()).await;
            differ.extend(compare(&format!("mime/{dir}/{}", stem(&path)), &report));
            count += 4;
        }
    }
    assert_none_differ(differ, count);
}

/// The content corpus (`tests/corpus`): every entry of `expected.toml`,
/// under the profile it names, as `mailscore check` delivers it. Two
/// entries read a message of another under the FISC profile.
#[tokio::test]
async fn content_corpus_reports_match_golden() {
    let dns = TestDns::start(Zone::new());
    let plain = pipeline(&dns, Profile::Default);
    let fisc = pipeline(&dns, Profile::Fisc);
    let envelope = envelope("192.0.2.25", "mail.example.com", "");
    let (mut differ, mut count) = (Vec::new(), 0);
    for (name, entry) in support::corpus::expected() {
        let profile = entry.profile.as_deref().and_then(Profile::parse);
        let pipeline = match profile.unwrap_or(Profile::Default) {
            Profile::Fisc => &fisc,
            Profile::Default => &plain,
        };
        let raw = std::fs::read(entry.path(&name)).unwrap();
        let report = report_of(pipeline, &envelope, &raw).await;
        differ.extend(compare(&format!("corpus/{name}"), &report));
        count += 4;
    }
    assert_none_differ(differ, count);
}

/// One end-to-end case: a zone, an envelope and a message.
struct Scenario {
    name: &'static str,
    zone: Zone,
    envelope: Envelope,
    /// The message; a DKIM-signed one is signed once, on update, and kept
    /// as `tests/golden/scenarios/<name>.eml` (a fresh signature carries a
    /// fresh `t=`).
    message: fn() -> Vec<u8>,
}

fn good_message() -> Vec<u8> {
    support::dkim::rsa_signed(
        "From: News <news@good.example>\r\n\
         To: golden@localhost\r\n\
         Subject: June newsletter\r\n\
         Date: Sun, 15 Jun 2025 15:00:00 +0000\r\n\
         Message-ID: <june@good.example>\r\n\
         \r\n\
         Hello, this month's news.\r\n",
        "good.example",
        "sel1",
    )
}

fn spoofed_message() -> Vec<u8> {
    b"From: Bank <alerts@bank.example>\r\n\
      To: golden@localhost\r\n\
      Subject: Your account is locked\r\n\
      Date: Sun, 15 Jun 2025 15:00:00 +0000\r\n\
      Message-ID: <lock@attacker.example>\r\n\
      \r\n\
      Sign in at http://203.0.113.9/login to unlock it.\r\n"
        .to_vec()
}

fn slow_message() -> Vec<u8> {
    b"From: <info@slow.example>\r\nTo: golden@localhost\r\nSubject: hi\r\n\
      Date: Sun, 15 Jun 2025 15:00:00 +0000\r\nMessage-ID: <1@slow.example>\r\n\r\nhi\r\n"
        .to_vec()
}

fn broken_message() -> Vec<u8> {
    b"From: <info@broken.example>\r\nTo: golden@localhost\r\nSubject: hi\r\n\
      Date: Sun, 15 Jun 2025 15:00:00 +0000\r\nMessage-ID: <1@broken.example>\r\n\r\nhi\r\n"
        .to_vec()
}

/// `good.example` as `support::zones::good_example` publishes it, sending
/// from 192.0.2.10, whose PTR name resolves back to it.
fn good_zone() -> Zone {
    let ip = Ipv4Addr::new(192, 0, 2, 10);
    Zone::new()
        .txt("good.example", &["v=spf1 ip4:192.0.2.10 -all"])
        .txt(
            "sel1._domainkey.good.example",
            &split_255(&rsa_key_record()),
        )
        .txt(
            "_dmarc.good.example",
            &["v=DMARC1; p=reject; rua=mailto:dmarc@good.example"],
        )
        .a("mail.good.example", ip)
        .ptr(ip.into(), "mail.good.example")
        .mx("good.example", 10, "mail.good.example")
        .txt("mail.good.example", &["v=spf1 a -all"])
}

fn scenarios() -> Vec<Scenario> {
    // Not 127.0.0.1: its PTR names come from the machine's hosts file, in
    // no fixed order.
    let mut good = envelope("192.0.2.10", "mail.good.example", "news@good.example");
    good.tls = Some(TlsInfo {
        version: "TLSv1.3".into(),
        cipher: "TLS13_AES_256_GCM_SHA384".into(),
    });
    vec![
        Scenario {
            name: "good_signed_over_tls",
            zone: good_zone(),
            envelope: good,
            message: good_message,
        },
        Scenario {
            name: "spoofed_p_reject",
            zone: bank_example(Zone::new()),
            envelope: envelope("192.0.2.99", "mail.attacker.example", "x@bank.example"),
            message: spoofed_message,
        },
        Scenario {
            name: "dns_timeout",
            zone: Zone::new().timeout("slow.example"),
            envelope: envelope("192.0.2.25", "mail.slow.example", "info@slow.example"),
            message: slow_message,
        },
        Scenario {
            name: "broken_spf_partial_dmarc",
            zone: Zone::new()
                .txt(
                    "broken.example",
                    &["v=spf1 ptr include:missing.broken.example ~all"],
                )
                .txt("_dmarc.broken.example", &["v=DMARC1; p=quarantine; pct=50"])
                .a("mail.broken.example", Ipv4Addr::new(192, 0, 2, 25)),
            envelope: envelope("192.0.2.25", "mail.broken.example", "info@broken.example"),
            message: broken_message,
        },
    ]
}

#[tokio::test]
async fn scenario_reports_match_golden() {
    let (mut differ, mut count) = (Vec::new(), 0);
    for scenario in scenarios() {
        let eml = golden_dir().join(format!("scenarios/{}.eml", scenario.name));
        if updating() && !eml.exists() {
            std::fs::create_dir_all(eml.parent().unwrap()).unwrap();
            std::fs::write(&eml, (scenario.message)()).unwrap();
        }
        let raw = std::fs::read(&eml)
            .unwrap_or_else(|e| panic!("{}: {e} (GOLDEN=update writes it)", eml.display()));
        let dns = TestDns::start(scenario.zone);
        let pipeline = pipeline(&dns, Profile::Default);
        let report = report_of(&pipeline, &scenario.envelope, &raw).await;
        differ.extend(compare(&format!("scenarios/{}", scenario.name), &report));
        count += 4;
        stored_fixture_reads_as(scenario.name, &report);
    }
    assert_none_differ(differ, count);
}

/// The report as the code of `aa45ab9` stored it (`report::stored`), kept
/// under `tests/golden/stored/` with the JSON it read as then, and never
/// rewritten: every later build must read it, into a report that says at
/// least all that one said (fields added since read as their defaults).
fn stored_fixture_reads_as(name: &str, report: &Report) {
    use mailscore::report::stored::{SavedTexts, encode, expand};
    let dir = golden_dir().join("stored");
    let (bytes_path, texts_path, json_path) = (
        dir.join(format!("{name}.bin")),
        dir.join(format!("{name}.texts.json")),
        dir.join(format!("{name}.json")),
    );
    if updating() && !bytes_path.exists() {
        let stored = encode(report.clone()).expect("report encodes");
        // Each as the store keeps it: JSON text, its field order included.
        let texts: std::collections::BTreeMap<String, String> = SavedTexts::default()
            .unsaved(&stored)
            .into_iter()
            .map(|(hash, json)| (hash.to_string(), String::from_utf8(json).unwrap()))
            .collect();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&bytes_path, &stored.bytes).unwrap();
        std::fs::write(&texts_path, serde_json::to_string_pretty(&texts).unwrap()).unwrap();
        let json = serde_json::to_string_pretty(report).unwrap() + "\n";
        std::fs::write(&json_path, json).unwrap();
    }
    let bytes = std::fs::read(&bytes_path)
        .unwrap_or_else(|e| panic!("{}: {e} (GOLDEN=update writes it)", bytes_path.display()));
    let texts: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(&texts_path).unwrap()).unwrap();
    let json = expand(bytes, |hash| {
        texts.get(&hash.to_string()).map(|t| t.as_bytes().into())
    })
    .expect("stored fixture expands");
    let read: Report = serde_json::from_slice(&json).expect("stored fixture reads as a report");
    let then: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let now = serde_json::to_value(&read).unwrap();
    if let Err(at) = says_all_of(&now, &then, String::new()) {
        panic!(
            "{}: read back, {at} differs from then",
            bytes_path.display()
        );
    }
    // Served as stored, without a parse: byte for byte what serde writes
    // of the report as it read then.
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&json).unwrap(),
        then,
        "{name}: served JSON"
    );
}

/// Whether `now` says everything `then` said: the same scalars and lists,
/// and every key of an object, with more keys allowed. Err: where not.
fn says_all_of(
    now: &serde_json::Value,
    then: &serde_json::Value,
    at: String,
) -> Result<(), String> {
    use serde_json::Value;
    match (now, then) {
        (Value::Object(now), Value::Object(then)) => {
            for (key, was) in then {
                let is = now.get(key).ok_or(format!("{at}/{key} (missing)"))?;
                says_all_of(is, was, format!("{at}/{key}"))?;
            }
            Ok(())
        }
        (Value::Array(now), Value::Array(then)) if now.len() == then.len() => now
            .iter()
            .zip(then)
            .enumerate()
            .try_for_each(|(i, (is, was))| says_all_of(is, was, format!("{at}/{i}"))),
        _ if now == then => Ok(()),
        _ => Err(at),
    }
}
