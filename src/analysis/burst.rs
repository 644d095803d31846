//! Bursts first: while messages arrive back to back, the analyses nobody
//! waits for are held, so the CPU goes to the sessions delivering them;
//! once the burst has passed (no message for [`GAP`]) they run.
//!
//! Why not a lower priority: an analysis at idle class (`SCHED_IDLE`,
//! never promoted) still finished inside a 20-session flood, in the gaps
//! the sessions leave while they wait on the network and the fsync, and
//! the flood went no faster (3,081–4,954 msg/s against 3,393–4,339).
//! Only analyses that did not run during the flood gave back the rate of
//! no analysis at all (bench/README.md, sessions 9 and 10).
//!
//! What bounds a hold: a report someone waits for (a long-poll on its id)
//! leaves at once; no message waits longer than [`MAX_HOLD`]; and nothing
//! is held once the backlog is a quarter of the limit at which senders
//! get `451 4.3.2` (at three quarters the analysis goes to normal
//! priority, [`super::background`]). This moves the analysis's cost out of a
//! burst, it does not lower it: under a flood that lasts, the analysis
//! runs [`MAX_HOLD`] behind the sessions, in the background lane, at the
//! rate it had before (measured: 3,431–3,839 msg/s against 3,447–4,034
//! for 30,000 messages). A lone message is never held: holding starts
//! with the second of two messages less than [`GAP`] apart.
//!
//! A held message is owed its analysis from the end of its hold, not from
//! its arrival, so the background lane's [`STARVED`](super::background::STARVED)
//! counts from then.

use super::Queued;
use crate::store::Arrivals;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// Messages less than this apart make a burst; a burst has passed once
/// none came for this long. Under a 20-session flood a writer round
/// answers its sessions together and the next comes ~3 ms later.
pub const GAP: Duration = Duration::from_millis(10);

/// The longest a message's analysis is held.
pub const MAX_HOLD: Duration = Duration::from_secs(1);

/// The queue of messages owed an analysis, with the ones held back.
pub struct Intake {
    queued: UnboundedReceiver<Queued>,
    held: VecDeque<Queued>,
    /// When the newest message arrived, and whether it came less than
    /// [`GAP`] after the one before it.
    newest: Option<(Instant, bool)>,
    /// `max_analysis_backlog`: holding stops at a quarter of it, and the
    /// analysis is behind at three quarters.
    limit: u64,
    gap: Duration,
    max_hold: Duration,
    /// When the last hold ended: the messages it held are owed their
    /// analysis since then, not since they came.
    hold_ended: Option<Instant>,
    holding: bool,
    /// Held messages someone now waits for: they go first.
    watched: VecDeque<Queued>,
    /// [`Arrivals::waits_begun`] at the last look for them.
    waits_seen: u64,
}

impl Intake {
    /// Holds analyses while messages arrive in bursts, up to a quarter of
    /// `max_analysis_backlog` awaiting analysis.
    pub fn new(queued: UnboundedReceiver<Queued>, max_analysis_backlog: u64) -> Intake {
        Intake::with_bounds(queued, max_analysis_backlog, GAP, MAX_HOLD)
    }

    fn with_bounds(
        queued: UnboundedReceiver<Queued>,
        limit: u64,
        gap: Duration,
        max_hold: Duration,
    ) -> Intake {
        Intake {
            queued,
            held: VecDeque::new(),
            newest: None,
            limit,
            gap,
            max_hold,
            hold_ended: None,
            holding: false,
            watched: VecDeque::new(),
            waits_seen: 0,
        }
    }

