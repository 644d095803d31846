//! Links: how many, whether the text of a link shows one domain while it
//! goes to another (the phishing classic), URL shorteners
//! (`scoring-rules/shorteners.txt`), and links to bare IP addresses.

use super::ContentWords;
use super::Profile;
use super::domains::{as_domain, related};
use super::html::Html;
use super::{bounded, push_bounded};
use crate::checks::CheckId;
use crate::checks::facts::{AMOUNTS, BOOLS, Facts, Field, amount, yes};
use crate::checks::row::Row;
use crate::i18n::Lang;
use mail_parser::{Message, PartType};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

const SHORTENERS: &str = include_str!("../../../scoring-rules/shorteners.txt");
/// Distinct URLs counted per message.
const MAX_URLS: usize = 1000;

/// Links in the text and HTML bodies; never opened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct LinkFinding {
    /// Distinct http(s) URLs in the text and HTML bodies (at most 1000).
    pub count: usize,
    /// "shows A, goes to B" for links whose text names another domain.
    pub mismatched: Vec<String>,
    /// Hosts of links through URL shorteners.
    pub shorteners: Vec<String>,
    /// Hosts of links that are bare IP addresses.
    pub raw_ip: Vec<String>,
}

pub fn links(message: &Message<'_>, html: &Option<Html>) -> LinkFinding {
    let mut urls: Vec<String> = Vec::new();
    let mut finding = LinkFinding::default();
    for part in &message.parts {
        if let PartType::Text(text) = &part.body {
            text_urls(text, &mut urls);
        }
    }
    for anchor in html.iter().flat_map(|h| &h.anchors) {
        let Some(host) = host_of(&anchor.href) else {
            continue;
        };
        if urls.len() < MAX_URLS && !urls.contains(&anchor.href) {
            urls.push(anchor.href.clone());
        }
        if let Some(shown) = anchor.text.split_whitespace().next().and_then(as_domain)
            && anchor.text.split_whitespace().count() == 1
            && !related(&shown, &host)
        {
            push_bounded(
                &mut finding.mismatched,
                bounded(&format!("shows {shown}, goes to {host}")),
            );
        }
    }
    for url in &urls {
        let Some(host) = host_of(url) else { continue };
        if is_ip(&host) {
            push_bounded(&mut finding.raw_ip, bounded(&host));
        } else if is_shortener(&host) {
            push_bounded(&mut finding.shorteners, bounded(&host));
        }
    }
    finding.count = urls.len();
    finding
}

/// The http(s) URLs written in plain text.
fn text_urls(text: &str, urls: &mut Vec<String>) {
    let lower = text.to_ascii_lowercase();
    for (start, _) in lower.match_indices("http") {
        if urls.len() >= MAX_URLS {
            return;
        }
        let rest = &text[start..];
        let url: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && !"<>\"'".contains(*c))
            .take(2000)
            .collect();
        let url = url.trim_end_matches(['.', ',', ')', ';']).to_string();
        if host_of(&url).is_some() && !urls.contains(&url) {
            urls.push(url);
        }
    }
}

/// The host of an `http://` or `https://` URL, lower-case, without
/// brackets, port or user info.
pub fn host_of(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#', '\\']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host.split(':').next()?
    };
    let host = host.trim_end_matches('.');
    (!host.is_empty()).then(|| host.to_string())
}

/// An IP literal, or a host of digits only (`http://3232235777/` is an
/// IPv4 address to most browsers).
fn is_ip(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok() || host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn is_shortener(host: &str) -> bool {
    SHORTENERS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|s| host == s || host.ends_with(&format!(".{s}")))
}

/// More links than this is "many".
const MANY_LINKS: usize = 25;

/// The rule fields of `links`.
pub const FIELDS: &[Field] = &[
    ("profile", Profile::WORDS),
    ("count", AMOUNTS),
    ("mismatch", BOOLS),
    ("shortener", BOOLS),
    ("raw_ip", BOOLS),
];

impl LinkFinding {
    pub fn facts(&self, profile: Profile, facts: &mut Facts) {
        let check = CheckId::Links;
        facts.put(check, "profile", profile.as_str());
        facts.put(check, "count", amount(self.count, MANY_LINKS));
        facts.put(check, "mismatch", yes(!self.mismatched.is_empty()));
        facts.put(check, "shortener", yes(!self.shorteners.is_empty()));
        facts.put(check, "raw_ip", yes(!self.raw_ip.is_empty()));
    }
}

impl LinkFinding {
    pub fn row(&self, lang: Lang) -> Row {
        let w = ContentWords::of(lang);
        let mut records = self.mismatched.clone();
        records.extend(self.shorteners.iter().map(|h| format!("shortener: {h}")));
        records.extend(self.raw_ip.iter().map(|h| format!("IP: {h}")));
        Row {
            check: CheckId::Links,
            tone: None,
            name: w.links.into(),
            word: None,
            setup: "",
            about: w.about_links,
            detail: format!("{}: {}", w.links_found, self.count),
            records,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_urls() {
        assert_eq!(
            host_of("https://User@Bank.Example:8443/x").as_deref(),
            Some("bank.example")
        );
        assert_eq!(
            host_of("http://[2001:db8::1]/").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(host_of("mailto:a@b.example"), None);
        assert!(is_ip("192.0.2.7") && is_ip("2001:db8::1") && is_ip("3232235777"));
        assert!(!is_ip("bank.example"));
        assert!(is_shortener("bit.ly") && is_shortener("www.bit.ly") && !is_shortener("rabbit.ly"));
    }

    #[test]
    fn text_urls_are_found_once() {
        let mut urls = Vec::new();
        text_urls(
            "See https://a.example/x, and HTTPS://a.example/x or http://192.0.2.1/.",
            &mut urls,
        );
        assert_eq!(
            urls,
            vec![
                "https://a.example/x",
                "HTTPS://a.example/x",
                "http://192.0.2.1/"
            ]
        );
    }
}
