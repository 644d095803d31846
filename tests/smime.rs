//! S/MIME verification against real signatures. A test CA, signer
//! certificates (trusted, expired, self-signed, EC) and the signed and
//! encrypted messages are made with the `openssl` command line in a
//! temporary directory when the tests run; nothing binary is committed.
//!
//! Each message is given the headers a mail client would add and its line
//! endings made CRLF, as it arrives over SMTP.

mod support;

use mailscore::checks::message::facts;
use mailscore::checks::smime::{
    MAX_SMIME_BYTES, SmimeError, SmimeFinding, SmimeResult, TrustStore, smime_verdict,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const BODY: &str = "Hello Bob,\nthe quarterly numbers are attached in spirit.\n\nAlice\n";
const FROM_ALICE: &str = "From: Alice <alice@example.com>\nTo: Bob <bob@example.org>\nSubject: Numbers\nDate: Tue, 1 Jul 2025 10:00:00 +0000\nMessage-ID: <smime-test@example.com>\n";
const FROM_BOB: &str =
    "From: Bob <bob@example.com>\nTo: Carol <carol@example.org>\nSubject: Not mine\n";

/// Certificates and keys, made once per test run.
struct Pki {
    dir: PathBuf,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(Pki::create)
}

impl Pki {
    fn create() -> Pki {
        remove_stale_runs();
        let dir = std::env::temp_dir().join(format!("mailscore-smime-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("cadb")).unwrap();
        std::fs::write(dir.join("cadb/index.txt"), "").unwrap();
        std::fs::write(dir.join("cadb/serial"), "1000\n").unwrap();
        std::fs::write(dir.join("ca.cnf"), CA_CONFIG).unwrap();
        std::fs::write(dir.join("body.txt"), BODY).unwrap();
        let pki = Pki { dir };
        let ec = "ec -pkeyopt ec_paramgen_curve:prime256v1";

        pki.openssl(
            "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
             -subj /O=mailscore/CN=mailscore-test-CA",
        );
        // Alice, issued by the CA, valid now.
        pki.issue(
            "alice",
            "rsa:2048",
            "/CN=Alice/emailAddress=alice@example.com",
            "-days 365",
        );
        // Alice's old certificate: valid through 2020 only.
        pki.issue(
            "old",
            "rsa:2048",
            "/CN=Alice-2020/emailAddress=alice@example.com",
            "-startdate 20200101000000Z -enddate 20210101000000Z",
        );
        // Alice with an EC key.
        pki.issue(
            "ec",
            ec,
            "/CN=Alice-EC/emailAddress=alice@example.com",
            "-days 365",
        );
        // Alice, vouching for herself.
        pki.openssl(
            "req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.pem -days 365 \
             -subj /CN=Alice-Self/emailAddress=alice@example.com \
             -addext subjectAltName=email:alice@example.com",
        );
        // Carol, self-signed with an EC key; her address only in the subject.
        pki.openssl(&format!(
            "req -x509 -newkey {ec} -nodes -keyout carol.key -out carol.pem -days 365 \
             -subj /CN=Carol/emailAddress=carol@example.com"
        ));
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Runs `openssl` in the PKI directory; `line` is split on white space.
    fn openssl(&self, line: &str) -> Vec<u8> {
        openssl_in(&self.dir, line)
    }

    /// A key and a certificate for `subject` from the test CA. `openssl ca`,
    /// because `openssl x509 -req` (3.0) cannot backdate.
    fn issue(&self, name: &str, key: &str, subject: &str, validity: &str) {
        self.openssl(&format!(
            "req -new -newkey {key} -nodes -keyout {name}.key -out {name}.csr -subj {subject}"
        ));
        self.openssl(&format!(
            "ca -batch -notext -config ca.cnf -cert ca.pem -keyfile ca.key \
             -in {name}.csr -out {name}.pem {validity}"
        ));
    }

    fn trust_with_ca(&self) -> TrustStore {
        TrustStore::system_with(&[self.path("ca.pem")]).unwrap()
    }

    fn serial(&self, name: &str) -> String {
        let out = self.openssl(&format!("x509 -in {name}.pem -noout -serial"));
        String::from_utf8(out)
            .unwrap()
            .trim()
            .trim_start_matches("serial=")
            .to_string()
    }

    /// `openssl smime -sign` of BODY by `signer` (`alice` is alice.pem with
    /// alice.key), with `extra` options.
    fn signed(&self, signer: &str, extra: &str) -> Vec<u8> {
        self.openssl(&format!(
            "smime -sign -in body.txt -signer {signer}.pem -inkey {signer}.key {extra}"
        ))
    }
}

/// A test binary cannot clean up after its last test, so each run removes
/// the PKI directories that earlier runs left more than an hour ago (a
/// younger one may belong to a run still going).
fn remove_stale_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600);
        if stale
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with("mailscore-smime-")
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn openssl_in(dir: &Path, line: &str) -> Vec<u8> {
    let args: Vec<&str> = line.split_whitespace().collect();
    let out = Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line is installed");
    assert!(
        out.status.success(),
        "openssl {line} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const CA_CONFIG: &str = "\
[ca]
default_ca = test_ca
[test_ca]
database = cadb/index.txt
serial = cadb/serial
new_certs_dir = cadb
default_md = sha256
policy = any
unique_subject = no
x509_extensions = signer
[any]
commonName = supplied
emailAddress = optional
[signer]
subjectAltName = email:copy
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
";

/// Headers, then the S/MIME entity, with every line ending CRLF.
fn message(headers: &str, entity: &[u8]) -> Vec<u8> {
    let mut raw = headers.as_bytes().to_vec();
    raw.extend_from_slice(entity);
    crlf(&raw)
}

fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// What the pipeline would do: the From address as the message facts read it.
fn verdict(raw: &[u8], trust: &TrustStore) -> SmimeFinding {
    let from = facts(raw).facts.from_address;
    smime_verdict(raw, from.as_deref(), trust)
}

fn replace_once(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let at = haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not in message", String::from_utf8_lossy(needle)));
    [&haystack[..at], with, &haystack[at + needle.len()..]].concat()
}

fn alice_signed_text() -> Vec<u8> {
    message(FROM_ALICE, &pki().signed("alice", "-text"))
}

#[test]
fn signed_by_a_trusted_ca_for_the_from_address_is_trusted() {
    let pki = pki();
    let finding = verdict(&alice_signed_text(), &pki.trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Trusted, "{finding:#?}");
    assert_eq!(finding.error, None);
    assert_eq!(finding.digest.as_deref(), Some("sha256"));
    let signer = finding.signer.expect("signer certificate");
    assert_eq!(signer.subject, "CN=Alice, emailAddress=alice@example.com");
    assert_eq!(signer.issuer, "O=mailscore, CN=mailscore-test-CA");
    assert_eq!(signer.serial, pki.serial("alice"));
    assert_eq!(signer.emails, vec!["alice@example.com".to_string()]);
    assert_eq!(
        (signer.key_algorithm.as_str(), signer.key_bits),
        ("rsa", 2048)
    );
    assert!(signer.not_after.ends_with('Z') && signer.not_after.len() == 20);
}

#[test]
fn from_address_matches_without_regard_to_case() {
    let raw = message(
        &FROM_ALICE.replace("alice@example.com", "ALICE@Example.COM"),
        &pki().signed("alice", "-text"),
    );
    assert_eq!(
        verdict(&raw, &pki().trust_with_ca()).result,
        SmimeResult::Trusted
    );
}

#[test]
fn same_signature_without_the_ca_in_the_store_is_untrusted() {
    let system_only = TrustStore::system_with(&[]).unwrap();
    let finding = verdict(&alice_signed_text(), &system_only);
    assert_eq!(finding.result, SmimeResult::Untrusted, "{finding:#?}");
    assert_eq!(
        finding.error.as_deref(),
        Some("unable to get local issuer certificate")
    );
    assert_eq!(
        finding.signer.unwrap().emails,
        vec!["alice@example.com".to_string()]
    );
}

#[test]
fn self_signed_signer_is_untrusted() {
    let raw = message(FROM_ALICE, &pki().signed("self", "-text"));
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Untrusted, "{finding:#?}");
    assert_eq!(finding.error.as_deref(), Some("self-signed certificate"));
    let signer = finding.signer.unwrap();
    assert_eq!(signer.subject, signer.issuer);
}

#[test]
fn expired_signer_certificate_is_expired_even_from_a_trusted_ca() {
    let raw = message(FROM_ALICE, &pki().signed("old", "-text"));
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Expired, "{finding:#?}");
    let signer = finding.signer.unwrap();
    assert_eq!(signer.not_before, "2020-01-01T00:00:00Z");
    assert_eq!(signer.not_after, "2021-01-01T00:00:00Z");
    assert!(finding.error.unwrap().contains("expired"));
}

#[test]
fn expired_outranks_untrusted() {
    let system_only = TrustStore::system_with(&[]).unwrap();
    let raw = message(FROM_ALICE, &pki().signed("old", "-text"));
    assert_eq!(verdict(&raw, &system_only).result, SmimeResult::Expired);
}

#[test]
fn certificate_for_another_address_is_a_mismatch() {
    let raw = message(FROM_BOB, &pki().signed("alice", "-text"));
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Mismatch, "{finding:#?}");
    assert_eq!(
        finding.error.as_deref(),
        Some("the signer certificate is for alice@example.com")
    );
}

#[test]
fn message_without_from_cannot_match_the_certificate() {
    let signed = alice_signed_text();
    let finding = smime_verdict(&signed, None, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Mismatch);
}

#[test]
fn one_changed_byte_in_the_signed_body_is_invalid() {
    let signed = alice_signed_text();
    let tampered = replace_once(&signed, b"quarterly", b"quarterlY");
    let finding = verdict(&tampered, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Invalid, "{finding:#?}");
    assert!(finding.error.is_some());
    // The certificate is still reported: who claimed to sign it.
    assert_eq!(finding.signer.unwrap().serial, pki().serial("alice"));
}

#[test]
fn changed_mime_header_of_the_signed_part_is_invalid() {
    let signed = alice_signed_text();
    let tampered = replace_once(
        &signed,
        b"Content-Type: text/plain",
        b"Content-Type: text/html ",
    );
    assert_eq!(
        verdict(&tampered, &pki().trust_with_ca()).result,
        SmimeResult::Invalid
    );
}

#[test]
fn enveloped_data_is_encrypted() {
    let encrypted = pki().openssl("smime -encrypt -aes256 -in body.txt alice.pem");
    let raw = message(FROM_ALICE, &encrypted);
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding, smime_only(SmimeResult::Encrypted));
}

#[test]
fn p7m_attachment_sent_as_octet_stream_is_recognised_as_encrypted() {
    let encrypted = pki().openssl("smime -encrypt -aes256 -in body.txt alice.pem");
    let raw = replace_once(
        &message(FROM_ALICE, &encrypted),
        b"application/x-pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"",
        b"application/octet-stream; name=\"smime.p7m\"",
    );
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding, smime_only(SmimeResult::Encrypted));
}

