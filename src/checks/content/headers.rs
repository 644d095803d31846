//! Header checks: the fields every message should carry (Date, Message-ID,
//! From, To, Subject) and the ones phishing bends (Reply-To, Return-Path,
//! the From display name, look-alike From domains).

use super::ContentWords;
use super::Profile;
use super::domains::{as_domain, domain_of, related};
use super::encoding::{HeaderEncoding, header_encoding, raw_field};
use super::lookalike::{Lookalike, lookalike};
use super::{Context, bounded, push_bounded, words};
use crate::checks::CheckId;
use crate::checks::facts::{BOOLS, Facts, Field, yes};
use crate::checks::row::{Row, join};
use crate::i18n::Lang;
use mail_parser::{HeaderName, Message};
use serde::{Deserialize, Serialize};

/// A Date this far ahead of its reference is "future" (SpamAssassin's
/// DATE_IN_FUTURE starts scoring at 3 hours; clocks drift, so one day).
const FUTURE_SECONDS: i64 = 24 * 3600;
/// A Date this far behind is "past" (SpamAssassin's DATE_IN_PAST_96_XX).
const PAST_SECONDS: i64 = 96 * 3600;

words! {
    DateState { Ok => "ok", Missing => "missing", Invalid => "invalid", Future => "future", Past => "past" }
}
words! {
    MessageIdState { Ok => "ok", Missing => "missing", Malformed => "malformed" }
}
words! {
    FromState { Ok => "ok", Missing => "missing", Unparseable => "unparseable", Multiple => "multiple" }
}
words! {
    SubjectState { Ok => "ok", Missing => "missing", Empty => "empty" }
}
words! {
    /// The Reply-To's domain against the From domain's organisation.
    ReplyTo { None => "none", SameDomain => "same_domain", OtherDomain => "other_domain" }
}
words! {
    /// The Return-Path (or the envelope sender) against the From domain.
    ReturnPath { None => "none", Aligned => "aligned", Unrelated => "unrelated" }
}
words! {
    /// What the From display name claims beyond a name.
    DisplayName { Clean => "clean", OtherAddress => "other_address", OtherDomain => "other_domain" }
}

/// The fields every message should carry, and the ones phishing bends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct HeaderFinding {
    /// Date against the topmost Received header's time (else receipt): `future`
    /// more than 24 h ahead, `past` more than 96 h behind.
    pub date: DateState,
    /// `malformed`: not `<left@right>` without spaces.
    pub message_id: MessageIdState,
    /// `unparseable`: a From header without an address with a domain.
    pub from: FromState,
    /// The Subject header.
    pub subject: SubjectState,
    /// The Subject is in capitals (at least 10 letters, none lower-case).
    pub subject_caps: bool,
    /// The Subject has three or more `!` or `$`.
    pub subject_shouting: bool,
    /// A To header is present.
    pub to_present: bool,
    /// Reply-To's organisational domain against From's.
    pub reply_to: ReplyTo,
    /// Return-Path (or the envelope sender) against the From domain.
    pub return_path: ReturnPath,
    /// What the From display name shows beyond a name.
    pub display_name: DisplayName,
    /// How the From domain imitates another: an IDN, mixed
    /// Latin/Cyrillic/Greek, or one edit from a brand in scoring-
    /// rules/brands.txt.
    pub lookalike: Lookalike,
    /// What was seen, for the page: the domains and names behind the words.
    pub notes: Vec<String>,
    /// Text beyond ASCII in the header section: RFC 2047 encoded (`ok`),
    /// raw UTF-8 (`utf8`, RFC 6532), or raw legacy bytes (`unencoded`).
    #[serde(default)]
    pub encoding: HeaderEncoding,
}

/// The finding for bytes that are not a message at all.
pub fn unparsed() -> HeaderFinding {
    HeaderFinding {
        date: DateState::Missing,
        message_id: MessageIdState::Missing,
        from: FromState::Missing,
        subject: SubjectState::Missing,
        ..HeaderFinding::default()
    }
}

