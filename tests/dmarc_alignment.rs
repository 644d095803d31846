//! DMARC (RFC 7489) as the report shows it, one behaviour a test: relaxed
//! and strict alignment for SPF and DKIM, the policy found at the
//! organisational domain (also under a two-label public suffix), `sp=` or
//! `p=` for subdomains, and a record that cannot be used (invalid `p=`,
//! two records) as permerror. Real signatures, real DNS on loopback.

mod support;

use mailscore::analyze::Verdict;
use mailscore::analyze::dmarc::DmarcFinding;
use mailscore::report::{Report, Subject};
use mailscore::smtp::Envelope;
use support::dkim::{rsa_key_record, rsa_signed, split_255};
use support::dns::{TestDns, Zone};
use support::pipeline::pipeline;

/// The client every test sends from; the SPF records below allow it.
const CLIENT: &str = "192.0.2.25";
const ALLOW_CLIENT: &str = "v=spf1 ip4:192.0.2.25 -all";

fn zone() -> Zone {
    let key = rsa_key_record();
    let key = split_255(&key);
    Zone::new()
        // Relaxed (the default) alignment.
        .txt("_dmarc.relaxed.example", &["v=DMARC1; p=reject"])
        .txt("bounce.relaxed.example", &[ALLOW_CLIENT])
        .txt("rsa._domainkey.mail.relaxed.example", &key)
        // Strict alignment for both.
        .txt(
            "_dmarc.strict.example",
            &["v=DMARC1; p=reject; aspf=s; adkim=s"],
        )
        .txt("strict.example", &[ALLOW_CLIENT])
        .txt("bounce.strict.example", &[ALLOW_CLIENT])
        .txt("rsa._domainkey.strict.example", &key)
        .txt("rsa._domainkey.mail.strict.example", &key)
        // Under the two-label public suffix co.jp: the organisational
        // domain is example.co.jp, and other.co.jp is someone else.
        .txt("_dmarc.example.co.jp", &["v=DMARC1; p=quarantine; sp=none"])
        .txt("example.co.jp", &[ALLOW_CLIENT])
        .txt("other.co.jp", &[ALLOW_CLIENT])
        // Records that cannot be used.
        .txt("_dmarc.badp.example", &["v=DMARC1; p=bogus"])
        .txt("badp.example", &[ALLOW_CLIENT])
        .txt("_dmarc.twice.example", &["v=DMARC1; p=none"])
        .txt("_dmarc.twice.example", &["v=DMARC1; p=reject"])
        .txt("twice.example", &[ALLOW_CLIENT])
}

fn message(from: &str) -> String {
    format!(
        "From: {from}\r\nTo: box@localhost\r\nSubject: Alignment\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <m@dmarc.test>\r\n\r\nHello.\r\n"
    )
}

async fn report(dns: &TestDns, mail_from: &str, raw: &[u8]) -> Report {
    let envelope = Envelope {
        client_ip: CLIENT.parse().unwrap(),
        client_port: 25,
        helo: "mail.sender.example".into(),
        mail_from: mail_from.into(),
        rcpt_to: vec!["box@localhost".into()],
        received_at: 0,
        tls: None,
    };
    let subject = Subject {
        id: "box",
        address: "box@localhost",
    };
    pipeline(dns).report(subject, &envelope, raw).await
}

/// DMARC for a message from `from`, sent with `mail_from`, signed for
/// `dkim_domain` when given.
async fn dmarc(dns: &TestDns, from: &str, mail_from: &str, dkim_domain: Option<&str>) -> Report {
    let text = message(from);
    let raw = match dkim_domain {
        Some(d) => rsa_signed(&text, d, "rsa"),
        None => text.into_bytes(),
    };
    report(dns, mail_from, &raw).await
}

fn rules(report: &Report) -> Vec<&str> {
    report.deductions.iter().map(|d| d.rule.as_str()).collect()
}

fn aligned(dmarc: &DmarcFinding) -> (bool, bool) {
    (dmarc.spf_aligned, dmarc.dkim_aligned)
}

#[tokio::test]
async fn relaxed_alignment_accepts_subdomains_for_spf_and_dkim() {
    let dns = TestDns::start(zone());
    let spf_only = dmarc(&dns, "a@relaxed.example", "b@bounce.relaxed.example", None).await;
    assert_eq!(spf_only.checks.spf.result, Verdict::Pass);
    assert_eq!(aligned(&spf_only.checks.dmarc), (true, false));
    assert_eq!(spf_only.checks.dmarc.result, Verdict::Pass);

    let dkim_only = dmarc(
        &dns,
        "a@relaxed.example",
        "b@nospf.example",
        Some("mail.relaxed.example"),
    )
    .await;
    assert_eq!(dkim_only.checks.dkim[0].result, Verdict::Pass);
    assert_eq!(aligned(&dkim_only.checks.dmarc), (false, true));
    assert_eq!(dkim_only.checks.dmarc.result, Verdict::Pass);
}