    /// The next message to analyse, in order of arrival except that a
    /// message someone waits for goes first, with the time since which it
    /// is owed its analysis: when it came, or when the hold that held it
    /// ended (so a lane's wait for a background slot counts from then,
    /// and a held burst does not all go to normal priority at once).
    /// `None` once the queue is closed and empty. `backlog` is how many
    /// messages await analysis.
    pub async fn next(
        &mut self,
        arrivals: &Arrivals,
        backlog: impl Fn() -> u64,
    ) -> Option<(Queued, Instant)> {
        loop {
            self.take_arrived(arrivals);
            self.take_watched(arrivals);
            if let Some(watched) = self.watched.pop_front() {
                let since = watched.at;
                return Some((watched, since));
            }
            let Some(until) = self.hold_until(backlog()) else {
                if std::mem::take(&mut self.holding) {
                    self.hold_ended = Some(Instant::now());
                }
                if let Some(head) = self.held.pop_front() {
                    return Some(self.owed(head));
                }
                let queued = self.queued.recv().await?;
                self.arrived(queued, arrivals);
                continue;
            };
            self.holding = true;
            tokio::select! {
                queued = self.queued.recv() => match queued {
                    Some(queued) => self.arrived(queued, arrivals),
                    // Closing: what is held still gets its analysis.
                    None => return self.held.pop_front().map(|head| self.owed(head)),
                },
                () = tokio::time::sleep_until(until.into()) => {}
                // A wait begun since `take_watched` looked.
                () = arrivals.wait_begun_since(self.waits_seen) => {}
            }
        }
    }

    fn owed(&self, queued: Queued) -> (Queued, Instant) {
        let since = self
            .hold_ended
            .map_or(queued.at, |ended| ended.max(queued.at));
        (queued, since)
    }

    /// Whether `backlog` messages awaiting analysis is three quarters of
    /// the limit at which senders are told to retry: the analysis is then
    /// behind and runs at normal priority (`background::Lanes::slot`).
    /// (At half, a sustained flood with the default limit kept the backlog
    /// there and nearly every analysis beside the sessions: 12,684 of
    /// 15,000 promoted, 2,580 msg/s against 3,645 without holds.)
    pub fn is_behind(&self, backlog: u64) -> bool {
        backlog >= self.limit / 4 * 3
    }

    /// Whether a hold would let the backlog grow too near the limit.
    fn too_full_to_hold(&self, backlog: u64) -> bool {
        backlog >= self.limit / 4
    }

    /// When the oldest held message may go, if it must wait.
    fn hold_until(&self, backlog: u64) -> Option<Instant> {
        let head = self.held.front()?;
        let (newest, in_burst) = self.newest?;
        let burst_over = newest + self.gap;
        let longest = head.at + self.max_hold;
        let now = Instant::now();
        let hold = in_burst && now < burst_over && now < longest && !self.too_full_to_hold(backlog);
        hold.then(|| burst_over.min(longest))
    }

    /// Takes every message already queued behind the held ones.
    fn take_arrived(&mut self, arrivals: &Arrivals) {
        while let Ok(queued) = self.queued.try_recv() {
            self.arrived(queued, arrivals);
        }
    }

    fn arrived(&mut self, queued: Queued, arrivals: &Arrivals) {
        let since_newest = self
            .newest
            .map(|(before, _)| queued.at.saturating_duration_since(before));
        let in_burst = since_newest.is_some_and(|gap| gap < self.gap);
        self.newest = Some((queued.at, in_burst));
        if arrivals.is_watched(&queued.id) {
            self.watched.push_back(queued);
        } else {
            self.held.push_back(queued);
        }
    }

