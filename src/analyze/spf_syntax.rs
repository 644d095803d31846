//! Strict syntax check of a published SPF record, by the RFC 7208 ABNF.
//!
//! mail-auth parses records leniently: some records that RFC 7208 calls
//! syntax errors (result "permerror", shown as misconfigured) come out of it
//! as another result. This module checks the record text on its own, without
//! any DNS, so the report can say "set up wrongly" exactly when the RFC does.
//!
//! It is a small hand-written parser; each function is named after the ABNF
//! rule (RFC 7208 section 12) it checks. Limits that need DNS (lookup counts,
//! void lookups, missing records) are not syntax and are not checked here.

use std::fmt;
use std::net::Ipv6Addr;

/// Why a record is not valid RFC 7208 syntax, for showing to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The offending term, as written in the record.
    pub term: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "term {:?}: {}", self.term, self.reason)
    }
}

impl std::error::Error for SyntaxError {}

/// What is wrong with one term; [`check`] adds the term itself.
type Reason = String;

/// Macro letters allowed in a domain-spec (RFC 7208 7.2: "c", "r" and "t"
/// are only for explanation text fetched by `exp=`, not for the record).
const DOMAIN_MACRO_LETTERS: &str = "slodiphv";

/// Every `macro-letter` of the ABNF, allowed in an unknown modifier's value.
const ALL_MACRO_LETTERS: &str = "slodiphcrtv";

/// Checks one TXT record that starts with "v=spf1" (case-insensitive).
/// Ok(()) when it is valid.
///
/// ```text
/// record = version terms *SP        ; RFC 7208 4.5, 12
/// terms  = *( 1*SP ( directive / modifier ) )
/// ```
pub fn check(record: &str) -> Result<(), SyntaxError> {
    printable_ascii(record)?;
    let terms = version(record)?;
    let mut seen = Modifiers::default();
    // Only printable ASCII is left, and no term may contain SP, so splitting
    // on SP is exactly `1*SP`; the empty pieces are the extra spaces.
    for text in terms.split(' ').filter(|t| !t.is_empty()) {
        term(text, &mut seen).map_err(|reason| SyntaxError {
            term: text.to_owned(),
            reason,
        })?;
    }
    Ok(())
}

/// RFC 7208 3.1 and 4.6.1: a record is 7-bit ASCII, and terms are separated
/// by spaces only, so every character is %x21-7E or SP (no tabs, CR, LF,
/// NUL, or non-ASCII).
fn printable_ascii(record: &str) -> Result<(), SyntaxError> {
    let Some((at, bad)) = record
        .char_indices()
        .find(|&(_, c)| c != ' ' && !c.is_ascii_graphic())
    else {
        return Ok(());
    };
    let start = record[..at].rfind(' ').map_or(0, |p| p + 1);
    let end = record[at..].find(' ').map_or(record.len(), |p| at + p);
    Err(SyntaxError {
        term: record[start..end].to_owned(),
        reason: format!(
            "character U+{:04X} is not allowed: an SPF record is printable ASCII \
             with terms separated by spaces (RFC 7208 3.1, 4.6.1)",
            u32::from(bad)
        ),
    })
}

/// `version = "v=spf1"` (case-insensitive, RFC 7208 4.5), followed by SP or
/// the end of the record. Returns the rest of the record.
fn version(record: &str) -> Result<&str, SyntaxError> {
    if let Some(head) = record.get(..6)
        && head.eq_ignore_ascii_case("v=spf1")
    {
        let rest = &record[6..];
        if rest.is_empty() || rest.starts_with(' ') {
            return Ok(rest);
        }
    }
    Err(SyntaxError {
        term: record.split(' ').next().unwrap_or_default().to_owned(),
        reason: "an SPF record must start with \"v=spf1\" followed by a space \
                 or the end of the record (RFC 7208 4.5)"
            .to_owned(),
    })
}

