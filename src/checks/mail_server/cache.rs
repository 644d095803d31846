//! Probe results kept per target (an exchanger's address, a domain's
//! MTA-STS policy), and one probe at a time per target: a flood of test
//! mail from one sender costs that sender one conversation per
//! [`ProbeSettings::cache_ttl`](super::ProbeSettings), however many
//! reports wait for it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Entries beyond this are pruned of expired ones before another is added.
const PRUNE_AT: usize = 10_000;

type Slot<V> = Arc<tokio::sync::Mutex<Option<(Instant, V)>>>;

pub struct ProbeCache<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
}

impl<K, V> Default for ProbeCache<K, V> {
    fn default() -> Self {
        ProbeCache {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> ProbeCache<K, V> {
    /// The kept result for `key` if younger than `ttl`, else the result of
    /// `probe`, kept. Callers for the same key wait for the one probe
    /// running.
    pub async fn get_or_probe<F>(&self, key: K, ttl: Duration, probe: F) -> V
    where
        F: std::future::Future<Output = V>,
    {
        let slot = self.slot(key, ttl);
        let mut kept = slot.lock().await;
        if let Some((at, value)) = kept.as_ref()
            && at.elapsed() < ttl
        {
            return value.clone();
        }
        let fresh = probe.await;
        *kept = Some((Instant::now(), fresh.clone()));
        fresh
    }

    fn slot(&self, key: K, ttl: Duration) -> Slot<V> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= PRUNE_AT && !slots.contains_key(&key) {
            slots.retain(|_, slot| match slot.try_lock() {
                Ok(kept) => kept.as_ref().is_some_and(|(at, _)| at.elapsed() < ttl),
                // Busy: a probe is running for it.
                Err(_) => true,
            });
        }
        slots.entry(key).or_default().clone()
    }

    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
