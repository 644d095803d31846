//! Just enough DER to read what the `openssl` crate does not expose about a
//! CMS ContentInfo (RFC 5652): its content type and, for SignedData, the
//! certificates it carries and each signer's identifier and digest
//! algorithm.
//!
//! The input is always OpenSSL's own re-encoding (`CmsContentInfo::to_der`)
//! of a structure it already parsed, so the indefinite-length BER that
//! S/MIME agents often send never reaches this reader. Anything unexpected
//! makes a function return `None`; nothing here indexes out of bounds.

/// One DER element: its tag byte, its contents, and its whole encoding.
#[derive(Clone, Copy)]
struct Element<'a> {
    tag: u8,
    contents: &'a [u8],
    encoded: &'a [u8],
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const INTEGER: u8 = 0x02;
/// `[0]` constructed: ContentInfo's content, SignedData's certificates.
const CONTEXT_0: u8 = 0xa0;
/// `[1]` constructed: SignedData's crls.
const CONTEXT_1: u8 = 0xa1;
/// `[0]` primitive: SignerIdentifier's subjectKeyIdentifier.
const CONTEXT_0_PRIMITIVE: u8 = 0x80;

/// 1.2.840.113549.1.7.2
const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// 1.2.840.113549.1.7.3
const ENVELOPED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03];
/// 1.2.840.113549.1.9.16.1.23 (RFC 5083)
const AUTH_ENVELOPED_DATA: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ContentType {
    SignedData,
    /// EnvelopedData or AuthEnvelopedData.
    Encrypted,
    Other,
}

pub(super) struct SignedData<'a> {
    /// DER of each `Certificate` in `certificates` (other choices skipped).
    pub certificates: Vec<&'a [u8]>,
    pub signers: Vec<SignerInfo<'a>>,
}

pub(super) struct SignerInfo<'a> {
    pub sid: SignerId<'a>,
    /// Contents of the digestAlgorithm OID.
    pub digest_oid: &'a [u8],
}

pub(super) enum SignerId<'a> {
    IssuerAndSerial {
        /// DER of the issuer `Name`.
        issuer: &'a [u8],
        /// Contents of the serialNumber INTEGER (two's complement).
        serial: &'a [u8],
    },
    SubjectKeyId(&'a [u8]),
}

/// Reads DER elements one after another.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn next(&mut self) -> Option<Element<'a>> {
        let input = self.0;
        let (&tag, rest) = input.split_first()?;
        if tag & 0x1f == 0x1f {
            return None; // high tag numbers: never used by CMS fields we read
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None; // indefinite length, absurd size, or truncated
            }
            let (bytes, after) = rest.split_at(n);
            rest = after;
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if rest.len() < len {
            return None;
        }
        let header_len = input.len() - rest.len();
        let (contents, after) = rest.split_at(len);
        self.0 = after;
        Some(Element {
            tag,
            contents,
            encoded: &input[..header_len + len],
        })
    }

    /// The next element, which must have `tag`.
    fn expect(&mut self, tag: u8) -> Option<Element<'a>> {
        self.next().filter(|e| e.tag == tag)
    }

    /// The next element if it has `tag`; otherwise nothing is consumed.
    fn optional(&mut self, tag: u8) -> Option<Element<'a>> {
        if self.0.first() == Some(&tag) {
            self.next()
        } else {
            None
        }
    }
}

/// The ContentInfo's contentType, and its `[0]` content.
fn content_info(der: &[u8]) -> Option<(&[u8], Element<'_>)> {
    let mut outer = Reader(der);
    let info = outer.expect(SEQUENCE)?;
    let mut fields = Reader(info.contents);
    let oid = fields.expect(OID)?;
    let content = fields.expect(CONTEXT_0)?;
    Some((oid.contents, content))
}

pub(super) fn content_type(der: &[u8]) -> Option<ContentType> {
    let (oid, _) = content_info(der)?;
    Some(match oid {
        SIGNED_DATA => ContentType::SignedData,
        ENVELOPED_DATA | AUTH_ENVELOPED_DATA => ContentType::Encrypted,
        _ => ContentType::Other,
    })
}

