//! What the store tests fill a store with and how they weigh its files
//! (tests/retention_gc.rs on sled, tests/sqlite_store.rs on SQLite).
#![allow(dead_code)]

use mailscore::smtp::Envelope;
use std::path::{Path, PathBuf};

/// The blocks the directory's files take, as `du` counts them (not what
/// the store says it holds).
pub fn allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            allocated_bytes(&entry.path())
        } else {
            meta.blocks() * 512
        };
    }
    total
}

/// A new directory `name-…` beside the build, not in /tmp: a tmpfs would
/// count the same blocks, but the project's disk is what a deployment has.
pub fn data_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        mailscore::test_id::generate()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn envelope(received_at: u64) -> Envelope {
    let mut envelope: Envelope = serde_json::from_value(serde_json::json!({
        "client_ip": "192.0.2.25",
        "client_port": 25,
        "helo": "mail.example.com",
        "mail_from": "sender@example.com",
        "rcpt_to": ["t@localhost"],
        "tls": null,
        "received_at": 0,
    }))
    .unwrap();
    envelope.received_at = received_at;
    envelope
}

/// A stored report (format 1) naming `texts` by hash, as the analysis
/// writes them.
pub fn report_naming(id: &str, texts: &[u64]) -> Vec<u8> {
    let head = format!("{{\"id\":\"{id}\",\"deductions\":");
    let mut bytes = vec![0x01];
    bytes.extend_from_slice(&(head.len() as u32).to_le_bytes());
    bytes.extend_from_slice(head.as_bytes());
    let entries: Vec<(&str, &str, f64, u64)> =
        texts.iter().map(|h| ("RULE", "spf", 1.0, *h)).collect();
    bytes.extend(serde_json::to_vec(&entries).unwrap());
    bytes
}

/// 2 KB of mail, different for each message (so nothing dedupes it).
pub fn message(n: usize) -> Vec<u8> {
    let mut raw =
        format!("From: sender{n}@example.com\r\nTo: t@localhost\r\nSubject: message {n}\r\n\r\n")
            .into_bytes();
    while raw.len() < 2048 {
        raw.extend_from_slice(format!("line {n} {} of the body\r\n", raw.len()).as_bytes());
    }
    raw
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
