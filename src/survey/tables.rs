//! The survey's tables, from its rows alone: the JIPDEC study's table 1
//! (which combinations of S/MIME, SPF, DKIM and DMARC the senders have),
//! its per-mechanism tables and cross-tables, and MSchecker's statistics.
//! Percentages have the total senders as base and are rounded half-up to
//! one decimal, as the study printed them (30 of 72 is 41.7), so a
//! published table can be checked digit for digit. This JSON is a
//! contract: keys may be added, none renamed.

use super::sender::{MECHANISMS, SenderRow, State};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Tables {
    /// Sending addresses (From, lower-cased): the base of every percentage.
    pub senders: usize,
    /// Messages counted, several per sender at times.
    pub messages: usize,
    /// Archive entries that were not mail (counted, each warned about).
    pub skipped: usize,
    /// `mechanisms.spf.set`, `mechanisms.spf.set_percent`…
    pub mechanisms: BTreeMap<&'static str, Counts>,
    /// One entry per subset of the mechanisms that occurs, most senders
    /// first; `true` means set.
    pub combinations: Vec<Combination>,
    /// `cross.smime.set.spf.set`: senders in the first state of the first
    /// mechanism and the second state of the second.
    pub cross: BTreeMap<&'static str, BTreeMap<&'static str, CrossRow>>,
    pub outside_expected_domain: Outside,
    /// MSchecker's grades (`safe`, `review`, `improve`, `danger`,
    /// `not_checked`).
    pub grades: Counts,
    /// TLS on the hop to the receiver (`yes`, `no`, `not_checked`).
    pub tls_receive: Counts,
    /// STARTTLS at the sender's MX, probed (`yes`, `no`, `not_checked`).
    pub tls_send: Counts,
    /// SPF and DKIM passing (`both_ok`, `one_ok`, `both_ng`, `not_checked`).
    pub spf_dkim: Counts,
    /// Forward-confirmed reverse DNS (`ok`, `ng`, `not_checked`).
    pub rdns: Counts,
    /// DNSSEC (`ok`, `ng`, `not_checked`).
    pub dnssec: Counts,
    /// Blocklist listings (`listed`, `clean`, `not_checked`).
    pub dnsbl: Counts,
    /// One row per sender.
    pub rows: Vec<SenderRow>,
}

/// `cross.<a>.<state>` → `<b>` → `<state>` → count.
pub type CrossRow = BTreeMap<&'static str, BTreeMap<&'static str, usize>>;

/// Counts by name, each with `<name>_percent` beside it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts(pub Vec<(&'static str, usize, f64)>);

impl Serialize for Counts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len() * 2))?;
        for (name, count, _) in &self.0 {
            map.serialize_entry(name, count)?;
        }
        for (name, _, percent) in &self.0 {
            map.serialize_entry(&format!("{name}_percent"), percent)?;
        }
        map.end()
    }
}

/// `{"set": 70, …, "set_percent": 97.2, …}`: counts by name, then each
/// name's percentage.
#[cfg(feature = "openapi")]
impl schemars::JsonSchema for Counts {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Counts".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Counts by name (`set`, `not_set`…), and beside each `<name>_percent`: \
                            its share of all senders, rounded half-up to one decimal.",
            "type": "object",
            "additionalProperties": { "type": "number", "minimum": 0 }
        })
    }
}

