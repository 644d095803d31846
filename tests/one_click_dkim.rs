//! RFC 8058 §4: one-click unsubscribe counts only when a valid DKIM
//! signature covers both List-Unsubscribe and List-Unsubscribe-Post. The
//! same newsletter signed with the real test key, once with those headers
//! in `h=` and once without, through the real analysis pipeline and DNS.

mod support;

use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use support::dns::{TestDns, Zone};
use support::pipeline::envelope;

const NEWSLETTER: &str = "From: Good News <news@good.example>\r\n\
To: reader@localhost\r\n\
Subject: This week at Good News\r\n\
Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <weekly-48@good.example>\r\n\
List-Unsubscribe: <https://good.example/unsubscribe/abc>, <mailto:unsub@good.example>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\
This week: three articles and a recipe.\r\n";

fn signed_with(headers: &[&str]) -> Vec<u8> {
    let signature = DkimSigner::from_key(support::dkim::rsa_key())
        .domain("good.example")
        .selector("sel1")
        .headers(headers.iter().copied())
        .sign(NEWSLETTER.as_bytes())
        .unwrap();
    let mut out = signature.to_header().into_bytes();
    out.extend_from_slice(NEWSLETTER.as_bytes());
    out
}

/// The rule ids a report deducts for, and the DKIM result.
async fn rules(raw: &[u8]) -> (Vec<String>, String) {
    let report = report(raw).await;
    let ids = report.deductions.iter().map(|d| d.rule.clone()).collect();
    let dkim = report
        .checks
        .dkim
        .first()
        .map(|d| d.result.as_str().to_string());
    (ids, dkim.unwrap_or_default())
}

async fn report(raw: &[u8]) -> mailscore::report::Report {
    let dns = TestDns::start(support::zones::good_example(Zone::new()));
    let envelope = envelope("127.0.0.1", "mail.good.example", "news@good.example");
    support::pipeline::report(&dns, &envelope, raw).await
}

#[tokio::test]
async fn the_page_lists_the_signed_headers() {
    let raw = signed_with(&["From", "Subject", "List-Unsubscribe"]);
    let report = report(&raw).await;
    let signed = &report.checks.dkim[0].signed_headers;
    let mut sorted = signed.clone();
    sorted.sort();
    assert_eq!(sorted, ["from", "list-unsubscribe", "subject"]);
    // As h= lists them (the signer's order).
    let listed = signed.join(", ");
    let en = mailscore::web::render_report_page(&report, "en");
    assert!(
        en.contains(&format!("Signed headers (h=): {listed}")),
        "{en}"
    );
    let ja = mailscore::web::render_report_page(&report, "ja");
    assert!(ja.contains(&format!("署名対象のヘッダー（h=）: {listed}")));
}

#[tokio::test]
async fn one_click_headers_under_a_passing_signature_are_honoured() {
    let raw = signed_with(&[
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    ]);
    let (ids, dkim) = rules(&raw).await;
    assert_eq!(dkim, "pass");
    assert!(
        !ids.iter().any(|r| r == "ONE_CLICK_NOT_DKIM_SIGNED"),
        "{ids:?}"
    );
}

#[tokio::test]
async fn one_click_headers_outside_the_signature_are_flagged() {
    // Signed and passing, but h= leaves List-Unsubscribe-Post out: anyone
    // relaying the message could add or change it.
    let raw = signed_with(&["From", "To", "Subject", "Date", "List-Unsubscribe"]);
    let (ids, dkim) = rules(&raw).await;
    assert_eq!(dkim, "pass");
    assert!(
        ids.iter().any(|r| r == "ONE_CLICK_NOT_DKIM_SIGNED"),
        "{ids:?}"
    );
}

#[tokio::test]
async fn a_failing_signature_does_not_vouch_for_one_click() {
    let mut raw = signed_with(&["From", "List-Unsubscribe", "List-Unsubscribe-Post"]);
    // Tamper with the body after signing: the signature fails.
    let last = raw.len() - 3;
    raw[last] = b'!';
    let (ids, dkim) = rules(&raw).await;
    assert_eq!(dkim, "fail");
    assert!(
        ids.iter().any(|r| r == "ONE_CLICK_NOT_DKIM_SIGNED"),
        "{ids:?}"
    );
}
