//! Finding S/MIME in a raw message and cutting out the bytes to verify.
//!
//! A `multipart/signed` signature covers the first body part exactly as it
//! sits between the boundary lines, MIME headers included (RFC 1847 §2.1,
//! RFC 8551 §3.5): from just after the line break that ends the opening
//! boundary line, up to but not including the line break before the next
//! one (that line break belongs to the delimiter, RFC 2046 §5.1.1). So the
//! boundaries are found here by hand on the raw bytes; a parser that
//! re-serialises or decodes would change what was signed. mail-parser is
//! used only to read the Content-Type and Content-Transfer-Encoding fields.

use super::MAX_SMIME_BYTES;
use crate::checks::mime_parts::{self, body_parts};
use mail_parser::{MessageParser, MimeHeaders};
use std::borrow::Cow;

/// RFC 2046 allows 70 characters; anything much longer is not a boundary we
/// search for (it would make the search slow, not more correct).
const MAX_BOUNDARY: usize = 200;

/// Where a message's S/MIME is, with the bytes OpenSSL needs.
pub(super) enum Located<'a> {
    /// No S/MIME structure.
    Absent,
    /// `multipart/signed`: the signed entity (line endings made CRLF) and
    /// the detached CMS signature (BER/DER, base64 already decoded).
    Detached {
        content: Cow<'a, [u8]>,
        signature: Vec<u8>,
    },
    /// `application/pkcs7-mime` declared as signed-data, or not declared:
    /// one CMS ContentInfo (decoded), whose type the verifier checks.
    Opaque { cms: Vec<u8> },
    /// `application/pkcs7-mime; smime-type=enveloped-data` (or
    /// authEnveloped-data).
    Enveloped,
    /// S/MIME is declared but cannot be taken apart; the reason.
    Broken(String),
    /// The S/MIME part has this many bytes, more than [`MAX_SMIME_BYTES`].
    TooLarge(usize),
    /// A declared kind we do not verify (certs-only, compressed-data).
    NotInspected(String),
}

/// What an entity's Content-Type makes of it.
enum Kind {
    /// `multipart/signed`; `declared` is false when the protocol parameter
    /// is missing and the signature part's own type must say pkcs7.
    Signed {
        boundary: String,
        declared: bool,
    },
    /// `application/pkcs7-mime` (or, `octet_stream`, a `.p7m` file sent as
    /// `application/octet-stream`), with its `smime-type` parameter,
    /// lower-cased.
    Pkcs7Mime {
        smime_type: Option<String>,
        octet_stream: bool,
    },
    Mixed {
        boundary: String,
    },
    Other,
}

/// One MIME entity: header block (with its closing blank line) and body.
struct Entity<'a> {
    header: &'a [u8],
    body: &'a [u8],
}

pub(super) fn locate(raw: &[u8]) -> Located<'_> {
    let message = Entity::split(raw);
    match message.kind() {
        Kind::Mixed { boundary } => body_parts(message.body, boundary.as_bytes())
            .into_iter()
            .map(Entity::split)
            .find_map(|part| match part.kind() {
                // Beside a text part, a .p7m octet stream is an attached
                // file, not the message's own S/MIME.
                Kind::Other | Kind::Mixed { .. } => None,
                Kind::Pkcs7Mime {
                    octet_stream: true, ..
                } => None,
                kind => Some(locate_in(part, kind)),
            })
            .unwrap_or(Located::Absent),
        kind => locate_in(message, kind),
    }
}

fn locate_in<'a>(entity: Entity<'a>, kind: Kind) -> Located<'a> {
    match kind {
        Kind::Signed { boundary, declared } => detached(entity.body, &boundary, declared),
        Kind::Pkcs7Mime { smime_type, .. } => opaque(&entity, smime_type.as_deref()),
        Kind::Mixed { .. } | Kind::Other => Located::Absent,
    }
}

fn detached<'a>(body: &'a [u8], boundary: &str, declared: bool) -> Located<'a> {
    let parts = body_parts(body, boundary.as_bytes());
    let signature = parts.get(1).map(|part| Entity::split(part));
    if !declared && !signature.as_ref().is_some_and(Entity::is_pkcs7_signature) {
        // multipart/signed without a protocol parameter, and no S/MIME
        // signature part: PGP or something else, not ours to judge.
        return Located::Absent;
    }
    if body.len() > MAX_SMIME_BYTES {
        return Located::TooLarge(body.len());
    }
    let (Some(content), Some(signature)) = (parts.first(), signature) else {
        return Located::Broken(format!(
            "multipart/signed has {} body part(s), not the signed content and its signature",
            parts.len()
        ));
    };
    match signature.decoded_body() {
        Ok(signature) => Located::Detached {
            content: crlf(content),
            signature,
        },
        Err(reason) => Located::Broken(format!("signature part: {reason}")),
    }
}

