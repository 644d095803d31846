//! Analysis in the background. It runs after the 250, so it should never
//! hold one up: it gets a thread of its own, with a single-threaded tokio
//! runtime, at a background CPU priority (nice [`BACKGROUND_NICE`]). A
//! session or the store writer that wakes up then takes the CPU first,
//! instead of waiting behind the analysis of an earlier message, and the
//! analysis uses the CPU the sessions leave idle while they wait on the
//! network and the disk. At 20 smtp-source sessions on 2 cores this
//! measured +10 % messages/s against analysing at normal priority (with
//! `SCHED_IDLE`, below).
//!
//! Background priority only gets the CPU left over, so [`Lanes`] sends a
//! message to the main runtime, at normal priority, when the analysis is
//! behind: when the backlog has reached three quarters of the limit at
//! which senders are told to retry (`max_analysis_backlog`), so a
//! sustained flood is analysed as it comes rather than refused; when
//! someone waits for its report (a long-poll on its id); or when it found
//! no background slot within [`STARVED`], so a flood of HTTP cannot hold
//! a report back for ever. (Unprivileged threads may lower their priority
//! but not raise it again: hence two runtimes, not one thread switching.)
//! Each lane analyses with a resolver of its own, since hickory keeps a
//! DNS connection's task on the runtime that opened it (serve.rs,
//! tests/background_lanes.rs).
//!
//! Until session 10 a message went to normal priority after 3 ms without a
//! background slot, which kept reports nobody waited for quick beside a
//! flood (their p99 17–27 ms against 26–50 with 10 ms and `SCHED_IDLE`).
//! Once a report someone waits for went first anyway, that rule mostly put
//! the analysis of a burst beside its sessions. With bursts held
//! ([`super::burst`]) and promotion only as above, measured against the
//! 3 ms rule (alternating, 20 sessions, bench/README.md): floods of 3,000,
//! 63 % of smtp-sink (55–72) against 46 % (41–53); of 30,000, the same
//! rate within the noise (3,328–3,533 against 3,159–4,112 msg/s); a
//! long-polled report beside a flood, p99 15.6–20.1 against 18.5–20.5 ms.
//!
//! Why a nice value and not `SCHED_IDLE` (used before): an analysis that
//! got a background slot cannot move lanes, and under a flood an idle-class
//! thread got next to no CPU (Linux weighs it 3 against a normal thread's
//! 1024), so a report whose analysis started there waited 13–44 ms for it
//! (instrumented: its analysis runs in 1 ms given the CPU). At nice 10
//! (weight 110) it keeps moving.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::JoinHandle;

/// A message that waited this long for a background slot is analysed at
/// normal priority instead: a report nobody waits for may be this late
/// while the background lane gets no CPU.
pub const STARVED: Duration = Duration::from_secs(10);

/// The background lane's nice value (0 is normal, 19 the lowest).
pub const BACKGROUND_NICE: i32 = 10;

/// A thread running a tokio runtime of its own at background priority.
/// Dropping it stops the runtime, and the tasks on it at their next await.
pub struct Background {
    runtime: Handle,
    _stop: oneshot::Sender<()>,
}

impl Background {
    pub fn spawn(name: &str) -> std::io::Result<Background> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                set_priority(Priority::Background);
                let _ = runtime.block_on(stopped);
            })?;
        Ok(Background {
            runtime: handle,
            _stop: stop,
        })
    }

    pub fn handle(&self) -> &Handle {
        &self.runtime
    }
}

/// Where analyses run: each lane a runtime and its share of slots.
pub struct Lanes {
    background: Lane,
    normal: Lane,
    starved: Duration,
}

struct Lane {
    runtime: Handle,
    slots: Arc<Semaphore>,
}

/// A slot to run one analysis in; it is freed when the task ends.
pub struct Slot {
    runtime: Handle,
    permit: OwnedSemaphorePermit,
    background: bool,
}

impl Lanes {
    /// Up to `concurrency` analyses at once on each lane.
    pub fn new(background: Handle, normal: Handle, concurrency: usize) -> Lanes {
        let lane = |runtime| Lane {
            runtime,
            slots: Arc::new(Semaphore::new(concurrency)),
        };
        Lanes {
            background: lane(background),
            normal: lane(normal),
            starved: STARVED,
        }
    }

    /// Waits at most `starved` for a background slot (tests).
    pub fn with_starved_after(mut self, starved: Duration) -> Lanes {
        self.starved = starved;
        self
    }

    /// Waits for a slot for a message owed its analysis since `since`: a
    /// background one if it frees up within [`STARVED`], else a normal
    /// one. A message whose report someone waits for (`awaited` ends), or
    /// that comes while the analysis is `behind`, takes a normal one: the
    /// person at the page or the CI job goes before a flood nobody
    /// watches, and a backlog near its limit is worked off at full speed.
    pub async fn slot(
        &self,
        since: Instant,
        awaited: impl Future<Output = ()>,
        behind: bool,
    ) -> Slot {
        let got = if behind {
            None
        } else {
            let deadline = tokio::time::Instant::from_std(since + self.starved);
            let background = self.background.slots.clone().acquire_owned();
            let background = tokio::time::timeout_at(deadline, background);
            tokio::select! {
                biased;
                () = awaited => None,
                got = background => got.ok().and_then(Result::ok),
            }
        };
        let (lane, permit, in_background) = match got {
            Some(permit) => (&self.background, permit, true),
            None => {
                let normal = self.normal.slots.clone().acquire_owned().await;
                let permit = normal.expect("the lanes never close their slots");
                (&self.normal, permit, false)
            }
        };
        Slot {
            runtime: lane.runtime.clone(),
            permit,
            background: in_background,
        }
    }
}

