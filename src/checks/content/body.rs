//! Body checks: the MIME structure, the HTML and its plain-text
//! alternative, images, forbidden and hidden HTML, charsets, size, and the
//! GTUBE test string.

use super::ContentWords;
use super::Profile;
use super::html::Html;
use super::{bounded, push_bounded, words};
use crate::checks::CheckId;
use crate::checks::facts::{AMOUNTS, BOOLS, Facts, Field, amount, yes};
use crate::checks::row::{Row, join};
use crate::i18n::Lang;
use mail_parser::{Message, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// SpamAssassin's test string (GTUBE): any filter must call it spam.
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// Whether `text` holds [`GTUBE`]: a SIMD search with the needle's tables
/// built once, where `str::contains` built them per part and walked the
/// body bytewise (1 % of the ingest's CPU under a flood, measured).
fn gtube_in(text: &str) -> bool {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(GTUBE));
    FINDER.find(text.as_bytes()).is_some()
}

/// Above this a message is "large": spamc stops scanning at 500 KB, and
/// receivers and mobile clients treat such mail as heavy.
pub const LARGE_BYTES: usize = 1024 * 1024;
/// Above this, "huge": many receivers refuse it (10 MB is a common cap).
pub const HUGE_BYTES: usize = 8 * 1024 * 1024;
/// Fewer visible characters than this next to images: an image-only mail.
const IMAGE_ONLY_TEXT: usize = 100;
/// HTML this long with less than [`LOW_RATIO`] of it visible text.
const RATIO_MIN_HTML: usize = 2048;
const LOW_RATIO: f64 = 0.05;
/// More images than this is "many".
pub const MANY_IMAGES: usize = 15;
/// Parts examined for structure and charset.
const MAX_PARTS: usize = 500;

words! {
    Structure { Ok => "ok", Broken => "broken" }
}
words! {
    TextRatio { None => "none", Low => "low", Ok => "ok" }
}
words! {
    Charset { Ok => "ok", Missing => "missing" }
}
words! {
    Size { Normal => "normal", Large => "large", Huge => "huge" }
}

/// The MIME structure and the body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct BodyFinding {
    /// `broken`: an undecodable part, a multipart without boundary, or a
    /// boundary never closed.
    pub structure: Structure,
    /// The message has a text/html part.
    pub html: bool,
    /// A text/plain part exists besides the HTML.
    pub plain_alternative: bool,
    /// Visible text against HTML size; `none` without HTML, `low` under 5% of 2
    /// KB or more.
    pub text_ratio: TextRatio,
    /// Images with (almost) no text beside them.
    pub image_only: bool,
    /// `<img>` elements.
    pub images: usize,
    /// `<img>` elements without an alt attribute.
    pub images_without_alt: usize,
    /// script, iframe, embed, object, form… found in the HTML.
    pub forbidden_tags: Vec<String>,
    /// Text inside elements styled invisible (display:none, visibility:hidden,
    /// 0–1 px fonts, opacity 0, `hidden`).
    pub hidden_text: bool,
    /// `missing`: a text part with non-ASCII text and no charset.
    pub charset: Charset,
    /// `large` above 1 MiB, `huge` above 8 MiB.
    pub size: Size,
    /// The message size in bytes.
    pub size_bytes: usize,
    /// The GTUBE spam test string is in a body.
    pub gtube: bool,
    /// What was seen, for the page.
    pub notes: Vec<String>,
}

pub fn unparsed(size: usize) -> BodyFinding {
    BodyFinding {
        structure: Structure::Broken,
        size: size_word(size),
        size_bytes: size,
        notes: vec!["not a parseable RFC 5322 message".into()],
        ..BodyFinding::default()
    }
}

