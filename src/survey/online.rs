//! Surveys run on live mail: `POST /api/surveys` makes one, and mail to
//! `<survey id>.<label>@<our domain>` is a test like any other whose
//! report also leaves one [`SenderRow`] in the survey. The rows are kept
//! one per message (see `store::surveys`), so the tables of any period
//! are folded from the rows received in it, and outlive the messages.

use super::sender::{self, SenderRow};
use super::tables::Tables;
use crate::store::{StoreError, versioned};
use serde::{Deserialize, Serialize};

/// What a survey was created with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Survey {
    /// The survey id: mail to `<id>.<label>@<domain>` is counted in it.
    pub id: String,
    /// What the survey is about, as its creator named it.
    pub name: String,
    /// The domain the senders are expected under (`go.jp`), if any:
    /// senders outside it are listed.
    pub expect_domain: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// The longest survey name kept; it is shown on the page.
pub const MAX_NAME: usize = 200;

/// The format of the survey and row records this build writes (their
/// `v`); records from before formats were numbered read as 0.
pub const SURVEY_FORMAT: u32 = 1;

impl Survey {
    pub fn decode(bytes: &[u8]) -> Result<Survey, StoreError> {
        versioned::decode(bytes, "survey", SURVEY_FORMAT)
    }

    pub fn encode(&self) -> Vec<u8> {
        versioned::encode(self, SURVEY_FORMAT)
    }
}

/// Where one message's row is kept: its sequence number, zero-padded so
/// entries sort in arrival order, and its label.
pub fn entry(seq: u64, label: &str) -> String {
    format!("{seq:020}.{label}")
}

/// A message's row as kept: the entry it is kept under (for its order)
/// beside the row.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeptRow {
    pub entry: String,
    pub row: SenderRow,
}

impl KeptRow {
    pub fn decode(bytes: &[u8]) -> Result<KeptRow, StoreError> {
        versioned::decode(bytes, "survey row", SURVEY_FORMAT)
    }

    pub fn encode(&self) -> Vec<u8> {
        versioned::encode(self, SURVEY_FORMAT)
    }
}

/// When messages were received, bounds included: a date (`2026-04-01`)
/// or an RFC 3339 time in UTC (`2026-04-01T09:00:00Z`). A bound is compared
/// with as much of a message's time as it gives, so `to=2026-04-30` takes
/// the whole of that day.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Period {
    /// The first day or time counted, if bounded.
    pub from: Option<String>,
    /// The last day or time counted, if bounded.
    pub to: Option<String>,
}

impl Period {
    pub fn new(from: Option<&str>, to: Option<&str>) -> Result<Period, String> {
        let bound = |value: Option<&str>, name: &str| match value {
            Some(v) if !is_time_prefix(v) => Err(format!(
                "{name}: want a date (2026-04-01) or a UTC time (2026-04-01T09:00:00Z)"
            )),
            v => Ok(v.map(|v| v.trim_end_matches('Z').to_string())),
        };
        Ok(Period {
            from: bound(from, "from")?,
            to: bound(to, "to")?,
        })
    }

    pub fn is_all(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// Whether a message received at `at` (RFC 3339, UTC) is in it.
    pub fn holds(&self, at: &str) -> bool {
        let cut = |bound: &str| &at[..bound.len().min(at.len())];
        self.from.as_deref().is_none_or(|f| cut(f) >= f)
            && self.to.as_deref().is_none_or(|t| cut(t) <= t)
    }
}

/// `YYYY-MM-DD`, optionally `THH:MM` and `:SS`, optionally `Z`.
fn is_time_prefix(text: &str) -> bool {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let shape = "dddd-dd-ddTdd:dd:dd";
    [10, 16, 19].contains(&text.len())
        && text.bytes().zip(shape.bytes()).all(|(c, s)| match s {
            b'd' => c.is_ascii_digit(),
            _ => c == s,
        })
}

/// The survey's tables over the rows received in `period`: each sender's
/// messages folded in arrival order.
pub fn tables(survey: &Survey, rows: &[KeptRow], period: &Period) -> Tables {
    let mut rows: Vec<&KeptRow> = rows
        .iter()
        .filter(|kept| period.holds(&kept.row.last_seen))
        .collect();
    rows.sort_by(|a, b| a.entry.cmp(&b.entry));
    let senders = sender::fold(rows.into_iter().map(|kept| kept.row.clone()));
    Tables::of(senders, 0, survey.expect_domain.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_takes_whole_days_and_refuses_other_shapes() {
        let april = Period::new(Some("2026-04-01"), Some("2026-04-30")).unwrap();
        assert!(april.holds("2026-04-01T00:00:00Z"));
        assert!(april.holds("2026-04-30T23:59:59Z"));
        assert!(!april.holds("2026-03-31T23:59:59Z"));
        assert!(!april.holds("2026-05-01T00:00:00Z"));
        let morning = Period::new(Some("2026-04-01T09:00:00Z"), None).unwrap();
        assert!(!morning.holds("2026-04-01T08:59:59Z"));
        assert!(morning.holds("2026-04-01T09:00:00Z"));
        for bad in ["April", "2026-4-1", "2026-04-01 09:00", "2026-04-01T09"] {
            assert!(Period::new(Some(bad), None).is_err(), "{bad}");
        }
        assert!(Period::new(None, None).unwrap().is_all());
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn surveys_are_kept_with_their_format_and_older_ones_still_read() {
        let survey = Survey {
            id: "s1".into(),
            name: "go.jp".into(),
            expect_domain: Some("go.jp".into()),
            created_at: "2026-12-05T00:00:00Z".into(),
        };
        let kept = survey.encode();
        assert!(kept.starts_with(br#"{"v":1,"id":"s1""#), "{kept:?}");
        assert_eq!(Survey::decode(&kept).unwrap(), survey);
        // As issue 22's build wrote it, before formats were numbered.
        let unnumbered = serde_json::to_vec(&survey).unwrap();
        assert_eq!(Survey::decode(&unnumbered).unwrap(), survey);
        let newer = br#"{"v":2,"id":"s1","shape":"other"}"#;
        assert!(matches!(
            Survey::decode(newer),
            Err(StoreError::NewerFormat { format: 2, .. })
        ));
    }
}
