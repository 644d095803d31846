//! Macro expansion (RFC 7208 §7): turns a domain-spec or an explanation
//! string into text, given what the macros stand for in this check.

use super::record::{ALL_MACRO_LETTERS, DOMAIN_MACRO_LETTERS, MacroError, MacroSpec, Piece};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// What each macro letter stands for in one check_host() call (§7.2).
pub struct MacroValues<'a> {
    /// `s`: the identity checked, `local-part@domain`.
    pub sender: &'a str,
    /// `l`: its local-part.
    pub local_part: &'a str,
    /// `o`: its domain.
    pub sender_domain: &'a str,
    /// `d`: the domain whose record is being evaluated (changes with
    /// include and redirect).
    pub domain: &'a str,
    /// `i`, `c`, `v`: the client address.
    pub ip: IpAddr,
    /// `h`: the HELO/EHLO name.
    pub helo: &'a str,
    /// `r`: our host name.
    pub receiver: &'a str,
    /// `p`: a validated name of the client, found only when a macro asks.
    pub validated_name: Option<&'a str>,
}

/// Whether `text` uses `%{p}`, whose value costs DNS lookups (§7.3), so the
/// caller looks it up first only when it is needed.
pub fn uses_validated_name(text: &str) -> bool {
    super::record::macro_string(text, ALL_MACRO_LETTERS).is_ok_and(|pieces| {
        pieces
            .iter()
            .any(|p| matches!(p, Piece::Macro(m) if m.letter.eq_ignore_ascii_case(&'p')))
    })
}

/// Expands a domain-spec to the name to query: trailing dot removed, and,
/// if over 253 characters, labels removed from the left until it fits
/// (§7.3: "the left side is truncated to fit").
pub fn expand_domain(spec: &str, values: &MacroValues<'_>) -> Result<String, MacroError> {
    let expanded = expand(spec, DOMAIN_MACRO_LETTERS, values)?;
    let mut name = expanded.strip_suffix('.').unwrap_or(&expanded);
    while name.len() > 253 {
        match name.split_once('.') {
            Some((_, rest)) => name = rest,
            None => break,
        }
    }
    Ok(name.to_owned())
}

/// Expands an explanation string (§6.2), where `c`, `r` and `t` are allowed.
pub fn expand_explanation(text: &str, values: &MacroValues<'_>) -> Result<String, MacroError> {
    expand(text, ALL_MACRO_LETTERS, values)
}

fn expand(text: &str, letters: &str, values: &MacroValues<'_>) -> Result<String, MacroError> {
    let mut out = String::new();
    for piece in super::record::macro_string(text, letters)? {
        match piece {
            Piece::Literal(literal) => out.push_str(literal),
            Piece::Escape(escape) => out.push_str(escape),
            Piece::Macro(spec) => out.push_str(&macro_value(&spec, values)),
        }
    }
    Ok(out)
}

/// One `%{...}`: the letter's value, split on the delimiters (default "."),
/// reversed if asked, its rightmost parts kept, joined with "." (§7.3), and
/// URL-escaped when the letter is upper case.
fn macro_value(spec: &MacroSpec<'_>, values: &MacroValues<'_>) -> String {
    let value = letter_value(spec.letter.to_ascii_lowercase(), values);
    let delimiters = if spec.delimiters.is_empty() {
        "."
    } else {
        spec.delimiters
    };
    let mut parts: Vec<&str> = value.split(|c| delimiters.contains(c)).collect();
    if spec.reverse {
        parts.reverse();
    }
    if let Some(keep) = spec.keep {
        let skip = parts.len().saturating_sub(keep);
        parts.drain(..skip);
    }
    let joined = parts.join(".");
    if spec.letter.is_ascii_uppercase() {
        url_escape(&joined)
    } else {
        joined
    }
}

fn letter_value(letter: char, values: &MacroValues<'_>) -> String {
    match letter {
        's' => values.sender.to_owned(),
        'l' => values.local_part.to_owned(),
        'o' => values.sender_domain.to_owned(),
        'd' => values.domain.to_owned(),
        'i' => dotted_address(values.ip),
        'p' => values.validated_name.unwrap_or("unknown").to_owned(),
        'v' => match values.ip {
            IpAddr::V4(_) => "in-addr".to_owned(),
            IpAddr::V6(_) => "ip6".to_owned(),
        },
        'h' => values.helo.to_owned(),
        // RFC 5952 text for IPv6, which Rust's Display writes.
        'c' => values.ip.to_string(),
        'r' => values.receiver.to_owned(),
        't' => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string(),
        // The parser lets no other letter through.
        _ => String::new(),
    }
}

/// `%{i}`: IPv4 in dotted quad, IPv6 as 32 dot-separated nibbles (§7.3),
/// the same form as the reverse-DNS name without its suffix.
pub fn dotted_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6
            .octets()
            .iter()
            .flat_map(|b| [b >> 4, b & 0xf])
            .map(|nibble| format!("{nibble:x}"))
            .collect::<Vec<_>>()
            .join("."),
    }
}

/// Upper-case macro letters are URL-escaped (§7.3): every character but
/// RFC 3986's unreserved ones becomes %XX of its UTF-8 bytes.
fn url_escape(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of RFC 7208 §7.4's examples.
    fn rfc_values(ip: IpAddr) -> MacroValues<'static> {
        MacroValues {
            sender: "strong-bad@email.example.com",
            local_part: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip,
            helo: "mx.example.org",
            receiver: "receiver.example",
            validated_name: None,
        }
    }

    #[test]
    fn rfc_7208_section_7_4_examples() {
        let v4 = rfc_values("192.0.2.3".parse().unwrap());
        for (spec, want) in [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
            ),
            (
                "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
                "3.2.0.192.in-addr.strong.lp._spf.example.com",
            ),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
        ] {
            assert_eq!(expand_domain(spec, &v4).unwrap(), want, "{spec}");
        }
        let v6 = rfc_values("2001:db8::cb01".parse().unwrap());
        assert_eq!(
            expand_domain("%{ir}.%{v}._spf.%{d2}", &v6).unwrap(),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn escapes_and_explanations() {
        let mut values = rfc_values("192.0.2.3".parse().unwrap());
        values.local_part = "~jack&jill=up-a_b3.c";
        assert_eq!(
            expand_explanation("l=%{L} %%%_%-", &values).unwrap(),
            "l=~jack%26jill%3Dup-a_b3.c % %20"
        );
        assert_eq!(
            expand_explanation("%{c} via %{r}, %{p}", &values).unwrap(),
            "192.0.2.3 via receiver.example, unknown"
        );
        assert!(expand_domain("%{c}.example.com", &values).is_err());
    }

    #[test]
    fn long_names_lose_labels_on_the_left() {
        let values = rfc_values("192.0.2.3".parse().unwrap());
        let spec = format!(
            "{}.%{{o}}.",
            "a".repeat(60) + "." + &"b".repeat(60) + "." + &"c".repeat(60) + "." + &"d".repeat(60)
        );
        let name = expand_domain(&spec, &values).unwrap();
        assert!(name.len() <= 253, "{name}");
        assert!(
            name.starts_with("bbbb") && name.ends_with(".email.example.com"),
            "{name}"
        );
        assert!(uses_validated_name("%{p}.example.com"));
        assert!(!uses_validated_name("%{d}.example.com"));
    }
}
