//! Headers as Japanese mail writes them: RFC 2047 encoded words in
//! ISO-2022-JP, Shift_JIS, EUC-JP and UTF-8 (B and Q), and RFC 2231 file
//! names, decoded for the report and the page; the display-name check
//! reads the decoded name. The whole pipeline, real DNS on loopback.

mod support;

use mailscore::report::Report;
use mailscore::web::render_report_page;
use support::dns::{TestDns, Zone};
use support::pipeline::envelope;

async fn report(raw: &str) -> Report {
    let dns = TestDns::start(Zone::new());
    let envelope = envelope("192.0.2.25", "mail.example.jp", "yamada@example.jp");
    support::pipeline::report(&dns, &envelope, raw.as_bytes()).await
}

fn message(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: box@localhost\r\nSubject: {subject}\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0900\r\nMessage-ID: <jp@example.jp>\r\n\r\nこんにちは\r\n"
    )
}

#[tokio::test]
async fn encoded_names_and_subjects_are_decoded_in_every_japanese_charset() {
    // 山田太郎 and 請求書のご案内, encoded by Python's codecs.
    let cases = [
        (
            "ISO-2022-JP",
            "B",
            "GyRCOzNFREJATzobKEI=",
            "GyRCQEE1YT1xJE4kNDBGRmIbKEI=",
        ),
        ("Shift_JIS", "B", "jlKTY5G+mFk=", "kL+LgY+RgsyCsojEk+A="),
        ("EUC-JP", "B", "u7PFxMLAz7o=", "wMG14b3xpM6ktLDGxuI="),
        (
            "UTF-8",
            "B",
            "5bGx55Sw5aSq6YOO",
            "6KuL5rGC5pu444Gu44GU5qGI5YaF",
        ),
        (
            "UTF-8",
            "Q",
            "=E5=B1=B1=E7=94=B0=E5=A4=AA=E9=83=8E",
            "=E8=AB=8B=E6=B1=82=E6=9B=B8=E3=81=AE=E3=81=94=E6=A1=88=E5=86=85",
        ),
    ];
    for (charset, encoding, name, subject) in cases {
        let raw = message(
            &format!("=?{charset}?{encoding}?{name}?= <yamada@example.jp>"),
            &format!("=?{charset}?{encoding}?{subject}?="),
        );
        let report = report(&raw).await;
        let m = &report.message;
        assert_eq!(
            m.from_name.as_deref(),
            Some("山田太郎"),
            "{charset} {encoding}"
        );
        assert_eq!(
            m.subject.as_deref(),
            Some("請求書のご案内"),
            "{charset} {encoding}"
        );
        assert_eq!(m.from_address.as_deref(), Some("yamada@example.jp"));
        for lang in ["en", "ja"] {
            let page = render_report_page(&report, lang);
            assert!(
                page.contains("山田太郎 &lt;yamada@example.jp&gt;")
                    && page.contains("請求書のご案内"),
                "{charset} {encoding} {lang}: the page shows the decoded name and subject"
            );
        }
    }
    // The sample a user reported, as encoded: it says 山田果郎.
    let sample = report(&message(
        "=?ISO-2022-JP?B?GyRCOzNFRDJMTzobKEI=?= <yamada@example.jp>",
        "x",
    ))
    .await;
    assert_eq!(sample.message.from_name.as_deref(), Some("山田果郎"));
}

#[tokio::test]
async fn the_display_name_check_reads_the_decoded_name() {
    // 「山田 ceo@bank.example」 in ISO-2022-JP: an address in the display
    // name that is not the sender's, visible only once decoded.
    let raw = message(
        "=?ISO-2022-JP?B?GyRCOzNFRBsoQiBjZW9AYmFuay5leGFtcGxl?= <yamada@example.jp>",
        "hello",
    );
    let report = report(&raw).await;
    assert_eq!(
        report.message.from_name.as_deref(),
        Some("山田 ceo@bank.example")
    );
    assert_eq!(
        report.checks.content.headers.display_name.as_str(),
        "other_address",
        "{:?}",
        report.checks.content.headers
    );
}

#[tokio::test]
async fn rfc_2231_file_names_are_decoded() {
    let raw = "From: yamada@example.jp\r\nTo: box@localhost\r\nSubject: files\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0900\r\nMessage-ID: <f@example.jp>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n本文\r\n\
         --b\r\nContent-Type: application/pdf\r\n\
         Content-Disposition: attachment; filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8.pdf\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
         --b\r\nContent-Type: application/pdf\r\n\
         Content-Disposition: attachment; filename*=iso-2022-jp''%1B%24B%40A5a%3Dq%1B%28B.pdf\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
    let report = report(raw).await;
    let names: Vec<&str> = report
        .checks
        .content
        .attachments
        .files
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["請求書.pdf", "請求書.pdf"], "{report:#?}");
}

