//! SPF record parsing, strictly by the RFC 7208 ABNF (§12): one published
//! `v=spf1` record to the terms check_host() walks.
//!
//! Strict on purpose: RFC 7208 §4.6 makes any syntax error anywhere in the
//! record a permerror before a single mechanism is evaluated, and receivers
//! that follow it ignore the whole record. Each function is named after the
//! ABNF rule it reads. Limits that need DNS (lookup counts, void lookups,
//! missing records) are not syntax; evaluation checks them.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One parsed record. Modifiers may appear anywhere among the mechanisms
/// (RFC 7208 §4.6.3), so they are kept apart from the directives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub directives: Vec<Directive>,
    /// `redirect=` (RFC 7208 §6.1): at most one.
    pub redirect: Option<Modifier>,
    /// `exp=` (RFC 7208 §6.2): at most one.
    pub exp: Option<Modifier>,
}

/// `directive = [ qualifier ] mechanism` (RFC 7208 §4.6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism,
    /// The term as written, for the report ("ip4:192.0.2.0/24").
    pub text: String,
}

/// `redirect=` or `exp=` with its domain-spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modifier {
    /// The domain-spec, macros not yet expanded.
    pub domain_spec: String,
    /// The term as written.
    pub text: String,
}

/// The result a matching mechanism gives (RFC 7208 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    Pass,
    Fail,
    Softfail,
    Neutral,
}

/// `mechanism` (RFC 7208 §5); domain-specs are kept unexpanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    All,
    Include(String),
    A {
        domain_spec: Option<String>,
        cidr: DualCidr,
    },
    Mx {
        domain_spec: Option<String>,
        cidr: DualCidr,
    },
    Ptr(Option<String>),
    Ip4(Ipv4Addr, u8),
    Ip6(Ipv6Addr, u8),
    Exists(String),
}

impl Mechanism {
    /// The mechanisms RFC 7208 §4.6.4 counts against the limit of 10 DNS
    /// lookups (with the `redirect` modifier, counted by the evaluator).
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

/// `dual-cidr-length` of `a` and `mx` (RFC 7208 §5.6): the prefix lengths
/// applied to IPv4 and IPv6 addresses, 32 and 128 when not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DualCidr {
    pub v4: u8,
    pub v6: u8,
}

impl Default for DualCidr {
    fn default() -> Self {
        DualCidr { v4: 32, v6: 128 }
    }
}

/// Why a record is not valid RFC 7208 syntax, for showing to the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based index of the offending term after "v=spf1" (0: the version).
    pub position: usize,
    /// The term as written.
    pub term: String,
    /// What is wrong, in a few words ("unknown mechanism 'inclde'").
    pub what: String,
    /// The rule it breaks, with the RFC section.
    pub why: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at position {} ({:?}): {}",
            self.what, self.position, self.term, self.why
        )
    }
}

impl std::error::Error for SyntaxError {}

/// What is wrong with one term; [`parse`] adds where.
#[derive(Debug)]
struct Problem {
    what: String,
    why: String,
}

type Parsed<T> = Result<T, Problem>;

fn problem<T>(what: impl Into<String>, why: impl Into<String>) -> Parsed<T> {
    Err(Problem {
        what: what.into(),
        why: why.into(),
    })
}

/// Macro letters allowed in a domain-spec (RFC 7208 §7.2: "c", "r" and "t"
/// are only for explanation text fetched by `exp=`, not for the record).
pub const DOMAIN_MACRO_LETTERS: &str = "slodiphv";

/// Every `macro-letter` of the ABNF: explanation strings and unknown
/// modifiers' values.
pub const ALL_MACRO_LETTERS: &str = "slodiphcrtv";

/// RFC 7208 §4.5: a TXT record is an SPF record when it begins with exactly
/// "v=spf1" (any case) followed by a space or its end; " v=spf1" and
/// "v=spf10" are other records.
pub fn is_spf_record(txt: &str) -> bool {
    txt.get(..6)
        .is_some_and(|v| v.eq_ignore_ascii_case("v=spf1"))
        && matches!(txt.as_bytes().get(6), None | Some(b' '))
}