/// The modifiers that may appear at most once (RFC 7208 6), and whether they
/// have been seen yet.
#[derive(Default)]
struct Modifiers {
    redirect: bool,
    exp: bool,
}

/// `directive / modifier`. A modifier is `name "=" ...`, so a term whose
/// first ":", "/" or "=" is "=" is a modifier; anything else is a directive.
fn term(text: &str, seen: &mut Modifiers) -> Result<(), Reason> {
    match text.find([':', '/', '=']) {
        Some(at) if text.as_bytes()[at] == b'=' => modifier(&text[..at], &text[at + 1..], seen),
        _ => directive(text),
    }
}

/// `directive = [ qualifier ] mechanism`, `qualifier = "+" / "-" / "?" / "~"`
/// (RFC 7208 4.6.2).
fn directive(text: &str) -> Result<(), Reason> {
    mechanism(text.strip_prefix(['+', '-', '?', '~']).unwrap_or(text))
}

/// `mechanism = all / include / a / mx / ptr / ip4 / ip6 / exists`
/// (RFC 7208 5). Names are case-insensitive; any other name is an error
/// (RFC 7208 4.6.1: unknown mechanisms are a permerror).
fn mechanism(text: &str) -> Result<(), Reason> {
    let (name, args) = text.split_at(text.find([':', '/']).unwrap_or(text.len()));
    match name.to_ascii_lowercase().as_str() {
        "all" => all(args),
        "include" | "exists" => required_domain_spec(name, args),
        "a" | "mx" => a_or_mx(args),
        "ptr" => ptr(args),
        "ip4" => ip4(args),
        "ip6" => ip6(args),
        "" => Err("a qualifier or separator without a mechanism name".to_owned()),
        _ => Err(format!(
            "unknown mechanism {name:?}: the mechanisms are all, include, a, mx, \
             ptr, ip4, ip6 and exists, and a modifier is written name=value \
             (RFC 7208 5)"
        )),
    }
}

/// `all = "all"` (RFC 7208 5.1): takes no argument.
fn all(args: &str) -> Result<(), Reason> {
    if args.is_empty() {
        Ok(())
    } else {
        Err("\"all\" takes no domain or prefix length (RFC 7208 5.1)".to_owned())
    }
}

/// `include = "include" ":" domain-spec` (RFC 7208 5.2) and
/// `exists = "exists" ":" domain-spec` (RFC 7208 5.7): the domain is required
/// and there is no prefix length.
fn required_domain_spec(name: &str, args: &str) -> Result<(), Reason> {
    match args.strip_prefix(':') {
        Some(spec) => domain_spec(spec),
        None => Err(format!(
            "{:?} needs \":\" and a domain, with no prefix length (RFC 7208 5)",
            name.to_ascii_lowercase()
        )),
    }
}

/// `a = "a" [ ":" domain-spec ] [ dual-cidr-length ]` (RFC 7208 5.3) and the
/// same for `mx` (RFC 7208 5.4).
fn a_or_mx(args: &str) -> Result<(), Reason> {
    let rest = dual_cidr_length(args)?;
    optional_domain_spec(rest)
}

/// `ptr = "ptr" [ ":" domain-spec ]` (RFC 7208 5.5): no prefix length.
fn ptr(args: &str) -> Result<(), Reason> {
    optional_domain_spec(args)
}

/// `[ ":" domain-spec ]`: nothing, or ":" and a non-empty domain-spec.
fn optional_domain_spec(args: &str) -> Result<(), Reason> {
    match args.strip_prefix(':') {
        Some(spec) => domain_spec(spec),
        None if args.is_empty() => Ok(()),
        None => Err(format!(
            "unexpected {args:?} after the mechanism name (RFC 7208 5)"
        )),
    }
}

