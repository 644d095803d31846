//! The vocabulary rule conditions are written in: for each check, the fields
//! a rule may test and the values each field can take. Rules are validated
//! against this at start-up, and findings are flattened into it for scoring.

use crate::analyze::{Findings, Verdict, dkim};
use std::collections::BTreeMap;

const RESULTS: &[&str] = &[
    "pass",
    "fail",
    "softfail",
    "neutral",
    "none",
    "permerror",
    "temperror",
];
const SETUPS: &[&str] = &["configured", "missing", "misconfigured", "unknown"];
const POLICIES: &[&str] = &["none", "quarantine", "reject", "absent"];
const BOOLS: &[&str] = &["true", "false"];

/// (check, field, allowed values). A check is a section of the report.
pub const SCHEMA: &[(&str, &str, &[&str])] = &[
    ("spf", "result", RESULTS),
    ("spf", "setup", SETUPS),
    ("spf_helo", "result", RESULTS),
    ("spf_helo", "setup", SETUPS),
    ("dkim", "result", RESULTS),
    ("dkim", "setup", SETUPS),
    ("dmarc", "result", RESULTS),
    ("dmarc", "setup", SETUPS),
    ("dmarc", "policy", POLICIES),
    ("dmarc", "spf_aligned", BOOLS),
    ("dmarc", "dkim_aligned", BOOLS),
    ("iprev", "result", RESULTS),
    ("iprev", "setup", SETUPS),
];

pub fn is_known_check(check: &str) -> bool {
    SCHEMA.iter().any(|(c, _, _)| *c == check)
}

/// The values `check.field` may take, or None when no such field exists.
pub fn allowed_values(check: &str, field: &str) -> Option<&'static [&'static str]> {
    SCHEMA
        .iter()
        .find(|(c, f, _)| *c == check && *f == field)
        .map(|(_, _, values)| *values)
}

/// Findings flattened to `(check, field) -> value`, in the schema's words.
pub type Facts = BTreeMap<(&'static str, &'static str), String>;

pub fn facts(findings: &Findings) -> Facts {
    let dkim_result = dkim::overall(&findings.dkim);
    let dmarc = &findings.dmarc;
    let entries: [(&str, &str, String); 13] = [
        ("spf", "result", word(findings.spf.result)),
        ("spf", "setup", findings.spf.setup.as_str().into()),
        ("spf_helo", "result", word(findings.spf_helo.result)),
        ("spf_helo", "setup", findings.spf_helo.setup.as_str().into()),
        ("dkim", "result", word(dkim_result)),
        ("dkim", "setup", dkim_result.setup().as_str().into()),
        ("dmarc", "result", word(dmarc.result)),
        ("dmarc", "setup", dmarc.setup.as_str().into()),
        (
            "dmarc",
            "policy",
            dmarc.policy.clone().unwrap_or_else(|| "absent".into()),
        ),
        ("dmarc", "spf_aligned", dmarc.spf_aligned.to_string()),
        ("dmarc", "dkim_aligned", dmarc.dkim_aligned.to_string()),
        ("iprev", "result", word(findings.iprev.result)),
        ("iprev", "setup", findings.iprev.setup.as_str().into()),
    ];
    entries
        .into_iter()
        .map(|(check, field, value)| ((check, field), value))
        .collect()
}

fn word(verdict: Verdict) -> String {
    verdict.as_str().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_vocabulary_is_every_verdict() {
        for verdict in Verdict::ALL {
            assert!(RESULTS.contains(&verdict.as_str()));
        }
        assert_eq!(RESULTS.len(), Verdict::ALL.len());
    }
}
