//! Reports as they arrive: the writer rings an id's bell once its report is
//! committed, and a long-poll (`GET /api/tests/{id}?wait=N`, the pending
//! page, `mailscore wait`) waiting on that id answers at once, instead of
//! at its next look at the store (every 100 ms before: a CI job or the page
//! heard of its report up to 100 ms late, and a client polling faster to
//! avoid that loaded the server it waited on).
//!
//! The analysis asks too, when it picks a lane for a message: a report
//! someone already waits for is analysed at normal priority
//! (`analysis::background::Lanes::slot`).
//!
//! A report someone waits for is announced when its analysis ends
//! ([`super::announced`]) and rings then, before its commit.
//!
//! Only the writer of this process rings: with a store shared between nodes
//! a report saved by another node is still found by the waiter's own
//! periodic look (`web::wait`).

use super::announced::{Announced, AnnouncedReport};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The ids someone waits on, each with its bell.
#[derive(Default)]
pub struct Arrivals {
    /// Each id's bell and how many wait on it.
    waiting: Mutex<HashMap<String, (Arc<Notify>, usize)>>,
    /// How many wait in all: the writer skips the lock while nobody does,
    /// which is every report of a flood nobody watches.
    watchers: AtomicUsize,
    /// Rung whenever a wait begins, for [`Arrivals::watched`].
    began: Notify,
    /// How many waits have begun, ever.
    begun: std::sync::atomic::AtomicU64,
    /// Reports waited for, readable before the writer commits them.
    announced: Announced,
}

impl Arrivals {
    /// Waits for `id`'s report from now on: the bell is armed before the
    /// caller looks in the store, so a report committed in between still
    /// rings it.
    pub fn watch(&self, id: &str) -> Watch<'_> {
        let bell = {
            let mut waiting = self.lock();
            let (bell, count) = waiting
                .entry(id.to_string())
                .or_insert_with(|| (Arc::new(Notify::new()), 0));
            *count += 1;
            bell.clone()
        };
        self.watchers.fetch_add(1, Ordering::Relaxed);
        self.begun.fetch_add(1, Ordering::Relaxed);
        self.began.notify_waiters();
        Watch {
            arrivals: self,
            id: id.to_string(),
            bell,
        }
    }

    /// Tells whoever waits on `id` that its report is readable: announced,
    /// or committed.
    pub fn arrived(&self, id: &str) {
        if !self.anyone_waits() {
            return;
        }
        if let Some((bell, _)) = self.lock().get(id) {
            bell.notify_waiters();
        }
    }

    /// Announces the finished report of message `seq` of `id` (its stored
    /// form, with the texts it names that the store may lack) if someone
    /// waits on it, and rings its bell: the waiter reads it at once
    /// ([`Arrivals::announced`]) rather than after the writer's commit.
    /// Copied only then. Returns whether it was announced.
    pub fn announce(&self, id: &str, seq: u64, report: &[u8], texts: &[(u64, Vec<u8>)]) -> bool {
        if !self.is_watched(id) {
            return false;
        }
        let report = AnnouncedReport {
            seq,
            saved_at: super::history::now(),
            report: report.to_vec(),
            texts: texts.to_vec(),
        };
        self.announced.insert(id, report);
        self.arrived(id);
        true
    }

    /// `id`'s report announced and not yet settled, if any. Look here
    /// before the store: a report leaves here only once it is there.
    pub fn announced(&self, id: &str) -> Option<Arc<AnnouncedReport>> {
        self.announced.get(id)
    }

    /// The report of message `seq` of `id` is in the store now (or a
    /// newer one is), or its save was given up: no longer announced.
    pub fn settled(&self, id: &str, seq: u64) {
        self.announced.settle(id, seq);
    }

    /// Whether anyone waits on `id`'s report now.
    pub fn is_watched(&self, id: &str) -> bool {
        self.anyone_waits() && self.lock().contains_key(id)
    }

    /// Whether anyone waits on any report now.
    pub fn anyone_waits(&self) -> bool {
        self.watchers.load(Ordering::Relaxed) > 0
    }

    /// The ids someone waits on now (one look under the lock).
    pub fn watched_ids(&self) -> std::collections::HashSet<String> {
        if !self.anyone_waits() {
            return Default::default();
        }
        self.lock().keys().cloned().collect()
    }

    /// How many waits have begun since the start: a change says a look
    /// at [`Arrivals::watched_ids`] may find a new one.
    pub fn waits_begun(&self) -> u64 {
        self.begun.load(Ordering::Relaxed)
    }

    /// Returns once a wait has begun on any id since [`Arrivals::waits_begun`]
    /// said `seen`.
    pub async fn wait_begun_since(&self, seen: u64) {
        self.once_a_wait_began(|| self.waits_begun() != seen).await;
    }

    /// Returns once someone waits on `id`'s report (at once if someone
    /// does already).
    pub async fn watched(&self, id: &str) {
        self.once_a_wait_began(|| self.is_watched(id)).await;
    }

    /// Returns once `looks` is true, looking again each time a wait begins
    /// (the bell armed before each look, so no beginning is missed).
    async fn once_a_wait_began(&self, looks: impl Fn() -> bool) {
        loop {
            let began = self.began.notified();
            tokio::pin!(began);
            began.as_mut().enable();
            if looks() {
                return;
            }
            began.await;
        }
    }

    /// The map, even if a holder panicked: it only counts waiters.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<Notify>, usize)>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One waiter's hold on an id's bell; dropping it stops waiting.