/// A message whose Subject is `subject` as raw bytes.
fn raw_subject_message(subject: &[u8], body: &[u8], content_type: &str) -> Vec<u8> {
    let mut raw = b"From: yamada@example.jp\r\nTo: box@localhost\r\nSubject: ".to_vec();
    raw.extend_from_slice(subject);
    raw.extend_from_slice(
        format!(
            "\r\nDate: Tue, 25 Nov 2025 10:00:00 +0900\r\nMessage-ID: <raw@example.jp>\r\n\
             MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    raw.extend_from_slice(body);
    raw
}

async fn report_of(raw: &[u8]) -> Report {
    let dns = TestDns::start(Zone::new());
    let envelope = envelope("192.0.2.25", "mail.example.jp", "yamada@example.jp");
    support::pipeline::report(&dns, &envelope, raw).await
}

fn rules(report: &Report) -> Vec<&str> {
    report.deductions.iter().map(|d| d.rule.as_str()).collect()
}

#[tokio::test]
async fn raw_legacy_bytes_in_a_header_are_shown_decoded_and_called_not_encoded() {
    let subject = "請求書のご案内";
    for charset in ["shift_jis", "euc-jp", "iso-2022-jp"] {
        let bytes = match charset {
            "shift_jis" => b"\x90\xbf\x8b\x81\x8f\x91\x82\xcc\x82\xb2\x88\xc4\x93\xe0".to_vec(),
            "euc-jp" => b"\xc0\xc1\xb5\xe1\xbd\xf1\xa4\xce\xa4\xb4\xb0\xc6\xc6\xe2".to_vec(),
            _ => b"\x1b$B@A5a=q$N$40FFb\x1b(B".to_vec(),
        };
        let raw = raw_subject_message(&bytes, b"body\r\n", "text/plain; charset=us-ascii");
        let report = report_of(&raw).await;
        assert_eq!(
            report.message.subject.as_deref(),
            Some(subject),
            "{charset}"
        );
        assert_eq!(
            report.checks.content.headers.encoding.as_str(),
            "unencoded",
            "{charset}"
        );
        assert!(
            rules(&report).contains(&"HEADER_NOT_ENCODED"),
            "{charset}: {:?}",
            rules(&report)
        );
        assert!(render_report_page(&report, "ja").contains(subject));
    }
    // Raw UTF-8 is RFC 6532's, not a legacy charset: told apart, not scored.
    let utf8 = report_of(&raw_subject_message(
        subject.as_bytes(),
        b"body\r\n",
        "text/plain; charset=utf-8",
    ))
    .await;
    assert_eq!(utf8.checks.content.headers.encoding.as_str(), "utf8");
    assert!(!rules(&utf8).contains(&"HEADER_NOT_ENCODED"));
    // Encoded words are what RFC 2047 asks for.
    let encoded = report_of(&raw_subject_message(
        b"=?ISO-2022-JP?B?GyRCQEE1YT1xJE4kNDBGRmIbKEI=?=",
        b"body\r\n",
        "text/plain; charset=us-ascii",
    ))
    .await;
    assert_eq!(encoded.checks.content.headers.encoding.as_str(), "ok");
}

#[tokio::test]
async fn an_iso_2022_jp_body_without_a_charset_is_flagged() {
    let body = b"\x1b$B$3$s$K$A$O\x1b(B\r\n";
    let bare = report_of(&raw_subject_message(b"hello", body, "text/plain")).await;
    assert_eq!(bare.checks.content.body.charset.as_str(), "missing");
    let declared = report_of(&raw_subject_message(
        b"hello",
        body,
        "text/plain; charset=ISO-2022-JP",
    ))
    .await;
    assert_eq!(declared.checks.content.body.charset.as_str(), "ok");
}

#[tokio::test]
async fn an_encoded_subject_stays_decoded_beside_another_raw_field() {
    // The From name is raw Shift_JIS (佐藤); the Subject is RFC 2047.
    let mut raw = b"From: \x8d\xb2\x93\xa1 <sato@example.jp>\r\nTo: box@localhost\r\n".to_vec();
    raw.extend_from_slice(
        b"Subject: =?ISO-2022-JP?B?GyRCQEE1YT1xJE4kNDBGRmIbKEI=?=\r\n\
          Date: Tue, 25 Nov 2025 10:00:00 +0900\r\nMessage-ID: <m@example.jp>\r\n\r\nbody\r\n",
    );
    let report = report_of(&raw).await;
    assert_eq!(report.checks.content.headers.encoding.as_str(), "unencoded");
    assert_eq!(report.message.subject.as_deref(), Some("請求書のご案内"));
}