/// SignedData ::= SEQUENCE { version, digestAlgorithms SET,
///   encapContentInfo SEQUENCE, certificates [0] IMPLICIT OPTIONAL,
///   crls [1] IMPLICIT OPTIONAL, signerInfos SET }
pub(super) fn signed_data(der: &[u8]) -> Option<SignedData<'_>> {
    let (oid, content) = content_info(der)?;
    if oid != SIGNED_DATA {
        return None;
    }
    let signed = Reader(content.contents).expect(SEQUENCE)?;
    let mut fields = Reader(signed.contents);
    fields.expect(INTEGER)?;
    fields.expect(SET)?;
    fields.expect(SEQUENCE)?;
    let mut certificates = Vec::new();
    if let Some(certs) = fields.optional(CONTEXT_0) {
        let mut certs = Reader(certs.contents);
        while let Some(choice) = certs.next() {
            if choice.tag == SEQUENCE {
                certificates.push(choice.encoded);
            }
        }
    }
    fields.optional(CONTEXT_1);
    let mut infos = Reader(fields.expect(SET)?.contents);
    let mut signers = Vec::new();
    while !infos.is_empty() {
        signers.push(signer_info(infos.expect(SEQUENCE)?)?);
    }
    Some(SignedData {
        certificates,
        signers,
    })
}

/// SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, … }
fn signer_info(info: Element<'_>) -> Option<SignerInfo<'_>> {
    let mut fields = Reader(info.contents);
    fields.expect(INTEGER)?;
    let sid = fields.next()?;
    let sid = match sid.tag {
        SEQUENCE => {
            let mut parts = Reader(sid.contents);
            let issuer = parts.expect(SEQUENCE)?.encoded;
            let serial = parts.expect(INTEGER)?.contents;
            SignerId::IssuerAndSerial { issuer, serial }
        }
        CONTEXT_0_PRIMITIVE => SignerId::SubjectKeyId(sid.contents),
        _ => return None,
    };
    let algorithm = fields.expect(SEQUENCE)?;
    let digest_oid = Reader(algorithm.contents).expect(OID)?.contents;
    Some(SignerInfo { sid, digest_oid })
}

/// An OID's contents in dotted form, e.g. `2.16.840.1.101.3.4.2.1`.
pub(super) fn dotted(oid: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, &byte) in oid.iter().enumerate() {
        value = value.checked_mul(128)? | u64::from(byte & 0x7f);
        if byte & 0x80 != 0 {
            if i + 1 == oid.len() {
                return None; // the last byte must end an arc
            }
            continue;
        }
        if arcs.is_empty() {
            let first = (value / 40).min(2);
            arcs.push(first);
            arcs.push(value - first * 40);
        } else {
            arcs.push(value);
        }
        value = 0;
    }
    if arcs.is_empty() {
        return None;
    }
    Some(
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_oids() {
        let sha256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
        assert_eq!(dotted(&sha256).as_deref(), Some("2.16.840.1.101.3.4.2.1"));
        assert_eq!(dotted(SIGNED_DATA).as_deref(), Some("1.2.840.113549.1.7.2"));
        assert_eq!(dotted(&[0x86]), None);
        assert_eq!(dotted(&[]), None);
    }

    #[test]
    fn truncated_or_indefinite_lengths_are_refused() {
        assert!(Reader(&[0x30, 0x05, 0x01]).next().is_none());
        assert!(Reader(&[0x30, 0x80, 0x00, 0x00]).next().is_none());
        assert!(
            Reader(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff])
                .next()
                .is_none()
        );
        assert!(content_type(&[0x30, 0x00]).is_none());
    }

    #[test]
    fn content_types_by_oid() {
        let info = |oid: &[u8]| {
            let mut inner = vec![OID, oid.len() as u8];
            inner.extend_from_slice(oid);
            inner.extend_from_slice(&[CONTEXT_0, 0x00]);
            let mut der = vec![SEQUENCE, inner.len() as u8];
            der.extend(inner);
            der
        };
        assert_eq!(
            content_type(&info(SIGNED_DATA)),
            Some(ContentType::SignedData)
        );
        assert_eq!(
            content_type(&info(ENVELOPED_DATA)),
            Some(ContentType::Encrypted)
        );
        assert_eq!(
            content_type(&info(AUTH_ENVELOPED_DATA)),
            Some(ContentType::Encrypted)
        );
        assert_eq!(content_type(&info(&[0x2a, 0x03])), Some(ContentType::Other));
    }
}