pub struct Watch<'a> {
    arrivals: &'a Arrivals,
    id: String,
    bell: Arc<Notify>,
}

impl Watch<'_> {
    /// The bell of this watch, to arm (`Notified::enable`) before a look in
    /// the store and await after it.
    pub fn bell(&self) -> &Notify {
        &self.bell
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let mut waiting = self.arrivals.lock();
        if let Some((_, count)) = waiting.get_mut(&self.id) {
            *count -= 1;
            if *count == 0 {
                waiting.remove(&self.id);
            }
        }
        self.arrivals.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_report_rings_only_its_own_ids_watchers() {
        let arrivals = Arrivals::default();
        let watch = arrivals.watch("box");
        let notified = watch.bell().notified();
        tokio::pin!(notified);
        // Armed before the look in the store, as `web::wait` does: the ring
        // comes between the look and the await and is not lost.
        notified.as_mut().enable();
        arrivals.arrived("other");
        assert!(futures_now(notified.as_mut()).is_none(), "another id rang");
        arrivals.arrived("box");
        assert!(futures_now(notified.as_mut()).is_some());
    }

    #[tokio::test]
    async fn watched_ends_when_a_wait_on_that_id_begins() {
        let arrivals = Arrivals::default();
        let watched = arrivals.watched("box");
        tokio::pin!(watched);
        assert!(futures_now(watched.as_mut()).is_none());
        let _other = arrivals.watch("other");
        assert!(futures_now(watched.as_mut()).is_none(), "another id's wait");
        let _watch = arrivals.watch("box");
        assert!(futures_now(watched.as_mut()).is_some());
        assert!(arrivals.is_watched("box"));
    }

    #[test]
    fn the_last_watcher_gone_takes_the_ids_bell_with_it() {
        let arrivals = Arrivals::default();
        let (a, b) = (arrivals.watch("box"), arrivals.watch("box"));
        assert_eq!(arrivals.lock().len(), 1);
        drop(a);
        assert_eq!(arrivals.lock().get("box").map(|(_, n)| *n), Some(1));
        drop(b);
        assert!(arrivals.lock().is_empty());
        assert_eq!(arrivals.watchers.load(Ordering::Relaxed), 0);
    }

    /// Polls `future` once: its output if it is ready now.
    fn futures_now<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        match future.poll(&mut context) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        }
    }
}
