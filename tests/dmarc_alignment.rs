//! DMARC (RFC 7489) as the report shows it, one behaviour a test: relaxed
//! and strict alignment for SPF and DKIM, the policy found at the
//! organisational domain (also under a two-label public suffix), `sp=` or
//! `p=` for subdomains, and a record that cannot be used (invalid `p=`,
//! two records) as permerror. Real signatures, real DNS on loopback.

mod support;

use mailscore::checks::Verdict;
use mailscore::checks::dmarc::DmarcFinding;
use mailscore::report::Report;
use mailscore::web::render_report_page;
use support::dkim::{rsa_key_record, rsa_signed, split_255};
use support::dns::{TestDns, Zone};
use support::pipeline::envelope;

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
        // A record only at the subdomain, a signature for its parent: the
        // Public Suffix List (RFC 7489) and the tree walk (RFC 9989) differ.
        .txt("_dmarc.news.brand.example", &["v=DMARC1; p=reject"])
        .txt("rsa._domainkey.brand.example", &key)
        // Under co.uk, with a record published at co.uk itself without
        // psd=y: the tree walk takes co.uk for the organisational domain,
        // the Public Suffix List never does.
        .txt("_dmarc.example.co.uk", &["v=DMARC1; p=reject"])
        .txt("_dmarc.co.uk", &["v=DMARC1; p=none"])
        .txt("bounce.example.co.uk", &[ALLOW_CLIENT])
        .txt("other.co.uk", &[ALLOW_CLIENT])
        // DNS that fails: at the From domain's own _dmarc, and at a name
        // above the organisational domain that only the tree walk asks.
        .servfail("_dmarc.dnsfail.example")
        .txt("dnsfail.example", &[ALLOW_CLIENT])
        .txt("_dmarc.sender.test", &["v=DMARC1; p=quarantine"])
        .txt("sender.test", &[ALLOW_CLIENT])
        .servfail("_dmarc.test")
}

fn message(from: &str) -> String {
    format!(
        "From: {from}\r\nTo: box@localhost\r\nSubject: Alignment\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <m@dmarc.test>\r\n\r\nHello.\r\n"
    )
}

