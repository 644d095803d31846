//! What the listener remembers about each client address: how many
//! connections it has open, and a token bucket of messages it may still start.
//!
//! One small table behind a mutex, shared by the accept loop and every
//! session; the lock is held for a few arithmetic steps and never across an
//! `.await`.
//!
//! The table stays bounded without a background task: an address is dropped
//! as soon as it has no connection open and a full bucket (it would look
//! exactly like a stranger), and addresses whose bucket was still refilling
//! when their last connection closed are swept out whenever the table has
//! doubled since the last sweep. So it holds at most about twice the
//! addresses that are connected now or sent mail in the last minute.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// The table is never swept below this size: a sweep walks every entry.
const MIN_SWEEP_SIZE: usize = 1024;

/// A token bucket refills completely in this many seconds (the "per minute"
/// of `messages_per_ip_per_minute`).
const REFILL_SECONDS: f64 = 60.0;

/// Per-address connection counts and message buckets.
pub(super) struct Peers {
    table: Mutex<Table>,
    max_connections: usize,
    /// Bucket size, and tokens added per minute.
    messages_per_minute: f64,
}

struct Table {
    entries: HashMap<IpAddr, Entry>,
    /// Sweep when the table reaches this many entries.
    sweep_at: usize,
}

struct Entry {
    connections: usize,
    tokens: f64,
    refilled: Instant,
}

/// One open connection, counted against its address until dropped. Sessions
/// also draw their message tokens through it.
pub(super) struct PeerConnection {
    peers: Arc<Peers>,
    key: IpAddr,
}

impl Peers {
    /// At most `max_connections` at once and `messages_per_minute` MAIL
    /// commands a minute (in bursts of up to that many) per address; both
    /// are raised to 1 if given as 0.
    pub(super) fn new(max_connections: usize, messages_per_minute: u32) -> Peers {
        Peers {
            table: Mutex::new(Table {
                entries: HashMap::new(),
                sweep_at: MIN_SWEEP_SIZE,
            }),
            max_connections: max_connections.max(1),
            messages_per_minute: f64::from(messages_per_minute.max(1)),
        }
    }

    /// Counts a new connection from `ip`, or `None` when that address
    /// already has its maximum open.
    pub(super) fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<PeerConnection> {
        let key = address_key(ip);
        let now = Instant::now();
        let mut table = self.lock();
        if table.entries.len() >= table.sweep_at {
            table
                .entries
                .retain(|_, entry| entry.connections > 0 || !self.refill(entry, now));
            table.sweep_at = (table.entries.len() * 2).max(MIN_SWEEP_SIZE);
        }
        let entry = table.entries.entry(key).or_insert(Entry {
            connections: 0,
            tokens: self.messages_per_minute,
            refilled: now,
        });
        if entry.connections >= self.max_connections {
            return None;
        }
        entry.connections += 1;
        Some(PeerConnection {
            peers: Arc::clone(self),
            key,
        })
    }

    /// Brings `entry`'s bucket up to date; true if it is full.
    fn refill(&self, entry: &mut Entry, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(entry.refilled).as_secs_f64();
        let added = elapsed * self.messages_per_minute / REFILL_SECONDS;
        entry.tokens = (entry.tokens + added).min(self.messages_per_minute);
        entry.refilled = now;
        entry.tokens >= self.messages_per_minute
    }

    /// The table, even if a thread panicked while holding it: every update
    /// leaves it consistent, so there is nothing to recover.
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().entries.len()
    }
}

impl PeerConnection {
    /// Takes one message token from this address's bucket; false when it
    /// is empty (the client should come back later).
    pub(super) fn take_message_token(&self) -> bool {
        let peers = &self.peers;
        let mut table = peers.lock();
        let Some(entry) = table.entries.get_mut(&self.key) else {
            // Unreachable while this connection is counted; refuse nothing.
            return true;
        };
        peers.refill(entry, Instant::now());
        if entry.tokens < 1.0 {
            return false;
        }
        entry.tokens -= 1.0;
        true
    }
}

impl Drop for PeerConnection {
    fn drop(&mut self) {
        let peers = &self.peers;
        let mut table = peers.lock();
        let Some(entry) = table.entries.get_mut(&self.key) else {
            return;
        };
        entry.connections = entry.connections.saturating_sub(1);
        if entry.connections == 0 && peers.refill(entry, Instant::now()) {
            table.entries.remove(&self.key);
        }
    }
}

/// The address limits apply to: IPv4 as is (IPv4-mapped IPv6 counts as
/// IPv4), IPv6 by its /64, since one host is usually given a whole /64 and
/// could otherwise open each connection from a fresh address.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn connections_are_capped_per_address_and_released_on_drop() {
        let peers = Arc::new(Peers::new(2, 60));
        let first = peers.connect(ip(1)).unwrap();
        let _second = peers.connect(ip(1)).unwrap();
        assert!(peers.connect(ip(1)).is_none());
        assert!(peers.connect(ip(2)).is_some());
        drop(first);
        assert!(peers.connect(ip(1)).is_some());
    }

    #[test]
    fn bucket_is_shared_by_all_connections_of_an_address() {
        let peers = Arc::new(Peers::new(10, 3));
        let one = peers.connect(ip(1)).unwrap();
        let two = peers.connect(ip(1)).unwrap();
        assert!(one.take_message_token());
        assert!(two.take_message_token());
        assert!(one.take_message_token());
        assert!(!two.take_message_token());
        let other = peers.connect(ip(2)).unwrap();
        assert!(other.take_message_token());
    }

    #[test]
    fn idle_address_with_a_full_bucket_is_forgotten() {
        let peers = Arc::new(Peers::new(10, 3));
        drop(peers.connect(ip(1)).unwrap());
        assert_eq!(peers.tracked(), 0);
        // One that used its bucket is remembered, or reconnecting would
        // refill it.
        let sender = peers.connect(ip(2)).unwrap();
        assert!(sender.take_message_token());
        drop(sender);
        assert_eq!(peers.tracked(), 1);
    }

    #[test]
    fn table_is_swept_when_it_grows() {
        let peers = Arc::new(Peers::new(10, 60_000_000));
        // Each address sends a message, so its bucket is not full on close;
        // at this rate it is full again within microseconds.
        for n in 0..(3 * MIN_SWEEP_SIZE as u32) {
            let address = IpAddr::from(Ipv4Addr::from(0x0a00_0000 + n));
            let connection = peers.connect(address).unwrap();
            assert!(connection.take_message_token());
            drop(connection);
            std::thread::sleep(std::time::Duration::from_micros(1));
        }
        assert!(peers.tracked() <= MIN_SWEEP_SIZE, "{}", peers.tracked());
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), ip(1));
    }
}
