//! The Redis/Valkey-backed store, which several mailscore nodes share: a
//! message received by one is readable from all. Keys, per test id:
//!
//! - `mailscore:{id}:message`: the envelope and sequence number (JSON),
//! - `mailscore:{id}:raw`: the message as received,
//! - `mailscore:{id}:report`: the last finished report,
//! - `mailscore:{id}:pending`: the sequence number still owed a report,
//!
//! and `mailscore:seq`, the sequence counter, and `mailscore:texts:{hash}`,
//! the explanations reports name by hash (see [`crate::report::stored`]),
//! kept without a TTL since they are few and shared. Surveys, also
//! without a TTL (their tables outlive the messages): `mailscore:survey:{id}`
//! the definition, and the hash `mailscore:survey:{id}:rows`, a row per
//! message. Webhooks: `mailscore:webhook:{key}` where a test's (with the
//! retention as TTL) or a survey's (none) reports go, the hash
//! `mailscore:deliveries` the queue, and `mailscore:delivery-claim:{id}`
//! which node attempts a delivery now. Each id's keys carry the
//! retention as their TTL, so Redis expires tests by itself (no sweep), and
//! share one hash tag (`{id}`), so the Lua scripts that write several of
//! them at once stay within one Cluster slot. This client still speaks to a
//! single server (or a managed endpoint that proxies); Cluster mode itself
//! is not wired up.
//!
//! Durability: a write returns once Redis acknowledged it. Whether an
//! acknowledged write survives a Redis crash is Redis's persistence
//! setting (`appendonly yes`, `appendfsync always` or `everysec`), which
//! is the operator's to choose.

use super::history::{self, MAX_SENDS, Send};
use super::{StoreError, StoredMessage};
use crate::smtp::Envelope;
use redis::{Client, Commands, Connection, RedisError, RedisResult, Script};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long opening a connection to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one command may take to be sent or answered. The store's
/// callers block on it (an SMTP delivery, a web request), so it is bounded.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept for reuse; more are opened under load and closed
/// when handed back to a full pool.
const MAX_IDLE: usize = 16;

const SEQ_KEY: &str = "mailscore:seq";
const DELIVERIES_KEY: &str = "mailscore:deliveries";

/// KEYS: message raw pending report history. ARGV: message-json raw seq ttl-ms.
/// The message, its envelope and its pending mark are written together, so
/// no reader ever sees one without the others; an older report stays
/// readable until the new one replaces it, as long as the new message.
const PUT_MESSAGE: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
redis.call('PEXPIRE', KEYS[4], ARGV[4])
redis.call('PEXPIRE', KEYS[5], ARGV[4])
return 1
";

/// KEYS: pending report message history. ARGV: seq report history-entry
/// max-sends.
/// The compare-and-set: only the message still owed a report gets one (a
/// newer message, or expiry, since the analysis began means no). The
/// report expires with its message; so does the history it is appended to
/// (the oldest sends beyond max-sends dropped).
const PUT_REPORT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = redis.call('PTTL', KEYS[3])
if ttl == -2 then return 0 end
redis.call('RPUSH', KEYS[4], ARGV[3])
redis.call('LTRIM', KEYS[4], -tonumber(ARGV[4]), -1)
if ttl > 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
  redis.call('PEXPIRE', KEYS[4], ttl)
else
  redis.call('SET', KEYS[2], ARGV[2])
end
redis.call('DEL', KEYS[1])
return 1
";

#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    /// host:port and database, for error messages (never the password).
    location: String,
    ttl_ms: u64,
    idle: Mutex<Vec<Connection>>,
    put_message: Script,
    put_report: Script,
}

/// The keys of one test id.
struct Keys {
    message: String,
    raw: String,
    report: String,
    pending: String,
    history: String,
}

impl Keys {
    fn of(id: &str) -> Keys {
        let key = |what: &str| format!("mailscore:{{{id}}}:{what}");
        Keys {
            message: key("message"),
            raw: key("raw"),
            report: key("report"),
            pending: key("pending"),
            history: key("history"),
        }
    }
}

fn texts_key(hash: u64) -> String {
    format!("mailscore:texts:{hash:016x}")
}

fn survey_key(id: &str) -> String {
    format!("mailscore:survey:{{{id}}}")
}

/// The test id in a `mailscore:{id}:pending` key.
fn pending_id(key: &str) -> Option<&str> {
    key.strip_prefix("mailscore:{")?.strip_suffix("}:pending")
}

/// Parses a store URL the way [`RedisStore::connect`] will, without
/// connecting; TLS (`rediss://`) is refused, this build has no TLS client.
pub(super) fn check_url(url: &str) -> Result<Client, StoreError> {
    Client::open(url).map_err(|e| StoreError::Location {
        location: redact(url),
        reason: e.to_string(),
    })
}

