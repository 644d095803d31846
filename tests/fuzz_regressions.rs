//! Inputs the fuzzers in `fuzz/` once crashed on, replayed through the same
//! path as the fuzz target, so a crash that was fixed stays fixed.
//!
//! `tests/fixtures/fuzz/analyze-*.eml` go through `fuzz_targets/analyze.rs`'s
//! path: `Pipeline::report` (analyze → score → report) and the report's JSON.
//! To add one, minimise the crash (`cargo fuzz tmin`, see `fuzz/README.md`)
//! and copy it there under a name that says what it is.

mod support;

use mailscore::report::Subject;
use mailscore::smtp::Envelope;
use std::path::PathBuf;
use std::time::Duration;
use support::dns::{TestDns, Zone};
use support::pipeline::pipeline;

fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/fixtures/fuzz")
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

/// mail-parser 0.11.9 has a `debug_assert!(false, "Invalid part ID, could
/// not find multipart.")` (src/parsers/message.rs:485) that a multipart
/// holding a `message/rfc822` part that itself holds a `message/rfc822` part
/// reaches. Release builds compile it out and recover the message; with
/// debug assertions on (`cargo test`, dev builds) it panicked inside
/// `checks::message::facts`, and under `serve` the analysis task died and
/// the message never got a report. Cargo.toml turns debug assertions off for
/// mail-parser in the dev profile, so every build parses as release does.
#[tokio::test]
async fn messages_that_crashed_the_analyze_fuzzer_get_a_report() {
    let dns = TestDns::start(Zone::new());
    let pipeline = pipeline(&dns);
    let envelope = Envelope {
        client_ip: "192.0.2.25".parse().unwrap(),
        client_port: 40000,
        helo: "mail.example.com".into(),
        mail_from: "sender@example.com".into(),
        rcpt_to: vec!["abc@test.example".into()],
        received_at: 1_700_000_000,
        tls: None,
    };
    let files = fixtures("analyze-");
    assert!(!files.is_empty(), "no analyze-* fixtures");
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let subject = Subject {
            id: "abc",
            address: "abc@test.example",
        };
        let report = tokio::time::timeout(
            Duration::from_secs(20),
            pipeline.report(subject, &envelope, &raw),
        )
        .await
        .unwrap_or_else(|_| panic!("{} hung", path.display()));
        assert_eq!(report.message.size, raw.len(), "{}", path.display());
        // The checks' guard turns a panic into a "could not check" finding,
        // so a report alone would hide the crash coming back (the fuzzer
        // still sees it: libfuzzer-sys aborts on any panic).
        assert!(
            report.checks.failed.is_empty(),
            "{}: {:?}",
            path.display(),
            report.checks.failed
        );
        assert_eq!(report.status, "done", "{}", path.display());
        assert!((0.0..=10.0).contains(&report.score), "{}", path.display());
        serde_json::to_vec(&report).expect("a report always serialises");
    }
}