pub fn headers(message: &Message<'_>, context: &Context<'_>) -> HeaderFinding {
    let mut notes = Vec::new();
    let from = message.from().and_then(|a| a.first());
    let from_address = from.and_then(|a| a.address()).unwrap_or_default();
    let from_domain = domain_of(from_address).filter(|d| d.contains('.'));
    // RFC 5322 §3.6: exactly one From field; receivers such as Gmail
    // refuse a message with two.
    let from_fields = message.header_values(HeaderName::From).count();
    let from_state = match (message.header_raw("From"), &from_domain) {
        (None, _) => FromState::Missing,
        _ if from_fields > 1 => FromState::Multiple,
        (Some(_), None) => FromState::Unparseable,
        (Some(_), Some(_)) => FromState::Ok,
    };
    // A Subject of raw legacy bytes is not UTF-8, so mail-parser gives no
    // raw value for it: it is there all the same.
    let subject = (message.header_raw("Subject").is_some()
        || raw_field(message.raw_message(), "subject").is_some())
    .then(|| message.subject().unwrap_or(""));
    let (lookalike, brand) = from_domain
        .as_deref()
        .map_or((Lookalike::None, None), lookalike);
    if let Some(brand) = brand {
        push_bounded(&mut notes, format!("From domain looks like {brand}"));
    }
    let reply_to = reply_to(message, from_domain.as_deref(), &mut notes);
    let return_path = return_path(message, context, from_domain.as_deref(), &mut notes);
    let display_name = display_name(
        from.and_then(|a| a.name()).unwrap_or_default(),
        from_address,
        from_domain.as_deref(),
        &mut notes,
    );
    let encoding = header_encoding(message.raw_message());
    if encoding == HeaderEncoding::Unencoded {
        push_bounded(&mut notes, "header text not encoded (RFC 2047)".into());
    }
    HeaderFinding {
        encoding,
        date: date(message, context),
        message_id: message_id(message.header_raw("Message-ID")),
        from: from_state,
        subject: match subject {
            None => SubjectState::Missing,
            Some(s) if s.trim().is_empty() => SubjectState::Empty,
            Some(_) => SubjectState::Ok,
        },
        subject_caps: subject.is_some_and(all_caps),
        subject_shouting: subject
            .is_some_and(|s| s.matches('!').count() >= 3 || s.matches('$').count() >= 3),
        to_present: message.header_raw("To").is_some(),
        reply_to,
        return_path,
        display_name,
        lookalike,
        notes,
    }
}

/// Date against the topmost Received header's time (as SpamAssassin does:
/// a message re-checked later is judged by when it travelled), else our
/// receipt time.
fn date(message: &Message<'_>, context: &Context<'_>) -> DateState {
    if message.header_raw("Date").is_none() {
        return DateState::Missing;
    }
    let Some(date) = message.date().filter(|d| d.is_valid()) else {
        return DateState::Invalid;
    };
    let reference = message
        .header_values(HeaderName::Received)
        .find_map(|v| v.as_received().and_then(|r| r.date))
        .filter(|d| d.is_valid())
        .map_or(context.received_at as i64, |d| d.to_timestamp());
    let offset = date.to_timestamp() - reference;
    if offset > FUTURE_SECONDS {
        DateState::Future
    } else if offset < -PAST_SECONDS {
        DateState::Past
    } else {
        DateState::Ok
    }
}

/// RFC 5322 §3.6.4: `<left@right>`, no spaces.
fn message_id(raw: Option<&str>) -> MessageIdState {
    let Some(raw) = raw else {
        return MessageIdState::Missing;
    };
    let inner = raw
        .trim()
        .strip_prefix('<')
        .and_then(|id| id.strip_suffix('>'))
        .unwrap_or_default();
    let well_formed = !inner.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
        && inner.split_once('@').is_some_and(|(left, right)| {
            !left.is_empty() && !right.is_empty() && !right.contains('@')
        });
    if well_formed {
        MessageIdState::Ok
    } else {
        MessageIdState::Malformed
    }
}

fn all_caps(subject: &str) -> bool {
    let letters = subject
        .chars()
        .filter(|c| c.is_alphabetic() && c.is_ascii());
    letters.clone().count() >= 10 && letters.clone().all(|c| c.is_ascii_uppercase())
}

