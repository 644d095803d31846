//! The big mailbox providers' sender requirements, as data: one file per
//! provider in `scoring-rules/providers/`, each requirement a condition on
//! the same facts the rule table reads. Validated once at start-up like
//! the rules, so an operator edits a file when a provider changes its page
//! and a typo stops the service instead of never matching.

use super::rules::{OneOrMany, RulesError, Text};
use crate::checks::CheckId;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// The tables shipped in the binary.
const EMBEDDED: [(&str, &str); 3] = [
    (
        "scoring-rules/providers/gmail.toml (embedded)",
        include_str!("../../scoring-rules/providers/gmail.toml"),
    ),
    (
        "scoring-rules/providers/microsoft.toml (embedded)",
        include_str!("../../scoring-rules/providers/microsoft.toml"),
    ),
    (
        "scoring-rules/providers/yahoo.toml (embedded)",
        include_str!("../../scoring-rules/providers/yahoo.toml"),
    ),
];

/// The pseudo-check a condition names for "is the From domain this
/// provider's own?"; its one field and values.
pub const PROVIDER_CHECK: &str = "provider";
pub const FROM_DOMAIN_FIELD: &str = "from_domain";
const FROM_DOMAIN_VALUES: &[&str] = &["own", "other"];

crate::checks::facts::words! {
    /// Whom a requirement is for: every sender, or bulk senders (who must
    /// meet the requirements for all senders too).
    Audience {
        All => "all",
        Bulk => "bulk",
    }
}

crate::checks::facts::words! {
    /// Whether a requirement decides the verdict.
    Level {
        Required => "required",
        Recommended => "recommended",
    }
}

/// One fact a condition tests: a check's field, or the provider's own
/// domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Fact(CheckId, String),
    FromDomain,
}

/// Every listed fact has one of its listed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition(pub Vec<(Subject, Vec<String>)>);

#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub id: String,
    pub audience: Audience,
    pub level: Level,
    /// Met when any of these holds.
    pub met_when: Vec<Condition>,
    pub title: Text,
    pub advice: Text,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub id: String,
    pub name: String,
    /// The provider's published page the table follows.
    pub source: String,
    /// The date of the version of that page (YYYY-MM-DD).
    pub page_date: String,
    /// Its own mail domains (lower case), for "not a From in our domain
    /// sent from elsewhere".
    pub domains: Vec<String>,
    pub requirements: Vec<Requirement>,
}

impl Provider {
    /// The audiences it has requirements for, widest first.
    pub fn audiences(&self) -> Vec<Audience> {
        [Audience::All, Audience::Bulk]
            .into_iter()
            .filter(|a| self.requirements.iter().any(|r| r.audience == *a))
            .collect()
    }

    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }
}

/// The providers, in file-name order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Providers(pub Vec<Provider>);

impl Providers {
    pub fn embedded() -> Result<Providers, RulesError> {
        Self::from_files(
            EMBEDDED
                .iter()
                .map(|(path, text)| (PathBuf::from(path), text.to_string()))
                .collect(),
        )
    }