pub fn body(message: &Message<'_>, html: &Option<Html>, raw: &[u8]) -> BodyFinding {
    let mut notes = Vec::new();
    let plain = message
        .parts
        .iter()
        .any(|p| matches!(p.body, PartType::Text(_)) && !p.is_attachment_like());
    let structure = structure(message, raw, &mut notes);
    let charset = charset(message, &mut notes);
    let gtube = message
        .parts
        .iter()
        .take(MAX_PARTS)
        .filter_map(|p| match &p.body {
            PartType::Text(t) | PartType::Html(t) => Some(t),
            _ => None,
        })
        .any(|t| gtube_in(t));
    let mut finding = BodyFinding {
        structure,
        plain_alternative: plain,
        charset,
        size: size_word(raw.len()),
        size_bytes: raw.len(),
        gtube,
        ..BodyFinding::default()
    };
    if let Some(html) = html {
        finding.html = true;
        finding.images = html.images;
        finding.images_without_alt = html.images_without_alt;
        finding.forbidden_tags = html.forbidden.clone();
        finding.hidden_text = html.hidden_chars > 0;
        finding.image_only = html.images > 0 && html.visible_chars < IMAGE_ONLY_TEXT;
        let ratio = html.visible_chars as f64 / html.bytes.max(1) as f64;
        finding.text_ratio = if html.bytes >= RATIO_MIN_HTML && ratio < LOW_RATIO {
            push_bounded(
                &mut notes,
                format!("visible text is {:.1}% of the HTML", ratio * 100.0),
            );
            TextRatio::Low
        } else {
            TextRatio::Ok
        };
    }
    finding.notes = notes;
    finding
}

fn size_word(size: usize) -> Size {
    match size {
        s if s > HUGE_BYTES => Size::Huge,
        s if s > LARGE_BYTES => Size::Large,
        _ => Size::Normal,
    }
}

trait AttachmentLike {
    fn is_attachment_like(&self) -> bool;
}

impl AttachmentLike for mail_parser::MessagePart<'_> {
    /// A text part sent as a file (`Content-Disposition: attachment`) is not
    /// a body alternative.
    fn is_attachment_like(&self) -> bool {
        self.content_disposition()
            .is_some_and(|d| d.is_attachment())
    }
}

/// Broken: a part mail-parser could not decode, a multipart without a
/// boundary, or a boundary whose closing delimiter (`--b--`, RFC 2046
/// §5.1.1) never comes.
fn structure(message: &Message<'_>, raw: &[u8], notes: &mut Vec<String>) -> Structure {
    let mut broken = false;
    let delimiters = delimiter_lines(raw);
    for part in message.parts.iter().take(MAX_PARTS) {
        if part.is_encoding_problem {
            broken = true;
            push_bounded(notes, "a part's transfer encoding does not decode".into());
        }
        let Some(content_type) = part.content_type() else {
            continue;
        };
        if !content_type.ctype().eq_ignore_ascii_case("multipart") {
            continue;
        }
        match content_type.attribute("boundary") {
            None => {
                broken = true;
                push_bounded(notes, "a multipart part has no boundary".into());
            }
            Some(boundary) => {
                let close = format!("--{boundary}--");
                if !delimiters.contains(close.as_bytes()) {
                    broken = true;
                    push_bounded(
                        notes,
                        bounded(&format!("boundary {boundary:?} is never closed")),
                    );
                }
            }
        }
    }
    if broken {
        Structure::Broken
    } else {
        Structure::Ok
    }
}

/// Every line that could be a closing delimiter (starts and ends with
/// `--`, at most 76 bytes: RFC 2046 boundaries are 1–70 characters), read
/// in one pass so a hostile nest of multiparts costs linear time.
fn delimiter_lines(raw: &[u8]) -> HashSet<&[u8]> {
    // Only lines that start with "--" can be delimiters: found by memmem,
    // not by splitting every line of a 10 MB attachment (base64 has no '-').
    let first = raw.starts_with(b"--").then_some(0);
    let starts = first
        .into_iter()
        .chain(memchr::memmem::find_iter(raw, b"\n--").map(|i| i + 1));
    starts
        .map(|start| {
            let end = memchr::memchr(b'\n', &raw[start..]).map_or(raw.len(), |i| start + i);
            &raw[start..end]
        })
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .map(|line| line.trim_ascii_end())
        .filter(|line| line.len() <= 76 && line.starts_with(b"--") && line.ends_with(b"--"))
        .take(10_000)
        .collect()
}

