//! DKIM against an independent signer: messages signed by dkimpy (the
//! Python implementation, `python3 -m pip install dkimpy`, or Debian's
//! python3-dkim) with the committed RSA test key, then verified by the
//! product over real DNS. A pass shows we agree with another implementation
//! on canonicalisation and hashing; the tampered copies show a changed body
//! and a changed signed header are `fail` (RFC 6376 §6.1.3, RFC 8601
//! §2.7.1), not neutral.
//!
//! Without dkimpy the tests say so and pass, except under `CI=true`, where
//! .ci/run installs it and its absence is a failure.

mod support;

use mailscore::checks::Verdict;
use mailscore::report::Report;
use std::io::Write;
use std::process::{Command, Stdio};
use support::dkim::{rsa_key_record, split_255};
use support::dns::{TestDns, Zone};
use support::pipeline::envelope;

const MESSAGE: &str = "From: Alice <alice@good.example>\r\nTo: box@localhost\r\nSubject: Invoice\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <m1@good.example>\r\n\r\nPlease find the invoice attached.\r\n";

const KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dkim-rsa.pem");

/// Signs stdin with dkim.sign() (rsa-sha256, relaxed/simple, dkimpy's
/// defaults) over the headers named in argv[4..], and writes the signature
/// header followed by the message.
const SIGNER: &str = r#"
import sys, dkim
message = sys.stdin.buffer.read()
key = open(sys.argv[1], "rb").read()
headers = [h.encode() for h in sys.argv[4:]]
signature = dkim.sign(message, sys.argv[3].encode(), sys.argv[2].encode(), key,
                      include_headers=headers)
sys.stdout.buffer.write(signature + message)
"#;

/// Whether dkimpy can be used; under CI it must.
fn dkimpy_available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import dkim"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "dkimpy is not installed (python3 -c 'import dkim' fails); .ci/run installs it"
        );
        eprintln!("skipped: dkimpy is not installed (python3 -m pip install dkimpy)");
    }
    found
}

/// `message` signed by dkimpy for `domain`/`selector`.
fn dkimpy_signed(message: &str, domain: &str, selector: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", SIGNER, KEY, domain, selector])
        .args(["From", "To", "Subject", "Date", "Message-ID"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dkimpy could not sign");
    let signed = String::from_utf8(out.stdout).unwrap();
    assert!(
        signed.starts_with("DKIM-Signature: v=1; a=rsa-sha256;"),
        "{signed}"
    );
    signed
}

fn zone() -> Zone {
    Zone::new()
        .txt("sel._domainkey.good.example", &split_255(&rsa_key_record()))
        .txt("_dmarc.good.example", &["v=DMARC1; p=reject"])
}

async fn report(dns: &TestDns, raw: &str) -> Report {
    // No SPF for the envelope domain: only DKIM can satisfy DMARC.
    let envelope = envelope("192.0.2.25", "mail.nospf.example", "bounce@nospf.example");
    support::pipeline::report(dns, &envelope, raw.as_bytes()).await
}

fn rules(report: &Report) -> Vec<&str> {
    report.deductions.iter().map(|d| d.rule.as_str()).collect()
}

#[tokio::test]
async fn dkimpy_signature_verifies_and_aligns() {
    if !dkimpy_available() {
        return;
    }
    let dns = TestDns::start(zone());
    let signed = dkimpy_signed(MESSAGE, "good.example", "sel");
    let report = report(&dns, &signed).await;
    let sig = &report.checks.dkim[0];
    assert_eq!(sig.result, Verdict::Pass, "{sig:?}");
    assert_eq!(
        (sig.domain.as_str(), sig.selector.as_str()),
        ("good.example", "sel")
    );
    assert!(sig.from_signed);
    assert_eq!(report.checks.dmarc.result, Verdict::Pass);
    assert!(report.checks.dmarc.dkim_aligned);

    // Relaxed header canonicalisation (RFC 6376 §3.4.2): extra spaces in a
    // signed header and an added unsigned header still verify.
    let respaced = signed
        .replace("Subject: Invoice", "Subject:   Invoice  ")
        .replace("\r\n\r\n", "\r\nX-Mailer: relay\r\n\r\n");
    let report = self::report(&dns, &respaced).await;
    assert_eq!(
        report.checks.dkim[0].result,
        Verdict::Pass,
        "{:?}",
        report.checks.dkim
    );
}

#[tokio::test]
async fn dkimpy_signed_body_altered_fails() {
    if !dkimpy_available() {
        return;
    }
    let dns = TestDns::start(zone());
    let signed = dkimpy_signed(MESSAGE, "good.example", "sel");
    let tampered = signed.replace("the invoice", "the new bank details");
    assert_ne!(tampered, signed);
    let report = report(&dns, &tampered).await;
    let sig = &report.checks.dkim[0];
    assert_eq!(sig.result, Verdict::Fail, "{sig:?}");
    assert!(
        sig.error.as_deref().unwrap().contains("body hash"),
        "{sig:?}"
    );
    assert_eq!(report.checks.dmarc.result, Verdict::Fail);
    for rule in ["DKIM_FAIL", "DMARC_FAIL"] {
        assert!(
            rules(&report).contains(&rule),
            "{rule} not in {:?}",
            rules(&report)
        );
    }
}

#[tokio::test]
async fn dkimpy_signed_header_altered_fails() {
    if !dkimpy_available() {
        return;
    }
    let dns = TestDns::start(zone());
    let signed = dkimpy_signed(MESSAGE, "good.example", "sel");
    let tampered = signed.replace("Subject: Invoice", "Subject: Urgent invoice");
    assert_ne!(tampered, signed);
    let report = report(&dns, &tampered).await;
    let sig = &report.checks.dkim[0];
    // The body still hashes right; the header hash does not verify.
    assert_eq!(sig.result, Verdict::Fail, "{sig:?}");
    assert!(
        !sig.error.as_deref().unwrap().contains("body hash"),
        "{sig:?}"
    );
    assert_eq!(report.checks.dmarc.result, Verdict::Fail);
    assert!(!report.checks.dmarc.dkim_aligned);
    assert!(
        rules(&report).contains(&"DKIM_FAIL"),
        "{:?}",
        rules(&report)
    );
}