    /// Moves the held messages someone now waits for to the front: a
    /// wait began (one look at the waiters, then one pass over the held).
    fn take_watched(&mut self, arrivals: &Arrivals) {
        let begun = arrivals.waits_begun();
        if std::mem::replace(&mut self.waits_seen, begun) == begun {
            return;
        }
        let ids = arrivals.watched_ids();
        if ids.is_empty() {
            return;
        }
        let (watched, held) = std::mem::take(&mut self.held)
            .into_iter()
            .partition::<VecDeque<_>, _>(|q| ids.contains(&q.id));
        self.held = held;
        self.watched.extend(watched);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn intake(gap_ms: u64, hold_ms: u64) -> (mpsc::UnboundedSender<Queued>, Intake) {
        let (queue, queued) = mpsc::unbounded_channel();
        let gap = Duration::from_millis(gap_ms);
        let hold = Duration::from_millis(hold_ms);
        (queue, Intake::with_bounds(queued, 100, gap, hold))
    }

    fn send(queue: &mpsc::UnboundedSender<Queued>, id: &str) {
        queue.send(Queued::now(id.into())).unwrap();
    }

    #[tokio::test]
    async fn a_lone_message_is_not_held() {
        let (queue, mut intake) = intake(10_000, 60_000);
        let arrivals = Arrivals::default();
        send(&queue, "lone");
        let started = Instant::now();
        let (next, since) = intake.next(&arrivals, || 0).await.unwrap();
        assert_eq!(next.id, "lone");
        assert_eq!(since, next.at, "never held: owed since it came");
        // Held, it would have waited the 10 s gap.
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_burst_is_analysed_once_it_has_passed_in_order_of_arrival() {
        let (queue, mut intake) = intake(300, 60_000);
        let arrivals = Arrivals::default();
        for id in ["a", "b", "c"] {
            send(&queue, id);
        }
        let last = Instant::now();
        let (first, since) = intake.next(&arrivals, || 0).await.unwrap();
        assert!(
            last.elapsed() >= Duration::from_millis(300),
            "{:?}",
            last.elapsed()
        );
        assert_eq!(first.id, "a");
        // Owed its analysis since the hold ended, not since it came.
        assert!(since >= first.at + Duration::from_millis(300));
        // The burst is over: the rest follow at once.
        assert_eq!(intake.next(&arrivals, || 0).await.unwrap().0.id, "b");
        assert_eq!(intake.next(&arrivals, || 0).await.unwrap().0.id, "c");
    }

    #[tokio::test]
    async fn a_message_someone_waits_for_leaves_the_hold_at_once() {
        let (queue, mut intake) = intake(10_000, 60_000);
        let arrivals = Arrivals::default();
        for id in ["a", "b", "c"] {
            send(&queue, id);
        }
        let started = Instant::now();
        let waiter = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            arrivals.watch("c")
        };
        let (next, _watch) = tokio::join!(intake.next(&arrivals, || 0), waiter);
        assert_eq!(next.unwrap().0.id, "c");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn no_message_is_held_longer_than_the_bound_however_long_the_burst() {
        let (queue, mut intake) = intake(10_000, 200);
        let arrivals = Arrivals::default();
        send(&queue, "first");
        send(&queue, "second");
        let started = Instant::now();
        let flood = async {
            // Still arriving when the bound is reached.
            for n in 0..100 {
                send(&queue, &format!("m{n}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let next = tokio::select! {
            next = intake.next(&arrivals, || 0) => next,
            () = flood => panic!("held for the whole burst"),
        };
        assert_eq!(next.unwrap().0.id, "first");
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_backlog_at_a_quarter_of_its_limit_is_not_held() {
        let (queue, mut intake) = intake(10_000, 60_000);
        let arrivals = Arrivals::default();
        send(&queue, "a");
        send(&queue, "b");
        let started = Instant::now();
        // `with_bounds` was given a limit of 100: at a quarter of it,
        // nothing is held.
        let (next, _) = intake.next(&arrivals, || 25).await.unwrap();
        assert_eq!(next.id, "a");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn what_is_held_when_the_queue_closes_is_still_handed_out() {
        let (queue, mut intake) = intake(10_000, 60_000);
        let arrivals = Arrivals::default();
        send(&queue, "a");
        send(&queue, "b");
        drop(queue);
        assert_eq!(intake.next(&arrivals, || 0).await.unwrap().0.id, "a");
        assert_eq!(intake.next(&arrivals, || 0).await.unwrap().0.id, "b");
        assert!(intake.next(&arrivals, || 0).await.is_none());
    }
}
