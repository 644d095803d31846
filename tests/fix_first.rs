//! The score page leads with what to fix: right under the score, the
//! deductions that cost most, biggest first (ties: the check shown first,
//! authentication before content), at most five, each with its advice and
//! a link to its check's stable anchor (`#spf`, `#dkim`…); and the total
//! says when it is more than the score can lose. The whole pipeline, real
//! DNS on loopback.

mod support;

use mailscore::report::Report;
use mailscore::web::render_report_page;
use support::dns::{TestDns, Zone};
use support::pipeline::envelope;

async fn report(zone: Zone, raw: &str) -> Report {
    let dns = TestDns::start(zone);
    let envelope = envelope("192.0.2.25", "mail.bad.example", "a@bad.example");
    support::pipeline::report(&dns, &envelope, raw.as_bytes()).await
}

/// An unsigned message from a softfailing domain with an executable.
fn bad_message() -> String {
    "From: a@bad.example\r\nTo: box@localhost\r\nSubject: invoice\r\n\
     Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <b@bad.example>\r\n\
     MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
     --b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
     --b\r\nContent-Type: application/octet-stream\r\n\
     Content-Disposition: attachment; filename=\"invoice.exe\"\r\n\
     Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b--\r\n"
        .to_string()
}

#[tokio::test]
async fn the_biggest_deductions_come_first_with_links_to_their_checks() {
    let zone = Zone::new().txt("bad.example", &["v=spf1 ~all"]);
    let report = report(zone, &bad_message()).await;
    let mut expected: Vec<_> = report
        .deductions
        .iter()
        .filter(|d| d.points > 0.0)
        .collect();
    assert!(expected.len() > 5, "{:?}", report.deductions);
    // Stable: among equal points the earlier (page-order) check stays first.
    expected.sort_by(|a, b| b.points.total_cmp(&a.points));
    let page = render_report_page(&report, "en");
    let fix = &page[page
        .find("<section class=\"fix-first\"")
        .expect("the fix list")..];
    let fix = &fix[..fix.find("</section>").unwrap()];
    assert!(
        page.find("class=\"fix-first\"") < page.find("<nav class=\"toc\""),
        "the fix list sits right under the score"
    );
    let items: Vec<&str> = fix.split("<li>").skip(1).collect();
    assert_eq!(items.len(), 5, "{fix}");
    assert!(
        items[0].contains("−4") && items[0].contains("executable"),
        "{}",
        items[0]
    );
    let points = |item: &str| -> f64 {
        let text = item
            .split("<strong>")
            .nth(1)
            .unwrap()
            .split("</strong>")
            .next()
            .unwrap();
        text.trim_start_matches('−').parse().unwrap()
    };
    for pair in items.windows(2) {
        assert!(points(pair[0]) >= points(pair[1]), "{fix}");
    }
    // Each link goes to an element of the page.
    for item in &items {
        let anchor = item
            .split("href=\"#")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(
            page.contains(&format!(" id=\"{anchor}\"")),
            "#{anchor} is not on the page"
        );
    }
    assert!(fix.contains("href=\"#attachments\""), "{fix}");
    assert!(fix.contains("href=\"#dkim\""), "{fix}");
    let total: f64 = report.deductions.iter().map(|d| d.points).sum();
    let said = format!("Deductions total {total:.1}");
    assert!(fix.contains(&said), "{fix}");
    assert_eq!(
        fix.contains("the score stops at 0"),
        total > report.max_score,
        "{fix}"
    );

    let ja = render_report_page(&report, "ja");
    assert!(ja.contains("まず直すこと") && ja.contains("減点の合計"));
}

#[tokio::test]
async fn nothing_to_fix_is_one_line() {
    let zone = Zone::new().txt("bad.example", &["v=spf1 ip4:192.0.2.25 -all"]);
    let raw = "From: a@bad.example\r\nTo: box@localhost\r\nSubject: fine\r\n\
               Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <g@bad.example>\r\n\r\nHello.\r\n";
    let mut report = report(zone, raw).await;
    // Whatever this message still loses, a report without points lost says so.
    report.deductions.retain(|d| d.points == 0.0);
    let page = render_report_page(&report, "en");
    assert!(
        page.contains("Nothing to fix: no rule took points."),
        "{page}"
    );
    assert!(!page.contains("Deductions total"));
    // Nothing costs points: every section folds to its heading.
    assert_eq!(
        page.matches("<details class=\"section\">").count(),
        9,
        "{page}"
    );
    assert!(!page.contains("<details class=\"section\" open>"), "{page}");
}

/// A section is open when something in it costs points, folded otherwise.
#[tokio::test]
async fn sections_open_where_points_were_lost() {
    let zone = Zone::new().txt("bad.example", &["v=spf1 ~all"]);
    let report = report(zone, &bad_message()).await;
    let page = render_report_page(&report, "en");
    let state = |id: &str| {
        let at = page
            .find(&format!("<section id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no {id}"));
        page[at..].split('\n').nth(1).unwrap().to_string()
    };
    assert_eq!(state("auth"), "<details class=\"section\" open>");
    assert_eq!(state("content"), "<details class=\"section\" open>");
    assert_eq!(state("smime"), "<details class=\"section\">");
    assert_eq!(state("mail-server"), "<details class=\"section\">");
}

/// Advice that costs no points (DNSSEC, MTA-STS, S/MIME…) folds under
/// "good to have" at the end of its section, closed, without "0 ·"; a rule
/// that costs points stays in the open list.
#[tokio::test]
async fn zero_point_advice_folds_under_good_to_have() {
    let zone = Zone::new().txt("bad.example", &["v=spf1 ~all"]);
    let report = report(zone, &bad_message()).await;
    let free: Vec<_> = report
        .deductions
        .iter()
        .filter(|d| d.points == 0.0)
        .collect();
    assert!(
        free.iter().any(|d| d.rule == "SMIME_NONE"),
        "{:?}",
        report.deductions
    );
    for lang in ["en", "ja"] {
        let page = render_report_page(&report, lang);
        let folds: Vec<&str> = page
            .split("<details class=\"good-to-have\">")
            .skip(1)
            .map(|rest| &rest[..rest.find("</details>").unwrap()])
            .collect();
        assert!(!folds.is_empty(), "{page}");
        for d in &free {
            let code = format!("<code>{}</code>", d.rule);
            assert_eq!(
                page.matches(&code).count(),
                1,
                "{} shown once: {page}",
                d.rule
            );
            assert!(
                folds.iter().any(|f| f.contains(&code)),
                "{} not folded",
                d.rule
            );
        }
        assert!(
            !page.contains("<strong>0 · "),
            "a 0-point rule in the open list"
        );
        let label = if lang == "en" {
            "Good to have (no points): "
        } else {
            "さらに良くするには（減点なし）: "
        };
        assert!(page.contains(label), "{page}");
    }
    // The costly rules stay open in their sections.
    let page = render_report_page(&report, "en");
    let exe = page
        .find("<code>ATTACHMENT_EXECUTABLE</code>")
        .expect("the executable rule");
    assert!(!folds_before(&page, exe), "a costly rule was folded");
}

/// Whether position `at` lies inside a "good to have" fold.
fn folds_before(page: &str, at: usize) -> bool {
    let opened = page[..at].rfind("<details class=\"good-to-have\">");
    let closed = page[..at].rfind("</details>");
    matches!((opened, closed), (Some(o), c) if c.is_none_or(|c| c < o))
}
