//! Long-poll: `GET /api/tests/{id}?wait=N` holds the request until the
//! report exists or N seconds (at most [`MAX_WAIT`]) pass, then answers as
//! without `wait`. A CI job sends its mail and makes one request instead of
//! polling.
//!
//! The request answers when this node's [`Arrivals`] bell rings: as the
//! analysis ends (the report announced, before the writer commits it), or
//! at the commit for a wait that began after that. It looks in the store
//! every [`POLL_EVERY`] besides, for a report another node saved to a
//! shared store. A waiting request costs a timer and a bell, not a thread.

use crate::store::{Arrivals, Store};
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;

/// The longest a request may wait; a larger `wait` is a 400, like any
/// query value out of its range.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting request looks for the report without a bell (one
/// saved by another node).
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

/// Returns once `id` has a report (true), the store fails (true: the
/// caller reports the error), or `limit` has passed (false).
pub async fn until_report(store: &Store, arrivals: &Arrivals, id: &str, limit: Duration) -> bool {
    until_report_looking(store, arrivals, id, limit, POLL_EVERY).await
}

/// [`until_report`], looking in the store every `every` between bells.
async fn until_report_looking(
    store: &Store,
    arrivals: &Arrivals,
    id: &str,
    limit: Duration,
    every: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    let watch = arrivals.watch(id);
    loop {
        // Armed before the look: a report committed between the look and
        // the await still wakes it.
        let rung = watch.bell().notified();
        tokio::pin!(rung);
        rung.as_mut().enable();
        // Announced first: it leaves only once the store has it.
        if arrivals.announced(id).is_some() || !matches!(store.report(id), Ok(None)) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::select! {
            _ = rung => {}
            _ = tokio::time::sleep(every.min(deadline - now)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_envelope;

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

    /// A report saved by another node rings no bell here: the periodic
    /// look finds it.
    #[tokio::test]
    async fn waiting_ends_when_the_report_is_stored() {
        let dir =
            std::env::temp_dir().join(format!("mailscore-wait-{}", crate::test_id::generate()));
        let store = Store::open(&dir).unwrap();
        let writer = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let seq = writer.put_message("box", &test_envelope(), b"x").unwrap();
            writer.put_report("box", seq, b"{}").unwrap();
        });
        let started = std::time::Instant::now();
        let arrivals = Arrivals::default();
        assert!(until_report(&store, &arrivals, "box", Duration::from_secs(10)).await);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
        std::fs::remove_dir_all(dir).ok();
    }

    /// A report committed by this node's writer wakes the waiter: with the
    /// periodic look an hour apart, only the bell can end the wait before
    /// its limit.
    #[tokio::test]
    async fn the_writers_commit_ends_the_wait_without_a_look() {
        let dir =
            std::env::temp_dir().join(format!("mailscore-bell-{}", crate::test_id::generate()));
        let store = Store::open(&dir).unwrap();
        let writer = crate::store::Writer::start(store.clone()).unwrap();
        let arrivals = writer.arrivals();
        let hour = Duration::from_secs(3600);
        let waiting = {
            let (store, arrivals) = (store.clone(), arrivals.clone());
            tokio::spawn(async move {
                until_report_looking(&store, &arrivals, "box", Duration::from_secs(30), hour).await
            })
        };
        // The waiter looks first, finds nothing and waits on its bell.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        let written = writer
            .write(vec!["box".into()], test_envelope(), b"x".to_vec())
            .await
            .unwrap();
        writer
            .put_report("box".into(), written.seqs[0], b"{}".to_vec(), Vec::new())
            .await
            .unwrap();
        let saved = std::time::Instant::now();
        assert!(waiting.await.unwrap());
        // Without the bell the wait runs its 30 s and its last look finds
        // the report; with it, it ends as the commit is announced.
        let after = saved.elapsed();
        assert!(after < Duration::from_secs(20), "no bell rang: {after:?}");
        std::fs::remove_dir_all(dir).ok();
    }

    /// A report someone waits for ends the wait when its analysis
    /// announces it, with the store still without it (its commit not yet
    /// made); and the announcement settled, the store answers.
    #[tokio::test]
    async fn an_announced_report_ends_the_wait_before_its_commit() {
        let dir =
            std::env::temp_dir().join(format!("mailscore-announce-{}", crate::test_id::generate()));
        let store = Store::open(&dir).unwrap();
        let arrivals = std::sync::Arc::new(Arrivals::default());
        let hour = Duration::from_secs(3600);
        assert!(!arrivals.announce("box", 1, b"{}", &[]), "nobody waits yet");
        let waiting = {
            let (store, arrivals) = (store.clone(), arrivals.clone());
            tokio::spawn(async move {
                until_report_looking(&store, &arrivals, "box", Duration::from_secs(30), hour).await
            })
        };
        while !arrivals.is_watched("box") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(!waiting.is_finished());
        assert!(arrivals.announce("box", 1, b"{}", &[]));
        let announced = std::time::Instant::now();
        assert!(waiting.await.unwrap());
        let after = announced.elapsed();
        assert!(after < Duration::from_secs(20), "no bell rang: {after:?}");
        assert_eq!(store.report("box").unwrap(), None, "read before the commit");
        // A later wait finds it at once, until it is settled.
        assert!(until_report_looking(&store, &arrivals, "box", Duration::ZERO, hour).await);
        arrivals.settled("box", 1);
        assert!(!until_report_looking(&store, &arrivals, "box", Duration::ZERO, hour).await);
        std::fs::remove_dir_all(dir).ok();
    }
}