/// Missing: a text part with non-ASCII text and no charset to read it by
/// (RFC 2046 §4.1.2 defaults to US-ASCII, so clients guess).
fn charset(message: &Message<'_>, notes: &mut Vec<String>) -> Charset {
    for part in message.parts.iter().take(MAX_PARTS) {
        let text = match &part.body {
            PartType::Text(t) | PartType::Html(t) => t,
            _ => continue,
        };
        let declared = part
            .content_type()
            .is_some_and(|ct| ct.attribute("charset").is_some());
        // ISO-2022-JP is 7-bit: its escapes, not high bytes, give it away.
        if !declared && (!text.is_ascii() || text.contains('\u{1b}')) {
            push_bounded(notes, "non-ASCII text without a charset".into());
            return Charset::Missing;
        }
    }
    Charset::Ok
}

/// The rule fields of `body`.
pub const FIELDS: &[Field] = &[
    ("profile", Profile::WORDS),
    ("structure", Structure::WORDS),
    ("html", BOOLS),
    ("plain_alternative", BOOLS),
    ("text_ratio", TextRatio::WORDS),
    ("image_only", BOOLS),
    ("images", AMOUNTS),
    ("alt_missing", BOOLS),
    ("forbidden_html", BOOLS),
    ("hidden_text", BOOLS),
    ("charset", Charset::WORDS),
    ("size", Size::WORDS),
    ("gtube", BOOLS),
];

impl BodyFinding {
    pub fn facts(&self, profile: Profile, facts: &mut Facts) {
        let check = CheckId::Body;
        facts.put(check, "profile", profile.as_str());
        facts.put(check, "structure", self.structure.as_str());
        facts.put(check, "html", yes(self.html));
        facts.put(check, "plain_alternative", yes(self.plain_alternative));
        facts.put(check, "text_ratio", self.text_ratio.as_str());
        facts.put(check, "image_only", yes(self.image_only));
        facts.put(check, "images", amount(self.images, MANY_IMAGES));
        facts.put(check, "alt_missing", yes(self.images_without_alt > 0));
        facts.put(
            check,
            "forbidden_html",
            yes(!self.forbidden_tags.is_empty()),
        );
        facts.put(check, "hidden_text", yes(self.hidden_text));
        facts.put(check, "charset", self.charset.as_str());
        facts.put(check, "size", self.size.as_str());
        facts.put(check, "gtube", yes(self.gtube));
    }
}

impl BodyFinding {
    pub fn row(&self, lang: Lang) -> Row {
        let (t, w) = (lang.ui(), ContentWords::of(lang));
        let detail = join(&[
            Some(format!(
                "MIME: {} · HTML: {} · {}: {} · {}: {} ({} {}) · {} {}",
                self.structure.as_str(),
                t.yes_no(self.html),
                w.text_alternative,
                t.yes_no(self.plain_alternative),
                w.images,
                self.images,
                self.images_without_alt,
                w.without_alt,
                self.size_bytes,
                t.bytes,
            )),
            (!self.forbidden_tags.is_empty()).then(|| {
                self.forbidden_tags
                    .iter()
                    .map(|tag| format!("<{tag}>"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        ]);
        Row {
            check: CheckId::Body,
            tone: None,
            name: w.body.into(),
            word: None,
            setup: "",
            about: w.about_body,
            detail,
            records: self.notes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_lines_are_whole_lines_starting_and_ending_with_dashes() {
        let raw = b"--a--\r\nx --b--\r\n--c--  \r\n--d-- x\n--e--";
        let lines = delimiter_lines(raw);
        let mut lines: Vec<_> = lines.into_iter().collect();
        lines.sort();
        assert_eq!(lines, vec![&b"--a--"[..], b"--c--", b"--e--"]);
    }
}
