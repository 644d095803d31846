//! `--compare EARLIER.json`: every figure of the survey beside the same
//! figure of an earlier one, with its change (in points for a percentage),
//! as MSchecker published its year-over-year view. Figures are matched by
//! their place in the tables (`mechanisms.dkim.set_percent`; table 1's rows
//! by their combination, `combinations.spf+dkim.percent`), so two surveys
//! of different senders compare figure by figure; the sender rows are not
//! compared.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Change {
    pub now: f64,
    pub before: f64,
    /// `now − before`, one decimal.
    pub change: f64,
}

/// Each figure present in either survey (0 where the other lacks it).
pub fn compare(now: &Value, before: &Value) -> BTreeMap<String, Change> {
    let (now, before) = (figures(now), figures(before));
    let keys: std::collections::BTreeSet<&String> = now.keys().chain(before.keys()).collect();
    keys.into_iter()
        .map(|key| {
            let (a, b) = (
                now.get(key).copied().unwrap_or(0.0),
                before.get(key).copied().unwrap_or(0.0),
            );
            let change = Change {
                now: a,
                before: b,
                change: ((a - b) * 10.0).round() / 10.0,
            };
            (key.clone(), change)
        })
        .collect()
}

/// Every number of the tables, by its dotted path.
fn figures(tables: &Value) -> BTreeMap<String, f64> {
    let mut found = BTreeMap::new();
    walk(tables, String::new(), &mut found);
    found
}

fn walk(value: &Value, path: String, found: &mut BTreeMap<String, f64>) {
    let at = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Number(n) => {
            if let Some(n) = n.as_f64() {
                found.insert(path, n);
            }
        }
        Value::Object(map) => {
            for (key, value) in map {
                if key == "rows" || key == "compare" {
                    continue;
                }
                if key == "combinations" {
                    for combination in value.as_array().into_iter().flatten() {
                        let name = combination_name(combination);
                        for figure in ["count", "percent"] {
                            walk(
                                &combination[figure],
                                at(&format!("combinations.{name}.{figure}")),
                                found,
                            );
                        }
                    }
                    continue;
                }
                walk(value, at(key), found);
            }
        }
        _ => {}
    }
}

/// `smime+spf`, or `none` for a sender with none set.
fn combination_name(combination: &Value) -> String {
    let set: Vec<&str> = ["smime", "spf", "dkim", "dmarc"]
        .into_iter()
        .filter(|m| combination[*m] == Value::Bool(true))
        .collect();
    if set.is_empty() {
        "none".into()
    } else {
        set.join("+")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_figure_is_set_beside_the_earlier_one() {
        let before = json!({
            "senders": 200,
            "mechanisms": {"dkim": {"set": 100, "set_percent": 50.0}},
            "combinations": [{"smime": false, "spf": true, "dkim": true, "dmarc": false, "count": 80, "percent": 40.0}],
            "grades": {"improve_percent": 35.0},
            "rows": [{"score": 3.0}]
        });
        let now = json!({
            "senders": 202,
            "mechanisms": {"dkim": {"set": 120, "set_percent": 59.4}},
            "combinations": [{"smime": false, "spf": false, "dkim": false, "dmarc": false, "count": 2, "percent": 1.0}],
            "grades": {"improve_percent": 25.0},
            "rows": [{"score": 9.0}]
        });
        let changes = compare(&now, &before);
        assert_eq!(changes["grades.improve_percent"].change, -10.0);
        assert_eq!(changes["mechanisms.dkim.set_percent"].change, 9.4);
        assert_eq!(
            changes["senders"],
            Change {
                now: 202.0,
                before: 200.0,
                change: 2.0
            }
        );
        assert_eq!(changes["combinations.spf+dkim.percent"].now, 0.0);
        assert_eq!(changes["combinations.none.count"].now, 2.0);
        assert!(!changes.keys().any(|k| k.starts_with("rows")));
    }
}