/// `url` with any password replaced, fit for a log line.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (checked with a PING, so a wrong
    /// address fails at start rather than at the first delivery); tests
    /// are kept for `retention`.
    pub fn connect(url: &str, retention: Duration) -> Result<RedisStore, StoreError> {
        let client = check_url(url)?;
        let info = client.get_connection_info();
        let location = format!("redis://{}/{}", info.addr(), info.redis_settings().db());
        let store = RedisStore {
            shared: Arc::new(Shared {
                client,
                location,
                ttl_ms: u64::try_from(retention.as_millis()).unwrap_or(u64::MAX),
                idle: Mutex::new(Vec::new()),
                put_message: Script::new(PUT_MESSAGE),
                put_report: Script::new(PUT_REPORT),
            }),
        };
        store.with_connection(|c| redis::cmd("PING").query::<String>(c))?;
        Ok(store)
    }

    pub fn put_message(
        &self,
        id: &str,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<u64, StoreError> {
        let seq: u64 = self.with_connection(|c| c.incr(SEQ_KEY, 1))?;
        let record = StoredMessage::new(seq, envelope.clone());
        let meta = serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let keys = Keys::of(id);
        // Writing the same seq twice (a retry) leaves the same state.
        self.with_connection(|c| {
            self.shared
                .put_message
                .key(&keys.message)
                .key(&keys.raw)
                .key(&keys.pending)
                .key(&keys.report)
                .key(&keys.history)
                .arg(&meta)
                .arg(raw)
                .arg(seq)
                .arg(self.shared.ttl_ms)
                .invoke::<()>(c)
        })?;
        Ok(seq)
    }

    pub fn message(&self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let keys = Keys::of(id);
        // One MGET: the envelope and the body of the same delivery.
        let (meta, raw): (Option<Vec<u8>>, Option<Vec<u8>>) = self.with_connection(|c| {
            redis::cmd("MGET")
                .arg(&keys.message)
                .arg(&keys.raw)
                .query(c)
        })?;
        let (Some(meta), Some(raw)) = (meta, raw) else {
            return Ok(None);
        };
        let mut record = StoredMessage::parse(&meta)?;
        record.raw = raw;
        Ok(Some(record))
    }

    pub fn put_report(&self, id: &str, seq: u64, report: &[u8]) -> Result<bool, StoreError> {
        let keys = Keys::of(id);
        self.with_connection(|c| {
            self.shared
                .put_report
                .key(&keys.pending)
                .key(&keys.report)
                .key(&keys.message)
                .key(&keys.history)
                .arg(seq)
                .arg(report)
                .arg(history::encode(seq, history::now(), report))
                .arg(MAX_SENDS)
                .invoke::<bool>(c)
        })
    }

    /// The list expires with the address's latest message; within it,
    /// sends older than the retention are left out here.
    pub fn history(&self, id: &str) -> Result<Vec<Send>, StoreError> {
        let key = Keys::of(id).history;
        let values: Vec<Vec<u8>> = self.with_connection(|c| c.lrange(&key, 0, -1))?;
        let oldest = history::now().saturating_sub(self.shared.ttl_ms / 1000);
        values
            .iter()
            .filter(|value| history::saved_at(value) >= oldest)
            .map(|value| {
                history::decode(value).ok_or_else(|| {
                    StoreError::Corrupt(format!("a history entry of {id} is too short"))
                })
            })
            .collect()
    }

    pub fn report(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = Keys::of(id).report;
        self.with_connection(|c| c.get(&key))
    }

    pub fn put_texts(&self, hash: u64, texts: &[u8]) -> Result<(), StoreError> {
        let key = texts_key(hash);
        self.with_connection(|c| c.set::<_, _, ()>(&key, texts))
    }

    pub fn texts(&self, hash: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let key = texts_key(hash);
        self.with_connection(|c| c.get(&key))
    }

    pub fn put_survey(&self, id: &str, survey: &[u8]) -> Result<(), StoreError> {
        let key = survey_key(id);
        self.with_connection(|c| c.set::<_, _, ()>(&key, survey))
    }

    pub fn survey(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = survey_key(id);
        self.with_connection(|c| c.get(&key))
    }

    pub fn put_survey_row(&self, id: &str, entry: &str, row: &[u8]) -> Result<(), StoreError> {
        let key = survey_key(id) + ":rows";
        self.with_connection(|c| c.hset::<_, _, _, ()>(&key, entry, row))
    }

    pub fn survey_rows(&self, id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let key = survey_key(id) + ":rows";
        self.with_connection(|c| c.hvals(&key))
    }

    pub fn put_webhook(&self, key: &str, url: &str, expires: bool) -> Result<(), StoreError> {
        let (key, ttl) = (format!("mailscore:webhook:{key}"), self.shared.ttl_ms);
        self.with_connection(|c| match expires {
            true => c.pset_ex::<_, _, ()>(&key, url, ttl),
            false => c.set::<_, _, ()>(&key, url),
        })
    }

    pub fn webhook(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = format!("mailscore:webhook:{key}");
        self.with_connection(|c| c.get(&key))
    }

    pub fn put_delivery(&self, id: &str, delivery: &[u8]) -> Result<(), StoreError> {
        self.with_connection(|c| c.hset::<_, _, _, ()>(DELIVERIES_KEY, id, delivery))
    }

    pub fn deliveries(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.with_connection(|c| c.hvals(DELIVERIES_KEY))
    }

    pub fn remove_delivery(&self, id: &str) -> Result<(), StoreError> {
        self.with_connection(|c| c.hdel::<_, _, ()>(DELIVERIES_KEY, id))
    }

    /// `SET … NX PX`: the first node to ask holds it for `hold`.
    pub fn claim_delivery(&self, id: &str, hold: Duration) -> Result<bool, StoreError> {
        let key = format!("mailscore:delivery-claim:{id}");
        let set: Option<String> = self.with_connection(|c| {
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(hold.as_millis() as u64)
                .query(c)
        })?;
        Ok(set.is_some())
    }

    pub fn is_pending(&self, id: &str) -> Result<bool, StoreError> {
        let key = Keys::of(id).pending;
        self.with_connection(|c| c.exists(&key))
    }

    /// The memory the Redis server uses (`INFO memory`: `used_memory`), the
    /// store's size as `/metrics` reports it. Shared by every node, and
    /// by anything else kept in that Redis.
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        let info: String = self.with_connection(|c| redis::cmd("INFO").arg("memory").query(c))?;
        info.lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|value| value.trim().parse().ok())
            .ok_or_else(|| StoreError::Corrupt("INFO memory has no used_memory".into()))
    }

    /// Every node's pending ids: a SCAN, which only start-up runs.
    pub fn pending_ids(&self) -> Result<Vec<String>, StoreError> {
        let keys: Vec<String> = self.with_connection(|c| {
            c.scan_match::<_, String>("mailscore:{*}:pending")?
                .collect::<RedisResult<Vec<String>>>()
        })?;
        Ok(keys
            .iter()
            .filter_map(|key| pending_id(key))
            .map(str::to_string)
            .collect())
    }

    /// Runs `op` on a pooled connection, or a new one. A pooled connection
    /// the server closed meanwhile (a Redis restart, an idle timeout) gets
    /// one retry on a fresh connection; every operation here is safe to
    /// repeat. A connection that failed is not reused.
    fn with_connection<T>(
        &self,
        op: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, StoreError> {
        off_the_workers(|| self.with_connection_blocking(op))
    }

    fn with_connection_blocking<T>(
        &self,
        mut op: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, StoreError> {
        let pooled = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let (result, connection) = match pooled {
            Some(mut connection) => match op(&mut connection) {
                Err(e) if e.is_connection_dropped() => {
                    let mut fresh = self.open_connection()?;
                    (op(&mut fresh), fresh)
                }
                result => (result, connection),
            },
            None => {
                let mut fresh = self.open_connection()?;
                (op(&mut fresh), fresh)
            }
        };
        let value = result.map_err(|e| self.error(e))?;
        let mut idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
        Ok(value)
    }

    fn open_connection(&self) -> Result<Connection, StoreError> {
        let connection = self
            .shared
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| self.error(e))?;
        connection
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| connection.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| self.error(e))?;
        Ok(connection)
    }

    fn error(&self, source: RedisError) -> StoreError {
        StoreError::Redis {
            location: self.shared.location.clone(),
            source,
        }
    }
}