#[test]
fn opaque_signed_data_is_verified_from_inside_the_cms() {
    let raw = message(FROM_ALICE, &pki().signed("alice", "-nodetach"));
    assert!(String::from_utf8_lossy(&raw).contains("smime-type=signed-data"));
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Trusted, "{finding:#?}");
    assert_eq!(finding.digest.as_deref(), Some("sha256"));
}

#[test]
fn pkcs7_mime_without_smime_type_is_recognised_by_its_content() {
    let opaque = message(FROM_ALICE, &pki().signed("alice", "-nodetach"));
    let opaque = replace_once(&opaque, b" smime-type=signed-data;", b"");
    assert_eq!(
        verdict(&opaque, &pki().trust_with_ca()).result,
        SmimeResult::Trusted
    );
    let encrypted = pki().openssl("smime -encrypt -aes256 -in body.txt alice.pem");
    let encrypted = replace_once(
        &message(FROM_ALICE, &encrypted),
        b" smime-type=enveloped-data;",
        b"",
    );
    assert_eq!(
        verdict(&encrypted, &pki().trust_with_ca()).result,
        SmimeResult::Encrypted
    );
}

#[test]
fn cms_signature_with_an_ec_key_is_trusted() {
    // `openssl cms` writes application/pkcs7-signature (not x-pkcs7) and,
    // without -text, signs bare content with no MIME header.
    let raw = message(
        FROM_ALICE,
        &pki().openssl("cms -sign -in body.txt -signer ec.pem -inkey ec.key"),
    );
    assert!(String::from_utf8_lossy(&raw).contains("protocol=\"application/pkcs7-signature\""));
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Trusted, "{finding:#?}");
    let signer = finding.signer.unwrap();
    assert_eq!(
        (signer.key_algorithm.as_str(), signer.key_bits),
        ("ec", 256)
    );
}