fn opaque(entity: &Entity<'_>, smime_type: Option<&str>) -> Located<'static> {
    match smime_type {
        Some("enveloped-data" | "authenveloped-data") => return Located::Enveloped,
        Some("signed-data") | None => {}
        Some(other) => return Located::NotInspected(format!("smime-type={other}")),
    }
    if entity.body.len() > MAX_SMIME_BYTES {
        return Located::TooLarge(entity.body.len());
    }
    match entity.decoded_body() {
        Ok(cms) => Located::Opaque { cms },
        Err(reason) => Located::Broken(format!("application/pkcs7-mime body: {reason}")),
    }
}

impl<'a> Entity<'a> {
    /// Splits at the first empty line. No empty line: all header, no body.
    fn split(bytes: &'a [u8]) -> Entity<'a> {
        let (header, body) = mime_parts::split(bytes);
        Entity { header, body }
    }

    fn kind(&self) -> Kind {
        let Some(headers) = MessageParser::new().parse_headers(self.header) else {
            return Kind::Other;
        };
        let Some(content_type) = headers.content_type() else {
            return Kind::Other;
        };
        let ctype = content_type.ctype();
        let subtype = content_type.subtype().unwrap_or_default();
        let is =
            |t: &str, s: &str| ctype.eq_ignore_ascii_case(t) && subtype.eq_ignore_ascii_case(s);
        let boundary = content_type
            .attribute("boundary")
            .filter(|b| !b.is_empty() && b.len() <= MAX_BOUNDARY)
            .map(str::to_string);

        if is("multipart", "signed") {
            let Some(boundary) = boundary else {
                return Kind::Other;
            };
            return match content_type.attribute("protocol") {
                Some(protocol) if is_pkcs7_signature_type(protocol) => Kind::Signed {
                    boundary,
                    declared: true,
                },
                Some(_) => Kind::Other,
                None => Kind::Signed {
                    boundary,
                    declared: false,
                },
            };
        }
        if is("multipart", "mixed") {
            return boundary.map_or(Kind::Other, |boundary| Kind::Mixed { boundary });
        }
        let pkcs7_mime = ctype.eq_ignore_ascii_case("application")
            && (subtype.eq_ignore_ascii_case("pkcs7-mime")
                || subtype.eq_ignore_ascii_case("x-pkcs7-mime"));
        // Some agents send the .p7m file as a plain octet stream.
        let p7m_file = is("application", "octet-stream")
            && [
                content_type.attribute("name"),
                headers
                    .content_disposition()
                    .and_then(|d| d.attribute("filename")),
            ]
            .into_iter()
            .flatten()
            .any(|name| name.to_ascii_lowercase().ends_with(".p7m"));
        if pkcs7_mime || p7m_file {
            return Kind::Pkcs7Mime {
                smime_type: content_type
                    .attribute("smime-type")
                    .map(|t| t.trim().to_ascii_lowercase()),
                octet_stream: !pkcs7_mime,
            };
        }
        Kind::Other
    }

    fn is_pkcs7_signature(&self) -> bool {
        MessageParser::new()
            .parse_headers(self.header)
            .and_then(|headers| {
                headers.content_type().map(|ct| {
                    ct.ctype().eq_ignore_ascii_case("application")
                        && ct.subtype().is_some_and(|s| {
                            s.eq_ignore_ascii_case("pkcs7-signature")
                                || s.eq_ignore_ascii_case("x-pkcs7-signature")
                        })
                })
            })
            .unwrap_or(false)
    }

    /// The body with its transfer encoding undone: `binary` as is,
    /// anything else read as base64 (the only encoding S/MIME uses for CMS
    /// in mail).
    fn decoded_body(&self) -> Result<Vec<u8>, String> {
        let encoding = MessageParser::new()
            .parse_headers(self.header)
            .and_then(|h| h.content_transfer_encoding().map(str::to_ascii_lowercase));
        if encoding.as_deref() == Some("binary") {
            return Ok(self.body.to_vec());
        }
        let text: Vec<u8> = self
            .body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let text = std::str::from_utf8(&text).map_err(|_| "not base64 (non-ASCII bytes)")?;
        if text.is_empty() {
            return Err("empty".into());
        }
        openssl::base64::decode_block(text).map_err(|_| "not valid base64".into())
    }
}

fn is_pkcs7_signature_type(value: &str) -> bool {
    let value = value.trim();
    value.eq_ignore_ascii_case("application/pkcs7-signature")
        || value.eq_ignore_ascii_case("application/x-pkcs7-signature")
}

/// The canonical form S/MIME signs (RFC 8551 §3.1.1): CRLF line endings.
/// A message stored with bare LF gets its CR back; CRLF is left alone.
fn crlf(bytes: &[u8]) -> Cow<'_, [u8]> {
    let bare_lf = |i: usize| bytes[i] == b'\n' && (i == 0 || bytes[i - 1] != b'\r');
    if !(0..bytes.len()).any(bare_lf) {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32 + 2);
    for (i, &byte) in bytes.iter().enumerate() {
        if bare_lf(i) {
            out.push(b'\r');
        }
        out.push(byte);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_lf_becomes_crlf_and_crlf_stays() {
        assert_eq!(&*crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert!(matches!(crlf(b"a\r\nb"), Cow::Borrowed(_)));
    }
}
