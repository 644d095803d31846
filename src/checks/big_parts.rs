//! Big attachments, read without decoding them whole. mail-parser decodes
//! every part it parses, and for a 10 MB base64 attachment that decoding
//! was the largest single cost of the analysis (a fifth of serve's CPU for
//! the message, perf). The checks want no more of an attachment than its
//! first bytes (an executable? a ZIP?), its size, and, for a ZIP, its
//! directory. So before parsing, a base64 body part bigger than
//! [`CUT_OVER`] that is neither text, a message nor a ZIP is cut, in a copy
//! of the message only the parser sees, to its first [`KEEP_CHARS`]
//! characters; a header added to that part gives its decoded size.
//!
//! What is lost: a transfer-encoding error past the kept start of such a
//! part is not noticed (mail-parser flags one when it decodes it all).
//! The top-level entity is never cut (its header fields are the report's),
//! nor anything outside the first [`MAX_DEPTH`] levels of multiparts.

use super::mime_parts::{body_parts, split};
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};
use std::borrow::Cow;
use std::sync::LazyLock;

/// A base64 body longer than this (encoded bytes) is cut for the parser.
pub const CUT_OVER: usize = 256 * 1024;
/// Base64 characters kept of a cut body: 3 KB decoded, more than the magic
/// numbers the attachment checks read.
const KEEP_CHARS: usize = 4096;
/// Nested multiparts walked at most.
const MAX_DEPTH: usize = 8;
/// Base64 line length of the kept characters (RFC 2045 §6.8).
const LINE: usize = 76;

/// The start of the header field name a cut part gets; its decoded size
/// follows. A random token drawn at start-up is in it, so a sender cannot
/// write a field the checks would believe.
static MARKER: LazyLock<String> =
    LazyLock::new(|| format!("X-Mailscore-Cut-{}-", crate::test_id::generate()));

/// One part to cut: where its header block starts, its body's range, its
/// decoded size, and the characters kept.
struct Cut {
    entity: usize,
    body: std::ops::Range<usize>,
    size: usize,
    kept: Vec<u8>,
}

/// `raw` parsed as the checks read it (through [`view`]), handed to
/// `read`: `None` when it would not parse.
pub fn parsed<T>(raw: &[u8], read: impl FnOnce(Option<&Message<'_>>) -> T) -> T {
    let view = view(raw);
    read(MessageParser::default().parse(view.as_ref()).as_ref())
}

/// `raw` as the parser should see it: itself when no part is cut.
pub fn view(raw: &[u8]) -> Cow<'_, [u8]> {
    if raw.len() <= CUT_OVER {
        return Cow::Borrowed(raw);
    }
    let (header, body) = split(raw);
    let mut cuts = Vec::new();
    if let Some(boundary) = part_headers(header).and_then(|h| multipart_boundary(&h)) {
        walk(raw, body, &boundary, 0, &mut cuts);
    }
    if cuts.is_empty() {
        return Cow::Borrowed(raw);
    }
    let dropped: usize = cuts.iter().map(|c| c.body.len()).sum();
    let mut out = Vec::with_capacity(raw.len() - dropped + cuts.len() * 2 * KEEP_CHARS);
    let mut at = 0;
    for cut in cuts {
        out.extend_from_slice(&raw[at..cut.entity]);
        out.extend_from_slice(format!("{}{}: 1\r\n", *MARKER, cut.size).as_bytes());
        out.extend_from_slice(&raw[cut.entity..cut.body.start]);
        out.extend_from_slice(&cut.kept);
        at = cut.body.end;
    }
    out.extend_from_slice(&raw[at..]);
    Cow::Owned(out)
}

/// The decoded size of `part` if [`view`] cut it (its contents are then
/// only the start).
pub fn cut_size(part: &MessagePart<'_>) -> Option<usize> {
    part.headers
        .iter()
        .find_map(|h| h.name().strip_prefix(MARKER.as_str()))
        .and_then(|size| size.parse().ok())
}

