//! The envelope of an archived message, as far as the archive says it: the
//! connecting IP, the HELO name and whether TLS was used come from the
//! `Received:` header the archive's own receiving server added (`by HOST`),
//! the MAIL FROM from `Return-Path:`. Only that server's header is
//! believed: every header below it was written by the sender's side and
//! can say anything.
//!
//! `from mail.example.jp (mail.example.jp [192.0.2.25]) by mx.google.com
//! with ESMTPS id …; date` (RFC 5321 §4.4) gives helo `mail.example.jp`,
//! IP 192.0.2.25, TLS (the `S` of ESMTPS, RFC 3848; also Postfix's
//! `(using TLSv1.3 …)`).

use crate::smtp::{Envelope, TlsInfo};
use std::net::IpAddr;

/// What the receiving server's `Received:` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub ip: IpAddr,
    pub helo: String,
    pub tls: Option<TlsInfo>,
}

/// The hop recorded by `by_host`: the first (topmost) `Received:` field
/// naming it after `by`, if it gives a client IP.
pub fn hop(headers: &[(String, String)], by_host: &str) -> Option<Hop> {
    let wanted = normalise(by_host);
    headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("received"))
        .find_map(|(_, value)| parse(&unfold(value), &wanted))
}

/// The address in `Return-Path: <a@example.jp>`; empty for `<>` or none.
pub fn return_path(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("return-path"))
        .map(|(_, value)| {
            let value = value.trim();
            let value = value.strip_prefix('<').unwrap_or(value);
            value
                .split('>')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// The envelope an archived message was received with. Without a hop
/// (`--received-by` not given, or no header of that host), the IP is the
/// unspecified address and the caller reports what depends on it as not
/// checked.
pub fn envelope(hop: Option<&Hop>, mail_from: String, received_at: u64) -> Envelope {
    Envelope {
        client_ip: hop.map_or(IpAddr::from([0, 0, 0, 0]), |h| h.ip),
        client_port: 0,
        helo: hop.map(|h| h.helo.clone()).unwrap_or_default(),
        mail_from,
        rcpt_to: Vec::new(),
        received_at,
        tls: hop.and_then(|h| h.tls.clone()),
    }
}

/// The message's header fields (name, value unfolded), up to the first
/// empty line; at most the first 256 KiB are read, enough for any real
/// header section.
pub fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    let head = &raw[..raw.len().min(256 * 1024)];
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    fields
}

fn parse(value: &str, wanted: &str) -> Option<Hop> {
    let lower = value.to_ascii_lowercase();
    let by_at = word_at(&lower, "by")?;
    let by = lower[by_at + 2..].split_whitespace().next()?;
    if normalise(by) != wanted {
        return None;
    }
    let from = lower.strip_prefix("from ").map(|_| &value[5..by_at])?;
    let helo = from.split_whitespace().next()?.to_string();
    let ip = last_bracketed_ip(from)?;
    Some(Hop {
        ip,
        helo,
        tls: tls(value, &lower[by_at..]),
    })
}

/// Where ` word ` starts as a whole word (after a space or a newline).
fn word_at(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    text.match_indices(word).map(|(at, _)| at).find(|&at| {
        let before = at == 0 || bytes[at - 1].is_ascii_whitespace() || bytes[at - 1] == b')';
        let after = bytes
            .get(at + word.len())
            .is_some_and(u8::is_ascii_whitespace);
        before && after
    })
}

/// `[192.0.2.25]` or `[IPv6:2001:db8::1]`, the last in the from clause
/// (the first may be the HELO as an address literal).
fn last_bracketed_ip(from: &str) -> Option<IpAddr> {
    from.rsplit('[').find_map(|part| {
        let inside = part.split(']').next()?;
        let inside = inside
            .strip_prefix("IPv6:")
            .or_else(|| inside.strip_prefix("ipv6:"))
            .unwrap_or(inside);
        inside.trim().parse().ok()
    })
}

/// TLS as the receiving server wrote it: `with ESMTPS`/`ESMTPSA`/
/// `UTF8SMTPS` (RFC 3848, RFC 6531), Postfix's `(using TLSv1.3 with cipher
/// X …)`, or Gmail's `(version=TLS1_3 cipher=X …)`.
fn tls(value: &str, after_by: &str) -> Option<TlsInfo> {
    let protocol = word_at(after_by, "with")
        .and_then(|at| after_by[at + 4..].split_whitespace().next())
        .unwrap_or_default();
    let by_protocol = matches!(protocol, "esmtps" | "esmtpsa" | "utf8smtps" | "utf8smtpsa");
    let (version, cipher) = if let Some(at) = value.find("(using ") {
        let mut words = value[at + 7..].split_whitespace();
        let version = words.next().unwrap_or_default().to_string();
        let cipher = value[at..]
            .split("with cipher ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        (version, cipher)
    } else {
        (tag(value, "version="), tag(value, "cipher="))
    };
    (by_protocol || !version.is_empty()).then(|| TlsInfo {
        version: if version.is_empty() {
            "unknown".into()
        } else {
            version
        },
        cipher: if cipher.is_empty() {
            "unknown".into()
        } else {
            cipher
        },
    })
}

fn tag(value: &str, name: &str) -> String {
    value
        .split(name)
        .nth(1)
        .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == ')').next())
        .unwrap_or_default()
        .to_string()
}

