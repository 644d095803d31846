//! The detail behind each authentication verdict, end to end: real SMTP into
//! `mailscore serve`, real DKIM signatures, test zones on a loopback DNS
//! server. Each case is one sender setup a survey would grade, and the rule
//! that should (or should not) cost points for it.

mod support;

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use support::dkim::{
    rsa_key_record, rsa_signed, rsa_signed_with_length, rsa1024_key, rsa1024_key_record, signed,
    split_255,
};
use support::dns::{TestDns, Zone};
use support::server::{Server, send_mail};
use support::zones::rule_ids;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn zone() -> Zone {
    let rsa = rsa_key_record();
    let rsa1024 = rsa1024_key_record();
    Zone::new()
        .a("mx.sender.example", Ipv4Addr::LOCALHOST)
        .a("elsewhere.sender.example", Ipv4Addr::new(192, 0, 2, 99))
        // The careful sender: SPF -all, 2048-bit aligned DKIM, p=reject + rua.
        .txt("careful.example", &["v=spf1 ip4:127.0.0.1 -all"])
        .mx("careful.example", 10, "mx.sender.example")
        .txt("k2048._domainkey.careful.example", &split_255(&rsa))
        .txt(
            "_dmarc.careful.example",
            &["v=DMARC1; p=reject; rua=mailto:d@careful.example"],
        )
        // Anyone may send: +all.
        .txt("open.example", &["v=spf1 +all"])
        .txt(
            "_dmarc.open.example",
            &["v=DMARC1; p=reject; rua=mailto:d@open.example"],
        )
        // Lax: ?all with ptr, a 1024-bit key, p=quarantine at pct=50, no rua.
        .txt("lax.example", &["v=spf1 ptr ip4:127.0.0.1 ?all"])
        .txt("k1024._domainkey.lax.example", &split_255(&rsa1024))
        .txt("_dmarc.lax.example", &["v=DMARC1; p=quarantine; pct=50"])
        // A revoked key (empty p=, RFC 6376 §3.6.1).
        .txt(
            "revoked._domainkey.careful.example",
            &["v=DKIM1; k=rsa; p="],
        )
        // A provider that signs with its own domain only.
        .txt("k2048._domainkey.esp.example", &split_255(&rsa))
        // Two DMARC records.
        .txt("_dmarc.twice.example", &["v=DMARC1; p=none"])
        .txt("_dmarc.twice.example", &["v=DMARC1; p=reject"])
        // A subdomain covered by its parent's record.
        .txt(
            "_dmarc.parent.example",
            &["v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@parent.example"],
        )
}

fn message(from: &str) -> String {
    format!(
        "From: {from}\r\nTo: t@localhost\r\nSubject: detail\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@sender.example>\r\n\r\nHello.\r\n",
        mailscore::test_id::generate()
    )
}

fn deliver(server: &Server, id: &str, helo: &str, mail_from: &str, raw: &[u8]) -> Value {
    send_mail(
        server.smtp,
        CLIENT,
        helo,
        mail_from,
        &[&format!("{id}@localhost")],
        raw,
    );
    server.wait_for_report(id)
}

fn has(report: &Value, rule: &str) -> bool {
    rule_ids(report).iter().any(|r| r == rule)
}

