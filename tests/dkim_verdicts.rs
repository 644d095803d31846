//! DKIM as the report shows it: one finding per signature, with real
//! signatures (RSA and Ed25519) checked against keys served over DNS.

mod support;

use mailscore::checks::Verdict;
use mailscore::report::Report;
use support::dkim::{
    ed25519_key, rsa_key_record, rsa_signed, rsa1024_key_record, signed, split_255,
};
use support::dns::{TestDns, Zone};
use support::pipeline::envelope;

const MESSAGE: &str = "From: Alice <alice@good.example>\r\nTo: box@localhost\r\nSubject: Invoice\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <m1@good.example>\r\n\r\nPlease find the invoice attached.\r\n";

fn zone(ed25519_record: &str) -> Zone {
    let rsa = rsa_key_record();
    Zone::new()
        .txt("rsa._domainkey.good.example", &split_255(&rsa))
        .txt("ed._domainkey.good.example", &[ed25519_record])
        .txt("rsa._domainkey.esp.example", &split_255(&rsa))
        .txt(
            "_dmarc.good.example",
            &["v=DMARC1; p=quarantine; rua=mailto:dmarc@good.example"],
        )
        .timeout("slow._domainkey.good.example")
        .servfail("broken._domainkey.good.example")
        // A key record that is not the signing key's (a rotated selector).
        .txt(
            "rotated._domainkey.good.example",
            &split_255(&rsa1024_key_record()),
        )
}

async fn report(dns: &TestDns, raw: &[u8]) -> Report {
    // The envelope sender's domain publishes no SPF, so only DKIM can
    // satisfy DMARC here.
    let envelope = envelope("192.0.2.25", "mail.nospf.example", "bounce@nospf.example");
    support::pipeline::report(dns, &envelope, raw).await
}

fn rules(report: &Report) -> Vec<&str> {
    report.deductions.iter().map(|d| d.rule.as_str()).collect()
}

#[tokio::test]
async fn rsa_and_ed25519_signatures_both_verify() {
    let (ed_key, ed_record) = ed25519_key();
    let dns = TestDns::start(zone(&ed_record));
    let once = rsa_signed(MESSAGE, "good.example", "rsa");
    let twice = signed(
        ed_key,
        std::str::from_utf8(&once).unwrap(),
        "good.example",
        "ed",
    );
    let report = report(&dns, &twice).await;
    let dkim = &report.checks.dkim;
    assert_eq!(dkim.len(), 2, "{dkim:?}");
    let algorithms: Vec<&str> = dkim.iter().map(|d| d.algorithm.as_str()).collect();
    assert!(algorithms.contains(&"ed25519-sha256") && algorithms.contains(&"rsa-sha256"));
    assert!(dkim.iter().all(|d| d.result == Verdict::Pass), "{dkim:?}");
    assert!(dkim.iter().any(|d| d.records[0].contains("k=ed25519")));
    assert_eq!(report.checks.dmarc.result, Verdict::Pass);
    assert!(report.checks.dmarc.dkim_aligned);
    assert!(!report.checks.dmarc.spf_aligned);
    assert!(
        !rules(&report)
            .iter()
            .any(|r| r.starts_with("DKIM") || r.starts_with("DMARC"))
    );
}

#[tokio::test]
async fn altered_body_fails_dkim_and_dmarc() {
    let dns = TestDns::start(zone("v=DKIM1; p="));
    let signed = rsa_signed(MESSAGE, "good.example", "rsa");
    let tampered = String::from_utf8(signed)
        .unwrap()
        .replace("the invoice", "the new bank details");
    let report = report(&dns, tampered.as_bytes()).await;
    assert_eq!(
        report.checks.dkim[0].result,
        Verdict::Fail,
        "{:?}",
        report.checks.dkim
    );
    assert!(
        report.checks.dkim[0]
            .error
            .as_deref()
            .unwrap()
            .contains("body hash")
    );
    assert_eq!(report.checks.dmarc.result, Verdict::Fail);
    let rules = rules(&report);
    for rule in ["DKIM_FAIL", "DMARC_FAIL", "DMARC_FAIL_ENFORCED"] {
        assert!(rules.contains(&rule), "{rule} not in {rules:?}");
    }
}