fn unfold(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn normalise(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(received: &[&str]) -> Vec<(String, String)> {
        received
            .iter()
            .map(|v| ("Received".to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_receiving_servers_hop_gives_ip_helo_and_tls() {
        let gmail = "from mail.example.jp (mail.example.jp. [192.0.2.25])\r\n        by mx.google.com with ESMTPS id x1si2 for <a@gmail.com>\r\n        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\r\n        Tue, 25 Nov 2025 10:00:00 -0800 (PST)";
        let hop = hop(&headers(&[gmail]), "MX.Google.com.").unwrap();
        assert_eq!(hop.ip, "192.0.2.25".parse::<IpAddr>().unwrap());
        assert_eq!(hop.helo, "mail.example.jp");
        let tls = hop.tls.unwrap();
        assert_eq!(
            (tls.version.as_str(), tls.cipher.as_str()),
            ("TLS1_3", "TLS_AES_256_GCM_SHA384")
        );
    }

    #[test]
    fn postfix_headers_plaintext_and_ipv6_are_read() {
        let postfix = "from out.example.jp (out.example.jp [IPv6:2001:db8::25]) (using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)) by mx.survey.test (Postfix) with ESMTPS id 4Q; Tue, 25 Nov 2025";
        let hop = hop(&headers(&[postfix]), "mx.survey.test").unwrap();
        assert_eq!(hop.ip, "2001:db8::25".parse::<IpAddr>().unwrap());
        assert_eq!(hop.tls.unwrap().version, "TLSv1.3");
        let plain =
            "from [192.0.2.9] (unknown [198.51.100.7]) by mx.survey.test with ESMTP id 9; date";
        let hop = super::hop(&headers(&[plain]), "mx.survey.test").unwrap();
        assert_eq!(hop.ip, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(hop.helo, "[192.0.2.9]");
        assert_eq!(hop.tls, None);
    }

    #[test]
    fn only_the_named_hosts_header_is_believed() {
        let inner = "from relay.internal (relay.internal [10.0.0.1]) by mailstore.survey.test with LMTP; date";
        let ours = "from mail.example.jp (mail.example.jp [192.0.2.25]) by mx.survey.test with ESMTP; date";
        let forged = "from liar (liar [203.0.113.1]) by mx.survey.test with ESMTP; date";
        let found = hop(&headers(&[inner, ours, forged]), "mx.survey.test").unwrap();
        assert_eq!(found.ip, "192.0.2.25".parse::<IpAddr>().unwrap());
        assert_eq!(hop(&headers(&[inner]), "mx.survey.test"), None);
        assert_eq!(
            hop(&headers(&["by mx.survey.test; no from"]), "mx.survey.test"),
            None
        );
    }

    #[test]
    fn the_return_path_is_the_mail_from() {
        let h = vec![(
            "Return-Path".to_string(),
            " <news@example.go.jp>".to_string(),
        )];
        assert_eq!(return_path(&h), "news@example.go.jp");
        let null = vec![("return-path".to_string(), "<>".to_string())];
        assert_eq!(return_path(&null), "");
        assert_eq!(return_path(&[]), "");
    }
}