/// Parses one TXT record that [`is_spf_record`].
///
/// ```text
/// record = version terms *SP        ; RFC 7208 §4.5, §12
/// terms  = *( 1*SP ( directive / modifier ) )
/// ```
pub fn parse(record: &str) -> Result<Record, SyntaxError> {
    let terms = version(record)?;
    let mut parsed = Record {
        directives: Vec::new(),
        redirect: None,
        exp: None,
    };
    // No term may contain SP, so splitting on SP is exactly `1*SP`; the empty
    // pieces are extra spaces, which the ABNF allows.
    for (index, text) in terms.split(' ').filter(|t| !t.is_empty()).enumerate() {
        term(text, &mut parsed).map_err(|p| SyntaxError {
            position: index + 1,
            term: text.to_owned(),
            what: p.what,
            why: p.why,
        })?;
    }
    Ok(parsed)
}

/// `version = "v=spf1"` (RFC 7208 §4.5). Returns the rest of the record.
fn version(record: &str) -> Result<&str, SyntaxError> {
    if is_spf_record(record) {
        return Ok(&record[6..]);
    }
    Err(SyntaxError {
        position: 0,
        term: record.split(' ').next().unwrap_or_default().to_owned(),
        what: "not an SPF version 1 record".to_owned(),
        why: "it must start with \"v=spf1\" followed by a space or the end (RFC 7208 §4.5)"
            .to_owned(),
    })
}

/// `directive / modifier`. A modifier is `name "=" ...`, so a term whose
/// first ":", "/" or "=" is "=" is a modifier; anything else is a directive.
fn term(text: &str, record: &mut Record) -> Parsed<()> {
    visible_ascii(text)?;
    match text.find([':', '/', '=']) {
        Some(at) if text.as_bytes()[at] == b'=' => {
            modifier(&text[..at], &text[at + 1..], text, record)
        }
        _ => {
            record.directives.push(directive(text)?);
            Ok(())
        }
    }
}

/// RFC 7208 §3.1, §4.6.1: a record is 7-bit ASCII and terms are separated by
/// spaces only, so every character of a term is %x21-7E (no tab, CR, LF,
/// NUL or non-ASCII).
fn visible_ascii(text: &str) -> Parsed<()> {
    match text.chars().find(|c| !c.is_ascii_graphic()) {
        None => Ok(()),
        Some(bad) => problem(
            format!("character U+{:04X} not allowed", u32::from(bad)),
            "an SPF record is printable ASCII with terms separated by spaces (RFC 7208 §3.1, §4.6.1)",
        ),
    }
}

/// `directive = [ qualifier ] mechanism`, `qualifier = "+" / "-" / "?" / "~"`
/// (RFC 7208 §4.6.2); no qualifier means "+".
fn directive(text: &str) -> Parsed<Directive> {
    let (qualifier, rest) = match text.as_bytes().first() {
        Some(b'+') => (Qualifier::Pass, &text[1..]),
        Some(b'-') => (Qualifier::Fail, &text[1..]),
        Some(b'~') => (Qualifier::Softfail, &text[1..]),
        Some(b'?') => (Qualifier::Neutral, &text[1..]),
        _ => (Qualifier::Pass, text),
    };
    Ok(Directive {
        qualifier,
        mechanism: mechanism(rest)?,
        text: text.to_owned(),
    })
}