#[test]
fn signer_identified_by_subject_key_identifier_is_found() {
    let raw = message(
        FROM_ALICE,
        &pki().openssl("cms -sign -keyid -in body.txt -signer alice.pem -inkey alice.key -text"),
    );
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Trusted, "{finding:#?}");
    assert_eq!(finding.signer.unwrap().serial, pki().serial("alice"));
}

#[test]
fn with_two_signers_the_one_for_the_from_address_is_judged() {
    // Alice (trusted CA) and Carol (self-signed, subject emailAddress only).
    let two = pki().openssl(
        "cms -sign -in body.txt -text -signer alice.pem -inkey alice.key \
         -signer carol.pem -inkey carol.key",
    );
    let from_alice = verdict(&message(FROM_ALICE, &two), &pki().trust_with_ca());
    assert_eq!(from_alice.result, SmimeResult::Trusted, "{from_alice:#?}");
    assert_eq!(
        from_alice.signer.unwrap().subject,
        "CN=Alice, emailAddress=alice@example.com"
    );

    let from_carol = FROM_ALICE.replace("Alice <alice@example.com>", "Carol <carol@example.com>");
    let finding = verdict(&message(&from_carol, &two), &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Untrusted, "{finding:#?}");
    let signer = finding.signer.unwrap();
    assert_eq!(signer.emails, vec!["carol@example.com".to_string()]);
    assert_eq!(
        (signer.key_algorithm.as_str(), signer.key_bits),
        ("ec", 256)
    );
}