fn reply_to(message: &Message<'_>, from: Option<&str>, notes: &mut Vec<String>) -> ReplyTo {
    let Some(reply) = message
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .and_then(domain_of)
    else {
        return ReplyTo::None;
    };
    if from.is_some_and(|from| related(from, &reply)) {
        ReplyTo::SameDomain
    } else {
        push_bounded(notes, bounded(&format!("Reply-To domain: {reply}")));
        ReplyTo::OtherDomain
    }
}

fn return_path(
    message: &Message<'_>,
    context: &Context<'_>,
    from: Option<&str>,
    notes: &mut Vec<String>,
) -> ReturnPath {
    // Not mail-parser's return_address(): it falls back to From.
    let Some(domain) = message
        .header_raw("Return-Path")
        .and_then(domain_of)
        .or_else(|| domain_of(context.mail_from))
    else {
        return ReturnPath::None;
    };
    if from.is_some_and(|from| related(from, &domain)) {
        ReturnPath::Aligned
    } else {
        push_bounded(notes, bounded(&format!("Return-Path domain: {domain}")));
        ReturnPath::Unrelated
    }
}

/// A display name that shows an address other than the real one, or
/// another organisation's domain ("PayPal.com Support"), is the oldest
/// spoof: many clients show only the name.
fn display_name(
    name: &str,
    address: &str,
    from: Option<&str>,
    notes: &mut Vec<String>,
) -> DisplayName {
    let words = name
        .split(|c: char| c.is_whitespace() || "()<>\"',;[]".contains(c))
        .take(50);
    let mut verdict = DisplayName::Clean;
    for word in words {
        if word.contains('@') {
            if domain_of(word).is_some() && !word.eq_ignore_ascii_case(address) {
                push_bounded(notes, bounded(&format!("display name shows {word}")));
                return DisplayName::OtherAddress;
            }
        } else if let Some(domain) = as_domain(word)
            && !from.is_some_and(|from| related(from, &domain))
        {
            push_bounded(notes, bounded(&format!("display name shows {domain}")));
            verdict = DisplayName::OtherDomain;
        }
    }
    verdict
}

/// The rule fields of `headers`.
pub const FIELDS: &[Field] = &[
    ("profile", Profile::WORDS),
    ("date", DateState::WORDS),
    ("message_id", MessageIdState::WORDS),
    ("from", FromState::WORDS),
    ("subject", SubjectState::WORDS),
    ("subject_caps", BOOLS),
    ("subject_shouting", BOOLS),
    ("to", &["present", "missing"]),
    ("reply_to", ReplyTo::WORDS),
    ("return_path", ReturnPath::WORDS),
    ("display_name", DisplayName::WORDS),
    ("lookalike", Lookalike::WORDS),
    ("encoding", HeaderEncoding::WORDS),
];

impl HeaderFinding {
    pub fn facts(&self, profile: Profile, facts: &mut Facts) {
        let check = CheckId::Headers;
        facts.put(check, "profile", profile.as_str());
        facts.put(check, "date", self.date.as_str());
        facts.put(check, "message_id", self.message_id.as_str());
        facts.put(check, "from", self.from.as_str());
        facts.put(check, "subject", self.subject.as_str());
        facts.put(check, "subject_caps", yes(self.subject_caps));
        facts.put(check, "subject_shouting", yes(self.subject_shouting));
        let to = if self.to_present {
            "present"
        } else {
            "missing"
        };
        facts.put(check, "to", to);
        facts.put(check, "reply_to", self.reply_to.as_str());
        facts.put(check, "return_path", self.return_path.as_str());
        facts.put(check, "display_name", self.display_name.as_str());
        facts.put(check, "lookalike", self.lookalike.as_str());
        facts.put(check, "encoding", self.encoding.as_str());
    }
}