#[tokio::test]
async fn signature_without_a_published_key_is_misconfigured() {
    let dns = TestDns::start(zone("v=DKIM1; p="));
    let raw = rsa_signed(MESSAGE, "good.example", "nokey");
    let report = report(&dns, &raw).await;
    let sig = &report.checks.dkim[0];
    assert_eq!(sig.result, Verdict::Permerror, "{sig:?}");
    assert_eq!(sig.setup.as_str(), "misconfigured");
    assert_eq!(sig.selector, "nokey");
    assert!(rules(&report).contains(&"DKIM_PERMERROR"));
}

#[tokio::test]
async fn third_party_signature_passes_but_is_not_aligned() {
    let dns = TestDns::start(zone("v=DKIM1; p="));
    let raw = rsa_signed(MESSAGE, "esp.example", "rsa");
    let report = report(&dns, &raw).await;
    assert_eq!(report.checks.dkim[0].result, Verdict::Pass);
    assert_eq!(report.checks.dkim[0].domain, "esp.example");
    assert!(!report.checks.dmarc.dkim_aligned);
    assert_eq!(report.checks.dmarc.result, Verdict::Fail);
}

#[tokio::test]
async fn key_lookup_timeout_is_temperror() {
    let dns = TestDns::start(zone("v=DKIM1; p="));
    let raw = rsa_signed(MESSAGE, "good.example", "slow");
    let report = report(&dns, &raw).await;
    assert_eq!(
        report.checks.dkim[0].result,
        Verdict::Temperror,
        "{:?}",
        report.checks.dkim
    );
    assert_eq!(report.checks.dkim[0].setup.as_str(), "unknown");
    assert!(rules(&report).contains(&"DKIM_TEMPERROR"));
    assert!(!rules(&report).contains(&"DKIM_FAIL"));
}

#[tokio::test]
async fn key_lookup_servfail_is_temperror_not_a_missing_key() {
    let dns = TestDns::start(zone("v=DKIM1; p="));
    let raw = rsa_signed(MESSAGE, "good.example", "broken");
    let report = report(&dns, &raw).await;
    let sig = &report.checks.dkim[0];
    // SERVFAIL says nothing about the key: a later try may find it
    // (RFC 6376 §6.1.2 TEMPFAIL), unlike NXDOMAIN (no key: permerror).
    assert_eq!(sig.result, Verdict::Temperror, "{sig:?}");
    assert!(rules(&report).contains(&"DKIM_TEMPERROR"));
    assert!(!rules(&report).contains(&"DKIM_PERMERROR"));
}

#[tokio::test]
async fn signature_under_another_published_key_fails() {
    let dns = TestDns::start(zone("v=DKIM1; p="));
    let raw = rsa_signed(MESSAGE, "good.example", "rotated");
    let report = report(&dns, &raw).await;
    let sig = &report.checks.dkim[0];
    // Body hash right, signature wrong for the published key: a failed
    // verification (RFC 6376 §6.1.3), not a setup problem.
    assert_eq!(sig.result, Verdict::Fail, "{sig:?}");
    assert_eq!(sig.key.as_ref().map(|k| k.bits), Some(1024), "{sig:?}");
    assert!(rules(&report).contains(&"DKIM_FAIL"));
    assert_eq!(report.checks.dmarc.result, Verdict::Fail);
}

#[tokio::test]
async fn unsigned_message_has_no_dkim_findings() {
    let dns = TestDns::start(zone("v=DKIM1; p="));
    let report = report(&dns, MESSAGE.as_bytes()).await;
    assert!(report.checks.dkim.is_empty());
    assert!(rules(&report).contains(&"DKIM_NONE"));
}

#[tokio::test]
async fn unparseable_signature_header_is_misconfigured() {
    let dns = TestDns::start(zone("v=DKIM1; p="));
    let raw =
        format!("DKIM-Signature: v=1; a=rsa-sha256; d=good.example; s=rsa; h=From\r\n{MESSAGE}");
    let report = report(&dns, raw.as_bytes()).await;
    assert_eq!(report.checks.dkim.len(), 1, "{:?}", report.checks.dkim);
    assert_eq!(report.checks.dkim[0].result, Verdict::Permerror);
    assert!(rules(&report).contains(&"DKIM_PERMERROR"));
}