#[test]
fn nine_signers_are_refused_without_checking_them() {
    let crowd = pki().path("crowd");
    std::fs::create_dir_all(&crowd).unwrap();
    let mut sign = "cms -sign -in ../body.txt -text".to_string();
    for i in 0..9 {
        openssl_in(
            &crowd,
            &format!(
                "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
                 -subj /CN=Signer-{i} -keyout {i}.key -out {i}.pem"
            ),
        );
        sign += &format!(" -signer {i}.pem -inkey {i}.key");
    }
    let signed = openssl_in(&crowd, &sign);
    let finding = verdict(&message(FROM_ALICE, &signed), &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Invalid, "{finding:#?}");
    assert!(finding.error.unwrap().starts_with("9 signers"));
}

#[test]
fn message_stored_with_bare_lf_still_verifies() {
    let lf_only: Vec<u8> = alice_signed_text()
        .into_iter()
        .filter(|&b| b != b'\r')
        .collect();
    let finding = verdict(&lf_only, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Trusted, "{finding:#?}");
}

#[test]
fn signed_message_inside_multipart_mixed_is_verified() {
    // A mailing list that appends a footer wraps the signed entity.
    let signed = pki().signed("alice", "-text");
    let mut entity =
        b"Content-Type: multipart/mixed; boundary=\"list-footer\"\n\n--list-footer\n".to_vec();
    entity.extend_from_slice(&signed);
    entity.extend_from_slice(
        b"\n--list-footer\nContent-Type: text/plain\n\nUnsubscribe: ...\n--list-footer--\n",
    );
    let raw = message(FROM_ALICE, &entity);
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Trusted, "{finding:#?}");
}