#[test]
fn sender_setups_are_graded_in_detail() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);

    // A careful sender scores 10, with the detail showing why.
    let raw = rsa_signed(&message("news@careful.example"), "careful.example", "k2048");
    server.send_mail_tls(
        "mx.sender.example",
        "bounce@careful.example",
        &["careful@localhost"],
        &raw,
    );
    let careful = server.wait_for_report("careful");
    assert_eq!(careful["score"], 10.0, "{careful:#}");
    let sig = &careful["checks"]["dkim"][0];
    assert_eq!(sig["key"]["bits"], 2048);
    assert_eq!(sig["author_domain"], true);
    assert_eq!(sig["from_signed"], true);
    assert_eq!(careful["checks"]["spf"]["all"], "fail");
    assert_eq!(
        careful["checks"]["dmarc"]["record"]["rua"][0],
        "d@careful.example"
    );
    assert_eq!(careful["checks"]["helo"]["result"], "match");

    // +all: SPF passes, yet it protects nothing.
    let open = deliver(
        &server,
        "open-all",
        "mx.sender.example",
        "a@open.example",
        message("a@open.example").as_bytes(),
    );
    assert_eq!(open["checks"]["spf"]["result"], "pass");
    assert_eq!(open["checks"]["spf"]["all"], "pass");
    assert!(has(&open, "SPF_ALL_PASS"), "{:?}", rule_ids(&open));

    // ?all with ptr, a 1024-bit key, pct=50 and no reports.
    let raw = signed(
        rsa1024_key(),
        &message("a@lax.example"),
        "lax.example",
        "k1024",
    );
    let lax = deliver(&server, "lax", "mx.sender.example", "a@lax.example", &raw);
    assert_eq!(lax["checks"]["dkim"][0]["result"], "pass", "{lax:#}");
    assert_eq!(lax["checks"]["dkim"][0]["key"]["bits"], 1024);
    assert_eq!(lax["checks"]["dmarc"]["record"]["pct"], 50);
    for rule in [
        "SPF_ALL_NEUTRAL",
        "SPF_USES_PTR",
        "DKIM_KEY_SHORT",
        "DMARC_PCT_PARTIAL",
        "DMARC_NO_REPORTS",
    ] {
        assert!(has(&lax, rule), "{rule} not in {:?}", rule_ids(&lax));
    }
    assert!(!has(&lax, "DKIM_KEY_WEAK"));

    // l= lets text be appended; the signature still passes.
    let raw = rsa_signed_with_length(&message("news@careful.example"), "careful.example", "k2048");
    let partial = deliver(
        &server,
        "body-length",
        "mx.sender.example",
        "bounce@careful.example",
        &raw,
    );
    assert_eq!(partial["checks"]["dkim"][0]["body_length_limited"], true);
    assert!(has(&partial, "DKIM_BODY_LENGTH"));

    // Signed only by the provider: DKIM passes, Gmail would say "via".
    let raw = rsa_signed(&message("a@careful.example"), "esp.example", "k2048");
    let via = deliver(
        &server,
        "via",
        "mx.sender.example",
        "bounce@careful.example",
        &raw,
    );
    assert_eq!(via["checks"]["dkim"][0]["result"], "pass");
    assert_eq!(via["checks"]["dkim"][0]["author_domain"], false);
    assert!(has(&via, "DKIM_THIRD_PARTY"));
    assert!(!has(&careful, "DKIM_THIRD_PARTY"));
    assert!(
        has(&via, "TLS_PLAINTEXT"),
        "plaintext delivery costs points"
    );
    assert!(!has(&careful, "TLS_PLAINTEXT"));
}

#[test]
fn dmarc_record_problems_and_inheritance() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);

    let twice = deliver(
        &server,
        "dmarc-twice",
        "mx.sender.example",
        "a@twice.example",
        message("a@twice.example").as_bytes(),
    );
    let dmarc = &twice["checks"]["dmarc"];
    assert_eq!(dmarc["result"], "permerror", "{twice:#}");
    assert_eq!(dmarc["setup"], "misconfigured");
    assert_eq!(dmarc["records"].as_array().unwrap().len(), 2);
    assert!(has(&twice, "DMARC_PERMERROR"));

    let sub = deliver(
        &server,
        "dmarc-sub",
        "mx.sender.example",
        "a@news.parent.example",
        message("a@news.parent.example").as_bytes(),
    );
    let dmarc = &sub["checks"]["dmarc"];
    assert_eq!(dmarc["from_domain"], "news.parent.example");
    assert_eq!(dmarc["record_domain"], "parent.example", "{sub:#}");
    assert_eq!(dmarc["policy"], "quarantine", "sp= applies to a subdomain");
    assert_eq!(dmarc["record"]["p"], "reject");
    assert_eq!(dmarc["record"]["sp"], "quarantine");
}

