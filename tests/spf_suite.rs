//! The openspf RFC 7208 conformance suite (release 2014.04, 203 cases) run
//! through the product's SPF check, with each section's zone served by a real
//! DNS server on loopback.
//!
//! A case passes when our result is one the suite accepts and, where the
//! suite names the `exp=` explanation a fail carries, ours is that text.
//! `cargo test --test spf_suite -- --nocapture` shows one `FAIL` line per
//! case that differs (with our error text) and the pass count. The test
//! fails when fewer cases pass than [`FLOOR`]: all of them (185 with
//! mail-auth's SPF, 203 with our own evaluator in src/checks/spf/).
//!
//! Below the suite, the detail a sender reads: the term that decided, the
//! lookup counts, the exact permerror problem and the rule it triggers.

mod support;

use mailscore::checks::spf::mail_from_verdict;
use mailscore::dns::Dns;
use mailscore::dns::resolver;
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
/// Cases that must pass.
const FLOOR: usize = 203;
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
    /// The `exp=` text a fail must carry; "DEFAULT" means the checker's own
    /// (none of the domain's: a bad or missing exp is ignored, §6.2).
    explanation: Option<String>,
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
    /// Our finding's error text, if any.
    error: String,
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
///
/// An empty list (the null-text case: "null text (no strings) is illegal,
/// but SPF should not crash") is served as one empty string. RFC 1035
/// §3.3.14 makes TXT-DATA "one or more <character-string>s", so no DNS
/// server can publish a record without strings; sent anyway as a
/// zero-length RDATA, hickory (the resolver we share with mail-auth)
/// rejects the whole answer, and the check would be a temperror for reasons
/// of the wire, not of SPF. One empty string is the nearest record DNS can
/// carry, and what the case is about: an empty TXT beside the SPF record.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) if items.is_empty() => vec![String::new()],
        Value::Sequence(items) => items.iter().map(|s| scalar(s).to_string()).collect(),
        other => vec![scalar(other).to_string()],
    }
}

