//! Internationalised domains (RFC 5890): a From and MAIL FROM domain
//! written as U-labels (`例え.jp`, as SMTPUTF8 mail carries it) are looked
//! up as their A-labels (`xn--r8jz45g.jp`) for SPF, DMARC and the posture
//! records, and aligned as A-labels; the report keeps the form the sender
//! wrote beside the A-label it judged. Real DNS on loopback serving only
//! the A-label names, as real DNS does.

mod support;

use mailscore::checks::Verdict;
use mailscore::report::Report;
use support::dns::{TestDns, Zone};
use support::pipeline::envelope;

const A_LABEL: &str = "xn--r8jz45g.jp";

fn zone() -> Zone {
    Zone::new()
        .txt(A_LABEL, &["v=spf1 ip4:192.0.2.25 -all"])
        .txt(&format!("_dmarc.{A_LABEL}"), &["v=DMARC1; p=reject"])
        .mx(A_LABEL, 10, &format!("mx.{A_LABEL}"))
}

async fn report(mail_from: &str, from: &str) -> Report {
    let dns = TestDns::start(zone());
    let raw = format!(
        "From: {from}\r\nTo: box@localhost\r\nSubject: IDN\r\nDate: Tue, 25 Nov 2025 10:00:00 +0900\r\n\
         Message-ID: <idn@{A_LABEL}>\r\n\r\nこんにちは\r\n"
    );
    let envelope = envelope("192.0.2.25", "mail.example.jp", mail_from);
    support::pipeline::report(&dns, &envelope, raw.as_bytes()).await
}

#[tokio::test]
async fn u_label_domains_are_judged_as_their_a_labels() {
    let report = report("info@例え.jp", "送信者 <info@例え.jp>").await;
    let checks = &report.checks;
    assert_eq!(checks.spf.result, Verdict::Pass, "{:?}", checks.spf);
    assert_eq!(checks.spf.domain, A_LABEL);
    assert_eq!(checks.dmarc.from_domain, A_LABEL, "{:?}", checks.dmarc);
    assert!(checks.dmarc.spf_aligned, "{:?}", checks.dmarc);
    assert_eq!(checks.dmarc.result, Verdict::Pass);
    assert_eq!(checks.dmarc.policy.as_deref(), Some("reject"));
    assert_eq!(checks.posture.domain, A_LABEL);
    assert_eq!(checks.posture.mx, [format!("mx.{A_LABEL}")]);
    // What the sender wrote stays as written.
    assert_eq!(report.envelope.mail_from, "info@例え.jp");
    assert_eq!(report.message.from_address.as_deref(), Some("info@例え.jp"));
}

#[tokio::test]
async fn a_u_label_and_its_a_label_align() {
    // MAIL FROM as U-label, From as A-label (or the other way round).
    let mixed = report("info@例え.jp", &format!("info@{A_LABEL}")).await;
    assert!(mixed.checks.dmarc.spf_aligned, "{:?}", mixed.checks.dmarc);
    assert_eq!(mixed.checks.dmarc.result, Verdict::Pass);
    let other = report(&format!("info@{A_LABEL}"), "info@例え.jp").await;
    assert!(other.checks.dmarc.spf_aligned, "{:?}", other.checks.dmarc);
    assert_eq!(other.checks.dmarc.result, Verdict::Pass);
}