#[test]
fn helo_names_are_checked_against_the_client() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let raw = message("a@careful.example");
    let cases = [
        ("helo-match", "mx.sender.example", "match", None),
        ("helo-literal", "[127.0.0.1]", "match", None),
        ("helo-bare", "mailserver", "invalid", Some("HELO_INVALID")),
        (
            "helo-nxdomain",
            "nowhere.sender.example",
            "unresolvable",
            Some("HELO_UNRESOLVABLE"),
        ),
        (
            "helo-elsewhere",
            "elsewhere.sender.example",
            "mismatch",
            Some("HELO_MISMATCH"),
        ),
    ];
    for (id, helo, expected, rule) in cases {
        let report = deliver(&server, id, helo, "a@careful.example", raw.as_bytes());
        assert_eq!(
            report["checks"]["helo"]["result"], expected,
            "{helo}: {report:#}"
        );
        if let Some(rule) = rule {
            assert!(has(&report, rule), "{rule} for {helo}");
        } else {
            assert!(
                !rule_ids(&report).iter().any(|r| r.starts_with("HELO")),
                "{helo}"
            );
        }
    }
}

/// rsa-sha1 signing through the `openssl` command with the 2048-bit test
/// key (mail-auth's signer only does rsa-sha256); a real signature.
struct OpensslRsaSha1;

impl mail_auth::common::crypto::SigningKey for OpensslRsaSha1 {
    type Hasher = mail_auth::common::crypto::Sha1;

    fn sign(&self, input: impl mail_auth::common::headers::Writable) -> mail_auth::Result<Vec<u8>> {
        use std::io::Write;
        let mut data = Vec::new();
        input.write(&mut data);
        let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dkim-rsa.pem");
        let mut child = std::process::Command::new("openssl")
            .args(["dgst", "-sha1", "-sign", key])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("openssl is installed");
        child.stdin.take().unwrap().write_all(&data).unwrap();
        Ok(child.wait_with_output().unwrap().stdout)
    }

    fn algorithm(&self) -> mail_auth::common::crypto::Algorithm {
        mail_auth::common::crypto::Algorithm::RsaSha1
    }
}

#[test]
fn deprecated_expired_and_revoked_signatures() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);

    let raw = signed(
        OpensslRsaSha1,
        &message("a@careful.example"),
        "careful.example",
        "k2048",
    );
    let sha1 = deliver(
        &server,
        "dkim-sha1",
        "mx.sender.example",
        "bounce@careful.example",
        &raw,
    );
    assert_eq!(
        sha1["checks"]["dkim"][0]["algorithm"], "rsa-sha1",
        "{sha1:#}"
    );
    assert!(has(&sha1, "DKIM_SHA1"), "{:?}", rule_ids(&sha1));

    let raw = rsa_signed(&message("a@careful.example"), "careful.example", "revoked");
    let revoked = deliver(
        &server,
        "dkim-revoked",
        "mx.sender.example",
        "bounce@careful.example",
        &raw,
    );
    let sig = &revoked["checks"]["dkim"][0];
    assert_ne!(sig["result"], "pass", "{revoked:#}");
    assert!(sig["error"].as_str().unwrap().contains("revoked"), "{sig}");

    // x= one second after signing, delivered two seconds later.
    use rustls_pki_types::pem::PemObject;
    let der =
        rustls_pki_types::PrivateKeyDer::from_pem_slice(include_bytes!("fixtures/dkim-rsa.pem"))
            .unwrap();
    let key =
        mail_auth::common::crypto::RsaKey::<mail_auth::common::crypto::Sha256>::from_key_der(der)
            .unwrap();
    let text = message("a@careful.example");
    let signature = mail_auth::dkim::DkimSigner::from_key(key)
        .domain("careful.example")
        .selector("k2048")
        .headers(["From", "To", "Subject"])
        .expiration(1)
        .sign(text.as_bytes())
        .unwrap();
    let mut raw = mail_auth::common::headers::HeaderWriter::to_header(&signature).into_bytes();
    raw.extend_from_slice(text.as_bytes());
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let expired = deliver(
        &server,
        "dkim-expired",
        "mx.sender.example",
        "bounce@careful.example",
        &raw,
    );
    let sig = &expired["checks"]["dkim"][0];
    assert_eq!(sig["result"], "fail", "{expired:#}");
    assert!(sig["error"].as_str().unwrap().contains("expired"));
    assert!(has(&expired, "DKIM_FAIL"));
}
