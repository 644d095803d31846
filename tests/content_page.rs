//! The content, SpamAssassin and Rspamd sections on the score page, in
//! both languages, with attacker-chosen strings (attachment names,
//! SpamAssassin and Rspamd descriptions) escaped.

mod support;

use mailscore::checks::rspamd::{RspamdFinding, RspamdStatus, RspamdSymbol};
use mailscore::checks::spamd::{SpamRule, SpamdFinding, SpamdStatus};
use mailscore::report::Report;
use mailscore::web::render_report_page;
use support::corpus::dir;
use support::dns::{TestDns, Zone};
use support::pipeline::envelope;

const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)>.pdf.exe";

async fn report(raw: &[u8]) -> Report {
    let dns = TestDns::start(Zone::new());
    let envelope = envelope("192.0.2.25", "mail.example.com", "accounts@example.com");
    support::pipeline::report(&dns, &envelope, raw).await
}

#[tokio::test]
async fn content_rows_show_findings_and_escape_names() {
    let raw = std::fs::read_to_string(dir().join("attachment_double_extension.eml"))
        .unwrap()
        .replace("invoice.pdf.exe", HOSTILE_NAME);
    let mut report = report(raw.as_bytes()).await;
    let ids: Vec<&str> = report.deductions.iter().map(|d| d.rule.as_str()).collect();
    assert!(ids.contains(&"ATTACHMENT_DOUBLE_EXTENSION"), "{ids:?}");
    report.checks.spamassassin = SpamdFinding {
        status: SpamdStatus::Checked,
        server: Some("127.0.0.1:783".into()),
        spam: Some(true),
        score: Some(7.5),
        threshold: Some(5.0),
        rules: vec![SpamRule {
            name: "MALW_ATTACH".into(),
            points: 3.5,
            description: "<script>alert('sa')</script> Attachment type not allowed".into(),
        }],
        error: None,
    };

    let en = render_report_page(&report, "en");
    assert!(en.contains("id=\"content\"") && en.contains("Content and format"));
    assert!(en.contains("An attachment hides its type behind a double extension"));
    assert!(en.contains("double_extension"), "the flags are listed");
    assert!(!en.contains(HOSTILE_NAME) && en.contains("&lt;img src=x"));
    assert!(en.contains("id=\"spamassassin\"") && en.contains("MALW_ATTACH"));
    assert!(en.contains("SpamAssassin (score 7.5 / 5.0)"));
    assert!(!en.contains("<script>alert('sa')"));

    let ja = render_report_page(&report, "ja");
    assert!(ja.contains("内容と形式"));
    assert!(ja.contains("二重拡張子で種類を偽装した添付ファイルがあります"));
    assert!(ja.contains("SpamAssassin（迷惑メール判定）"));
}

#[tokio::test]
async fn spamassassin_not_configured_says_so() {
    let raw = std::fs::read(dir().join("ham_personal_plain.eml")).unwrap();
    let report = report(&raw).await;
    assert_eq!(
        report.checks.spamassassin.status,
        SpamdStatus::NotConfigured
    );
    let en = render_report_page(&report, "en");
    assert!(en.contains("this mailscore does not run SpamAssassin"));
    let ja = render_report_page(&report, "ja");
    assert!(ja.contains("SpamAssassin（spamd）を使用していません"));
}

/// Rspamd's section beside SpamAssassin's: its action, score and every
/// symbol, with rspamd's text (descriptions, options) escaped.
#[tokio::test]
async fn rspamd_rows_list_every_symbol_escaped() {
    let raw = std::fs::read(dir().join("ham_personal_plain.eml")).unwrap();
    let mut report = report(&raw).await;
    assert_eq!(report.checks.rspamd.status, RspamdStatus::NotConfigured);
    let en = render_report_page(&report, "en");
    assert!(en.contains("this mailscore does not run Rspamd"));
    let ja = render_report_page(&report, "ja");
    assert!(ja.contains("Rspamd を使用していません"));

    let symbol = |name: &str, score: f64, description: &str, options: &[&str]| RspamdSymbol {
        name: name.into(),
        score,
        description: description.into(),
        options: options.iter().map(|o| o.to_string()).collect(),
    };
    report.checks.rspamd = RspamdFinding {
        status: RspamdStatus::Checked,
        server: Some("127.0.0.1:11333".into()),
        action: Some("add header".into()),
        score: Some(7.5),
        required_score: Some(15.0),
        symbols: vec![
            symbol(
                "HFILTER_HOSTNAME_UNKNOWN",
                2.5,
                "Unknown client hostname",
                &[],
            ),
            symbol(
                "PHISHING",
                1.5,
                "<script>alert('rs')</script> Phished URL",
                &["<img src=x onerror=alert(2)>"],
            ),
            symbol("MIME_TRACE", 0.0, "", &["0:+"]),
        ],
        error: None,
    };
    let en = render_report_page(&report, "en");
    assert!(en.contains("id=\"rspamd\""));
    assert!(en.contains("Rspamd (score 7.5 / 15.0)"));
    assert!(en.contains("add header"));
    for name in ["HFILTER_HOSTNAME_UNKNOWN", "PHISHING", "MIME_TRACE"] {
        assert!(en.contains(name), "{name}");
    }
    assert!(!en.contains("<script>alert('rs')") && en.contains("&lt;script&gt;"));
    assert!(!en.contains("<img src=x onerror=alert(2)>"));
    let ja = render_report_page(&report, "ja");
    assert!(ja.contains("Rspamd（迷惑メール判定）") && ja.contains("Rspamd (スコア "));
}