/// The suite's expected result, ours, and our error text (for FAIL lines).
async fn run_case(dns: Arc<Dns>, case: Case) -> (Expected, String, String) {
    let ip: IpAddr = case.host.parse().expect("case host is an IP address");
    let finding = mail_from_verdict(&dns, ip, &case.helo, RECEIVER, &case.mailfrom).await;
    let mut got = finding.result.as_str().to_string();
    // A right result with the wrong explanation is a failure too: shown as
    // the result plus the explanation we gave.
    if let Some(want) = &case.explanation {
        // Compared ignoring case: v-macro-ip6 writes %{i}'s nibbles in upper
        // case, RFC 7208 §7.4's own example in lower case, which we follow.
        let want = (want != "DEFAULT").then(|| want.to_ascii_lowercase());
        let ours = finding.explanation.as_deref().map(str::to_ascii_lowercase);
        if ours != want {
            got = format!("{got} with explanation {:?}", finding.explanation);
        }
    }
    (case.result, got, finding.error.unwrap_or_default())
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
                let (expected, got, error) = run_case(dns, case).await;
                Outcome {
                    section: section_index,
                    index,
                    name,
                    expected,
                    got,
                    error,
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
                "FAIL {}/{}: expected {} got {} {}",
                sections[outcome.section].description,
                outcome.name,
                outcome.expected,
                outcome.got,
                outcome.error
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

// ---- what the report tells a sender, beyond the result -----------------------

/// Records for the detail cases: each sender domain shows one thing.
fn detail_zone() -> Zone {
    let mut zone = Zone::new()
        .txt(
            "typo.example",
            &["v=spf1 a mx inclde:_spf.provider.example -all"],
        )
        .txt(
            "provider.example",
            &["v=spf1 include:_spf.provider.example -all"],
        )
        .txt("_spf.provider.example", &["v=spf1 ip4:192.0.2.0/24 -all"])
        .txt("other.example", &["v=spf1 ip4:198.51.100.7 ?all"])
        .txt("moved.example", &["v=spf1 redirect=provider.example"])
        .txt(
            "ghosts.example",
            &["v=spf1 a:gone1.ghosts.example a:gone2.ghosts.example a:gone3.ghosts.example -all"],
        )
        .txt("twice.example", &["v=spf1 ip4:192.0.2.25 -all"])
        .txt("twice.example", &["v=spf1 -all"])
        .a("ghosts.example", "192.0.2.99".parse().unwrap());
    // deep.example includes a chain of 11 domains: the 11th lookup is too many.
    zone = zone.txt("deep.example", &["v=spf1 include:l1.deep.example -all"]);
    for level in 1..=10 {
        zone = zone.txt(
            &format!("l{level}.deep.example"),
            &[&format!("v=spf1 include:l{}.deep.example", level + 1)],
        );
    }
    zone.txt("l11.deep.example", &["v=spf1 +all"])
}

async fn detail(dns: &Dns, domain: &str) -> mailscore::checks::spf::SpfFinding {
    let ip: IpAddr = "192.0.2.25".parse().unwrap();
    mail_from_verdict(
        dns,
        ip,
        "mail.sender.example",
        RECEIVER,
        &format!("bounce@{domain}"),
    )
    .await
}

#[tokio::test]
async fn findings_name_the_term_and_the_limits() {
    use mailscore::checks::Verdict;
    use mailscore::checks::spf::SpfProblem;
    let server = TestDns::start(detail_zone());
    let dns = resolver(Some(server.addr), LOOKUP_TIMEOUT).expect("resolver");

    let pass = detail(&dns, "provider.example").await;
    assert_eq!(pass.result, Verdict::Pass);
    assert_eq!(
        pass.matched.as_deref(),
        Some("include:_spf.provider.example")
    );
    assert_eq!((pass.dns_lookups, pass.void_lookups), (1, 0));
    assert_eq!(pass.error, None);

    let neutral = detail(&dns, "other.example").await;
    assert_eq!(neutral.result, Verdict::Neutral);
    assert_eq!(neutral.matched.as_deref(), Some("?all"));

    let redirected = detail(&dns, "moved.example").await;
    assert_eq!(redirected.result, Verdict::Pass);
    assert_eq!(
        redirected.matched.as_deref(),
        Some("redirect=provider.example → include:_spf.provider.example")
    );
    assert_eq!(redirected.dns_lookups, 2);

    let typo = detail(&dns, "typo.example").await;
    assert_eq!(typo.result, Verdict::Permerror);
    assert_eq!(typo.problem, Some(SpfProblem::Syntax));
    let error = typo.error.unwrap();
    assert!(
        error.starts_with(
            "syntax error in the SPF record of typo.example: unknown mechanism 'inclde' at position 3"
        ),
        "{error}"
    );
    assert_eq!(
        typo.dns_lookups, 0,
        "nothing is evaluated in a broken record"
    );

    let deep = detail(&dns, "deep.example").await;
    assert_eq!(deep.result, Verdict::Permerror);
    assert_eq!(deep.problem, Some(SpfProblem::LookupLimit));
    assert!(deep.error.unwrap().starts_with("11 DNS lookups, limit 10"));
    assert_eq!(deep.dns_lookups, 11);

    let ghosts = detail(&dns, "ghosts.example").await;
    assert_eq!(ghosts.result, Verdict::Permerror);
    assert_eq!(ghosts.problem, Some(SpfProblem::VoidLookupLimit));
    assert!(ghosts.error.unwrap().starts_with("3 void lookups, limit 2"));
    assert_eq!((ghosts.dns_lookups, ghosts.void_lookups), (3, 3));

    let twice = detail(&dns, "twice.example").await;
    assert_eq!(twice.result, Verdict::Permerror);
    assert_eq!(twice.problem, Some(SpfProblem::MultipleRecords));
    assert_eq!(twice.records.len(), 2);
}

#[tokio::test]
async fn report_advises_on_the_cause_of_a_permerror() {
    let server = TestDns::start(detail_zone());
    let pipeline = support::pipeline::pipeline(&server);
    let mut causes = Vec::new();
    for domain in [
        "deep.example",
        "ghosts.example",
        "typo.example",
        "provider.example",
    ] {
        let envelope = mailscore::smtp::Envelope {
            client_ip: "192.0.2.25".parse().unwrap(),
            client_port: 25,
            helo: "mail.sender.example".into(),
            mail_from: format!("bounce@{domain}"),
            rcpt_to: vec!["box@localhost".into()],
            received_at: 0,
            tls: None,
        };
        let subject = mailscore::report::Subject {
            id: "box",
            address: "box@localhost",
        };
        let raw = b"From: a@provider.example\r\nSubject: x\r\n\r\nHello.\r\n";
        let report = pipeline.report(subject, &envelope, raw).await;
        let spf_rules: Vec<String> = report
            .deductions
            .iter()
            .filter(|d| d.rule.starts_with("SPF_"))
            .map(|d| d.rule.clone())
            .collect();
        causes.push(spf_rules);
    }
    assert!(causes[0].contains(&"SPF_PERMERROR".into()), "{causes:?}");
    assert!(causes[0].contains(&"SPF_LOOKUP_LIMIT".into()), "{causes:?}");
    assert!(
        causes[1].contains(&"SPF_VOID_LOOKUP_LIMIT".into()),
        "{causes:?}"
    );
    assert!(causes[2].contains(&"SPF_SYNTAX_ERROR".into()), "{causes:?}");
    assert!(causes[3].is_empty(), "{causes:?}");
}