/// Runs `call`, which waits on Redis for as long as Redis takes (seconds
/// under `DEBUG SLEEP`, a fork for a snapshot, a failover). On a tokio
/// worker thread that would stall every task queued behind it there, the
/// SMTP greetings of other clients among them (measured: 2 s with two web
/// requests in flight on this 2-core machine): the worker first hands its
/// other tasks to another thread. Elsewhere (the writer thread, the
/// blocking pool, the analysis lane's own runtime) it simply runs.
fn off_the_workers<T>(call: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(call)
        }
        _ => call(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_an_id_share_one_hash_tag_and_give_the_id_back() {
        let keys = Keys::of("abc-123");
        assert_eq!(keys.pending, "mailscore:{abc-123}:pending");
        assert_eq!(keys.report, "mailscore:{abc-123}:report");
        assert_eq!(pending_id(&keys.pending), Some("abc-123"));
        assert_eq!(pending_id(&keys.report), None);
    }

    #[test]
    fn store_urls_are_checked_and_passwords_never_shown() {
        assert!(check_url("redis://127.0.0.1:6379/0").is_ok());
        assert!(check_url("redis+unix:///run/redis.sock").is_ok());
        let tls = check_url("rediss://user:secret@redis.example/0")
            .err()
            .unwrap()
            .to_string();
        assert!(tls.contains("TLS"), "{tls}");
        assert!(!tls.contains("secret"), "{tls}");
        assert!(check_url("redis://127.0.0.1/notadb").is_err());
        assert!(check_url("/var/lib/mailscore").is_err());
    }
}
