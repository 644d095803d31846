//! A finding flattened into the words rule conditions are written in. Each
//! check declares its rule fields (`FIELDS`, the values each may take) and
//! writes them from its finding (`facts`); [`CheckId::fields`] gathers the
//! declarations, so the rule table is validated against exactly what the
//! checks write.

use super::CheckId;
use crate::fnv::Fnv;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Declares a finding's word enum: the Rust variant, the word the report
/// and the rule table use for it, and `WORDS` (every word, first = default)
/// for the rule fields the check declares (`FIELDS`).
macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $(#[$first_meta:meta])* $first:ident => $first_word:literal $(, $(#[$vmeta:meta])* $variant:ident => $word:literal)* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
        pub enum $name {
            $(#[$first_meta])*
            #[default]
            #[serde(rename = $first_word)]
            $first,
            $($(#[$vmeta])* #[serde(rename = $word)] $variant,)*
        }

        impl $name {
            pub const WORDS: &'static [&'static str] = &[$first_word $(, $word)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    Self::$first => $first_word,
                    $(Self::$variant => $word,)*
                }
            }
        }
    };
}
pub(crate) use words;

/// A rule field and the values it can take.
pub type Field = (&'static str, &'static [&'static str]);

/// The values of a true/false field.
pub const BOOLS: &[&str] = &["true", "false"];

/// How many: "few" is 1 up to the check's threshold.
pub const AMOUNTS: &[&str] = &["none", "few", "many"];

/// A boolean in the rule table's words.
pub fn yes(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// A count in the rule table's words: none, up to `many`, or more.
pub fn amount(count: usize, many: usize) -> &'static str {
    match count {
        0 => "none",
        c if c > many => "many",
        _ => "few",
    }
}

/// Findings flattened to `(check, field) -> value`. Every rule condition is
/// one lookup here (~170 a message): hashed with FNV-1a, not compared string
/// by string down a B-tree (3 % of the CPU of ingest, measured). The keys
/// are the checks' own words, never a sender's, so a fast non-keyed hash is
/// safe. Values borrow those words: no allocation per fact.
#[derive(Debug, Default)]
pub struct Facts(HashMap<(CheckId, &'static str), Cow<'static, str>, BuildHasherDefault<Fnv>>);

impl Facts {
    pub fn with_capacity(capacity: usize) -> Facts {
        Facts(HashMap::with_capacity_and_hasher(
            capacity,
            Default::default(),
        ))
    }

    pub fn put(
        &mut self,
        check: CheckId,
        field: &'static str,
        value: impl Into<Cow<'static, str>>,
    ) {
        self.0.insert((check, field), value.into());
    }

    /// The value of `check.field`; the field may be a rule's own string.
    pub fn get<'a>(&'a self, check: CheckId, field: &'a str) -> Option<&'a str> {
        self.0.get(&(check, field)).map(|v| v.as_ref())
    }

    /// Drops every fact of `check`: a check that could not be done matches
    /// no rule.
    pub fn forget(&mut self, check: CheckId) {
        self.0.retain(|(c, _), _| *c != check);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