fn walk(raw: &[u8], body: &[u8], boundary: &str, depth: usize, cuts: &mut Vec<Cut>) {
    for part in body_parts(body, boundary.as_bytes()) {
        let (header, part_body) = split(part);
        let Some(headers) = part_headers(header) else {
            continue;
        };
        if let Some(inner) = multipart_boundary(&headers) {
            if depth + 1 < MAX_DEPTH {
                walk(raw, part_body, &inner, depth + 1, cuts);
            }
        } else if part_body.len() > CUT_OVER
            && is_binary_base64(&headers)
            && let Some(kept) = kept_unless_zip(part_body)
        {
            let offset = |bytes: &[u8]| bytes.as_ptr() as usize - raw.as_ptr() as usize;
            let start = offset(part_body);
            cuts.push(Cut {
                entity: offset(part),
                body: start..start + part_body.len(),
                size: decoded_size(part_body),
                kept,
            });
        }
    }
}

/// An entity's header fields, parsed (once per part).
fn part_headers(header: &[u8]) -> Option<Message<'_>> {
    MessageParser::new().parse_headers(header)
}

/// The boundary of a multipart entity with these header fields.
fn multipart_boundary(headers: &Message<'_>) -> Option<String> {
    let content_type = headers.content_type()?;
    if !content_type.ctype().eq_ignore_ascii_case("multipart") {
        return None;
    }
    let boundary = content_type.attribute("boundary")?;
    (!boundary.is_empty()).then(|| boundary.to_string())
}

/// Base64, and neither text, a message nor a multipart.
fn is_binary_base64(headers: &Message<'_>) -> bool {
    let base64 = headers
        .content_transfer_encoding()
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"));
    let ctype = headers
        .content_type()
        .map(|c| c.ctype().to_ascii_lowercase());
    base64
        && !matches!(
            ctype.as_deref(),
            None | Some("text" | "message" | "multipart")
        )
}

/// The characters kept of a base64 `body`, unless it is a ZIP: "PK" in
/// base64 is "UE" and one of s, t, u, v, and a ZIP's directory is at its
/// end, which the archive checks read.
fn kept_unless_zip(body: &[u8]) -> Option<Vec<u8>> {
    let kept = kept_lines(body);
    let zip = kept.starts_with(b"UE") && kept.get(2).is_some_and(|c| (b's'..=b'v').contains(c));
    (!zip).then_some(kept)
}

/// The first [`KEEP_CHARS`] characters of a base64 body (a whole number of
/// 4-character groups, so they decode without error), in lines of 76.
fn kept_lines(body: &[u8]) -> Vec<u8> {
    let mut chars: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .take(KEEP_CHARS)
        .collect();
    chars.truncate(chars.len() / 4 * 4);
    chars.chunks(LINE).collect::<Vec<_>>().join(&b"\r\n"[..])
}

