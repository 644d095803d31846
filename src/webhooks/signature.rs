//! `X-Mailscore-Signature: sha256=<hex>`: HMAC-SHA256 (RFC 2104) of the
//! exact body bytes under the operator's secret, as GitHub signs its
//! webhooks, so a receiver checks it with any HMAC library.

use ring::hmac;

pub const HEADER: &str = "x-mailscore-signature";
pub const DELIVERY_HEADER: &str = "x-mailscore-delivery";

/// The header's value for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2.
    #[test]
    fn matches_rfc_4231() {
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
