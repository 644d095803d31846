//! A message handed from the SMTP session to its analysis with its id, so
//! that the analysis need not read back from the store what the session
//! had in memory (a read, a copy and a parse of the envelope record per
//! message). The store stays the source of truth: a message queued without
//! its bytes (over the budget below, or found pending at start-up) is read
//! back as before.

use crate::smtp::Envelope;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of messages waiting in the analysis queue at most: beyond it a
/// message is queued by id alone. The queue can hold thousands of
/// messages under a flood, and their bytes are already on disk.
pub static BUDGET: Budget = Budget::new(64 << 20);

/// Bytes handed over and not yet analysed, and how many may be.
pub struct Budget {
    queued: AtomicUsize,
    limit: usize,
}

impl Budget {
    pub const fn new(limit: usize) -> Budget {
        Budget {
            queued: AtomicUsize::new(0),
            limit,
        }
    }

    /// Takes `len` bytes of the budget, if they fit.
    fn take(&self, len: usize) -> bool {
        self.queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |queued| {
                (queued + len <= self.limit).then_some(queued + len)
            })
            .is_ok()
    }
}

/// One stored copy of a message, as the session had it.
pub struct Handed {
    pub seq: u64,
    pub envelope: Arc<Envelope>,
    pub raw: Arc<Vec<u8>>,
    /// Bytes taken from `budget` (the first id of a message counts them).
    counted: usize,
    budget: &'static Budget,
}

impl Handed {
    /// The message for each of `seqs` (one per test id); none if it does
    /// not fit in what is left of `budget`.
    pub fn for_each_copy(
        budget: &'static Budget,
        seqs: &[u64],
        envelope: Envelope,
        raw: Vec<u8>,
    ) -> Vec<Option<Handed>> {
        let len = raw.len();
        if seqs.is_empty() || !budget.take(len) {
            return seqs.iter().map(|_| None).collect();
        }
        let (envelope, raw) = (Arc::new(envelope), Arc::new(raw));
        seqs.iter()
            .enumerate()
            .map(|(n, &seq)| {
                Some(Handed {
                    seq,
                    envelope: envelope.clone(),
                    raw: raw.clone(),
                    counted: if n == 0 { len } else { 0 },
                    budget,
                })
            })
            .collect()
    }
}

impl Drop for Handed {
    fn drop(&mut self) {
        self.budget
            .queued
            .fetch_sub(self.counted, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_envelope;

    #[test]
    fn copies_share_the_bytes_and_the_budget_bounds_what_waits() {
        static BUDGET: Budget = Budget::new(100);
        let copies = Handed::for_each_copy(&BUDGET, &[1, 2], test_envelope(), vec![7; 60]);
        let [Some(a), Some(b)] = &copies[..] else {
            panic!("both copies handed")
        };
        assert!(Arc::ptr_eq(&a.raw, &b.raw));
        assert_eq!((a.seq, b.seq), (1, 2));
        // Counted once for both copies: 40 bytes are left.
        assert!(Handed::for_each_copy(&BUDGET, &[3], test_envelope(), vec![0; 40])[0].is_some());
        // A message larger than what is left waits by id alone.
        let big = Handed::for_each_copy(&BUDGET, &[3], test_envelope(), vec![0; 41]);
        assert!(big[0].is_none());
        drop(copies);
        let fits = Handed::for_each_copy(&BUDGET, &[4], test_envelope(), vec![0; 100]);
        assert!(
            fits[0].is_some(),
            "the budget came back when they were analysed"
        );
    }
}
