//! The content corpus (tests/corpus): its expectations and a way to run
//! one message through the real `mailscore check` binary.
#![allow(dead_code)]

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

/// The rule-table checks that belong to content and format.
pub const CONTENT_CHECKS: &[&str] = &["headers", "bulk", "body", "links", "attachments"];

/// One entry of tests/corpus/expected.toml.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub rules: Vec<String>,
    pub file: Option<String>,
    pub profile: Option<String>,
}

impl Expected {
    pub fn path(&self, name: &str) -> PathBuf {
        dir().join(self.file.clone().unwrap_or_else(|| format!("{name}.eml")))
    }
}

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Every entry, by name.
pub fn expected() -> BTreeMap<String, Expected> {
    let text = std::fs::read_to_string(dir().join("expected.toml")).expect("expected.toml");
    toml::from_str(&text).expect("expected.toml parses")
}

/// `mailscore check FILE --format json`, asking `dns` and no blocklists;
/// `extra` flags are added (`--content-profile`, `--spamd`…).
pub fn check(path: &std::path::Path, dns: SocketAddr, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        // The test zones are unsigned: nothing to validate.
        .env("MAILSCORE_DNSSEC_VALIDATION", "off")
        .arg("check")
        .arg(path)
        .args(["--ip", "192.0.2.25", "--helo", "mail.example.com"])
        .args(["--dns", &dns.to_string(), "--dns-timeout", "1"])
        .args(["--dnsbl", "", "--domain-blocklists", "", "--format", "json"])
        .args(extra)
        .output()
        .expect("run mailscore check");
    assert!(
        out.status.success(),
        "mailscore check {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

/// The content rule ids a report's deductions name, sorted.
pub fn content_rules(report: &Value) -> Vec<String> {
    let mut rules: Vec<String> = report["deductions"]
        .as_array()
        .expect("deductions")
        .iter()
        .filter(|d| CONTENT_CHECKS.contains(&d["check"].as_str().unwrap_or_default()))
        .map(|d| d["rule"].as_str().expect("a rule id").to_string())
        .collect();
    rules.sort();
    rules
}