impl HeaderFinding {
    /// Marked by the points its rules took, as every content row.
    pub fn row(&self, profile: Profile, lang: Lang) -> Row {
        let (t, w) = (lang.ui(), ContentWords::of(lang));
        let detail = join(&[
            Some(format!(
                "Date: {} · Message-ID: {} · From: {} · Subject: {} · To: {}",
                self.date.as_str(),
                self.message_id.as_str(),
                self.from.as_str(),
                self.subject.as_str(),
                t.yes_no(self.to_present),
            )),
            Some(format!(
                "Reply-To: {} · Return-Path: {} · {}: {}",
                self.reply_to.as_str(),
                self.return_path.as_str(),
                w.display_name,
                self.display_name.as_str(),
            )),
            (self.lookalike.as_str() != "none").then(|| self.lookalike.as_str().to_string()),
            (self.encoding != HeaderEncoding::Ok)
                .then(|| format!("{}: {}", w.header_encoding, self.encoding.as_str())),
            (profile.as_str() != "default").then(|| format!("{}: {}", w.profile, profile.as_str())),
        ]);
        Row {
            check: CheckId::Headers,
            tone: None,
            name: t.headers.into(),
            word: None,
            setup: "",
            about: w.about_headers,
            detail,
            records: self.notes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn finding(raw: &str) -> HeaderFinding {
        let message = MessageParser::default().parse(raw.as_bytes()).unwrap();
        let context = Context {
            mail_from: "bounce@esp.example",
            received_at: 1_750_000_000,
            profile: super::super::Profile::Default,
        };
        headers(&message, &context)
    }

    const GOOD: &str = "Received: from a by b; Sun, 15 Jun 2025 15:06:40 +0000\r\nDate: Sun, 15 Jun 2025 15:00:00 +0000\r\nFrom: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: Lunch\r\nMessage-ID: <1@example.com>\r\nReturn-Path: <alice@mail.example.com>\r\n\r\nhi\r\n";

    #[test]
    fn a_plain_message_is_clean() {
        let f = finding(GOOD);
        assert_eq!(f.date, DateState::Ok);
        assert_eq!(f.message_id, MessageIdState::Ok);
        assert_eq!(f.from, FromState::Ok);
        assert_eq!(f.subject, SubjectState::Ok);
        assert!(f.to_present && !f.subject_caps && !f.subject_shouting);
        assert_eq!(f.return_path, ReturnPath::Aligned);
        assert_eq!(f.display_name, DisplayName::Clean);
        assert_eq!(f.reply_to, ReplyTo::None);
    }

    #[test]
    fn dates_far_from_the_received_time() {
        let future = GOOD.replace("Date: Sun, 15 Jun 2025", "Date: Sun, 22 Jun 2025");
        assert_eq!(finding(&future).date, DateState::Future);
        let past = GOOD.replace("Date: Sun, 15 Jun 2025", "Date: Sun, 1 Jun 2025");
        assert_eq!(finding(&past).date, DateState::Past);
        let bad = GOOD.replace("Date: Sun, 15 Jun 2025 15:00:00 +0000", "Date: yesterday");
        assert_eq!(finding(&bad).date, DateState::Invalid);
    }

    #[test]
    fn spoofing_headers() {
        let f = finding(&GOOD.replace(
            "From: Alice <alice@example.com>",
            "From: \"service@paypal.com\" <x@evil.example>\r\nReply-To: y@other.example",
        ));
        assert_eq!(f.display_name, DisplayName::OtherAddress);
        assert_eq!(f.reply_to, ReplyTo::OtherDomain);
        assert_eq!(f.return_path, ReturnPath::Unrelated);
        let f = finding(&GOOD.replace("Alice <", "PayPal.com Support <"));
        assert_eq!(f.display_name, DisplayName::OtherDomain);
        let f = finding(&GOOD.replace("Alice <", "alice@example.com <"));
        assert_eq!(f.display_name, DisplayName::Clean);
    }

    #[test]
    fn subject_shapes_and_message_id() {
        let f = finding(&GOOD.replace("Subject: Lunch", "Subject: FREE MONEY NOW!!!"));
        assert!(f.subject_caps && f.subject_shouting);
        let f = finding(&GOOD.replace("<1@example.com>", "1 at example"));
        assert_eq!(f.message_id, MessageIdState::Malformed);
        let f = finding(&GOOD.replace("From: Alice <alice@example.com>", "From: nobody"));
        assert_eq!(f.from, FromState::Unparseable);
        let twice = GOOD.replace("To: ", "From: Mallory <m@example.net>\r\nTo: ");
        assert_eq!(finding(&twice).from, FromState::Multiple);
    }
}