/// `ip4 = "ip4" ":" ip4-network [ ip4-cidr-length ]` (RFC 7208 5.6).
fn ip4(args: &str) -> Result<(), Reason> {
    let Some(value) = args.strip_prefix(':') else {
        return Err("\"ip4\" needs \":\" and an IPv4 address (RFC 7208 5.6)".to_owned());
    };
    match value.split_once('/') {
        Some((network, length)) => {
            ip4_network(network)?;
            cidr_length(length, 32, "IPv4")
        }
        None => ip4_network(value),
    }
}

/// `ip6 = "ip6" ":" ip6-network [ ip6-cidr-length ]` (RFC 7208 5.6).
fn ip6(args: &str) -> Result<(), Reason> {
    let Some(value) = args.strip_prefix(':') else {
        return Err("\"ip6\" needs \":\" and an IPv6 address (RFC 7208 5.6)".to_owned());
    };
    match value.split_once('/') {
        Some((network, length)) => {
            ip6_network(network)?;
            cidr_length(length, 128, "IPv6")
        }
        None => ip6_network(value),
    }
}

/// `ip4-network = qnum "." qnum "." qnum "." qnum`, where `qnum` is 0-255
/// written without leading zeros (RFC 7208 5.6, 12).
fn ip4_network(text: &str) -> Result<(), Reason> {
    let octets: Vec<&str> = text.split('.').collect();
    if octets.len() == 4 && octets.iter().all(|o| qnum(o)) {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not an IPv4 address in dotted-quad form, 0-255 without \
             leading zeros (RFC 7208 5.6)"
        ))
    }
}

/// `qnum`: a decimal number 0-255 with no leading zero (RFC 7208 12).
fn qnum(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 3
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
        && text.parse::<u8>().is_ok()
}

/// `ip6-network = <as per RFC 4291, section 2.2>` (RFC 7208 5.6).
fn ip6_network(text: &str) -> Result<(), Reason> {
    match text.parse::<Ipv6Addr>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "{text:?} is not an IPv6 address (RFC 7208 5.6, RFC 4291 2.2)"
        )),
    }
}

/// `dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]`
/// (RFC 7208 5.6), at the end of an `a` or `mx` term: checks it and returns
/// what comes before it.
fn dual_cidr_length(args: &str) -> Result<&str, Reason> {
    let Some((before, last)) = trailing_slash_digits(args) else {
        return Ok(args);
    };
    if let Some(before_ip6) = before.strip_suffix('/') {
        cidr_length(last, 128, "IPv6")?;
        if let Some((before_ip4, ip4)) = trailing_slash_digits(before_ip6) {
            cidr_length(ip4, 32, "IPv4")?;
            return Ok(before_ip4);
        }
        Ok(before_ip6)
    } else {
        cidr_length(last, 32, "IPv4")?;
        Ok(before)
    }
}

/// Splits `text` into what comes before a final "/" 1*DIGIT, and the digits.
fn trailing_slash_digits(text: &str) -> Option<(&str, &str)> {
    let before_digits = text.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &text[before_digits.len()..];
    let before = before_digits.strip_suffix('/')?;
    (!digits.is_empty()).then_some((before, digits))
}

/// `ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT) ; value range 0-32` and
/// `ip6-cidr-length = "/" ("0" / %x31-39 0*2DIGIT) ; value range 0-128`
/// (RFC 7208 5.6, 12): `digits` is the part after "/".
fn cidr_length(digits: &str, max: u8, family: &str) -> Result<(), Reason> {
    let well_formed = !digits.is_empty()
        && digits.len() <= 3
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    match digits.parse::<u8>() {
        Ok(n) if well_formed && n <= max => Ok(()),
        _ => Err(format!(
            "{family} prefix length \"/{digits}\" must be 0-{max} without leading \
             zeros (RFC 7208 5.6)"
        )),
    }
}

