//! The openspf RFC 7208 conformance suite (release 2014.04, 203 cases) run
//! through the product's SPF check, with each section's zone served by a real
//! DNS server on loopback.
//!
//! `cargo test --test spf_suite -- --nocapture` shows one `FAIL` line per
//! case whose result differs from the suite's, and the pass count. The test
//! fails when fewer cases pass than [`FLOOR`], the count measured when it was
//! written, so a regression shows; raise it when the count goes up.

mod support;

use mail_auth::MessageAuthenticator;
use mailscore::analyze::dns::resolver;
use mailscore::analyze::spf::mail_from_verdict;
use serde::Deserialize;
use serde_norway::{Mapping, Value};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use support::dns::{TestDns, Zone};
use tokio::task::JoinSet;

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/examples/spf/rfc7208-tests.yml"
);
/// Cases in the suite.
const CASES: usize = 203;
/// Cases that passed when this test was last measured.
const FLOOR: usize = 185;
/// Per-query timeout: the suite's TIMEOUT names cost this much (or twice,
/// when the resolver tries UDP then TCP), so keep it short.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);
/// Our receiving host, for the `%{r}` macro.
const RECEIVER: &str = "receiver.example";

/// One YAML document of the suite.
#[derive(Deserialize)]
struct Section {
    description: String,
    /// Case name → [`Case`], in the file's order.
    tests: Mapping,
    /// Owner name → list of records, see [`zone`].
    zonedata: Mapping,
}

#[derive(Deserialize)]
struct Case {
    helo: String,
    host: String,
    /// Empty for the null sender: then the HELO identity is checked.
    mailfrom: String,
    result: Expected,
}

/// The result the suite wants, or the list of those it accepts.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expected {
    One(String),
    AnyOf(Vec<String>),
}

impl Expected {
    fn accepts(&self, got: &str) -> bool {
        match self {
            Expected::One(want) => want == got,
            Expected::AnyOf(wants) => wants.iter().any(|want| want == got),
        }
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::One(want) => f.write_str(want),
            Expected::AnyOf(wants) => write!(f, "one of {}", wants.join("/")),
        }
    }
}

/// One case's outcome.
struct Outcome {
    section: usize,
    index: usize,
    name: String,
    expected: Expected,
    got: String,
}

fn load_suite() -> Vec<Section> {
    let text = std::fs::read_to_string(SUITE).unwrap_or_else(|e| panic!("read {SUITE}: {e}"));
    serde_norway::Deserializer::from_str(&text)
        .map(|document| Section::deserialize(document).expect("suite section"))
        .collect()
}

/// The section's zone, as the suite's drivers build it: every record as
/// listed, `TIMEOUT` as a name the server stays silent on (for the types it
/// has no records of), and each SPF-type record copied to TXT unless the
/// name lists a TXT record of its own (`TXT: NONE` lists one that is not
/// published), since RFC 7208 checkers only look at TXT.
fn zone(zonedata: &Mapping) -> Zone {
    let mut zone = Zone::new();
    for (name, records) in zonedata {
        let name = name.as_str().expect("zonedata name");
        let records = records.as_sequence().expect("zonedata record list");
        let has_txt = records.iter().any(|record| record.get("TXT").is_some());
        for record in records {
            if record.as_str() == Some("TIMEOUT") {
                zone = zone.timeout(name);
                continue;
            }
            let Some((rtype, value)) = record.as_mapping().and_then(|m| m.iter().next()) else {
                panic!("{name}: unsupported zonedata entry {record:?}");
            };
            zone = match rtype.as_str().expect("record type") {
                "SPF" => {
                    let strings = strings(value);
                    let strings: Vec<&str> = strings.iter().map(String::as_str).collect();
                    let zone = zone.spf(name, &strings);
                    if has_txt {
                        zone
                    } else {
                        zone.txt(name, &strings)
                    }
                }
                "TXT" if value.as_str() == Some("NONE") => zone,
                "TXT" => {
                    let strings = strings(value);
                    let strings: Vec<&str> = strings.iter().map(String::as_str).collect();
                    zone.txt(name, &strings)
                }
                "A" => zone.a(name, scalar(value).parse().expect("A address")),
                "AAAA" => zone.aaaa(name, scalar(value).parse().expect("AAAA address")),
                "MX" => {
                    let pair = value.as_sequence().expect("MX [pref, host]");
                    let pref = pair[0].as_u64().expect("MX preference");
                    zone.mx(
                        name,
                        pref.try_into().expect("u16 preference"),
                        scalar(&pair[1]),
                    )
                }
                "PTR" => zone.ptr_name(name, scalar(value)),
                "CNAME" => zone.cname(name, scalar(value)),
                other => panic!("{name}: unsupported record type {other}"),
            };
        }
    }
    zone
}

fn scalar(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value:?}"))
}

/// A TXT/SPF value: one string, or a list of character-strings.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().map(|s| scalar(s).to_string()).collect(),
        other => vec![scalar(other).to_string()],
    }
}

async fn run_case(dns: Arc<MessageAuthenticator>, case: Case) -> (Expected, String) {
    let ip: IpAddr = case.host.parse().expect("case host is an IP address");
    let finding = mail_from_verdict(&dns, ip, &case.helo, RECEIVER, &case.mailfrom).await;
    (case.result, finding.result.as_str().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openspf_rfc7208_suite() {
    let sections = load_suite();
    // Every section at once: each has its own server, so no zone leaks into
    // another, and the TIMEOUT cases wait side by side.
    let mut servers = Vec::new();
    let mut runs = JoinSet::new();
    for (section_index, section) in sections.iter().enumerate() {
        let server = TestDns::start(zone(&section.zonedata));
        let dns = Arc::new(resolver(Some(server.addr), LOOKUP_TIMEOUT).expect("resolver"));
        servers.push(server);
        for (index, (name, case)) in section.tests.iter().enumerate() {
            let name = name.as_str().expect("case name").to_string();
            let case: Case = serde_norway::from_value(case.clone())
                .unwrap_or_else(|e| panic!("{}/{name}: {e}", section.description));
            let dns = Arc::clone(&dns);
            runs.spawn(async move {
                let (expected, got) = run_case(dns, case).await;
                Outcome {
                    section: section_index,
                    index,
                    name,
                    expected,
                    got,
                }
            });
        }
    }
    let mut outcomes = runs.join_all().await;
    drop(servers);
    outcomes.sort_by_key(|o| (o.section, o.index));

    let mut passed = 0;
    for outcome in &outcomes {
        if outcome.expected.accepts(&outcome.got) {
            passed += 1;
        } else {
            println!(
                "FAIL {}/{}: expected {} got {}",
                sections[outcome.section].description, outcome.name, outcome.expected, outcome.got
            );
        }
    }
    println!("SPF suite: {passed}/{} passed", outcomes.len());

    assert_eq!(outcomes.len(), CASES, "the suite has {CASES} cases");
    assert!(
        passed >= FLOOR,
        "SPF suite regressed: {passed}/{CASES} passed, at least {FLOOR} did before"
    );
}
