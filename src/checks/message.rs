//! Facts about the message itself, from its parsed headers. Everything here
//! is attacker-controlled: each string is bounded so a hostile message cannot
//! blow up the report, and the page escapes it.

use super::content::encoding;
use mail_parser::Message;
use serde::{Deserialize, Serialize};

/// At most this many header fields are kept for display.
const MAX_HEADERS: usize = 200;
/// Each kept string is cut to this many characters.
const MAX_FIELD_CHARS: usize = 2000;

/// What the message says about itself, as the report shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "MessageSummary"))]
pub struct MessageFacts {
    /// The Subject header.
    pub subject: Option<String>,
    /// The From header as written, display name included.
    pub from: Option<String>,
    /// The From address alone.
    pub from_address: Option<String>,
    /// The Message-ID header.
    pub message_id: Option<String>,
    /// The Date header, normalised to RFC 3339 when it parses.
    pub date: Option<String>,
    /// Size in bytes, as received.
    pub size: usize,
    /// False when the bytes are not a parseable RFC 5322 message.
    pub parsed: bool,
    /// The From display name, decoded for display: RFC 2047 encoded words
    /// in ISO-2022-JP, Shift_JIS, EUC-JP, UTF-8… (`=?ISO-2022-JP?B?…?=`
    /// shows as 山田太郎). None without a display name.
    #[serde(default)]
    pub from_name: Option<String>,
}

/// One parse's facts, with what the report keeps apart from them (the
/// header fields, shown raw) and what only the checks read (link domains).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadMessage {
    pub facts: MessageFacts,
    /// The top-level header fields in order, raw values (unfolded).
    pub headers: Vec<(String, String)>,
    /// Host names of the http(s) links in the text and HTML bodies, for the
    /// domain blocklists; at most [`MAX_LINK_DOMAINS`], first seen first.
    pub link_domains: Vec<String>,
}

/// At most this many link domains are looked up per message.
pub const MAX_LINK_DOMAINS: usize = 20;

pub fn facts(raw: &[u8]) -> ReadMessage {
    super::big_parts::parsed(raw, |parsed| facts_of(raw, parsed))
}

/// [`facts`] from `raw` already parsed (`None`: it would not parse).
pub fn facts_of(raw: &[u8], parsed: Option<&Message>) -> ReadMessage {
    let Some(message) = parsed else {
        return ReadMessage {
            facts: MessageFacts {
                size: raw.len(),
                ..MessageFacts::default()
            },
            ..ReadMessage::default()
        };
    };
    let from = message.from().and_then(|a| a.first());
    let facts = MessageFacts {
        subject: subject(raw, message).map(|s| bounded(&s)),
        from: message.header_raw("From").map(|v| bounded(v.trim())),
        from_address: from.and_then(|a| a.address()).map(bounded),
        message_id: message.message_id().map(bounded),
        date: message.date().map(|d| d.to_rfc3339()),
        size: raw.len(),
        parsed: true,
        from_name: from
            .and_then(|a| a.name())
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(bounded),
    };
    ReadMessage {
        facts,
        headers: message
            .headers_raw()
            .take(MAX_HEADERS)
            .map(|(name, value)| (bounded(name), bounded(&unfold(value))))
            .collect(),
        link_domains: link_domains(message),
    }
}

/// The distinct hosts of `http://` and `https://` links in the bodies.
fn link_domains(message: &mail_parser::Message<'_>) -> Vec<String> {
    let mut domains: Vec<String> = Vec::new();
    let bodies = message.text_bodies().chain(message.html_bodies());
    for text in bodies.filter_map(|part| part.text_contents()) {
        let lower = text.to_ascii_lowercase();
        for (start, _) in lower.match_indices("http") {
            let rest = &lower[start..];
            let Some(after) = rest
                .strip_prefix("https://")
                .or_else(|| rest.strip_prefix("http://"))
            else {
                continue;
            };
            let host: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
            let host = host.trim_matches('.').to_string();
            if host.contains('.')
                && host.parse::<std::net::IpAddr>().is_err()
                && !domains.contains(&host)
            {
                domains.push(host);
                if domains.len() == MAX_LINK_DOMAINS {
                    return domains;
                }
            }
        }
    }
    domains
}

/// The Subject for display: decoded by mail-parser as RFC 2047 says,
/// unless it was written raw in a legacy charset, which mail-parser can
/// only read as mojibake: Shift_JIS or EUC-JP bytes (not UTF-8, so it keeps
/// no raw value) or ISO-2022-JP escapes. Those are decoded best effort from
/// the raw bytes. Only the Subject's own bytes decide, not other fields.
fn subject(raw: &[u8], message: &Message<'_>) -> Option<String> {
    match message.header_raw("Subject") {
        Some(value) if !value.contains('\u{1b}') => message.subject().map(str::to_string),
        _ => encoding::raw_field(raw, "subject").map(|value| encoding::best_effort(&value)),
    }
}

/// RFC 5322 §2.2.3: unfolding removes the line breaks, not the whitespace
/// after them (a DKIM b= value must stay intact).
fn unfold(value: &str) -> String {
    value.replace(['\r', '\n'], "").trim().to_string()
}

fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_FIELD_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_headers_a_report_shows() {
        let raw = b"From: Alice <alice@example.com>\r\nSubject: Hello\r\n there\r\nMessage-ID: <a@b>\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\r\nbody\r\n";
        let read = facts(raw);
        let f = &read.facts;
        assert_eq!(f.subject.as_deref(), Some("Hello there"));
        assert_eq!(read.headers[1], ("Subject".into(), "Hello there".into()));
        assert_eq!(f.from_address.as_deref(), Some("alice@example.com"));
        assert_eq!(f.message_id.as_deref(), Some("a@b"));
        assert_eq!(f.date.as_deref(), Some("2025-07-01T10:00:00Z"));
        assert!(read.link_domains.is_empty());
    }

    #[test]
    fn collects_link_domains_once_each() {
        let raw = b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n<a href=\"https://Shop.Example.net/x?y\">x</a> http://shop.example.net/ https://192.0.2.1/ http://bare\r\n";
        assert_eq!(
            facts(raw).link_domains,
            vec!["shop.example.net".to_string()]
        );
    }

    #[test]
    fn bounds_hostile_header_length() {
        let raw = format!("Subject: {}\r\n\r\n", "x".repeat(100_000));
        let f = facts(raw.as_bytes()).facts;
        assert!(f.subject.unwrap().chars().count() <= MAX_FIELD_CHARS + 1);
    }
}
