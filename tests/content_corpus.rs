//! The content corpus through the real `mailscore check`: each message in
//! tests/corpus must hit exactly the content rules expected.toml lists for
//! it, no more and no fewer.

mod support;

use mailscore::score::RuleTable;
use std::collections::BTreeSet;
use support::corpus::{CONTENT_CHECKS, check, content_rules, dir, expected};
use support::dns::{TestDns, Zone};

#[test]
fn every_corpus_message_hits_exactly_its_expected_content_rules() {
    let dns = TestDns::start(Zone::new());
    let mut wrong = Vec::new();
    for (name, entry) in expected() {
        let mut extra = Vec::new();
        if let Some(profile) = &entry.profile {
            extra.extend(["--content-profile", profile.as_str()]);
        }
        let report = check(&entry.path(&name), dns.addr, &extra);
        let got = content_rules(&report);
        let mut want = entry.rules.clone();
        want.sort();
        if got != want {
            wrong.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn the_corpus_is_complete() {
    let entries = expected();
    assert!(entries.len() >= 30, "only {} corpus entries", entries.len());
    // Every message has an entry, and every entry's file exists.
    let files: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".eml"))
        .collect();
    let used: BTreeSet<String> = entries
        .iter()
        .map(|(name, e)| {
            let path = e.path(name);
            assert!(path.exists(), "{name}: {} missing", path.display());
            path.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    assert_eq!(
        files, used,
        "messages without an entry, or entries without a file"
    );
    // Every content rule of the shipped table is shown by some message,
    // except the size rules, which `large_messages_are_flagged` covers.
    let expected_somewhere: BTreeSet<&str> = entries
        .values()
        .flat_map(|e| e.rules.iter().map(String::as_str))
        .collect();
    let table = RuleTable::embedded().unwrap();
    let uncovered: Vec<&str> = table
        .rules
        .iter()
        .filter(|r| CONTENT_CHECKS.contains(&r.check.as_str()))
        .map(|r| r.id.as_str())
        .filter(|id| !expected_somewhere.contains(id))
        .filter(|id| !["MESSAGE_LARGE", "MESSAGE_HUGE"].contains(id))
        .collect();
    assert!(
        uncovered.is_empty(),
        "no corpus message shows {uncovered:?}"
    );
}

/// Sizes are made here rather than stored: a 9 MB file has no place in
/// the repository.
#[test]
fn large_messages_are_flagged() {
    let dns = TestDns::start(Zone::new());
    let tmp = std::env::temp_dir().join(format!("mailscore-large-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let base = std::fs::read_to_string(dir().join("ham_personal_plain.eml")).unwrap();
    let line = format!("{}\r\n", "lorem ipsum dolor sit amet ".repeat(2));
    let mut results = Vec::new();
    for (name, bytes) in [("large", 1_200_000), ("huge", 9_000_000)] {
        let padding = line.repeat(bytes / line.len());
        let path = tmp.join(format!("{name}.eml"));
        std::fs::write(&path, format!("{base}{padding}")).unwrap();
        results.push(content_rules(&check(&path, dns.addr, &[])));
    }
    std::fs::remove_dir_all(&tmp).ok();
    assert_eq!(results[0], vec!["MESSAGE_LARGE"]);
    assert_eq!(results[1], vec!["MESSAGE_HUGE"]);
}
