//! The records mail-auth's own lookups parse (DKIM keys, the `_dmarc` tree
//! walk, iprev's PTR and address lookups), kept until their TTL ends, as
//! [`super::answers`] keeps ours: without them each of those lookups is a
//! hickory cache hit, which clones and rewrites the whole response.
//!
//! mail-auth hands a cache only what it found (parsed, or the parse error
//! of a record that was there), with the expiry hickory gave the answer.
//! The absence of TXT records our own lookups found is added, as mail-auth's
//! own "not found": DMARC's tree walk asks the `_dmarc` names our policy
//! discovery has just asked, and most of them have none. Failures are
//! never kept.

use super::answers::{Reply, valid_until};
use super::ttl_map::TtlMap;
use mail_auth::hickory_resolver::net::{DnsError, NetError};
use mail_auth::{MX, Parameters, RecordSet, ResolverCache, Txt};
use std::borrow::Borrow;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for TtlMap<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        TtlMap::get(self, name, Instant::now())
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        TtlMap::remove(self, name)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        TtlMap::insert(self, key, value, valid_until, Instant::now());
    }
}

/// A cache for each kind of record mail-auth looks up.
#[derive(Default)]
pub struct KeptRecords {
    pub txt: TtlMap<Box<str>, Txt>,
    pub mx: TtlMap<Box<str>, RecordSet<MX>>,
    pub ipv4: TtlMap<Box<str>, RecordSet<Ipv4Addr>>,
    pub ipv6: TtlMap<Box<str>, RecordSet<Ipv6Addr>>,
    pub ptr: TtlMap<IpAddr, RecordSet<Box<str>>>,
}

/// What a mail-auth verifier takes, with these caches.
pub type KeptParameters<'x, P> = Parameters<
    'x,
    P,
    TtlMap<Box<str>, Txt>,
    TtlMap<Box<str>, RecordSet<MX>>,
    TtlMap<Box<str>, RecordSet<Ipv4Addr>>,
    TtlMap<Box<str>, RecordSet<Ipv6Addr>>,
    TtlMap<IpAddr, RecordSet<Box<str>>>,
>;

impl KeptRecords {
    /// Keeps that `name` has no TXT record, when `reply` (to our own TXT
    /// lookup of `name`, written as mail-auth writes it) says so.
    pub fn keep_absent_txt(&self, name: &str, reply: &Reply, now: Instant) {
        if let Err(error @ NetError::Dns(DnsError::NoRecordsFound(_))) = &**reply
            && let Some(until) = valid_until(reply, now)
        {
            let absent = Txt::Error(mail_auth::Error::from(error.clone()));
            self.txt.insert(Box::from(name), absent, until, now);
        }
    }

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
