//! Real DKIM signing for tests: the committed RSA test key
//! (`tests/fixtures/dkim-rsa.pem`, public half in `dkim-rsa.pub.b64`), and
//! Ed25519 keys generated per test (RFC 8463).
#![allow(dead_code)]

use mail_auth::common::crypto::{Algorithm, Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter, Writable};
use mail_auth::dkim::DkimSigner;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use std::io::Write;

const SIGNED_HEADERS: [&str; 5] = ["From", "To", "Subject", "Date", "Message-ID"];

/// The TXT value publishing the RSA test key.
pub fn rsa_key_record() -> String {
    format!(
        "v=DKIM1; k=rsa; p={}",
        include_str!("../fixtures/dkim-rsa.pub.b64").trim()
    )
}

/// The 2048-bit RSA test key, published by [`rsa_key_record`].
pub fn rsa_key() -> RsaKey<Sha256> {
    let der = PrivateKeyDer::from_pem_slice(include_bytes!("../fixtures/dkim-rsa.pem")).unwrap();
    RsaKey::<Sha256>::from_key_der(der).unwrap()
}

/// `message` with an rsa-sha256 DKIM-Signature for `domain`/`selector` prepended.
pub fn rsa_signed(message: &str, domain: &str, selector: &str) -> Vec<u8> {
    signed(rsa_key(), message, domain, selector)
}

/// The TXT value publishing the 1024-bit RSA test key.
pub fn rsa1024_key_record() -> String {
    format!(
        "v=DKIM1; k=rsa; p={}",
        include_str!("../fixtures/dkim-rsa1024.pub.b64").trim()
    )
}

/// The 1024-bit RSA test key. ring refuses to sign with keys under 2048
/// bits, so this one signs through the `openssl` command (Debian's openssl,
/// in the base image): still a real RSA signature over what mail-auth writes.
pub struct OpensslRsa1024;

impl SigningKey for OpensslRsa1024 {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        let mut data = Vec::new();
        input.write(&mut data);
        let key = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dkim-rsa1024.pem"
        );
        let mut child = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-sign", key])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("openssl is installed");
        child.stdin.take().unwrap().write_all(&data).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl dgst -sign failed");
        Ok(out.stdout)
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::RsaSha256
    }
}

pub fn rsa1024_key() -> OpensslRsa1024 {
    OpensslRsa1024
}

/// Like [`rsa_signed`], with `l=` (body length) in the signature.
pub fn rsa_signed_with_length(message: &str, domain: &str, selector: &str) -> Vec<u8> {
    let der = PrivateKeyDer::from_pem_slice(include_bytes!("../fixtures/dkim-rsa.pem")).unwrap();
    let signature = DkimSigner::from_key(RsaKey::<Sha256>::from_key_der(der).unwrap())
        .domain(domain)
        .selector(selector)
        .headers(SIGNED_HEADERS)
        .body_length(true)
        .sign(message.as_bytes())
        .unwrap();
    let mut out = signature.to_header().into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

/// A fresh Ed25519 key: (signing key, the TXT value publishing it).
pub fn ed25519_key() -> (Ed25519Key, String) {
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
    let record = format!("v=DKIM1; k=ed25519; p={}", base64(&key.public_key()));
    (key, record)
}

pub fn signed(key: impl SigningKey, message: &str, domain: &str, selector: &str) -> Vec<u8> {
    let signature = DkimSigner::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(SIGNED_HEADERS)
        .sign(message.as_bytes())
        .unwrap();
    let mut out = signature.to_header().into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

/// TXT character-strings hold at most 255 bytes each.
pub fn split_255(text: &str) -> Vec<&str> {
    text.as_bytes()
        .chunks(255)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect()
}

/// Standard base64 with padding (RFC 4648 §4), for DNS key records.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| acc << 8 | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_rfc4648_vectors() {
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}