/// `modifier = redirect / explanation / unknown-modifier` (RFC 7208 6, 12).
/// `redirect` and `exp` take a domain-spec and may appear once each; any
/// other name takes a macro-string and is otherwise ignored.
fn modifier(name: &str, value: &str, seen: &mut Modifiers) -> Result<(), Reason> {
    self::name(name)?;
    let once = if name.eq_ignore_ascii_case("redirect") {
        &mut seen.redirect
    } else if name.eq_ignore_ascii_case("exp") {
        &mut seen.exp
    } else {
        return macro_string(value, ALL_MACRO_LETTERS).map(drop);
    };
    if std::mem::replace(once, true) {
        return Err(format!(
            "{:?} appears more than once (RFC 7208 6)",
            name.to_ascii_lowercase()
        ));
    }
    domain_spec(value)
}

/// `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )` (RFC 7208 6, 12).
fn name(text: &str) -> Result<(), Reason> {
    let mut chars = text.chars();
    match chars.next() {
        None => Err("modifier name before \"=\" is empty (RFC 7208 12)".to_owned()),
        Some(first)
            if first.is_ascii_alphabetic()
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
        {
            Ok(())
        }
        Some(_) => Err(format!(
            "modifier name {text:?} must start with a letter and contain only \
             letters, digits, \"-\", \"_\" and \".\" (RFC 7208 12)"
        )),
    }
}

/// One piece of a macro-string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    /// A run of `macro-literal` characters.
    Literal(&'a str),
    /// One `macro-expand`.
    Expand,
}

/// `domain-spec = macro-string domain-end` (RFC 7208 7.1), with the label
/// rules of RFC 7208 4.3 / 4.6.1 applied to its literal text: no empty label
/// and no label over 63 characters.
fn domain_spec(text: &str) -> Result<(), Reason> {
    if text.is_empty() {
        return Err("the domain is empty (RFC 7208 7.1)".to_owned());
    }
    let pieces = macro_string(text, DOMAIN_MACRO_LETTERS)?;
    labels(&pieces)?;
    domain_end(&pieces)
}

/// Literal labels: none empty (`foo..bar`, or a leading "."), none longer
/// than 63 characters (RFC 7208 4.3, 4.6.1; RFC 1035 2.3.4).
fn labels(pieces: &[Piece<'_>]) -> Result<(), Reason> {
    for (i, piece) in pieces.iter().enumerate() {
        let Piece::Literal(text) = *piece else {
            continue;
        };
        if text.contains("..") || (i == 0 && text.starts_with('.')) {
            return Err("the domain has an empty label (RFC 7208 4.3)".to_owned());
        }
        if let Some(long) = text.split('.').find(|label| label.len() > 63) {
            return Err(format!(
                "the domain label {long:?} is longer than 63 characters (RFC 7208 4.3)"
            ));
        }
    }
    Ok(())
}

/// `domain-end = ( "." toplabel [ "." ] ) / macro-expand` (RFC 7208 7.1).
fn domain_end(pieces: &[Piece<'_>]) -> Result<(), Reason> {
    let Some(&Piece::Literal(tail)) = pieces.last() else {
        return Ok(()); // ends with a macro-expand
    };
    let tail = tail.strip_suffix('.').unwrap_or(tail);
    match tail.rsplit_once('.') {
        Some((_, top)) if toplabel(top) => Ok(()),
        Some((_, top)) => Err(format!(
            "the domain's last label {top:?} is not a valid top-level label: \
             letters, digits and \"-\", not all digits, not starting or ending \
             with \"-\" (RFC 7208 7.1)"
        )),
        None => Err(
            "the domain must end with \".\" and a top-level label (like \".com\") \
             or with a macro (RFC 7208 7.1)"
                .to_owned(),
        ),
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) /
///             ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`
/// (RFC 7208 7.1, 12): not all digits, not starting or ending with "-".
fn toplabel(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return false;
    }
    if bytes.contains(&b'-') {
        first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()
    } else {
        bytes.iter().any(u8::is_ascii_alphabetic)
    }
}

/// `macro-string = *( macro-expand / macro-literal )` (RFC 7208 7.1), where
/// `macro-literal = %x21-24 / %x26-7E` (printable ASCII but "%").
/// `letters` are the macro letters allowed here.
fn macro_string<'a>(text: &'a str, letters: &str) -> Result<Vec<Piece<'a>>, Reason> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if rest.starts_with('%') {
            let len = macro_expand(rest, letters)?;
            pieces.push(Piece::Expand);
            rest = &rest[len..];
        } else {
            let len = rest.find('%').unwrap_or(rest.len());
            let literal = &rest[..len];
            if let Some(bad) = literal.chars().find(|c| !c.is_ascii_graphic()) {
                return Err(format!(
                    "character {bad:?} is not allowed in a macro-string (RFC 7208 7.1)"
                ));
            }
            pieces.push(Piece::Literal(literal));
            rest = &rest[len..];
        }
    }
    Ok(pieces)
}

