//! DNSSEC validated, not just published, against a real signed root: keys
//! and signatures made by ldns, served by knotd on loopback, its key the
//! trust anchor. Secure, insecure (delegated without DS) and bogus (one
//! byte of a signature changed) each reported as such, and a resolver path
//! that cannot validate reported as unknown, never as bogus.

mod support;

use mailscore::checks::posture::validation::{DnssecValidation, validate};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;
use support::dns::{TestDns, Zone};
use support::signed_root::SignedRoot;

const GOOD: &str = "good.example.\tIN MX 10 mail.good.example.\n\
                    mail.good.example.\tIN A 127.0.0.1\n\
                    good.example.\tIN TXT \"v=spf1 ip4:192.0.2.25 -all\"\n\
                    _dmarc.good.example.\tIN TXT \"v=DMARC1; p=reject\"\n";

#[tokio::test]
async fn secure_insecure_and_bogus_are_told_apart() {
    let Some(root) = SignedRoot::start(GOOD) else {
        return;
    };
    let dns = mailscore::dns::resolver_with_anchors(
        Some(root.addr),
        Duration::from_secs(2),
        Some(&root.anchor),
    )
    .unwrap();
    assert_eq!(
        validate(&dns, "good.example").await,
        DnssecValidation::Secure
    );
    assert_eq!(
        validate(&dns, "insecure.example").await,
        DnssecValidation::Insecure
    );
    assert!(matches!(
        validate(&dns, "bogus.example").await,
        DnssecValidation::Bogus { .. }
    ));

    // The root's built-in keys do not sign this root: nobody can tell.
    let iana = mailscore::dns::resolver_with_anchors(Some(root.addr), Duration::from_secs(2), None)
        .unwrap();
    let unknown = validate(&iana, "bogus.example").await;
    assert!(
        matches!(&unknown, DnssecValidation::Unknown { error } if error.starts_with("cannot validate")),
        "{unknown:?}"
    );

    // Nor over a DNS server that returns no DNSSEC records at all.
    let unsigned = TestDns::start(Zone::new().mx("good.example", 10, "mail.good.example"));
    let blind = mailscore::dns::resolver_with_anchors(
        Some(unsigned.addr),
        Duration::from_secs(1),
        Some(&root.anchor),
    )
    .unwrap();
    assert!(matches!(
        validate(&blind, "good.example").await,
        DnssecValidation::Unknown { .. }
    ));
}

fn check(root: &SignedRoot, from: &str, extra: &[&str]) -> Value {
    let dir = std::env::temp_dir().join(format!(
        "mailscore-dnssec-{}",
        mailscore::test_id::generate()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let eml = dir.join("m.eml");
    std::fs::write(
        &eml,
        format!("From: <news@{from}>\r\nTo: t@localhost\r\nSubject: hi\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <1@{from}>\r\n\r\nHello.\r\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .arg("check")
        .arg(&eml)
        .args([
            "--ip",
            "192.0.2.25",
            "--helo",
            "mail.good.example",
            "--mail-from",
            &format!("news@{from}"),
        ])
        .args([
            "--dns",
            &root.addr.to_string(),
            "--probe",
            "off",
            "--format",
            "json",
        ])
        .arg("--dnssec-trust-anchor")
        .arg(&root.anchor)
        .args(extra)
        .env_remove("MAILSCORE_DNSSEC_VALIDATION")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rules(report: &Value) -> Vec<String> {
    report["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn check_validates_with_the_given_trust_anchor() {
    let Some(root) = SignedRoot::start(GOOD) else {
        return;
    };
    let good = check(&root, "good.example", &[]);
    let posture = &good["checks"]["posture"];
    assert_eq!(
        posture["dnssec_validation"]["status"], "secure",
        "{posture:#}"
    );
    assert_eq!(good["checks"]["spf"]["result"], "pass");
    assert!(!rules(&good).contains(&"DNSSEC_BOGUS".to_string()));

    let bogus = check(&root, "bogus.example", &[]);
    assert_eq!(
        bogus["checks"]["posture"]["dnssec_validation"]["status"],
        "bogus"
    );
    assert!(
        rules(&bogus).contains(&"DNSSEC_BOGUS".to_string()),
        "{:?}",
        rules(&bogus)
    );

    let off = check(&root, "bogus.example", &["--dnssec-validation", "off"]);
    assert_eq!(
        off["checks"]["posture"]["dnssec_validation"]["status"],
        "not_checked"
    );
}
