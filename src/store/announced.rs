//! Reports someone waits for, readable before their commit. Beside a
//! flood the writer's round (a batch of messages and its fsync) takes
//! milliseconds, and a report queued behind it waited for that round and
//! then its own: 3–6 ms of the report's p99 (bench/README.md, "Announced
//! before the commit"). A report nobody waits for goes on as before.
//!
//! An announced report is only a report not yet on disk: the message it
//! is of is durable, so after a crash before the commit the message is
//! analysed again at start-up, as any message without a report.
//! Announcements live until the writer settles their report (committed,
//! or an older one refused) or the analysis gives the save up, so there
//! are at most as many as analyses someone waits for in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A finished report in its stored form, as the writer is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncedReport {
    /// The message it is the report of.
    pub seq: u64,
    /// When it was announced (Unix seconds), as a history entry's.
    pub saved_at: u64,
    /// The stored form ([`crate::report::stored`]).
    pub report: Vec<u8>,
    /// Explanation texts it names that the store may lack yet, by hash.
    pub texts: Vec<(u64, Vec<u8>)>,
}

impl AnnouncedReport {
    /// One of the texts this report brought, by hash.
    pub fn text(&self, hash: u64) -> Option<&[u8]> {
        self.texts
            .iter()
            .find(|(h, _)| *h == hash)
            .map(|(_, text)| text.as_slice())
    }
}

/// The announced reports by id: the newest of each.
#[derive(Default)]
pub struct Announced {
    reports: Mutex<HashMap<String, Arc<AnnouncedReport>>>,
    /// How many there are: the writer skips the lock while there are
    /// none, which is every report of a flood nobody waits for.
    count: AtomicUsize,
}

impl Announced {
    /// Keeps `report` as `id`'s, unless a newer one is there.
    pub fn insert(&self, id: &str, report: AnnouncedReport) {
        let mut reports = self.lock();
        match reports.get(id) {
            Some(kept) if kept.seq > report.seq => {}
            _ => {
                reports.insert(id.to_string(), Arc::new(report));
            }
        }
        self.count.store(reports.len(), Ordering::Relaxed);
    }

    /// `id`'s announced report, if it has one.
    pub fn get(&self, id: &str) -> Option<Arc<AnnouncedReport>> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.lock().get(id).cloned()
    }

    /// The report of message `seq` of `id` is settled in the store (saved,
    /// or refused as older than the one there), or given up: an announced
    /// one as old or older is dropped, a newer one kept.
    pub fn settle(&self, id: &str, seq: u64) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut reports = self.lock();
        if reports.get(id).is_some_and(|kept| kept.seq <= seq) {
            reports.remove(id);
        }
        self.count.store(reports.len(), Ordering::Relaxed);
    }

    /// The map, even if a holder panicked: each change is one insert or
    /// remove.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<AnnouncedReport>>> {
        self.reports.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(seq: u64) -> AnnouncedReport {
        AnnouncedReport {
            seq,
            saved_at: 1_700_000_000,
            report: format!("report {seq}").into_bytes(),
            texts: vec![(7, b"texts".to_vec())],
        }
    }

    #[test]
    fn a_report_is_announced_until_its_own_or_a_newer_one_settles() {
        let announced = Announced::default();
        assert_eq!(announced.get("box"), None);
        announced.insert("box", report(3));
        assert_eq!(announced.get("box").unwrap().seq, 3);
        assert_eq!(announced.get("other"), None);
        announced.settle("box", 2);
        assert_eq!(
            announced.get("box").unwrap().seq,
            3,
            "an older save settled it"
        );
        announced.settle("box", 3);
        assert_eq!(announced.get("box"), None);
        announced.insert("box", report(5));
        announced.settle("box", 9);
        assert_eq!(announced.get("box"), None);
        assert_eq!(announced.count.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn an_older_report_never_replaces_a_newer_announced_one() {
        let announced = Announced::default();
        announced.insert("box", report(4));
        announced.insert("box", report(2));
        assert_eq!(announced.get("box").unwrap().seq, 4);
        announced.insert("box", report(6));
        assert_eq!(announced.get("box").unwrap().seq, 6);
        assert_eq!(announced.get("box").unwrap().text(7), Some(&b"texts"[..]));
        assert_eq!(announced.get("box").unwrap().text(8), None);
    }
}