/// `mechanism = all / include / a / mx / ptr / ip4 / ip6 / exists`
/// (RFC 7208 §5). Names are case-insensitive; any other name is a
/// permerror (RFC 7208 §4.6.1), not an ignored term.
fn mechanism(text: &str) -> Parsed<Mechanism> {
    let (name, args) = text.split_at(text.find([':', '/']).unwrap_or(text.len()));
    match name.to_ascii_lowercase().as_str() {
        "all" if args.is_empty() => Ok(Mechanism::All),
        "all" => problem(
            "\"all\" with an argument",
            "\"all\" takes no domain or prefix length (RFC 7208 §5.1)",
        ),
        "include" => required_domain_spec("include", args).map(Mechanism::Include),
        "exists" => required_domain_spec("exists", args).map(Mechanism::Exists),
        "a" => {
            let (domain_spec, cidr) = a_or_mx(args)?;
            Ok(Mechanism::A { domain_spec, cidr })
        }
        "mx" => {
            let (domain_spec, cidr) = a_or_mx(args)?;
            Ok(Mechanism::Mx { domain_spec, cidr })
        }
        "ptr" => optional_domain_spec(args).map(Mechanism::Ptr),
        "ip4" => ip4(args),
        "ip6" => ip6(args),
        "" => problem(
            "no mechanism name",
            "a qualifier or separator must be followed by a mechanism (RFC 7208 §4.6.2)",
        ),
        _ => problem(
            format!("unknown mechanism '{name}'"),
            "the mechanisms are all, include, a, mx, ptr, ip4, ip6 and exists, \
             and a modifier is written name=value (RFC 7208 §5, §4.6.1)",
        ),
    }
}

/// `include = "include" ":" domain-spec` (RFC 7208 §5.2) and
/// `exists = "exists" ":" domain-spec` (§5.7): the domain is required and
/// there is no prefix length.
fn required_domain_spec(name: &str, args: &str) -> Parsed<String> {
    match args.strip_prefix(':') {
        Some(spec) => domain_spec(spec).map(|()| spec.to_owned()),
        None => problem(
            format!("\"{name}\" without a domain"),
            format!("\"{name}\" needs \":\" and a domain, with no prefix length (RFC 7208 §5)"),
        ),
    }
}

/// `a = "a" [ ":" domain-spec ] [ dual-cidr-length ]` (RFC 7208 §5.3) and
/// the same for `mx` (§5.4).
fn a_or_mx(args: &str) -> Parsed<(Option<String>, DualCidr)> {
    let (rest, cidr) = dual_cidr_length(args)?;
    Ok((optional_domain_spec(rest)?, cidr))
}

/// `[ ":" domain-spec ]`: nothing, or ":" and a non-empty domain-spec.
fn optional_domain_spec(args: &str) -> Parsed<Option<String>> {
    match args.strip_prefix(':') {
        Some(spec) => domain_spec(spec).map(|()| Some(spec.to_owned())),
        None if args.is_empty() => Ok(None),
        None => problem(
            format!("unexpected {args:?} after the mechanism name"),
            "only \":\" and a domain may follow, and a prefix length only for a and mx (RFC 7208 §5)",
        ),
    }
}

/// `ip4 = "ip4" ":" ip4-network [ ip4-cidr-length ]` (RFC 7208 §5.6).
fn ip4(args: &str) -> Parsed<Mechanism> {
    let Some(value) = args.strip_prefix(':') else {
        return problem(
            "\"ip4\" without an address",
            "\"ip4\" needs \":\" and an IPv4 address (RFC 7208 §5.6)",
        );
    };
    let (network, length) = match value.split_once('/') {
        Some((network, length)) => (network, cidr_length(length, 32, "IPv4")?),
        None => (value, 32),
    };
    Ok(Mechanism::Ip4(ip4_network(network)?, length))
}

/// `ip6 = "ip6" ":" ip6-network [ ip6-cidr-length ]` (RFC 7208 §5.6).
fn ip6(args: &str) -> Parsed<Mechanism> {
    let Some(value) = args.strip_prefix(':') else {
        return problem(
            "\"ip6\" without an address",
            "\"ip6\" needs \":\" and an IPv6 address (RFC 7208 §5.6)",
        );
    };
    let (network, length) = match value.split_once('/') {
        Some((network, length)) => (network, cidr_length(length, 128, "IPv6")?),
        None => (value, 128),
    };
    match network.parse::<Ipv6Addr>() {
        Ok(address) => Ok(Mechanism::Ip6(address, length)),
        Err(_) => problem(
            format!("{network:?} is not an IPv6 address"),
            "ip6: takes an address as RFC 4291 §2.2 writes it (RFC 7208 §5.6)",
        ),
    }
}

