//! Bulk-mail headers: List-Unsubscribe (RFC 2369), its one-click form
//! (RFC 8058), and Precedence. Gmail and Yahoo require one-click
//! unsubscribe from bulk senders since February 2024.

use super::ContentWords;
use super::Profile;
use super::words;
use crate::checks::CheckId;
use crate::checks::dkim::{DkimFinding, covered_by_passing_signature};
use crate::checks::facts::{BOOLS, Facts, Field, yes};
use crate::checks::row::Row;
use crate::i18n::Lang;
use mail_parser::Message;
use serde::{Deserialize, Serialize};

/// More List-Unsubscribe entries than this are not read.
const MAX_ENTRIES: usize = 10;

words! {
    /// Which ways to unsubscribe List-Unsubscribe offers.
    Unsubscribe { Absent => "absent", Mailto => "mailto", Https => "https", Both => "both", Invalid => "invalid" }
}
words! {
    Precedence { None => "none", Bulk => "bulk", List => "list", Junk => "junk", Other => "other" }
}

/// Bulk-mail headers (RFC 2369, RFC 8058).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct BulkFinding {
    /// Which usable ways out List-Unsubscribe offers.
    pub list_unsubscribe: Unsubscribe,
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` is present.
    pub one_click: bool,
    /// The Precedence header.
    pub precedence: Precedence,
}

pub fn bulk(message: &Message<'_>) -> BulkFinding {
    BulkFinding {
        list_unsubscribe: unsubscribe(message.header_raw("List-Unsubscribe")),
        one_click: message
            .header_raw("List-Unsubscribe-Post")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("List-Unsubscribe=One-Click")),
        precedence: match message
            .header_raw("Precedence")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            None => Precedence::None,
            Some(v) if v == "bulk" => Precedence::Bulk,
            Some(v) if v == "list" => Precedence::List,
            Some(v) if v == "junk" => Precedence::Junk,
            Some(_) => Precedence::Other,
        },
    }
}

/// RFC 2369 §2: a comma-separated list of `<URI>`. Only `mailto:` with an
/// address and `https://` with a host count as a way out; plain http is
/// not accepted for one-click (RFC 8058 §3.1).
fn unsubscribe(raw: Option<&str>) -> Unsubscribe {
    let Some(raw) = raw else {
        return Unsubscribe::Absent;
    };
    let (mut mailto, mut https) = (false, false);
    for entry in raw.split(',').take(MAX_ENTRIES) {
        let uri = entry.trim().replace(['\r', '\n'], "");
        let Some(uri) = uri.strip_prefix('<').and_then(|u| u.strip_suffix('>')) else {
            continue;
        };
        let lower = uri.trim().to_ascii_lowercase();
        if let Some(address) = lower.strip_prefix("mailto:") {
            mailto |= address.split('?').next().is_some_and(|a| a.contains('@'));
        } else if let Some(rest) = lower.strip_prefix("https://") {
            https |= rest
                .split(['/', '?'])
                .next()
                .is_some_and(|h| h.contains('.'));
        }
    }
    match (mailto, https) {
        (true, true) => Unsubscribe::Both,
        (true, false) => Unsubscribe::Mailto,
        (false, true) => Unsubscribe::Https,
        (false, false) => Unsubscribe::Invalid,
    }
}

/// The rule fields of `bulk`.
pub const FIELDS: &[Field] = &[
    ("profile", Profile::WORDS),
    ("list_unsubscribe", Unsubscribe::WORDS),
    ("one_click", BOOLS),
    // A passing DKIM signature covers List-Unsubscribe and
    // List-Unsubscribe-Post (RFC 8058 §4); false without one-click.
    ("one_click_signed", BOOLS),
    ("precedence", Precedence::WORDS),
];

impl BulkFinding {
    /// `dkim`: one-click counts only under a passing DKIM signature.
    pub fn facts(&self, profile: Profile, dkim: &[DkimFinding], facts: &mut Facts) {
        let check = CheckId::Bulk;
        facts.put(check, "profile", profile.as_str());
        facts.put(check, "list_unsubscribe", self.list_unsubscribe.as_str());
        facts.put(check, "one_click", yes(self.one_click));
        let signed = self.one_click
            && covered_by_passing_signature(dkim, &["list-unsubscribe", "list-unsubscribe-post"]);
        facts.put(check, "one_click_signed", yes(signed));
        facts.put(check, "precedence", self.precedence.as_str());
    }
}

impl BulkFinding {
    pub fn row(&self, lang: Lang) -> Row {
        let (t, w) = (lang.ui(), ContentWords::of(lang));
        Row {
            check: CheckId::Bulk,
            tone: None,
            name: w.bulk.into(),
            word: None,
            setup: "",
            about: w.about_bulk,
            detail: format!(
                "List-Unsubscribe: {} · One-Click: {} · Precedence: {}",
                self.list_unsubscribe.as_str(),
                t.yes_no(self.one_click),
                self.precedence.as_str()
            ),
            records: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_list_unsubscribe_uris() {
        assert_eq!(unsubscribe(None), Unsubscribe::Absent);
        assert_eq!(
            unsubscribe(Some(
                "<mailto:u@list.example?subject=unsub>, <https://list.example/u/1>"
            )),
            Unsubscribe::Both
        );
        assert_eq!(
            unsubscribe(Some(" <mailto:u@list.example>")),
            Unsubscribe::Mailto
        );
        assert_eq!(
            unsubscribe(Some("<https://list.example/u>")),
            Unsubscribe::Https
        );
        assert_eq!(
            unsubscribe(Some("<http://list.example/u>")),
            Unsubscribe::Invalid
        );
        assert_eq!(
            unsubscribe(Some("https://list.example/u")),
            Unsubscribe::Invalid
        );
    }
}
