//! The result words of RFC 8601, and what each says about the sender's setup.

use crate::i18n::Ui;
use serde::{Deserialize, Serialize};

/// An authentication result, spelled as in RFC 8601 (Authentication-Results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Softfail,
    Neutral,
    None,
    Permerror,
    Temperror,
}

/// How a sender's setup looks, in the words Japanese anti-spoofing surveys
/// count per address: set up (設定あり), not set up (設定なし), set up wrongly
/// (設定誤り), or unknown because we could not ask DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Setup {
    Configured,
    Missing,
    Misconfigured,
    Unknown,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Softfail,
        Verdict::Neutral,
        Verdict::None,
        Verdict::Permerror,
        Verdict::Temperror,
    ];

    /// Every result as the rule table spells it.
    pub const WORDS: &'static [&'static str] = &[
        "pass",
        "fail",
        "softfail",
        "neutral",
        "none",
        "permerror",
        "temperror",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Softfail => "softfail",
            Verdict::Neutral => "neutral",
            Verdict::None => "none",
            Verdict::Permerror => "permerror",
            Verdict::Temperror => "temperror",
        }
    }

    /// `none` means nothing was published; `permerror` means something was
    /// published but is broken; `temperror` means DNS did not answer.
    pub fn setup(self) -> Setup {
        match self {
            Verdict::None => Setup::Missing,
            Verdict::Permerror => Setup::Misconfigured,
            Verdict::Temperror => Setup::Unknown,
            _ => Setup::Configured,
        }
    }
}

impl Setup {
    pub const WORDS: &'static [&'static str] =
        &["configured", "missing", "misconfigured", "unknown"];

    /// The label the page shows (設定あり, 設定なし…).
    pub fn label(self, t: &Ui) -> &'static str {
        match self {
            Setup::Configured => t.setup_configured,
            Setup::Missing => t.setup_missing,
            Setup::Misconfigured => t.setup_misconfigured,
            Setup::Unknown => t.setup_unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Configured => "configured",
            Setup::Missing => "missing",
            Setup::Misconfigured => "misconfigured",
            Setup::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_every_verdict() {
        let words: Vec<&str> = Verdict::ALL.iter().map(|v| v.as_str()).collect();
        assert_eq!(words, Verdict::WORDS);
    }
}