impl Counts {
    fn of<'a>(
        names: &[&'static str],
        values: impl Iterator<Item = &'a str>,
        base: usize,
    ) -> Counts {
        let mut counts: Vec<(&'static str, usize, f64)> =
            names.iter().map(|n| (*n, 0, 0.0)).collect();
        for value in values {
            if let Some(entry) = counts.iter_mut().find(|(n, _, _)| *n == value) {
                entry.1 += 1;
            }
        }
        for entry in &mut counts {
            entry.2 = percent(entry.1, base);
        }
        Counts(counts)
    }

    pub fn get(&self, name: &str) -> Option<usize> {
        self.0
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, c, _)| *c)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Combination {
    pub smime: bool,
    pub spf: bool,
    pub dkim: bool,
    pub dmarc: bool,
    /// Senders with exactly this combination set.
    pub count: usize,
    /// Of all senders, rounded half-up to one decimal.
    pub percent: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Outside {
    /// The domain the senders were expected under (`go.jp`), or empty.
    pub expected: String,
    /// Senders whose From domain is not under it.
    pub count: usize,
    /// Their From addresses.
    pub rows: Vec<String>,
}

/// `count` of `base` in percent, rounded half-up to one decimal.
pub fn percent(count: usize, base: usize) -> f64 {
    if base == 0 {
        return 0.0;
    }
    // Tenths of a percent, rounded half-up in integers: no float error
    // can turn 37.5 into 37.4.
    let tenths = (2 * count as u128 * 1000 + base as u128) / (2 * base as u128);
    tenths as f64 / 10.0
}

impl Tables {
    pub fn of(rows: Vec<SenderRow>, skipped: usize, expect_domain: Option<&str>) -> Tables {
        let base = rows.len();
        let names: Vec<&'static str> = State::ALL.iter().map(|s| s.as_str()).collect();
        let mechanisms = MECHANISMS
            .iter()
            .map(|m| {
                (
                    *m,
                    Counts::of(&names, rows.iter().map(|r| r.state(m).as_str()), base),
                )
            })
            .collect();
        let yes_no =
            |value: fn(&SenderRow) -> Option<bool>, yes: &'static str, no: &'static str| {
                let words = rows.iter().map(move |r| match value(r) {
                    Some(true) => yes,
                    Some(false) => no,
                    None => "not_checked",
                });
                Counts::of(&[yes, no, "not_checked"], words, base)
            };
        Tables {
            senders: base,
            messages: rows.iter().map(|r| r.messages).sum(),
            skipped,
            mechanisms,
            combinations: combinations(&rows),
            cross: cross(&rows),
            outside_expected_domain: outside(&rows, expect_domain),
            grades: Counts::of(
                &["safe", "review", "improve", "danger", "not_checked"],
                rows.iter().map(|r| r.grade.as_str()),
                base,
            ),
            tls_receive: yes_no(|r| r.tls_receive, "yes", "no"),
            tls_send: yes_no(|r| r.tls_send, "yes", "no"),
            spf_dkim: Counts::of(
                &["both_ok", "one_ok", "both_ng", "not_checked"],
                rows.iter().map(spf_dkim),
                base,
            ),
            rdns: yes_no(|r| r.rdns, "ok", "ng"),
            dnssec: yes_no(|r| r.dnssec, "ok", "ng"),
            dnsbl: yes_no(|r| r.listed, "listed", "clean"),
            rows,
        }
    }
}

fn spf_dkim(row: &SenderRow) -> &'static str {
    match (row.spf_ok, row.dkim_ok) {
        (Some(true), Some(true)) => "both_ok",
        (Some(true), _) | (_, Some(true)) => "one_ok",
        (Some(false), Some(false)) => "both_ng",
        _ => "not_checked",
    }
}

fn combinations(rows: &[SenderRow]) -> Vec<Combination> {
    let mut counts: BTreeMap<[bool; 4], usize> = BTreeMap::new();
    for row in rows {
        let key = MECHANISMS.map(|m| row.state(m) == State::Set);
        *counts.entry(key).or_default() += 1;
    }
    let mut list: Vec<Combination> = counts
        .into_iter()
        .map(|([smime, spf, dkim, dmarc], count)| Combination {
            smime,
            spf,
            dkim,
            dmarc,
            count,
            percent: percent(count, rows.len()),
        })
        .collect();
    list.sort_by_key(|c| std::cmp::Reverse(c.count));
    list
}

fn cross(rows: &[SenderRow]) -> BTreeMap<&'static str, BTreeMap<&'static str, CrossRow>> {
    let mut cross = BTreeMap::new();
    for a in MECHANISMS {
        let mut by_state = BTreeMap::new();
        for sa in State::ALL {
            let mut by_other = BTreeMap::new();
            for b in MECHANISMS.into_iter().filter(|b| *b != a) {
                let counts = State::ALL
                    .into_iter()
                    .map(|sb| {
                        let n = rows
                            .iter()
                            .filter(|r| r.state(a) == sa && r.state(b) == sb)
                            .count();
                        (sb.as_str(), n)
                    })
                    .collect();
                by_other.insert(b, counts);
            }
            by_state.insert(sa.as_str(), by_other);
        }
        cross.insert(a, by_state);
    }
    cross
}

fn outside(rows: &[SenderRow], expected: Option<&str>) -> Outside {
    let Some(expected) = expected.map(|e| e.trim_matches('.').to_ascii_lowercase()) else {
        return Outside::default();
    };
    let inside = |domain: &str| domain == expected || domain.ends_with(&format!(".{expected}"));
    let rows: Vec<String> = rows
        .iter()
        .filter(|r| !inside(r.domain()))
        .map(|r| r.from.clone())
        .collect();
    Outside {
        expected,
        count: rows.len(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_half_up_to_one_decimal_as_the_study_did() {
        let published = [
            (30, 41.7),
            (21, 29.2),
            (12, 16.7),
            (6, 8.3),
            (1, 1.4),
            (70, 97.2),
            (37, 51.4),
            (32, 44.4),
            (3, 4.2),
            (7, 9.7),
            (38, 52.8),
            (27, 37.5),
        ];
        for (count, expected) in published {
            assert_eq!(percent(count, 72), expected, "{count} of 72");
        }
        assert_eq!(percent(1, 16), 6.3, "6.25 rounds up");
        assert_eq!(percent(1, 8), 12.5);
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(percent(5, 5), 100.0);
    }
}
