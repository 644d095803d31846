//! Rule table reload on SIGHUP, on the real binary: a changed table is
//! taken for the next message; a broken one is refused with an error in
//! the log, the table in force stays, and the process lives on.

mod ops_support;
mod support;

use ops_support::{LoggedServer, Smtp, connect_from, message};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use support::dns::{TestDns, Zone};
use support::zones::good_example;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A rules directory holding a copy of the default table.
struct RulesDir(PathBuf);

impl RulesDir {
    fn new() -> RulesDir {
        let dir = std::env::temp_dir().join(format!(
            "mailscore-reload-rules-{}",
            mailscore::test_id::generate()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let rules = RulesDir(dir);
        rules.write(&default_table());
        rules
    }

    fn write(&self, table: &str) {
        // Written beside, then renamed: the server never reads half a file.
        let scratch = self.0.join("default.toml.new");
        std::fs::write(&scratch, table).unwrap();
        std::fs::rename(scratch, self.0.join("default.toml")).unwrap();
    }
}

impl Drop for RulesDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn default_table() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scoring-rules/default.toml"),
    )
    .unwrap()
}

/// The default table with DKIM_NONE worth `points` instead of its own.
fn with_dkim_none_points(points: &str) -> String {
    let table = default_table();
    let start = table.find("id = \"DKIM_NONE\"").expect("DKIM_NONE rule");
    let offset = table[start..].find("points = ").unwrap() + start;
    let end = offset + table[offset..].find('\n').unwrap();
    format!("{}points = {points}{}", &table[..offset], &table[end..])
}

/// The points DKIM_NONE took from a new unsigned message's report.
fn dkim_none_points(server: &LoggedServer, id: &str) -> f64 {
    let mut smtp = Smtp::new(connect_from(server.smtp, LOCALHOST));
    assert!(smtp.reply().starts_with("220"));
    smtp.send(
        "mail.good.example",
        "alice@good.example",
        &format!("{id}@localhost"),
        &message("Alice <alice@good.example>", "reload"),
    );
    let report = server.wait_for_report(id);
    report["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rule"] == "DKIM_NONE")
        .and_then(|d| d["points"].as_f64())
        .unwrap_or_else(|| panic!("no DKIM_NONE deduction: {report:#}"))
}

fn reload_lines(server: &LoggedServer, text: &str) -> usize {
    server.log().iter().filter(|l| l.contains(text)).count()
}

#[test]
fn sighup_takes_a_changed_table_and_refuses_a_broken_one() {
    let dns = TestDns::start(good_example(Zone::new()));
    let rules = RulesDir::new();
    let rules_arg = rules.0.to_str().unwrap().to_string();
    let mut server = LoggedServer::start(dns.addr, &["--rules", &rules_arg]);
    assert_eq!(dkim_none_points(&server, "reload-before"), 1.5);

    rules.write(&with_dkim_none_points("4.5"));
    server.signal("HUP");
    server.wait_for_log("of the reload", |l| l.contains("rule table reloaded"));
    assert_eq!(dkim_none_points(&server, "reload-after"), 4.5);

    // A typo in the table: refused, logged with the file, old table kept.
    rules.write(&with_dkim_none_points("\"lots\""));
    server.signal("HUP");
    let error = server.wait_for_log("of the refusal", |l| l.contains("rule table refused"));
    assert!(error.contains("ERROR"), "{error}");
    assert!(error.contains("default.toml"), "{error}");
    assert!(server.is_running(), "a broken table ended the process");
    assert_eq!(dkim_none_points(&server, "reload-broken"), 4.5);
    assert_eq!(reload_lines(&server, "rule table reloaded"), 1);

    // Fixed again: taken again.
    rules.write(&with_dkim_none_points("0.5"));
    server.signal("HUP");
    let deadline = std::time::Instant::now() + ops_support::PATIENCE;
    while reload_lines(&server, "rule table reloaded") < 2 {
        assert!(std::time::Instant::now() < deadline, "no second reload");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(dkim_none_points(&server, "reload-fixed"), 0.5);

    let (_, _, metrics) = server.get("/metrics");
    let sample = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
    };
    assert_eq!(sample("mailscore_rule_reloads_total{result=\"ok\"}"), 2.0);
    assert_eq!(
        sample("mailscore_rule_reloads_total{result=\"refused\"}"),
        1.0
    );
}