/// What a base64 body decodes to, in bytes, counted without decoding.
fn decoded_size(body: &[u8]) -> usize {
    // A filter-count the compiler vectorises: 14 MB in about a millisecond.
    let spaces = body.iter().filter(|&&b| b <= b' ').count();
    let chars = body.len() - spaces;
    let trimmed = body.trim_ascii_end();
    let padding = trimmed
        .iter()
        .rev()
        .take_while(|&&b| b == b'=')
        .count()
        .min(2);
    (chars / 4 * 3).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |n, &b| n << 8 | b as u32) << (8 * (3 - chunk.len()));
            for i in 0..4 {
                out.push(if i <= chunk.len() {
                    ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
                } else {
                    '='
                });
            }
        }
        out.as_bytes()
            .chunks(LINE)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    fn message(attachments: &[(&str, &[u8])]) -> Vec<u8> {
        let mut m = String::from(
            "From: a@example.org\r\nSubject: files\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nSee the files.\r\n",
        );
        for (name, bytes) in attachments {
            m += &format!(
                "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
                 Content-Disposition: attachment; filename={name}\r\n\r\n{}\r\n",
                base64(bytes)
            );
        }
        m += "--b--\r\n";
        m.into_bytes()
    }

    fn noise(len: usize, start: &[u8]) -> Vec<u8> {
        let mut bytes: Vec<u8> = (0..len as u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        bytes[..start.len()].copy_from_slice(start);
        bytes
    }

    #[test]
    fn a_big_attachment_is_cut_to_its_start_and_keeps_its_size() {
        let exe = noise(1_000_001, b"MZ\x90\x00");
        let small = noise(1000, b"%PDF");
        let raw = message(&[("big.exe", &exe), ("small.pdf", &small)]);
        let view = view(&raw);
        assert!(view.len() < 20_000, "{} bytes", view.len());
        let parsed = MessageParser::default().parse(view.as_ref()).unwrap();
        let files: Vec<_> = parsed.attachments().collect();
        assert_eq!(files.len(), 2);
        assert_eq!(cut_size(files[0]), Some(1_000_001));
        assert_eq!(&files[0].contents()[..4], b"MZ\x90\x00");
        assert!(!files[0].is_encoding_problem);
        assert_eq!(cut_size(files[1]), None);
        assert_eq!(files[1].contents(), &small[..]);
        // Everything else reads as from the whole message.
        let whole = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.body_text(0), whole.body_text(0));
        assert_eq!(parsed.headers(), whole.headers());
        fn names(m: &mail_parser::Message<'_>) -> Vec<(Option<String>, Option<String>)> {
            m.attachments()
                .map(|a| {
                    let ctype = a
                        .content_type()
                        .map(|c| format!("{}/{:?}", c.ctype(), c.subtype()));
                    (a.attachment_name().map(String::from), ctype)
                })
                .collect()
        }
        assert_eq!(names(&parsed), names(&whole));
        assert_eq!(whole.attachments().next().unwrap().contents(), &exe[..]);
    }

    #[test]
    fn zips_text_and_small_parts_are_left_whole() {
        let zip = noise(400_000, b"PK\x03\x04");
        let raw = message(&[("a.zip", &zip)]);
        assert!(matches!(view(&raw), Cow::Borrowed(_)));
        let small = message(&[("a.bin", &noise(1000, b"x"))]);
        assert!(matches!(view(&small), Cow::Borrowed(_)));
        let text = String::from_utf8(message(&[("a.txt", &noise(400_000, b"x"))]))
            .unwrap()
            .replace("application/octet-stream", "text/plain");
        assert!(matches!(view(text.as_bytes()), Cow::Borrowed(_)));
    }

    #[test]
    fn a_forged_marker_is_not_believed() {
        let raw = String::from_utf8(message(&[("a.bin", b"abc")]))
            .unwrap()
            .replace(
                "Content-Disposition",
                "X-Mailscore-Cut-guess-1: 1\r\nContent-Disposition",
            );
        let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
        assert_eq!(cut_size(parsed.attachments().next().unwrap()), None);
    }

    #[test]
    fn decoded_size_counts_padding_and_ignores_line_breaks() {
        for len in [0, 1, 2, 3, 4, 5, 1000, 1001, 1002] {
            let bytes = noise(len.max(1), b"")[..len].to_vec();
            assert_eq!(decoded_size(base64(&bytes).as_bytes()), len, "{len}");
        }
    }

    #[test]
    fn the_attachment_check_flags_a_cut_executable_at_its_full_size() {
        let exe = noise(2_000_000, b"MZ\x90\x00");
        let raw = message(&[("report.pdf.exe", &exe)]);
        let context = crate::checks::content::Context {
            mail_from: "a@example.org",
            received_at: 0,
            profile: crate::checks::content::Profile::Default,
        };
        let found = crate::checks::content::content(&raw, &context).attachments;
        assert_eq!(found.count, 1);
        assert_eq!(found.files[0].size, 2_000_000);
        assert!(found.any("executable") && found.any("double_extension"));
    }
}