async fn report(dns: &TestDns, mail_from: &str, raw: &[u8]) -> Report {
    let envelope = envelope(CLIENT, "mail.sender.example", mail_from);
    support::pipeline::report(dns, &envelope, raw).await
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

#[tokio::test]
async fn parent_signature_aligns_by_the_public_suffix_list() {
    let dns = TestDns::start(zone());
    // From news.brand.example, record only at _dmarc.news.brand.example,
    // signed d=brand.example, no SPF: one organisational domain by the
    // PSL, so receivers today see an aligned DKIM pass.
    let sent = dmarc(
        &dns,
        "a@news.brand.example",
        "b@nospf.example",
        Some("brand.example"),
    )
    .await;
    assert_eq!(sent.checks.dkim[0].result, Verdict::Pass);
    let finding = &sent.checks.dmarc;
    assert_eq!(finding.result, Verdict::Pass, "{finding:?}");
    assert_eq!(aligned(finding), (false, true));
    assert_eq!(finding.record_domain.as_deref(), Some("news.brand.example"));
    assert_eq!(finding.org_domain.as_deref(), Some("brand.example"));
    assert_eq!(finding.policy.as_deref(), Some("reject"));
    assert!(!rules(&sent).iter().any(|r| r.starts_with("DMARC_FAIL")));

    // The tree walk stops at news.brand.example, which becomes the
    // organisational domain: brand.example is then not aligned.
    let bis = finding.dmarcbis.as_ref().expect("the tree walk differs");
    assert_eq!(bis.result, Verdict::Fail);
    assert_eq!((bis.spf_aligned, bis.dkim_aligned), (false, false));
    assert_eq!(bis.record_domain.as_deref(), Some("news.brand.example"));

    // The page says both, in both languages.
    let en = render_report_page(&sent, "en");
    assert!(
        en.contains("DMARCbis (RFC 9989, DNS tree walk) would say fail"),
        "{en}"
    );
    let ja = render_report_page(&sent, "ja");
    assert!(ja.contains("DMARCbis（RFC 9989、DNS ツリーウォーク）では fail"));
}

#[tokio::test]
async fn policy_between_the_from_and_organisational_domain_is_not_discovered() {
    let dns = TestDns::start(zone());
    // team.news.brand.example: RFC 7489 asks only the From domain and
    // brand.example, neither has a record; the tree walk finds
    // news.brand.example's on the way up.
    let sent = dmarc(
        &dns,
        "a@team.news.brand.example",
        "b@nospf.example",
        Some("brand.example"),
    )
    .await;
    let finding = &sent.checks.dmarc;
    assert_eq!(finding.result, Verdict::None, "{finding:?}");
    assert_eq!(finding.record_domain, None);
    assert!(rules(&sent).contains(&"DMARC_NONE"), "{:?}", rules(&sent));
    let bis = finding.dmarcbis.as_ref().expect("the tree walk differs");
    assert_eq!(bis.result, Verdict::Fail);
    assert_eq!(bis.record_domain.as_deref(), Some("news.brand.example"));
}

#[tokio::test]
async fn a_record_at_a_public_suffix_does_not_make_neighbours_aligned() {
    let dns = TestDns::start(zone());
    // SPF passes for other.co.uk, someone else's domain under co.uk: not
    // aligned with news.example.co.uk by the PSL, and example.co.uk's
    // p=reject (as sp) applies. The tree walk, seeing _dmarc.co.uk without
    // psd=y, takes co.uk for both organisational domains and passes.
    let other = dmarc(&dns, "a@news.example.co.uk", "b@other.co.uk", None).await;
    assert_eq!(other.checks.spf.result, Verdict::Pass);
    let finding = &other.checks.dmarc;
    assert_eq!(finding.result, Verdict::Fail, "{finding:?}");
    assert!(!finding.spf_aligned);
    assert_eq!(finding.org_domain.as_deref(), Some("example.co.uk"));
    assert_eq!(finding.record_domain.as_deref(), Some("example.co.uk"));
    assert_eq!(finding.policy.as_deref(), Some("reject"));
    assert!(rules(&other).contains(&"DMARC_FAIL_ENFORCED"));
    let bis = finding.dmarcbis.as_ref().expect("the tree walk differs");
    assert_eq!(bis.result, Verdict::Pass);
    assert!(bis.spf_aligned);
    assert_eq!(bis.record_domain.as_deref(), Some("co.uk"));

    // The owner's own bounce domain aligns either way; the verdicts agree,
    // but the walk would apply co.uk's p=none, so the second one is shown.
    let own = dmarc(&dns, "a@news.example.co.uk", "b@bounce.example.co.uk", None).await;
    let finding = &own.checks.dmarc;
    assert_eq!(finding.result, Verdict::Pass, "{finding:?}");
    assert!(finding.spf_aligned);
    let bis = finding.dmarcbis.as_ref().expect("another policy record");
    assert_eq!(bis.result, Verdict::Pass);
    assert_eq!(bis.record_domain.as_deref(), Some("co.uk"));
}

#[tokio::test]
async fn agreeing_verdicts_show_no_second_opinion() {
    let dns = TestDns::start(zone());
    let sent = dmarc(&dns, "a@relaxed.example", "b@bounce.relaxed.example", None).await;
    assert_eq!(sent.checks.dmarc.result, Verdict::Pass);
    assert_eq!(sent.checks.dmarc.dmarcbis, None);
    let en = render_report_page(&sent, "en");
    assert!(!en.contains("DMARCbis"));
}

#[tokio::test]
async fn dns_failure_where_the_policy_is_looked_up_is_temperror() {
    let dns = TestDns::start(zone());
    let failed = dmarc(&dns, "a@dnsfail.example", "b@dnsfail.example", None).await;
    let finding = &failed.checks.dmarc;
    assert_eq!(finding.result, Verdict::Temperror, "{finding:?}");
    assert_eq!(finding.setup.as_str(), "unknown");
    assert!(rules(&failed).contains(&"DMARC_TEMPERROR"));

    // _dmarc.test fails, but RFC 7489 never asks it for news.sender.test
    // (organisational domain sender.test): the verdict stands.
    let above = dmarc(&dns, "a@news.sender.test", "b@sender.test", None).await;
    let finding = &above.checks.dmarc;
    assert_eq!(finding.result, Verdict::Pass, "{finding:?}");
    assert_eq!(finding.record_domain.as_deref(), Some("sender.test"));
    assert_eq!(finding.policy.as_deref(), Some("quarantine"));
}