/// `ip4-network = qnum "." qnum "." qnum "." qnum`, where `qnum` is 0-255
/// written without leading zeros (RFC 7208 §5.6, §12).
fn ip4_network(text: &str) -> Parsed<Ipv4Addr> {
    let octets: Vec<&str> = text.split('.').collect();
    if octets.len() == 4
        && octets.iter().all(|o| qnum(o))
        && let Ok(address) = text.parse()
    {
        return Ok(address);
    }
    problem(
        format!("{text:?} is not an IPv4 address"),
        "ip4: takes a dotted quad, each number 0-255 without leading zeros (RFC 7208 §5.6)",
    )
}

/// `qnum`: a decimal number 0-255 with no leading zero (RFC 7208 §12).
fn qnum(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 3
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
        && text.parse::<u8>().is_ok()
}

/// `dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]`
/// (RFC 7208 §5.6), at the end of an `a` or `mx` term: returns what comes
/// before it and the lengths.
fn dual_cidr_length(args: &str) -> Parsed<(&str, DualCidr)> {
    let mut cidr = DualCidr::default();
    let Some((before, last)) = trailing_slash_digits(args) else {
        return Ok((args, cidr));
    };
    if let Some(before_ip6) = before.strip_suffix('/') {
        cidr.v6 = cidr_length(last, 128, "IPv6")?;
        if let Some((before_ip4, ip4)) = trailing_slash_digits(before_ip6) {
            cidr.v4 = cidr_length(ip4, 32, "IPv4")?;
            return Ok((before_ip4, cidr));
        }
        Ok((before_ip6, cidr))
    } else {
        cidr.v4 = cidr_length(last, 32, "IPv4")?;
        Ok((before, cidr))
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
/// (RFC 7208 §5.6, §12): `digits` is the part after "/".
fn cidr_length(digits: &str, max: u8, family: &str) -> Parsed<u8> {
    let well_formed = !digits.is_empty()
        && digits.len() <= 3
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    match digits.parse::<u8>() {
        Ok(n) if well_formed && n <= max => Ok(n),
        _ => problem(
            format!("bad {family} prefix length \"/{digits}\""),
            format!("an {family} prefix length is 0-{max} without leading zeros (RFC 7208 §5.6)"),
        ),
    }
}

/// `modifier = redirect / explanation / unknown-modifier` (RFC 7208 §6,
/// §12). `redirect` and `exp` take a domain-spec and may appear once each;
/// any other name takes a macro-string and is otherwise ignored.
fn modifier(name: &str, value: &str, text: &str, record: &mut Record) -> Parsed<()> {
    modifier_name(name)?;
    let slot = if name.eq_ignore_ascii_case("redirect") {
        &mut record.redirect
    } else if name.eq_ignore_ascii_case("exp") {
        &mut record.exp
    } else {
        return macro_string(value, ALL_MACRO_LETTERS)
            .map(drop)
            .map_err(Problem::from);
    };
    if slot.is_some() {
        return problem(
            format!("\"{}\" appears twice", name.to_ascii_lowercase()),
            "redirect= and exp= may each appear only once (RFC 7208 §6)",
        );
    }
    domain_spec(value)?;
    *slot = Some(Modifier {
        domain_spec: value.to_owned(),
        text: text.to_owned(),
    });
    Ok(())
}

/// `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )` (RFC 7208 §12).
fn modifier_name(text: &str) -> Parsed<()> {
    let mut chars = text.chars();
    match chars.next() {
        None => problem(
            "empty modifier name",
            "a modifier is name=value with a name (RFC 7208 §12)",
        ),
        Some(first)
            if first.is_ascii_alphabetic()
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
        {
            Ok(())
        }
        Some(_) => problem(
            format!("bad modifier name {text:?}"),
            "a modifier name starts with a letter and has only letters, digits, \
             \"-\", \"_\" and \".\" (RFC 7208 §12)",
        ),
    }
}

/// One piece of a macro-string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A run of `macro-literal` characters.
    Literal(&'a str),
    /// `%%`, `%_` or `%-` (RFC 7208 §7.1): what it stands for.
    Escape(&'static str),
    /// `%{` letter digits [r] delimiters `}`.
    Macro(MacroSpec<'a>),
}

/// One `%{...}` macro-expand (RFC 7208 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacroSpec<'a> {
    /// The letter as written: upper case asks for URL escaping (§7.3).
    pub letter: char,
    /// Keep only this many right-hand parts (§7.3); never 0.
    pub keep: Option<usize>,
    pub reverse: bool,
    /// The characters to split on; empty means ".".
    pub delimiters: &'a str,
}

/// `domain-spec = macro-string domain-end` (RFC 7208 §7.1), with the label
/// rules of RFC 7208 §4.3 / §4.6.1 applied to its literal text: no empty
/// label and no label over 63 characters.
fn domain_spec(text: &str) -> Parsed<()> {
    if text.is_empty() {
        return problem(
            "empty domain",
            "a domain must follow \":\" or \"=\" (RFC 7208 §7.1)",
        );
    }
    let pieces = macro_string(text, DOMAIN_MACRO_LETTERS)?;
    labels(&pieces)?;
    domain_end(&pieces)
}

/// Literal labels: none empty (`foo..bar`, or a leading "."), none longer
/// than 63 characters (RFC 7208 §4.3, §4.6.1; RFC 1035 §2.3.4).
fn labels(pieces: &[Piece<'_>]) -> Parsed<()> {
    for (i, piece) in pieces.iter().enumerate() {
        let Piece::Literal(text) = *piece else {
            continue;
        };
        if text.contains("..") || (i == 0 && text.starts_with('.')) {
            return problem(
                "empty label in the domain",
                "a domain has no empty labels (RFC 7208 §4.3)",
            );
        }
        if let Some(long) = text.split('.').find(|label| label.len() > 63) {
            return problem(
                format!("domain label {long:?} is too long"),
                "a label has at most 63 characters (RFC 7208 §4.3)",
            );
        }
    }
    Ok(())
}

/// `domain-end = ( "." toplabel [ "." ] ) / macro-expand` (RFC 7208 §7.1).
fn domain_end(pieces: &[Piece<'_>]) -> Parsed<()> {
    let Some(&Piece::Literal(tail)) = pieces.last() else {
        return Ok(()); // ends with a macro-expand
    };
    let tail = tail.strip_suffix('.').unwrap_or(tail);
    match tail.rsplit_once('.') {
        Some((_, top)) if toplabel(top) => Ok(()),
        Some((_, top)) => problem(
            format!("bad top-level label {top:?}"),
            "a top-level label is letters, digits and \"-\", not all digits, \
             not starting or ending with \"-\" (RFC 7208 §7.1)",
        ),
        None => problem(
            "domain without a top-level label",
            "a domain ends with \".\" and a top-level label (like \".com\") or \
             with a macro (RFC 7208 §7.1)",
        ),
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) /
///             ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`
/// (RFC 7208 §7.1, §12): not all digits, not starting or ending with "-".
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

/// `macro-string = *( macro-expand / macro-literal )` (RFC 7208 §7.1), where
/// `macro-literal = %x21-24 / %x26-7E` (visible ASCII but "%"). `letters`
/// are the macro letters allowed here. Spaces are let through: an
/// explanation string (§6.2) contains them; record terms never do.
pub fn macro_string<'a>(text: &'a str, letters: &str) -> Result<Vec<Piece<'a>>, MacroError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if rest.starts_with('%') {
            let (piece, len) = macro_expand(rest, letters)?;
            pieces.push(piece);
            rest = &rest[len..];
        } else {
            let len = rest.find('%').unwrap_or(rest.len());
            let literal = &rest[..len];
            if let Some(bad) = literal.chars().find(|&c| c != ' ' && !c.is_ascii_graphic()) {
                return Err(MacroError {
                    what: format!("character U+{:04X} not allowed", u32::from(bad)),
                    why: "a macro-string is visible ASCII (RFC 7208 §7.1)".into(),
                });
            }
            pieces.push(Piece::Literal(literal));
            rest = &rest[len..];
        }
    }
    Ok(pieces)
}

/// A macro-string that does not follow RFC 7208 §7.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroError {
    pub what: String,
    pub why: String,
}

impl From<MacroError> for Problem {
    fn from(e: MacroError) -> Self {
        Problem {
            what: e.what,
            why: e.why,
        }
    }
}

/// `macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
///                 / "%%" / "%_" / "%-"` (RFC 7208 §7.1). `text` starts with
/// "%"; returns the piece and its length.
fn macro_expand<'a>(text: &'a str, letters: &str) -> Result<(Piece<'a>, usize), MacroError> {
    match text.as_bytes().get(1) {
        Some(b'%') => Ok((Piece::Escape("%"), 2)),
        Some(b'_') => Ok((Piece::Escape(" "), 2)),
        Some(b'-') => Ok((Piece::Escape("%20"), 2)),
        Some(b'{') => {
            let Some(close) = text.find('}') else {
                return Err(MacroError {
                    what: "unclosed macro".into(),
                    why: "a macro is written %{letter...} (RFC 7208 §7.1)".into(),
                });
            };
            let spec = macro_body(&text[2..close], letters)?;
            Ok((Piece::Macro(spec), close + 1))
        }
        _ => Err(MacroError {
            what: format!("bad macro {:?}", text.get(..2).unwrap_or(text)),
            why: "\"%\" starts %{...}, %%, %_ or %-; a literal percent sign is \
                  written %% (RFC 7208 §7.1)"
                .into(),
        }),
    }
}

