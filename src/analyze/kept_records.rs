//! The records mail-auth's own lookups parse (DKIM keys, the `_dmarc` tree
//! walk, iprev's PTR and address lookups), kept until their TTL ends, as
//! [`super::answers`] keeps ours: without them each of those lookups is a
//! hickory cache hit, which clones and rewrites the whole response.
//!
//! mail-auth hands a cache only what it found (parsed, or the parse error
//! of a record that was there), with the expiry hickory gave the answer;
//! NXDOMAIN and failures are asked again, through hickory's cache.

use mail_auth::{MX, Parameters, RecordSet, ResolverCache, Txt};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Names are attacker-chosen: each map is bounded, emptied of what has
/// expired, or else wholly, when full.
const MAX_KEPT: usize = 4096;

/// One kind of record, by name (or address, for PTR).
pub struct Kept<K, V> {
    kept: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for Kept<K, V> {
    fn default() -> Self {
        Kept {
            kept: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for Kept<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let (value, until) = kept.get(name)?;
        (Instant::now() < *until).then(|| value.clone())
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.remove(name).map(|(value, _)| value)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let now = Instant::now();
        if valid_until <= now {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= MAX_KEPT {
            kept.retain(|_, (_, until)| *until > now);
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
        }
        kept.insert(key, (value, valid_until));
    }
}

impl<K, V> Kept<K, V> {
    pub fn len(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A cache for each kind of record mail-auth looks up.
#[derive(Default)]
pub struct KeptRecords {
    pub txt: Kept<Box<str>, Txt>,
    pub mx: Kept<Box<str>, RecordSet<MX>>,
    pub ipv4: Kept<Box<str>, RecordSet<Ipv4Addr>>,
    pub ipv6: Kept<Box<str>, RecordSet<Ipv6Addr>>,
    pub ptr: Kept<IpAddr, RecordSet<Box<str>>>,
}

/// What a mail-auth verifier takes, with these caches.
pub type KeptParameters<'x, P> = Parameters<
    'x,
    P,
    Kept<Box<str>, Txt>,
    Kept<Box<str>, RecordSet<MX>>,
    Kept<Box<str>, RecordSet<Ipv4Addr>>,
    Kept<Box<str>, RecordSet<Ipv6Addr>>,
    Kept<IpAddr, RecordSet<Box<str>>>,
>;

impl KeptRecords {
    /// `params` for a mail-auth verifier, reading and filling these caches.
    pub fn parameters<P>(&self, params: P) -> KeptParameters<'_, P> {
        Parameters::new(params)
            .with_txt_cache(&self.txt)
            .with_mx_cache(&self.mx)
            .with_ipv4_cache(&self.ipv4)
            .with_ipv6_cache(&self.ipv6)
            .with_ptr_cache(&self.ptr)
    }
}