    /// `dir/providers/*.toml` when a rules directory has that folder, else
    /// the embedded tables.
    pub fn load(rules_dir: Option<&Path>) -> Result<Providers, RulesError> {
        let Some(dir) = rules_dir
            .map(|d| d.join("providers"))
            .filter(|d| d.is_dir())
        else {
            return Self::embedded();
        };
        let read_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RulesError::Read { path, source }
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(read_err(&dir))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(read_err(&path))?;
            files.push((path, text));
        }
        Self::from_files(files)
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.0.iter().find(|p| p.id == id)
    }

    fn from_files(files: Vec<(PathBuf, String)>) -> Result<Providers, RulesError> {
        let mut providers: Vec<Provider> = Vec::with_capacity(files.len());
        for (path, text) in files {
            let file: ProviderFile = toml::from_str(&text).map_err(|e| RulesError::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let invalid = |rule: &str, message: String| RulesError::Invalid {
                path: path.clone(),
                rule: rule.to_string(),
                message,
            };
            let provider = validate(file).map_err(|(rule, message)| invalid(&rule, message))?;
            if providers.iter().any(|p| p.id == provider.id) {
                return Err(invalid(&provider.id, "duplicate provider id".into()));
            }
            providers.push(provider);
        }
        Ok(Providers(providers))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderFile {
    provider: ProviderSpec,
    #[serde(default)]
    requirement: Vec<RequirementSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderSpec {
    id: String,
    name: String,
    source: String,
    page_date: String,
    #[serde(default)]
    domains: Vec<String>,
}

/// `check -> field -> value(s)`, as written.
type ConditionSpec = BTreeMap<String, BTreeMap<String, OneOrMany>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequirementSpec {
    id: String,
    audience: Audience,
    #[serde(default)]
    level: Level,
    met_when: Vec<ConditionSpec>,
    title: Text,
    advice: Text,
}

/// The provider, or the id (provider's or requirement's) and what is wrong.
fn validate(file: ProviderFile) -> Result<Provider, (String, String)> {
    let spec = file.provider;
    let at_provider = |message: String| (spec.id.clone(), message);
    let id_ok = |id: &str, ok: fn(u8) -> bool| !id.is_empty() && id.bytes().all(ok);
    if !id_ok(&spec.id, |b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
        return Err(at_provider("provider id must be non-empty [a-z0-9]".into()));
    }
    if spec.name.is_empty() || !spec.source.starts_with("https://") {
        return Err(at_provider("needs a name and an https:// source".into()));
    }
    if !is_date(&spec.page_date) {
        return Err(at_provider(format!(
            "page_date must be YYYY-MM-DD, got {:?}",
            spec.page_date
        )));
    }
    if file.requirement.is_empty() {
        return Err(at_provider("lists no requirement".into()));
    }
    let mut ids = HashSet::new();
    let mut requirements = Vec::with_capacity(file.requirement.len());
    for r in file.requirement {
        let at = |message: String| (r.id.clone(), message);
        if !id_ok(&r.id, |b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'
        }) {
            return Err(at("id must be non-empty [A-Z0-9_]".into()));
        }
        if !ids.insert(r.id.clone()) {
            return Err(at("duplicate requirement id".into()));
        }
        if r.met_when.is_empty() {
            return Err(at("`met_when` lists no condition".into()));
        }
        let met_when = r
            .met_when
            .iter()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()
            .map_err(at)?;
        for text in [&r.title, &r.advice] {
            if text.en.is_empty() || text.ja.is_empty() {
                return Err(at("title and advice need both en and ja".into()));
            }
        }
        requirements.push(Requirement {
            id: r.id,
            audience: r.audience,
            level: r.level,
            met_when,
            title: r.title,
            advice: r.advice,
        });
    }
    Ok(Provider {
        id: spec.id,
        name: spec.name,
        source: spec.source,
        page_date: spec.page_date,
        domains: spec
            .domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect(),
        requirements,
    })
}

fn condition(spec: &ConditionSpec) -> Result<Condition, String> {
    if spec.is_empty() {
        return Err("an empty condition".into());
    }
    let mut tests = Vec::new();
    for (check, fields) in spec {
        if fields.is_empty() {
            return Err(format!("check {check:?} lists no field"));
        }
        for (field, expected) in fields {
            let (subject, allowed) = subject(check, field)?;
            let values = expected.values();
            if values.is_empty() {
                return Err(format!("{check}.{field} lists no values"));
            }
            if let Some(bad) = values.iter().find(|v| !allowed.contains(&v.as_str())) {
                return Err(format!(
                    "{check}.{field} cannot be {bad:?} (allowed: {})",
                    allowed.join(", ")
                ));
            }
            tests.push((subject, values.to_vec()));
        }
    }
    Ok(Condition(tests))
}

fn subject(check: &str, field: &str) -> Result<(Subject, &'static [&'static str]), String> {
    if check == PROVIDER_CHECK {
        return if field == FROM_DOMAIN_FIELD {
            Ok((Subject::FromDomain, FROM_DOMAIN_VALUES))
        } else {
            Err(format!(
                "{PROVIDER_CHECK:?} has only the field {FROM_DOMAIN_FIELD:?}"
            ))
        };
    }
    let id = CheckId::parse(check).ok_or_else(|| format!("unknown check {check:?}"))?;
    let allowed = id
        .values(field)
        .ok_or_else(|| format!("check {check:?} has no field {field:?}"))?;
    Ok((Subject::Fact(id, field.to_string()), allowed))
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Providers, RulesError> {
        Providers::from_files(vec![(PathBuf::from("p.toml"), text.to_string())])
    }

    const GOOD: &str = r#"
[provider]
id = "mailbox"
name = "Mailbox"
source = "https://mailbox.example/senders"
page_date = "2024-02-01"
domains = ["Mailbox.example"]

[[requirement]]
id = "SPF_OR_DKIM"
audience = "all"
met_when = [{ spf = { result = "pass" } }, { dkim = { result = "pass" } }]
title = { en = "SPF or DKIM", ja = "SPF か DKIM" }
advice = { en = "Set one up", ja = "設定する" }
"#;

    #[test]
    fn the_embedded_tables_are_valid() {
        let providers = Providers::embedded().unwrap();
        let ids: Vec<&str> = providers.0.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["gmail", "microsoft", "yahoo"]);
        let microsoft = providers.get("microsoft").unwrap();
        assert_eq!(microsoft.audiences(), [Audience::Bulk]);
        let gmail = providers.get("gmail").unwrap();
        assert_eq!(gmail.audiences(), [Audience::All, Audience::Bulk]);
    }

    #[test]
    fn a_good_table_loads_with_lower_case_domains() {
        let providers = one(GOOD).unwrap();
        let p = &providers.0[0];
        assert_eq!(p.domains, ["mailbox.example"]);
        assert_eq!(p.requirements[0].met_when.len(), 2);
        assert_eq!(p.requirements[0].level, Level::Required);
    }

    #[test]
    fn unknown_checks_fields_and_values_name_file_and_requirement() {
        for (from, to, says) in [
            ("spf = {", "sfp = {", "unknown check \"sfp\""),
            (
                "result = \"pass\" } }, {",
                "outcome = \"pass\" } }, {",
                "no field",
            ),
            (
                "{ result = \"pass\" } }]",
                "{ result = \"passed\" } }]",
                "cannot be",
            ),
            ("audience = \"all\"", "audience = \"some\"", "some"),
            (
                "page_date = \"2024-02-01\"",
                "page_date = \"Feb 2024\"",
                "page_date",
            ),
        ] {
            let err = one(&GOOD.replacen(from, to, 1)).unwrap_err().to_string();
            assert!(
                err.contains("p.toml") && err.contains(says),
                "{from} → {err}"
            );
        }
        let err = one(&GOOD.replace("{ spf =", "{ provider = { from = \"own\" }, spf ="))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SPF_OR_DKIM") && err.contains("from_domain"),
            "{err}"
        );
    }

    #[test]
    fn duplicates_and_unknown_keys_are_refused() {
        let twice = format!("{GOOD}{}", &GOOD[GOOD.find("[[requirement]]").unwrap()..]);
        assert!(one(&twice).unwrap_err().to_string().contains("duplicate"));
        let extra = GOOD.replace("audience = \"all\"", "audience = \"all\"\nweight = 2");
        assert!(one(&extra).unwrap_err().to_string().contains("weight"));
    }
}
