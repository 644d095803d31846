//! One delivery owed: a report's JSON for one webhook, with its attempts.
//! Its id names the message it reports (`<test id>.<seq>.test` or
//! `.survey`), so analysing a message again after a crash queues the same
//! delivery again instead of a second one.

use super::{survey_key, test_key};
use crate::report::Report;
use crate::store::{Store, StoreError, versioned};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Sent as `X-Mailscore-Delivery`; the same on every attempt.
    pub id: String,
    pub url: String,
    /// The report, as `GET /api/tests/{id}` answers it.
    pub body: String,
    /// Unix milliseconds: when it was queued, and when it is next due.
    pub queued_at: u64,
    pub due_at: u64,
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The format of the delivery records this build writes (their `v`);
/// records from before formats were numbered read as 0.
pub const DELIVERY_FORMAT: u32 = 1;

impl Delivery {
    pub fn decode(bytes: &[u8]) -> Result<Delivery, StoreError> {
        versioned::decode(bytes, "webhook delivery", DELIVERY_FORMAT)
    }

    pub fn encode(&self) -> Vec<u8> {
        versioned::encode(self, DELIVERY_FORMAT)
    }
}

/// Queues the report of message `seq` of test `id` for the webhook of the
/// test and, for a survey's address, of the survey. Call before the report
/// is saved: until then a crash means the message is analysed (and this
/// queued) again.
pub fn queue_report(
    store: &Store,
    id: &str,
    seq: u64,
    report: &Report,
) -> Result<usize, StoreError> {
    let mut targets = Vec::new();
    if let Some(url) = store.webhook(&test_key(id))? {
        targets.push(("test", url));
    }
    if let Some((survey, _)) = crate::test_id::survey_address(id)
        && let Some(url) = store.webhook(&survey_key(survey))?
    {
        targets.push(("survey", url));
    }
    if targets.is_empty() {
        return Ok(0);
    }
    let body = serde_json::to_string(report).expect("a report serialises");
    let now = now_ms();
    for (kind, url) in &targets {
        let delivery = Delivery {
            id: format!("{id}.{seq}.{kind}"),
            url: url.clone(),
            body: body.clone(),
            queued_at: now,
            due_at: now,
            attempts: 0,
            last_error: None,
        };
        store.put_delivery(&delivery.id, &delivery.encode())?;
    }
    Ok(targets.len())
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
