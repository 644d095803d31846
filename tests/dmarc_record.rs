//! A DMARC record judged tag by tag (RFC 7489 §6.3) and by where its
//! reports go (§7.1): a record receivers would partly ignore is
//! misconfigured (設定誤り), never "set up"; p=none is set up but only
//! monitoring. Real DNS on loopback, the whole pipeline.

mod support;

use mailscore::checks::Verdict;
use mailscore::checks::dmarc::DmarcMode;
use mailscore::report::Report;
use mailscore::web::render_report_page;
use support::dns::{TestDns, Zone};
use support::pipeline::envelope;

const CLIENT: &str = "192.0.2.25";
const ALLOW_CLIENT: &str = "v=spf1 ip4:192.0.2.25 -all";

fn zone() -> Zone {
    let mut zone = Zone::new();
    for domain in [
        "pct.example",
        "scheme.example",
        "external.example",
        "authorised.example",
        "own.example",
        "monitor.example",
        "reject.example",
    ] {
        zone = zone.txt(domain, &[ALLOW_CLIENT]);
    }
    zone.txt("_dmarc.pct.example", &["v=DMARC1; p=reject; pct=150"])
        .txt(
            "_dmarc.scheme.example",
            &["v=DMARC1; p=reject; rua=dmarc@scheme.example"],
        )
        // Reports to another organisation that never agreed to take them…
        .txt(
            "_dmarc.external.example",
            &["v=DMARC1; p=reject; rua=mailto:d@reports.example"],
        )
        // …and to one that did (§7.1), and to the domain's own subdomain.
        .txt(
            "_dmarc.authorised.example",
            &["v=DMARC1; p=reject; rua=mailto:d@reports.example,mailto:x@mail.authorised.example"],
        )
        .txt(
            "authorised.example._report._dmarc.reports.example",
            &["v=DMARC1"],
        )
        .txt(
            "_dmarc.own.example",
            &["v=DMARC1; p=quarantine; rua=mailto:dmarc@own.example"],
        )
        .txt(
            "_dmarc.monitor.example",
            &["v=DMARC1; p=none; rua=mailto:dmarc@monitor.example"],
        )
        .txt(
            "_dmarc.reject.example",
            &["v=DMARC1; p=reject; rua=mailto:dmarc@reject.example"],
        )
}

async fn report(dns: &TestDns, domain: &str) -> Report {
    let raw = format!(
        "From: a@{domain}\r\nTo: box@localhost\r\nSubject: DMARC\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <m@{domain}>\r\n\r\nHello.\r\n"
    );
    let envelope = envelope(CLIENT, "mail.sender.example", &format!("b@{domain}"));
    support::pipeline::report(dns, &envelope, raw.as_bytes()).await
}

fn rules(report: &Report) -> Vec<&str> {
    report.deductions.iter().map(|d| d.rule.as_str()).collect()
}

#[tokio::test]
async fn pct_out_of_range_is_misconfigured_naming_the_tag() {
    let dns = TestDns::start(zone());
    let report = report(&dns, "pct.example").await;
    let dmarc = &report.checks.dmarc;
    // Receivers read pct=150 as 100 and the message passes; the record is
    // still wrong, and says so.
    assert_eq!(dmarc.result, Verdict::Pass, "{dmarc:?}");
    assert_eq!(dmarc.setup.as_str(), "misconfigured");
    assert_eq!(
        dmarc.record_problems,
        ["pct=150: must be an integer from 0 to 100"]
    );
    assert!(
        rules(&report).contains(&"DMARC_RECORD_INVALID"),
        "{:?}",
        rules(&report)
    );
    let page = render_report_page(&report, "en");
    assert!(page.contains("pct=150: must be an integer from 0 to 100"));
}

#[tokio::test]
async fn a_report_address_that_is_not_mailto_is_misconfigured() {
    let dns = TestDns::start(zone());
    let dmarc = report(&dns, "scheme.example").await.checks.dmarc;
    assert_eq!(dmarc.setup.as_str(), "misconfigured");
    assert!(
        dmarc.record_problems[0].starts_with("rua=dmarc@scheme.example: must be mailto:"),
        "{:?}",
        dmarc.record_problems
    );
}

#[tokio::test]
async fn reports_to_another_domain_need_its_consent() {
    let dns = TestDns::start(zone());
    let refused = report(&dns, "external.example").await;
    let dmarc = &refused.checks.dmarc;
    assert_eq!(dmarc.setup.as_str(), "misconfigured");
    assert_eq!(
        dmarc.record_problems.len(),
        1,
        "{:?}",
        dmarc.record_problems
    );
    let problem = &dmarc.record_problems[0];
    assert!(
        problem.contains("reports.example does not accept reports for external.example")
            && problem.contains("external.example._report._dmarc.reports.example"),
        "{problem}"
    );
    assert!(rules(&refused).contains(&"DMARC_RECORD_INVALID"));

    // The destination that published its consent, and the domain's own
    // subdomain (no consent needed), are fine.
    let accepted = report(&dns, "authorised.example").await.checks.dmarc;
    assert_eq!(accepted.record_problems, Vec::<String>::new());
    assert_eq!(accepted.setup.as_str(), "configured");
}

#[tokio::test]
async fn p_none_is_set_up_but_only_monitoring() {
    let dns = TestDns::start(zone());
    let monitoring = report(&dns, "monitor.example").await;
    assert_eq!(monitoring.checks.dmarc.setup.as_str(), "configured");
    assert_eq!(monitoring.checks.dmarc.mode, DmarcMode::Monitoring);
    let json = serde_json::to_value(&monitoring).unwrap();
    assert_eq!(json["checks"]["dmarc"]["mode"], "monitoring");
    assert!(render_report_page(&monitoring, "en").contains("set up (monitoring only: p=none)"));
    assert!(render_report_page(&monitoring, "ja").contains("設定あり（監視のみ：p=none）"));

    let enforcing = report(&dns, "reject.example").await;
    assert_eq!(enforcing.checks.dmarc.mode, DmarcMode::Enforcing);
    assert_eq!(enforcing.checks.dmarc.record_problems, Vec::<String>::new());
    assert!(!render_report_page(&enforcing, "en").contains("monitoring only"));
    let quarantine = report(&dns, "own.example").await.checks.dmarc;
    assert_eq!(quarantine.mode, DmarcMode::Enforcing);
    assert_eq!(quarantine.setup.as_str(), "configured");
}
