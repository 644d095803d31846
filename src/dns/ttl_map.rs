//! A map whose entries expire, for DNS results kept until their TTL ends
//! ([`super::answers`], [`super::kept_records`]).
//!
//! The names in it are attacker-chosen (SPF includes, link domains, DKIM
//! selectors), so it is bounded: when full, what has expired goes, and if
//! that frees nothing, everything does. Lookups of a busy tester repeat
//! (its own test senders, the big providers), and refill it quickly.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Entries one map holds at most.
pub const MAX_ENTRIES: usize = 4096;

pub struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for TtlMap<K, V> {
    fn default() -> Self {
        TtlMap {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> TtlMap<K, V> {
    /// The value at `key`, unless it had expired by `now`.
    pub fn get<Q>(&self, key: &Q, now: Instant) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (value, until) = entries.get(key)?;
        (now < *until).then(|| value.clone())
    }

    /// Keeps `value` at `key` until `until`; nothing if that is not after
    /// `now`.
    pub fn insert(&self, key: K, value: V, until: Instant, now: Instant) {
        if until <= now {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (value, until));
    }

    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(key).map(|(value, _)| value)
    }
}

impl<K, V> TtlMap<K, V> {
    /// Entries held, expired or not.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_entry_is_given_until_it_expires() {
        let map = TtlMap::default();
        let now = Instant::now();
        map.insert("a", 1, now + Duration::from_secs(5), now);
        assert_eq!(map.get("a", now + Duration::from_secs(4)), Some(1));
        assert_eq!(map.get("a", now + Duration::from_secs(5)), None);
        map.insert("b", 2, now, now);
        assert_eq!(map.len(), 1, "an entry already expired is not kept");
    }

    #[test]
    fn the_map_stays_bounded_dropping_the_expired_first() {
        let map = TtlMap::default();
        let start = Instant::now();
        let (second, hour) = (Duration::from_secs(1), Duration::from_secs(3600));
        // Half valid for a second, half for an hour.
        for i in 0..MAX_ENTRIES {
            let ttl = if i % 2 == 0 { second } else { hour };
            map.insert(i, i, start + ttl, start);
        }
        assert_eq!(map.len(), MAX_ENTRIES);
        let later = start + 2 * second;
        map.insert(MAX_ENTRIES, 0, later + hour, later);
        assert_eq!(map.len(), MAX_ENTRIES / 2 + 1, "the expired half went");
        assert_eq!(map.get(&1, later), Some(1));
        assert_eq!(map.get(&MAX_ENTRIES, later), Some(0));

        // Full of live entries: all go, the newest stays.
        for i in MAX_ENTRIES + 1..2 * MAX_ENTRIES {
            map.insert(i, i, later + hour, later);
        }
        assert!(map.len() <= MAX_ENTRIES);
        let last = 2 * MAX_ENTRIES - 1;
        assert_eq!(map.get(&last, later), Some(last));
    }
}
