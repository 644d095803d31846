#![allow(dead_code)] // each test binary uses a different part of this harness

//! Reading a survey's tables, as the survey tests do.

use super::server::Server;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The row of the sending address `from` in a survey's JSON.
pub fn row<'a>(tables: &'a Value, from: &str) -> &'a Value {
    tables["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["from"] == from)
        .unwrap_or_else(|| panic!("no row for {from}: {tables:#}"))
}

/// Polls `GET /api/surveys/{survey}` on `server` until it counts `messages`
/// messages (at most `limit`); its tables.
pub fn wait_for_messages(server: &Server, survey: &str, messages: u64, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = server.get(&format!("/api/surveys/{survey}"));
        assert_eq!(status, 200, "{body}");
        let tables: Value = serde_json::from_str(&body).unwrap();
        if tables["messages"] == messages {
            return tables;
        }
        assert!(
            Instant::now() < deadline,
            "{messages} messages never counted: {tables}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fresh directory under the system's temporary one, for `name`.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mailscore-{name}-{}",
        mailscore::test_id::generate()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