#[test]
fn inside_multipart_mixed_a_p7m_octet_stream_is_an_attachment_not_encryption() {
    let encrypted = pki().openssl("smime -encrypt -aes256 -in body.txt alice.pem");
    let wrapped = |entity: &[u8]| {
        let mut raw = b"Content-Type: multipart/mixed; boundary=m\n\n--m\n\
                        Content-Type: text/plain\n\nSee attached.\n--m\n"
            .to_vec();
        raw.extend_from_slice(entity);
        raw.extend_from_slice(b"\n--m--\n");
        message(FROM_ALICE, &raw)
    };
    let trust = pki().trust_with_ca();
    assert_eq!(
        verdict(&wrapped(&encrypted), &trust).result,
        SmimeResult::Encrypted
    );
    let as_file = replace_once(
        &encrypted,
        b"application/x-pkcs7-mime; smime-type=enveloped-data;",
        b"application/octet-stream;",
    );
    assert_eq!(verdict(&wrapped(&as_file), &trust), SmimeFinding::none());
}

#[test]
fn plain_message_has_no_smime() {
    let raw = message(FROM_ALICE, b"Content-Type: text/plain\n\nJust text.\n");
    assert_eq!(verdict(&raw, &pki().trust_with_ca()), SmimeFinding::none());
    assert_eq!(
        smime_verdict(b"", None, &pki().trust_with_ca()),
        SmimeFinding::none()
    );
}

#[test]
fn pgp_multipart_signed_is_not_smime() {
    let raw = message(
        FROM_ALICE,
        b"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/pgp-signature\n\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n--b--\n",
    );
    assert_eq!(verdict(&raw, &pki().trust_with_ca()), SmimeFinding::none());
}

/// Alice's signed message, and where its signature's base64 lines are.
fn signature_span() -> (String, std::ops::Range<usize>) {
    let raw = String::from_utf8(alice_signed_text()).unwrap();
    let marker = "filename=\"smime.p7s\"\r\n\r\n";
    let start = raw.find(marker).unwrap() + marker.len();
    let end = start + raw[start..].find("\r\n\r\n------").unwrap();
    (raw, start..end)
}

/// The message with its detached signature's base64 replaced by `with`.
fn with_signature(with: &str) -> Vec<u8> {
    let (raw, span) = signature_span();
    format!("{}{with}{}", &raw[..span.start], &raw[span.end..]).into_bytes()
}

#[test]
fn garbage_or_truncated_signature_is_invalid_not_a_panic() {
    let (raw, span) = signature_span();
    let signature = &raw[span];
    let lines: Vec<&str> = signature.split("\r\n").collect();
    let half = lines[..lines.len() / 2].join("\r\n");
    let cases = [
        "this is not base64 at all!!".to_string(),
        "QUJD".to_string(),                           // "ABC": base64, not CMS
        half,                                         // valid base64, truncated DER
        signature[..signature.len() - 3].to_string(), // truncated base64
        String::new(),
    ];
    for case in cases {
        let finding = verdict(&with_signature(&case), &pki().trust_with_ca());
        assert_eq!(
            finding.result,
            SmimeResult::Invalid,
            "{case:?}: {finding:#?}"
        );
        assert!(finding.error.is_some());
    }
}

#[test]
fn every_truncation_and_byte_flip_is_handled_without_panic() {
    let trust = pki().trust_with_ca();
    for raw in [
        alice_signed_text(),
        message(FROM_ALICE, &pki().signed("alice", "-nodetach")),
    ] {
        for cut in (0..raw.len()).step_by(41) {
            let finding = verdict(&raw[..cut], &trust);
            // The signature ends in the last few lines; a cut in the first
            // half always loses signed bytes or signature bytes.
            if cut < raw.len() / 2 {
                assert_ne!(finding.result, SmimeResult::Trusted, "cut at {cut}");
            }
            let mut flipped = raw.clone();
            flipped[cut] ^= 0x55;
            verdict(&flipped, &trust);
        }
    }
}

#[test]
fn signed_without_its_signature_part_is_invalid() {
    let raw = message(
        FROM_ALICE,
        b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b--\n",
    );
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::Invalid, "{finding:#?}");
}

