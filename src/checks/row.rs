//! A check as the page shows it, before any HTML: its name, its result word
//! and setup label, what the check means, what was found. Each check builds
//! its own rows ([`super::Findings::rows`]); the web stage renders every row
//! alike and gives it the rules that took points for it.

use super::{CheckId, Verdict};

/// How a row is marked. Ordered by severity, so the worst of several is
/// their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tone {
    Ok,
    Info,
    Warn,
    Bad,
}

impl Tone {
    /// The mark of an authentication result.
    pub fn of(result: Verdict) -> Tone {
        match result {
            Verdict::Pass => Tone::Ok,
            Verdict::Temperror | Verdict::Neutral | Verdict::Softfail => Tone::Warn,
            _ => Tone::Bad,
        }
    }
}

/// One check on the page.
#[derive(Debug, Clone)]
pub struct Row {
    /// The check whose rules' deductions this row shows.
    pub check: CheckId,
    /// None: marked by the points its rules took (the content checks).
    pub tone: Option<Tone>,
    pub name: String,
    /// The result as the check words it (`pass`, `listed`, `present`…);
    /// None: the word of the points its rules took.
    pub word: Option<&'static str>,
    /// The localised setup label (設定あり, 設定なし…), or empty.
    pub setup: &'static str,
    /// What the check is, in one sentence.
    pub about: &'static str,
    pub detail: String,
    /// DNS records (or other found items) shown verbatim.
    pub records: Vec<String>,
}

/// The present, non-empty parts, joined with a middle dot.
pub fn join(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One line of `mailscore check`'s summary: name, result, setup, detail.
pub fn text_line(name: &str, result: &str, setup: &str, detail: &str) -> String {
    format!("{name:<9} {result:<10} {setup:<14} {detail}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders_tones() {
        assert!(Tone::Bad > Tone::Warn && Tone::Warn > Tone::Info && Tone::Info > Tone::Ok);
        assert_eq!(Tone::of(Verdict::Softfail), Tone::Warn);
        assert_eq!(Tone::of(Verdict::Permerror), Tone::Bad);
    }
}
