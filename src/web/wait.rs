//! Long-poll: `GET /api/tests/{id}?wait=N` holds the request until the
//! report exists or N seconds (at most [`MAX_WAIT`]) pass, then answers as
//! without `wait`. A CI job sends its mail and makes one request instead of
//! polling.
//!
//! The wait polls the store every [`POLL_EVERY`] with a tokio timer, so a
//! waiting request costs a timer, not a thread; a store read is a sled
//! lookup in memory, or one Redis GET with the shared store.

use crate::store::Store;
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;

/// The longest a request may wait; a larger `wait` is a 400, like any
/// query value out of its range.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting request looks for the report.
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// `?wait=N` on the status endpoint. Kept as text so that a bad value is a
/// clear 400 rather than a "no such page".
#[derive(Debug, Default, Deserialize)]
pub struct WaitQuery {
    pub wait: Option<String>,
}

impl WaitQuery {
    /// How long to wait: zero without `wait`, whole seconds up to
    /// [`MAX_WAIT`], or the error to answer with.
    pub fn duration(&self) -> Result<Duration, &'static str> {
        match self.wait.as_deref() {
            None => Ok(Duration::ZERO),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs)
                .filter(|wait| *wait <= MAX_WAIT)
                .ok_or("invalid wait: use whole seconds from 0 to 60"),
        }
    }
}

/// Returns once `id` has a report, the store fails (the caller reports the
/// error), or `limit` has passed.
pub async fn until_report(store: &Store, id: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if !matches!(store.report(id), Ok(None)) {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        tokio::time::sleep(POLL_EVERY.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(wait: Option<&str>) -> WaitQuery {
        WaitQuery {
            wait: wait.map(str::to_string),
        }
    }

    #[test]
    fn wait_is_zero_to_sixty_seconds_and_anything_else_is_refused() {
        assert_eq!(query(None).duration(), Ok(Duration::ZERO));
        assert_eq!(query(Some("5")).duration(), Ok(Duration::from_secs(5)));
        assert_eq!(query(Some("60")).duration(), Ok(MAX_WAIT));
        assert!(query(Some("61")).duration().is_err());
        assert!(query(Some("99999")).duration().is_err());
        assert!(query(Some("soon")).duration().is_err());
        assert!(query(Some("-1")).duration().is_err());
    }

    #[tokio::test]
    async fn waiting_ends_when_the_report_is_stored() {
        let dir =
            std::env::temp_dir().join(format!("mailscore-wait-{}", crate::test_id::generate()));
        let store = Store::open(&dir).unwrap();
        let writer = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let envelope = crate::smtp::Envelope {
                client_ip: "127.0.0.1".parse().unwrap(),
                client_port: 1,
                helo: "h".into(),
                mail_from: "a@b".into(),
                rcpt_to: vec!["box@localhost".into()],
                received_at: 1,
                tls: None,
            };
            let seq = writer.put_message("box", &envelope, b"x").unwrap();
            writer.put_report("box", seq, b"{}").unwrap();
        });
        let started = std::time::Instant::now();
        until_report(&store, "box", Duration::from_secs(10)).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
        std::fs::remove_dir_all(dir).ok();
    }
}