/// What is between "%{" and "}": `macro-letter transformers *delimiter`,
/// with `transformers = *DIGIT [ "r" ]` and
/// `delimiter = "." / "-" / "+" / "," / "/" / "_" / "="` (RFC 7208 §7.1).
/// A DIGIT transformer must be nonzero (RFC 7208 §7.3).
fn macro_body<'a>(body: &'a str, letters: &str) -> Result<MacroSpec<'a>, MacroError> {
    let bad = |why: &str| MacroError {
        what: format!("bad macro \"%{{{body}}}\""),
        why: why.to_owned(),
    };
    let mut chars = body.char_indices().peekable();
    let Some((_, letter)) = chars.next() else {
        return Err(bad("a macro needs a letter (RFC 7208 §7.1)"));
    };
    if !letters.contains(letter.to_ascii_lowercase()) {
        return Err(bad(&format!(
            "the macro letter must be one of {letters} here (RFC 7208 §7.2)"
        )));
    }
    let mut digits = String::new();
    while let Some((_, d)) = chars.next_if(|(_, c)| c.is_ascii_digit()) {
        digits.push(d);
    }
    if !digits.is_empty() && digits.bytes().all(|b| b == b'0') {
        return Err(bad(
            "the number of labels to keep must not be zero (RFC 7208 §7.3)",
        ));
    }
    // A number too big to hold keeps every part, as any number above the
    // count of parts does.
    let keep = (!digits.is_empty()).then(|| digits.parse().unwrap_or(usize::MAX));
    let reverse = chars
        .next_if(|(_, c)| c.eq_ignore_ascii_case(&'r'))
        .is_some();
    let delimiters = chars.peek().map_or("", |&(at, _)| &body[at..]);
    if delimiters
        .chars()
        .all(|c| matches!(c, '.' | '-' | '+' | ',' | '/' | '_' | '='))
    {
        Ok(MacroSpec {
            letter,
            keep,
            reverse,
            delimiters,
        })
    } else {
        Err(bad(
            "after the letter come an optional number, an optional \"r\", then \
             only the delimiters . - + , / _ = (RFC 7208 §7.1)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(record: &str) -> Record {
        parse(record).unwrap_or_else(|e| panic!("{record:?} should be valid: {e}"))
    }

    fn err(record: &str) -> SyntaxError {
        match parse(record) {
            Ok(r) => panic!("{record:?} should be a syntax error, parsed as {r:?}"),
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
    fn reads_the_terms() {
        let record = ok("v=spf1 -ip4:192.0.2.0/24 a:x.example/24//64 mx ~all redirect=r.example");
        let mechanisms: Vec<_> = record.directives.iter().map(|d| &d.mechanism).collect();
        assert_eq!(
            mechanisms,
            [
                &Mechanism::Ip4(Ipv4Addr::new(192, 0, 2, 0), 24),
                &Mechanism::A {
                    domain_spec: Some("x.example".into()),
                    cidr: DualCidr { v4: 24, v6: 64 }
                },
                &Mechanism::Mx {
                    domain_spec: None,
                    cidr: DualCidr::default()
                },
                &Mechanism::All,
            ]
        );
        assert_eq!(record.directives[0].qualifier, Qualifier::Fail);
        assert_eq!(record.directives[0].text, "-ip4:192.0.2.0/24");
        assert_eq!(record.directives[3].qualifier, Qualifier::Softfail);
        assert_eq!(record.redirect.unwrap().domain_spec, "r.example");
        // The colon belongs to the domain: only a trailing "/digits" is a prefix length.
        let record = ok("v=spf1 a:foo:bar/baz.example.com");
        assert_eq!(
            record.directives[0].mechanism,
            Mechanism::A {
                domain_spec: Some("foo:bar/baz.example.com".into()),
                cidr: DualCidr::default()
            }
        );
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
    fn error_names_the_term_and_its_position() {
        let e = err("v=spf1 a mx inclde:_spf.example.com -all");
        assert_eq!(e.position, 3);
        assert_eq!(e.term, "inclde:_spf.example.com");
        assert!(
            e.to_string().starts_with(
                "unknown mechanism 'inclde' at position 3 (\"inclde:_spf.example.com\"): "
            ),
            "{e}"
        );

        let e = err("v=spf1 -all\tfoo");
        assert_eq!(e.term, "-all\tfoo");
        assert_eq!(e.what, "character U+0009 not allowed");

        let e = err("v=spf1 ~all é");
        assert_eq!((e.position, e.term.as_str()), (2, "é"));
        assert!(e.what.contains("U+00E9"), "{e}");

        let e = err("v=spf1 redirect=a.example redirect=b.example");
        assert_eq!(e.term, "redirect=b.example");

        assert_eq!(err("v=spf10 -all").position, 0);
    }

    #[test]
    fn reads_macros() {
        let pieces = macro_string("%{ir}.%{l2r-+}.%%x%_%-", ALL_MACRO_LETTERS).unwrap();
        assert_eq!(
            pieces,
            [
                Piece::Macro(MacroSpec {
                    letter: 'i',
                    keep: None,
                    reverse: true,
                    delimiters: ""
                }),
                Piece::Literal("."),
                Piece::Macro(MacroSpec {
                    letter: 'l',
                    keep: Some(2),
                    reverse: true,
                    delimiters: "-+"
                }),
                Piece::Literal("."),
                Piece::Escape("%"),
                Piece::Literal("x"),
                Piece::Escape(" "),
                Piece::Escape("%20"),
            ]
        );
    }
}