#[test]
fn oversized_smime_part_is_not_checked() {
    let mut raw = alice_signed_text();
    let padding = "x".repeat(76) + "\r\n";
    let filler = padding.repeat(MAX_SMIME_BYTES / padding.len() + 1);
    raw = replace_once(
        &raw,
        b"\r\n\r\nAlice\r\n",
        format!("\r\n{filler}\r\nAlice\r\n").as_bytes(),
    );
    let finding = verdict(&raw, &pki().trust_with_ca());
    assert_eq!(finding.result, SmimeResult::None);
    assert!(finding.error.unwrap().contains("limit"));
}

#[test]
fn finding_serialises_with_snake_case_words() {
    let finding = verdict(&alice_signed_text(), &pki().trust_with_ca());
    let json = serde_json::to_value(&finding).unwrap();
    assert_eq!(json["result"], "trusted");
    assert_eq!(json["signer"]["emails"][0], "alice@example.com");
    let back: SmimeFinding = serde_json::from_value(json).unwrap();
    assert_eq!(back, finding);
    for result in SmimeResult::ALL {
        assert_eq!(serde_json::to_value(result).unwrap(), result.as_str());
    }
}

#[test]
fn trust_store_reports_unreadable_or_empty_ca_files() {
    let missing = pki().path("no-such-ca.pem");
    assert!(matches!(
        TrustStore::system_with(&[missing]),
        Err(SmimeError::Read { .. })
    ));
    let body = pki().path("body.txt");
    assert!(matches!(
        TrustStore::system_with(&[body]),
        Err(SmimeError::Pem { .. } | SmimeError::Empty { .. })
    ));
}

#[test]
fn trust_store_can_be_shared_across_tasks() {
    fn shared<T: Send + Sync>() {}
    shared::<TrustStore>();
    let trust = std::sync::Arc::new(pki().trust_with_ca());
    let raw = std::sync::Arc::new(alice_signed_text());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (trust, raw) = (trust.clone(), raw.clone());
            std::thread::spawn(move || verdict(&raw, &trust).result)
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), SmimeResult::Trusted);
    }
}

#[test]
fn every_corpus_message_is_checked_without_panic() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/examples/mime");
    let trust = pki().trust_with_ca();
    let mut checked = 0;
    for dir in ["rfc", "thirdparty", "malformed"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("shared MIME corpus") {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "eml") {
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let finding = verdict(&raw, &trust);
            // None of them is S/MIME-signed by our test CA.
            assert_ne!(finding.result, SmimeResult::Trusted, "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked > 30, "corpus missing: {checked} files");
}

fn smime_only(result: SmimeResult) -> SmimeFinding {
    SmimeFinding {
        result,
        ..SmimeFinding::none()
    }
}

/// End to end: the signed message sent over SMTP to `mailscore serve`
/// trusting the test CA; then the same message with one byte changed.
#[test]
fn served_report_shows_the_trust_badge_and_the_tampered_signature() {
    let dns = support::dns::TestDns::start(support::dns::Zone::new());
    let ca = pki().path("ca.pem");
    let server = support::server::Server::start(dns.addr, &["--smime-ca", ca.to_str().unwrap()]);
    let signed = alice_signed_text();
    let localhost = std::net::IpAddr::from([127, 0, 0, 1]);
    let send = |id: &str, raw: &[u8]| {
        let rcpt = format!("{id}@localhost");
        support::server::send_mail(
            server.smtp,
            localhost,
            "mail.example.com",
            "alice@example.com",
            &[&rcpt],
            raw,
        );
        server.wait_for_report(id)
    };

    let good = send("smime-good", &signed);
    assert_eq!(good["checks"]["smime"]["result"], "trusted", "{good:#}");
    assert_eq!(
        good["checks"]["smime"]["signer"]["emails"][0],
        "alice@example.com"
    );
    let (_, page) = server.get("/tests/smime-good");
    assert!(page.contains("Signed with a trusted S/MIME certificate"));

    let tampered = send(
        "smime-bad",
        &replace_once(&signed, b"quarterly", b"quarterlY"),
    );
    assert_eq!(tampered["checks"]["smime"]["result"], "invalid");
    let rules: Vec<&str> = tampered["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"SMIME_INVALID"), "{rules:?}");
    let (_, page) = server.get("/tests/smime-bad");
    assert!(!page.contains("Signed with a trusted S/MIME certificate"));
}
