//! Every message in the shared MIME corpus (RFC examples, third-party
//! samples, deliberately malformed input) goes through the whole pipeline
//! and comes out as a report: never a panic, never a hang.

mod support;

use mailscore::report::Subject;
use mailscore::smtp::Envelope;
use std::path::PathBuf;
use std::time::Duration;
use support::dns::{TestDns, Zone};
use support::pipeline::pipeline;

fn corpus() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/examples/mime");
    let mut files = Vec::new();
    for dir in ["rfc", "thirdparty", "malformed"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("shared MIME corpus") {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[tokio::test]
async fn every_corpus_message_gets_a_report() {
    let dns = TestDns::start(Zone::new());
    let pipeline = pipeline(&dns);
    let envelope = Envelope {
        client_ip: "192.0.2.25".parse().unwrap(),
        client_port: 25,
        helo: "mail.example.com".into(),
        mail_from: "sender@example.com".into(),
        rcpt_to: vec!["corpus@localhost".into()],
        received_at: 0,
        tls: None,
    };
    let files = corpus();
    assert!(files.len() > 30, "corpus missing: {} files", files.len());
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let subject = Subject {
            id: "corpus",
            address: "corpus@localhost",
        };
        let report = tokio::time::timeout(
            Duration::from_secs(20),
            pipeline.report(subject, &envelope, &raw),
        )
        .await
        .unwrap_or_else(|_| panic!("{} hung", path.display()));
        assert_eq!(report.message.size, raw.len(), "{}", path.display());
        assert!((0.0..=10.0).contains(&report.score));
        serde_json::to_string(&report).expect("report serialises");
    }
    println!("{} corpus messages analysed", files.len());
}
