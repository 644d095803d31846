//! Rate limiting for `POST /api/tests` and `POST /api/surveys`: one token
//! bucket per client, so a script cannot mint addresses in a loop. Reading
//! reports is not limited (a CI job polls, or long-polls with `?wait=`),
//! and neither is mail: any valid id receives it anyway.
//!
//! A client is the API key it presented (`--api-keys`: a key is one
//! client wherever it calls from, and CI runners behind one NAT with keys
//! of their own do not share a bucket), else its IP address, or for IPv6
//! its /64 (one subscriber usually holds a whole /64, so counting single
//! addresses would let it rotate). Behind a reverse proxy every keyless
//! client is the proxy; the proxy should then limit instead.
//!
//! Memory is bounded: a bucket that has refilled completely holds nothing a
//! new bucket would not, so idle clients are dropped whenever the table is
//! full, and if every client is active the one closest to idle goes.

use super::auth::Caller;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warp::Filter;

/// Sustained rate of address creation per client.
pub const PER_MINUTE: u32 = 30;
/// How many a client may create at once before the rate applies.
pub const BURST: u32 = 10;
/// The most clients tracked at once (a few hundred kilobytes).
pub const MAX_CLIENTS: usize = 10_000;

/// Token buckets keyed by client, shared by every request.
#[derive(Debug)]
pub struct RateLimiter {
    /// Tokens added per second.
    rate: f64,
    burst: f64,
    max_clients: usize,
    buckets: Mutex<HashMap<Client, Bucket>>,
}

/// Whose bucket a request takes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    /// An IPv4 address, or an IPv6 /64 prefix.
    Network(IpAddr),
    /// An API key, by name.
    Key(Arc<str>),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The rejection a limited request becomes; the API's recover turns it into
/// `429 Too Many Requests` with `Retry-After`.
#[derive(Debug)]
pub struct RateLimited {
    pub retry_after: Duration,
    /// Who was limited, for the message: "from your address" or "with
    /// this API key".
    pub by: &'static str,
}

impl warp::reject::Reject for RateLimited {}

impl RateLimiter {
    /// `per_minute` sustained, `burst` at once, at most `max_clients` tracked.
    pub fn new(per_minute: u32, burst: u32, max_clients: usize) -> RateLimiter {
        RateLimiter {
            rate: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            max_clients: max_clients.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limits `POST /api/tests` uses.
    pub fn address_creation() -> RateLimiter {
        RateLimiter::new(PER_MINUTE, BURST, MAX_CLIENTS)
    }

    /// Takes one token for `ip` at `now`, or says how long until one is there.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        self.take_for(Client::of(ip), now)
    }

    /// Takes one token for the API key `name` at `now`, or says how long
    /// until one is there.
    pub fn take_for_key(&self, name: Arc<str>, now: Instant) -> Result<(), Duration> {
        self.take_for(Client::Key(name), now)
    }

    fn take_for(&self, client: Client, now: Instant) -> Result<(), Duration> {
        // A panic elsewhere cannot leave a bucket half-updated: every update
        // below is a plain store, so a poisoned table is still consistent.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(&client) && buckets.len() >= self.max_clients {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        bucket.tokens = self.level(bucket, now);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else if self.rate > 0.0 {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        } else {
            Err(Duration::MAX)
        }
    }

