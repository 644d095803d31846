//! Probe results kept per exchanger address, and one probe at a time per
//! address: a flood of test mail from one sender costs that sender one
//! conversation per [`ProbeSettings::cache_ttl`](super::ProbeSettings),
//! however many reports wait for it.

use super::host::HostProbe;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Entries beyond this are pruned of expired ones before another is added.
const PRUNE_AT: usize = 10_000;

type Key = (String, IpAddr, String);
type Slot = Arc<tokio::sync::Mutex<Option<(Instant, HostProbe)>>>;

#[derive(Default)]
pub struct ProbeCache {
    slots: Mutex<HashMap<Key, Slot>>,
}

impl ProbeCache {
    /// The kept probe of (`host`, `address`) for `domain` if younger than
    /// `ttl`, else the result of `probe`, kept. Callers for the same key
    /// wait for the one probe running.
    pub async fn get_or_probe<F>(
        &self,
        host: &str,
        address: IpAddr,
        domain: &str,
        ttl: Duration,
        probe: F,
    ) -> HostProbe
    where
        F: std::future::Future<Output = HostProbe>,
    {
        let slot = self.slot((host.to_string(), address, domain.to_string()), ttl);
        let mut kept = slot.lock().await;
        if let Some((at, probe)) = kept.as_ref()
            && at.elapsed() < ttl
        {
            return probe.clone();
        }
        let fresh = probe.await;
        *kept = Some((Instant::now(), fresh.clone()));
        fresh
    }

    fn slot(&self, key: Key, ttl: Duration) -> Slot {
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