/// `macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
///                 / "%%" / "%_" / "%-"` (RFC 7208 7.1). `text` starts with
/// "%"; returns the length of the macro-expand.
fn macro_expand(text: &str, letters: &str) -> Result<usize, Reason> {
    match text.as_bytes().get(1) {
        Some(b'%' | b'_' | b'-') => Ok(2),
        Some(b'{') => {
            let Some(close) = text.find('}') else {
                return Err(format!(
                    "macro {text:?} has no closing \"}}\" (RFC 7208 7.1)"
                ));
            };
            macro_body(&text[2..close], letters)?;
            Ok(close + 1)
        }
        _ => Err(format!(
            "\"%\" must start a macro (\"%{{...}}\", \"%%\", \"%_\" or \"%-\"); \
             a literal percent sign is written \"%%\" (RFC 7208 7.1), near {:?}",
            text.get(..2).unwrap_or(text)
        )),
    }
}

/// What is between "%{" and "}": `macro-letter transformers *delimiter`,
/// with `transformers = *DIGIT [ "r" ]` and
/// `delimiter = "." / "-" / "+" / "," / "/" / "_" / "="` (RFC 7208 7.1).
/// A DIGIT transformer must be nonzero (RFC 7208 7.3).
fn macro_body(body: &str, letters: &str) -> Result<(), Reason> {
    let invalid = || format!("macro \"%{{{body}}}\" is not valid");
    let mut chars = body.chars().peekable();
    let letter = chars
        .next()
        .ok_or_else(|| format!("{}: no macro letter (RFC 7208 7.1)", invalid()))?;
    if !letters.contains(letter.to_ascii_lowercase()) {
        return Err(format!(
            "{}: the macro letter must be one of {letters} here (RFC 7208 7.2)",
            invalid()
        ));
    }
    let mut digits = String::new();
    while let Some(d) = chars.next_if(char::is_ascii_digit) {
        digits.push(d);
    }
    if !digits.is_empty() && digits.bytes().all(|b| b == b'0') {
        return Err(format!(
            "{}: the number of labels to keep must not be zero (RFC 7208 7.3)",
            invalid()
        ));
    }
    chars.next_if(|c| c.eq_ignore_ascii_case(&'r'));
    if chars.all(|c| matches!(c, '.' | '-' | '+' | ',' | '/' | '_' | '=')) {
        Ok(())
    } else {
        Err(format!(
            "{}: expected a letter, an optional number, an optional \"r\", then \
             only the delimiters . - + , / _ = (RFC 7208 7.1)",
            invalid()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(record: &str) {
        assert_eq!(check(record), Ok(()), "{record:?} should be valid");
    }

    fn err(record: &str) -> SyntaxError {
        match check(record) {
            Ok(()) => panic!("{record:?} should be a syntax error"),
            Err(e) => e,
        }
    }

    #[test]
    fn accepts_real_world_records() {
        for record in [
            "v=spf1 include:_spf.google.com ~all",
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 mx a:mail.example.com -all",
            "v=spf1 redirect=_spf.example.com",
            "v=spf1 -all",
            "v=spf1",
            "v=spf1 exists:%{i}.%{l1r+-}._spf.%{d} -all",
            "v=spf1 a/24 mx/24//64 -all",
            "v=spf1 ip4:1.2.3.4 -all exp=explain._spf.%{d}",
            "v=spf1 foo=bar -all",
            "v=spf1 -all  ",
            "v=spf1   a    mx  -all",
            "V=SPF1 A -ALL",
        ] {
            ok(record);
        }
    }

    #[test]
    fn accepts_other_valid_forms() {
        for record in [
            "v=spf1 a:example.com. -all",
            "v=spf1 +a ?mx ~ptr -all",
            "v=spf1 ptr ptr:example.com",
            "v=spf1 a//64 a:example.com/0 mx:example.com/24//128",
            "v=spf1 ip4:0.0.0.0/0 ip4:255.255.255.255/32 ip6:::/0 ip6:::1/128",
            "v=spf1 ip6:::ffff:192.0.2.1 ip6:2001:DB8::1",
            "v=spf1 a:foo.example.xn--zckzah a:foo.1-2 -all",
            "v=spf1 a:%{d} a:%{d}.%{d2}",
            "v=spf1 a:macro%%percent%_%_space%-url-space.example.com",
            "v=spf1 exists:%{IR}.%{V}._spf.%{D2} -all",
            // Any visible character but "%" is a macro-literal (openspf a-colon-domain).
            "v=spf1 a:foo:bar/baz.example.com mx:example.com:8080.example.com",
            "v=spf1 exists:%{l10r.-+,/_=}.example.com",
            "v=spf1 redirect=%{d}.d.spf.example.com.",
            "v=spf1 REDIRECT=example.com EXP=exp.example.com",
            "v=spf1 foo= bar=%{c}%{r}%{t} moo.cow-far_out=man:dog/cat -all",
            "v=spf1 default=pass",
            "v=spf1 include:o.spf.example.com. ~all",
        ] {
            ok(record);
        }
    }

    #[test]
    fn rejects_bad_records() {
        for record in [
            "v=spf1 ip4:1.2.3.4/33",
            "v=spf1 ip4:1.2.3.4/032",
            "v=spf1 ip6:::1/129",
            "v=spf1 a:foo.1",
            "v=spf1 a:",
            "v=spf1 include",
            "v=spf1 foo:bar",
            "v=spf1 =bar",
            "v=spf1 redirect=a.example redirect=b.example",
            "v=spf1 a:foo..bar.com",
            "v=spf1 exists:%{q}.example.com",
            "v=spf1 ip4:1.2.3",
            "v=spf1 -all\tfoo",
            "v=spf1 ~all é",
            "v=spf1 a//129",
            "v=spf1 mx:example.com/33",
            "v=spf1 ptr:",
            "v=spf1 %",
        ] {
            err(record);
        }
    }

    #[test]
    fn rejects_version_problems() {
        for record in [
            "v=spf10",
            "v=spf1-all",
            "v=spf2 -all",
            "spf1 -all",
            "",
            "v=sp",
        ] {
            err(record);
        }
    }

    #[test]
    fn rejects_bad_mechanisms() {
        for record in [
            "v=spf1 -all.",
            "v=spf1 all:example.com",
            "v=spf1 -all/8",
            "v=spf1 -",
            "v=spf1 --all",
            "v=spf1 :example.com",
            "v=spf1 include:",
            "v=spf1 include:example.com/24",
            "v=spf1 exists",
            "v=spf1 exists:example.com/24",
            "v=spf1 ptr/0",
            "v=spf1 ptr:example.com/24",
            "v=spf1 a/",
            "v=spf1 a/24/64",
            "v=spf1 a/33",
            "v=spf1 a//0128",
            "v=spf1 a:example.com:8080",
            "v=spf1 ip4",
            "v=spf1 ip4:",
            "v=spf1 ip4:1.2.3.4/",
            "v=spf1 ip4:1.2.3.4//32",
            "v=spf1 ip4:1.2.3.4:8080",
            "v=spf1 ip4:01.2.3.4",
            "v=spf1 ip4:1.2.3.256",
            "v=spf1 ip4:1.2.3.4.5",
            "v=spf1 ip6",
            "v=spf1 ip6:1.2.3.4",
            "v=spf1 ip6::CAFE::BABE",
            "v=spf1 ip6:::1//64",
            "v=spf1 ip6:::1/01",
            "v=spf1 redirect:example.com",
        ] {
            err(record);
        }
    }

    #[test]
    fn rejects_bad_domains() {
        for record in [
            "v=spf1 a:foo",
            "v=spf1 a:museum.",
            "v=spf1 a:1.2.3.4",
            "v=spf1 a:abc.123",
            "v=spf1 a:example.-com",
            "v=spf1 a:example.com-",
            "v=spf1 a:.example.com",
            "v=spf1 a:example.com..",
            "v=spf1 a:%{d}.",
            "v=spf1 a:%{d}..com",
            "v=spf1 a:a123456789012345678901234567890123456789012345678901234567890123.example.com",
            "v=spf1 include:_spf.example.c_m",
        ] {
            err(record);
        }
        // 63 characters is still fine.
        ok("v=spf1 a:a12345678901234567890123456789012345678901234567890123456789012.example.com");
    }

    #[test]
    fn rejects_bad_macros() {
        for record in [
            "v=spf1 a:%{a}.example.com",
            "v=spf1 a:%{}.example.com",
            "v=spf1 a:%{d.example.com",
            "v=spf1 a:foo%.example.com",
            "v=spf1 a:%x.example.com",
            "v=spf1 a:%(ir).example.com",
            "v=spf1 a:%{d0}.example.com",
            "v=spf1 a:%{d2x}.example.com",
            "v=spf1 a:%{drr}.example.com",
            "v=spf1 a:%{c}.example.com",
            "v=spf1 -all exp=%{r}.example.com",
            "v=spf1 -all exp=%{t}.example.com",
            "v=spf1 -all foo=%abc",
            "v=spf1 -all foo=%",
            "v=spf1 foo=%{q}",
        ] {
            err(record);
        }
    }

    #[test]
    fn rejects_bad_modifiers() {
        for record in [
            "v=spf1 1up=foo",
            "v=spf1 =all",
            "v=spf1 -foo=bar",
            "v=spf1 foo/bar=baz",
            "v=spf1 exp=",
            "v=spf1 redirect=",
            "v=spf1 exp=-all",
            "v=spf1 redirect=-all ?all",
            "v=spf1 exp=a.example.com exp=b.example.com",
            "v=spf1 Redirect=a.example.com REDIRECT=a.example.com",
        ] {
            err(record);
        }
    }

    #[test]
    fn error_names_the_term() {
        let e = err("v=spf1 a mx ip4:1.2.3.4/33 -all");
        assert_eq!(e.term, "ip4:1.2.3.4/33");
        assert!(
            e.to_string().starts_with("term \"ip4:1.2.3.4/33\": "),
            "{e}"
        );

        let e = err("v=spf1 -all\tfoo");
        assert_eq!(e.term, "-all\tfoo");
        assert!(e.to_string().starts_with("term \"-all\\tfoo\": "), "{e}");

        let e = err("v=spf1 ~all é");
        assert_eq!(e.term, "é");
        assert!(e.reason.contains("U+00E9"), "{e}");

        let e = err("v=spf1 redirect=a.example redirect=b.example");
        assert_eq!(e.term, "redirect=b.example");

        assert_eq!(err("v=spf10 -all").term, "v=spf10");
    }
}
