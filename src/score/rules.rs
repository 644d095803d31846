//! The rule table: loaded from TOML, validated once at start-up. A rule that
//! names an unknown check, field or value stops the service with a message
//! naming the file and the rule, rather than silently never matching.

use super::providers::Providers;
use crate::checks::CheckId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

/// The table shipped in the binary, used when no `--rules` directory is given.
const EMBEDDED: &str = include_str!("../../scoring-rules/default.toml");

/// Text in both languages the page is offered in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    pub ja: String,
}

/// One value or a list of acceptable values in a condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn values(&self) -> &[String] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

/// Deduct `points` when every field in `when` has one of its listed values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub check: CheckId,
    pub when: BTreeMap<String, OneOrMany>,
    pub points: f64,
    pub title: Text,
    pub advice: Text,
}

/// A rule as written, before its check is known to exist: an unknown check
/// is reported with the file and the rule, not as a bare parse error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    check: String,
    when: BTreeMap<String, OneOrMany>,
    points: f64,
    title: Text,
    advice: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// A validated rule table, and the providers' requirements that read the
/// same facts (`providers/` beside the rules).
#[derive(Debug, Clone)]
pub struct RuleTable {
    pub rules: Vec<Rule>,
    pub providers: Providers,
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read rule table {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rule table {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("rule table {}, rule {rule:?}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        rule: String,
        message: String,
    },
    #[error("rule table {}: no .toml files with rules", path.display())]
    Empty { path: PathBuf },
}

impl RuleTable {
    /// The table compiled into the binary (`scoring-rules/default.toml`).
    pub fn embedded() -> Result<RuleTable, RulesError> {
        let table = Self::from_files(vec![(
            PathBuf::from("scoring-rules/default.toml (embedded)"),
            EMBEDDED.to_string(),
        )])?;
        Ok(RuleTable {
            providers: Providers::embedded()?,
            ..table
        })
    }

    /// The table in `dir` when one is given, else the embedded one.
    pub fn load(dir: Option<&Path>) -> Result<RuleTable, RulesError> {
        match dir {
            Some(dir) => RuleTable::load_dir(dir),
            None => RuleTable::embedded(),
        }
    }

    /// Every `*.toml` file in `dir`, in name order, as one table; the
    /// providers from `dir/providers/` (the embedded ones without it).
    pub fn load_dir(dir: &Path) -> Result<RuleTable, RulesError> {
        let read_err = |source| RulesError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| RulesError::Read {
                path: path.clone(),
                source,
            })?;
            files.push((path, text));
        }
        if files.is_empty() {
            return Err(RulesError::Empty {
                path: dir.to_path_buf(),
            });
        }
        let table = Self::from_files(files)?;
        Ok(RuleTable {
            providers: Providers::load(Some(dir))?,
            ..table
        })
    }

    fn from_files(files: Vec<(PathBuf, String)>) -> Result<RuleTable, RulesError> {
        let mut rules = Vec::new();
        let mut ids = HashSet::new();
        for (path, text) in files {
            let file: RuleFile = toml::from_str(&text).map_err(|e| RulesError::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?;
            for spec in file.rule {
                let id = spec.id.clone();
                let rule = validate(spec).map_err(|message| RulesError::Invalid {
                    path: path.clone(),
                    rule: id,
                    message,
                })?;
                if !ids.insert(rule.id.clone()) {
                    return Err(RulesError::Invalid {
                        path,
                        rule: rule.id,
                        message: "duplicate rule id".into(),
                    });
                }
                rules.push(rule);
            }
        }
        Ok(RuleTable {
            rules,
            providers: Providers::default(),
        })
    }
}

/// The rule table in force, replaceable while messages are being scored
/// (SIGHUP): each message is scored with the table current when its
/// scoring starts, and a swap never waits for scoring to finish. Clones
/// share the table: a swap through one is seen by all (the pipeline
/// scores with it, the page explains the providers' requirements by it).
#[derive(Clone)]
pub struct LiveRules(Arc<RwLock<Arc<RuleTable>>>);

impl LiveRules {
    pub fn current(&self) -> Arc<RuleTable> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `table` in force for every message scored from now on.
    pub fn replace(&self, table: RuleTable) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
    }
}

impl From<RuleTable> for LiveRules {
    fn from(table: RuleTable) -> LiveRules {
        LiveRules(Arc::new(RwLock::new(Arc::new(table))))
    }
}

fn validate(rule: RuleSpec) -> Result<Rule, String> {
    let id_ok = !rule.id.is_empty()
        && rule
            .id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !id_ok {
        return Err("id must be non-empty [A-Z0-9_]".into());
    }
    if !rule.points.is_finite() || rule.points < 0.0 || rule.points > 10.0 {
        return Err(format!("points must be within 0..=10, got {}", rule.points));
    }
    let Some(check) = CheckId::parse(&rule.check) else {
        return Err(format!("unknown check {:?}", rule.check));
    };
    if rule.when.is_empty() {
        return Err("condition `when` is empty".into());
    }
    for (field, expected) in &rule.when {
        let Some(allowed) = check.values(field) else {
            return Err(format!("check {:?} has no field {field:?}", rule.check));
        };
        if expected.values().is_empty() {
            return Err(format!("field {field:?} lists no values"));
        }
        for value in expected.values() {
            if !allowed.contains(&value.as_str()) {
                return Err(format!(
                    "field {field:?} cannot be {value:?} (allowed: {})",
                    allowed.join(", ")
                ));
            }
        }
    }
    if rule.title.en.is_empty() || rule.title.ja.is_empty() {
        return Err("title needs both en and ja".into());
    }
    if rule.advice.en.is_empty() || rule.advice.ja.is_empty() {
        return Err("advice needs both en and ja".into());
    }
    Ok(Rule {
        id: rule.id,
        check,
        when: rule.when,
        points: rule.points,
        title: rule.title,
        advice: rule.advice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<RuleTable, RulesError> {
        RuleTable::from_files(vec![(PathBuf::from("test.toml"), text.to_string())])
    }

    const GOOD: &str = r#"
[[rule]]
id = "SPF_FAIL"
check = "spf"
when = { result = "fail" }
points = 3
title = { en = "SPF fails", ja = "SPF 失敗" }
advice = { en = "Fix it", ja = "直す" }
"#;

    #[test]
    fn embedded_table_is_valid() {
        let table = RuleTable::embedded().unwrap();
        assert!(table.rules.len() >= 14);
    }

    #[test]
    fn accepts_a_good_rule() {
        assert_eq!(table(GOOD).unwrap().rules[0].id, "SPF_FAIL");
    }

    #[test]
    fn unknown_check_names_file_and_rule() {
        let err = table(&GOOD.replace("\"spf\"", "\"sfp\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("test.toml") && err.contains("SPF_FAIL") && err.contains("sfp"));
    }

    #[test]
    fn unknown_value_and_field_are_rejected() {
        assert!(table(&GOOD.replace("\"fail\"", "\"failed\"")).is_err());
        assert!(table(&GOOD.replace("result =", "outcome =")).is_err());
    }

    #[test]
    fn unknown_key_is_rejected() {
        let err = table(&GOOD.replace("points = 3", "points = 3\nweight = 2"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("weight"), "{err}");
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        assert!(table(&format!("{GOOD}{GOOD}")).is_err());
    }
}