    /// How many clients are tracked now.
    #[cfg(test)]
    fn clients(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Tokens in `bucket` at `now`, refilled since its last update.
    fn level(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        (bucket.tokens + elapsed * self.rate).min(self.burst)
    }

    /// Drops every idle client (full bucket); if none is idle, the fullest.
    fn evict(&self, buckets: &mut HashMap<Client, Bucket>, now: Instant) {
        buckets.retain(|_, bucket| self.level(bucket, now) < self.burst);
        if buckets.len() >= self.max_clients {
            let fullest = buckets
                .iter()
                .max_by(|a, b| self.level(a.1, now).total_cmp(&self.level(b.1, now)))
                .map(|(client, _)| client.clone());
            if let Some(client) = fullest {
                buckets.remove(&client);
            }
        }
    }
}

impl Client {
    fn of(ip: IpAddr) -> Client {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Client::Network(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            v4 => Client::Network(v4),
        }
    }
}

/// A filter that passes when the caller `caller` yields may create an
/// address and rejects with [`RateLimited`] when it may not: a key takes
/// from its own bucket, anyone else from its network's. The network is the
/// TCP peer's, or the client a `--proxy-trusted` peer names in
/// `X-Forwarded-For` (anyone else's header is ignored: it would let a
/// client pick its own bucket). A keyless request served without a
/// [`Peer`](super::server::Peer) (warp's test harness) is not limited.
pub fn admit(
    limiter: Arc<RateLimiter>,
    caller: impl Filter<Extract = (Caller,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    caller
        .and(warp::ext::optional::<super::server::Peer>())
        .and(warp::header::optional::<String>("x-forwarded-for"))
        .and_then(
            move |caller: Caller, peer: Option<super::server::Peer>, forwarded: Option<String>| {
                let taken = match caller {
                    Caller::Key(name) => limiter
                        .take_for_key(name, Instant::now())
                        .map_err(|wait| (wait, "with this API key")),
                    Caller::Anyone => peer
                        .map(|peer| peer.client_ip(forwarded.as_deref()))
                        .map_or(Ok(()), |ip| limiter.take(ip, Instant::now()))
                        .map_err(|wait| (wait, "from your address")),
                };
                async move {
                    taken.map_err(|(retry_after, by)| {
                        warp::reject::custom(RateLimited { retry_after, by })
                    })
                }
            },
        )
        .untuple_one()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn burst_then_one_token_per_two_seconds() {
        let limiter = RateLimiter::new(30, 10, 100);
        let start = Instant::now();
        for _ in 0..10 {
            assert_eq!(limiter.take(ip("192.0.2.1"), start), Ok(()));
        }
        let wait = limiter.take(ip("192.0.2.1"), start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(2));
        // One second in, half a token: still a second to go.
        let wait = limiter
            .take(ip("192.0.2.1"), start + Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert_eq!(
            limiter.take(ip("192.0.2.1"), start + Duration::from_secs(2)),
            Ok(())
        );
    }

    #[test]
    fn clients_do_not_share_a_bucket() {
        let limiter = RateLimiter::new(30, 1, 100);
        let now = Instant::now();
        assert!(limiter.take(ip("192.0.2.1"), now).is_ok());
        assert!(limiter.take(ip("192.0.2.1"), now).is_err());
        assert!(limiter.take(ip("192.0.2.2"), now).is_ok());
    }

    #[test]
    fn a_key_has_its_own_bucket_whatever_the_address() {
        let limiter = RateLimiter::new(30, 1, 100);
        let now = Instant::now();
        assert!(limiter.take_for_key("ci".into(), now).is_ok());
        assert!(limiter.take_for_key("ci".into(), now).is_err());
        assert!(limiter.take_for_key("nightly".into(), now).is_ok());
        assert!(limiter.take(ip("192.0.2.1"), now).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client_and_mapped_ipv4_is_ipv4() {
        let limiter = RateLimiter::new(30, 1, 100);
        let now = Instant::now();
        assert!(limiter.take(ip("2001:db8:1:2::1"), now).is_ok());
        assert!(limiter.take(ip("2001:db8:1:2:ffff::9"), now).is_err());
        assert!(limiter.take(ip("2001:db8:1:3::1"), now).is_ok());
        assert!(limiter.take(ip("192.0.2.7"), now).is_ok());
        assert!(limiter.take(ip("::ffff:192.0.2.7"), now).is_err());
    }

    #[test]
    fn the_table_stays_bounded_and_idle_clients_go_first() {
        let limiter = RateLimiter::new(30, 2, 3);
        let start = Instant::now();
        // An active client: its bucket is empty.
        assert!(limiter.take(ip("192.0.2.1"), start).is_ok());
        assert!(limiter.take(ip("192.0.2.1"), start).is_ok());
        for n in 2..=50 {
            let now = start + Duration::from_millis(n);
            assert!(limiter.take(ip(&format!("198.51.100.{n}")), now).is_ok());
            assert!(limiter.clients() <= 3, "{} clients", limiter.clients());
        }
        // The active client was never the fullest, so it is still limited.
        let later = start + Duration::from_millis(100);
        assert!(limiter.take(ip("192.0.2.1"), later).is_err());

        // Once everyone has refilled, a sweep drops them all.
        let idle = start + Duration::from_secs(60);
        assert!(limiter.take(ip("203.0.113.1"), idle).is_ok());
        assert_eq!(limiter.clients(), 1);
    }
}
