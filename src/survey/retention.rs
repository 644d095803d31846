//! A survey is kept `--survey-retention-days` after its last activity: its
//! creation or its latest message, whichever is later. Its rows outlive the
//! messages they were made from (the tables must), but not for ever: a
//! survey nobody has mailed for that long goes, with every row and its
//! webhook. One still receiving mail keeps all its rows, so its earlier
//! periods can still be compared with later ones.
//!
//! The embedded stores are swept here, with the retention sweep; Redis
//! expires a survey's keys by their TTL, which each row renews.

use super::online::{KeptRow, Survey};
use crate::store::{Store, StoreError};

/// Deletes every survey whose last activity was before `cutoff` (Unix
/// seconds), its rows and its webhook; returns how many went.
pub fn remove_idle(store: &Store, cutoff: u64) -> Result<usize, StoreError> {
    let mut removed = 0;
    for id in store.survey_ids_to_sweep()? {
        if last_activity(store, &id)?.is_some_and(|last| last < cutoff) {
            store.remove_survey(&id, &crate::store::survey_webhook_key(&id))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// When survey `id` last saw activity (Unix seconds). None when one of its
/// records cannot be judged (a newer build's, or unreadable): it stays.
fn last_activity(store: &Store, id: &str) -> Result<Option<u64>, StoreError> {
    let Some(survey) = store.survey(id)? else {
        return Ok(None);
    };
    let Some(mut last) = Survey::decode(&survey)
        .ok()
        .and_then(|survey| unix_seconds(&survey.created_at))
    else {
        return Ok(None);
    };
    for row in store.survey_rows(id)? {
        let Some(seen) = KeptRow::decode(&row)
            .ok()
            .and_then(|kept| unix_seconds(&kept.row.last_seen))
        else {
            return Ok(None);
        };
        last = last.max(seen);
    }
    Ok(Some(last))
}

/// An RFC 3339 time (as surveys and rows keep them) in Unix seconds.
fn unix_seconds(time: &str) -> Option<u64> {
    let parsed = mail_parser::DateTime::parse_rfc3339(time)?;
    u64::try_from(parsed.to_timestamp()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_surveys_and_rows_write_them() {
        let at = 1_764_064_800;
        let written = mail_parser::DateTime::from_timestamp(at as i64).to_rfc3339();
        assert_eq!(unix_seconds(&written), Some(at));
        assert_eq!(unix_seconds("not a time"), None);
    }
}