#[tokio::test]
async fn strict_alignment_wants_the_exact_domain() {
    let dns = TestDns::start(zone());
    // SPF and DKIM both pass, for subdomains: not aligned under aspf=s/adkim=s.
    let sub = dmarc(
        &dns,
        "a@strict.example",
        "b@bounce.strict.example",
        Some("mail.strict.example"),
    )
    .await;
    assert_eq!(sub.checks.spf.result, Verdict::Pass);
    assert_eq!(sub.checks.dkim[0].result, Verdict::Pass);
    let dmarc_finding = &sub.checks.dmarc;
    assert_eq!(aligned(dmarc_finding), (false, false), "{dmarc_finding:?}");
    assert_eq!(dmarc_finding.result, Verdict::Fail);
    let record = dmarc_finding.record.as_ref().unwrap();
    assert_eq!(
        (record.aspf.as_str(), record.adkim.as_str()),
        ("strict", "strict")
    );
    assert!(rules(&sub).contains(&"DMARC_FAIL"), "{:?}", rules(&sub));

    // The exact domain aligns.
    let exact = dmarc(
        &dns,
        "a@strict.example",
        "b@strict.example",
        Some("strict.example"),
    )
    .await;
    assert_eq!(aligned(&exact.checks.dmarc), (true, true));
    assert_eq!(exact.checks.dmarc.result, Verdict::Pass);
}

#[tokio::test]
async fn subdomain_uses_the_organisational_policy() {
    let dns = TestDns::start(zone());
    // No sp=: p= applies to the subdomain too.
    let sub = dmarc(
        &dns,
        "a@news.relaxed.example",
        "b@bounce.relaxed.example",
        None,
    )
    .await;
    let finding = &sub.checks.dmarc;
    assert_eq!(finding.from_domain, "news.relaxed.example");
    assert_eq!(finding.record_domain.as_deref(), Some("relaxed.example"));
    assert_eq!(finding.policy.as_deref(), Some("reject"));
    // Relaxed: bounce.relaxed.example and news.relaxed.example share the
    // organisational domain.
    assert!(finding.spf_aligned, "{finding:?}");
    assert_eq!(finding.result, Verdict::Pass);
}

#[tokio::test]
async fn two_label_public_suffix() {
    let dns = TestDns::start(zone());
    // news.example.co.jp: the record of example.co.jp, with its sp=.
    let sub = dmarc(&dns, "a@news.example.co.jp", "b@example.co.jp", None).await;
    let finding = &sub.checks.dmarc;
    assert_eq!(finding.record_domain.as_deref(), Some("example.co.jp"));
    assert_eq!(
        finding.policy.as_deref(),
        Some("none"),
        "sp=none for a subdomain"
    );
    assert!(
        finding.spf_aligned,
        "same organisational domain: {finding:?}"
    );
    assert_eq!(finding.result, Verdict::Pass);

    // The organisational domain itself gets p=.
    let org = dmarc(&dns, "a@example.co.jp", "b@example.co.jp", None).await;
    assert_eq!(org.checks.dmarc.policy.as_deref(), Some("quarantine"));

    // other.co.jp shares only the public suffix: SPF passes, but for
    // someone else's domain, so it does not align.
    let other = dmarc(&dns, "a@example.co.jp", "b@other.co.jp", None).await;
    assert_eq!(other.checks.spf.result, Verdict::Pass);
    assert!(!other.checks.dmarc.spf_aligned, "{:?}", other.checks.dmarc);
    assert_eq!(other.checks.dmarc.result, Verdict::Fail);
}

#[tokio::test]
async fn unusable_records_are_permerror() {
    let dns = TestDns::start(zone());
    let bad = dmarc(&dns, "a@badp.example", "b@badp.example", None).await;
    assert_eq!(
        bad.checks.dmarc.result,
        Verdict::Permerror,
        "{:?}",
        bad.checks.dmarc
    );
    assert_eq!(bad.checks.dmarc.setup.as_str(), "misconfigured");
    assert_eq!(bad.checks.dmarc.records, ["v=DMARC1; p=bogus"]);
    assert!(
        rules(&bad).contains(&"DMARC_PERMERROR"),
        "{:?}",
        rules(&bad)
    );

    let twice = dmarc(&dns, "a@twice.example", "b@twice.example", None).await;
    assert_eq!(twice.checks.dmarc.result, Verdict::Permerror);
    assert_eq!(twice.checks.dmarc.records.len(), 2);
    assert!(rules(&twice).contains(&"DMARC_PERMERROR"));
}
