//! What a DKIM key record publishes: key type and size. mail-auth verifies
//! with the key but does not say how strong it is, and RFC 8301 makes size
//! part of the verdict (RSA under 1024 bits must fail, 2048 is expected).

use mail_parser::decoders::base64::base64_decode;
use serde::{Deserialize, Serialize};

/// What a DKIM key record publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "DkimKey"))]
pub struct KeyInfo {
    /// "rsa" or "ed25519" (the record's `k=`, RSA by default).
    pub key_type: String,
    /// Modulus size for RSA; 256 for Ed25519.
    pub bits: u32,
}

/// Parses `v=DKIM1; k=...; p=...`; None when there is no usable `p=`.
pub fn key_info(record: &str) -> Option<KeyInfo> {
    let tag = |name: &str| {
        record.split(';').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key.trim() == name).then(|| value.split_whitespace().collect::<String>())
        })
    };
    let key_type = tag("k")
        .unwrap_or_else(|| "rsa".into())
        .to_ascii_lowercase();
    let der = base64_decode(tag("p")?.as_bytes()).filter(|der| !der.is_empty())?;
    let bits = match key_type.as_str() {
        "ed25519" => (der.len() == 32).then_some(256)?,
        "rsa" => rsa_modulus_bits(&der)?,
        _ => return None,
    };
    Some(KeyInfo { key_type, bits })
}

/// Modulus size of an RSA public key in SubjectPublicKeyInfo (what RFC 6376
/// says `p=` holds) or bare PKCS#1 RSAPublicKey form (which some publish).
fn rsa_modulus_bits(der: &[u8]) -> Option<u32> {
    let (tag, outer, _) = tlv(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (first_tag, first, rest) = tlv(outer)?;
    let pkcs1 = match first_tag {
        INTEGER => return integer_bits(first),
        // SPKI: AlgorithmIdentifier, then the key as a BIT STRING whose first
        // byte counts unused bits.
        SEQUENCE => {
            let (tag, bits, _) = tlv(rest)?;
            (tag == BIT_STRING).then(|| bits.get(1..))??
        }
        _ => return None,
    };
    let (tag, seq, _) = tlv(pkcs1)?;
    let (tag2, modulus, _) = tlv(seq)?;
    (tag == SEQUENCE && tag2 == INTEGER).then(|| integer_bits(modulus))?
}

const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const SEQUENCE: u8 = 0x30;

/// One DER tag-length-value: (tag, content, the bytes after it).
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| acc << 8 | *b as usize);
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Significant bits of a positive DER INTEGER.
fn integer_bits(content: &[u8]) -> Option<u32> {
    let start = content.iter().position(|b| *b != 0)?;
    let leading = content[start].leading_zeros();
    Some(((content.len() - start) * 8) as u32 - leading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rsa_2048_from_spki() {
        let record = format!(
            "v=DKIM1; k=rsa; p={}",
            include_str!("../../../tests/fixtures/dkim-rsa.pub.b64").trim()
        );
        assert_eq!(
            key_info(&record),
            Some(KeyInfo {
                key_type: "rsa".into(),
                bits: 2048
            })
        );
    }

    #[test]
    fn reads_rsa_1024_and_default_key_type() {
        // A 1024-bit SPKI key (RFC 6376 appendix C's example key).
        let record = "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";
        let info = key_info(record).unwrap();
        assert_eq!((info.key_type.as_str(), info.bits), ("rsa", 1024));
    }

    #[test]
    fn ed25519_is_256_bits_and_revoked_key_has_none() {
        let ed = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        assert_eq!(key_info(ed).unwrap().bits, 256);
        assert_eq!(key_info("v=DKIM1; p="), None);
        assert_eq!(key_info("v=DKIM1; p=!!notbase64"), None);
    }
}