impl Slot {
    /// Whether the task will run at background priority.
    pub fn in_background(&self) -> bool {
        self.background
    }

    /// Runs `task` in this slot's lane.
    pub fn spawn<F>(self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_releasing(|held| async move {
            let output = task.await;
            drop(held);
            output
        })
    }

    /// Runs the task `start` makes in this slot's lane, handing it the
    /// slot: the slot is free again when the task drops it (or ends), so
    /// a task whose last part only waits can let the next one in first.
    pub fn spawn_releasing<F>(self, start: impl FnOnce(Held) -> F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.spawn(start(Held(self.permit)))
    }
}

/// A slot in use: dropping it frees the slot.
pub struct Held(#[allow(dead_code)] OwnedSemaphorePermit);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Time-sharing at nice [`BACKGROUND_NICE`]: the CPU goes to normal
    /// threads first.
    Background,
    /// The default time-sharing policy (`SCHED_OTHER`, nice 0).
    Normal,
}

/// Sets the calling thread's CPU priority. Returns whether the system did;
/// where it cannot (not Linux, or a sandbox forbids it) the thread keeps
/// its priority, which costs speed, never correctness.
pub fn set_priority(priority: Priority) -> bool {
    #[cfg(target_os = "linux")]
    {
        let nice = match priority {
            Priority::Background => BACKGROUND_NICE,
            Priority::Normal => 0,
        };
        // SAFETY: plain integer arguments. On Linux a nice value belongs
        // to a thread, and `gettid` names the calling one, so no other
        // thread is affected.
        unsafe {
            let thread = libc::gettid() as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, thread, nice) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = priority;
        false
    }
}

/// The calling thread's priority, where the system tells.
pub fn priority() -> Option<Priority> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain integer arguments; they read the calling thread's
        // policy and nice value.
        let (policy, nice) = unsafe {
            let thread = libc::gettid() as libc::id_t;
            (
                libc::sched_getscheduler(0),
                libc::getpriority(libc::PRIO_PROCESS, thread),
            )
        };
        match (policy, nice) {
            (libc::SCHED_OTHER, BACKGROUND_NICE) => Some(Priority::Background),
            (libc::SCHED_OTHER, 0) => Some(Priority::Normal),
            _ => None,
        }
    }
    #[cfg(not(target_os = "linux"))]
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Where a task in `slot` runs: its thread's priority and name.
    async fn whereabouts(slot: Slot) -> (Option<Priority>, Option<String>) {
        slot.spawn(async {
            let thread = std::thread::current();
            (priority(), thread.name().map(String::from))
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn analyses_run_in_the_background_until_it_has_no_slot_in_time() {
        let background = Background::spawn("test-background").unwrap();
        let starved = Duration::from_millis(50);
        let lanes = Lanes::new(background.handle().clone(), Handle::current(), 1)
            .with_starved_after(starved);

        let (ran_at, thread) = whereabouts(
            lanes
                .slot(Instant::now(), std::future::pending(), false)
                .await,
        )
        .await;
        assert_eq!(ran_at, Some(Priority::Background));
        assert_eq!(thread.as_deref(), Some("test-background"));

        // The only background slot held: the next message waits until it
        // is starved, then runs at normal priority on this runtime.
        let (release, released) = oneshot::channel::<()>();
        let busy = lanes
            .slot(Instant::now(), std::future::pending(), false)
            .await
            .spawn(released);
        let queued_at = Instant::now();
        let slot = lanes.slot(queued_at, std::future::pending(), false).await;
        assert!(queued_at.elapsed() >= starved, "{:?}", queued_at.elapsed());
        assert!(!slot.in_background());
        let (ran_at, _) = whereabouts(slot).await;
        assert_eq!(ran_at, Some(Priority::Normal));

        // Freed again, the background takes the next one at once.
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        let (ran_at, _) = whereabouts(
            lanes
                .slot(Instant::now(), std::future::pending(), false)
                .await,
        )
        .await;
        assert_eq!(ran_at, Some(Priority::Background));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_report_someone_waits_for_or_an_analysis_behind_runs_at_normal_priority() {
        let background = Background::spawn("test-awaited").unwrap();
        let lanes = Lanes::new(background.handle().clone(), Handle::current(), 1);
        // A background slot is free, but someone waits for this report,
        // or the backlog is near its limit.
        for (awaited, behind) in [(true, false), (false, true)] {
            let awaited = async move {
                if !awaited {
                    std::future::pending::<()>().await;
                }
            };
            let slot = lanes.slot(Instant::now(), awaited, behind).await;
            assert!(!slot.in_background(), "behind: {behind}");
            let (ran_at, _) = whereabouts(slot).await;
            assert_eq!(ran_at, Some(Priority::Normal));
        }
        // Neither: the free background slot takes it.
        let slot = lanes
            .slot(Instant::now(), std::future::pending(), false)
            .await;
        assert!(slot.in_background());
    }
}
