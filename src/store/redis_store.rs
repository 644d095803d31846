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
//! kept for the retention and ten minutes more from their last save (so
//! they outlive every report naming them; a text nobody names any more
//! expires). Surveys, with the survey retention as TTL, renewed by each
//! row (their tables outlive the messages, and go once the survey is idle):
//! `mailscore:survey:{id}` the definition, and the hash
//! `mailscore:survey:{id}:rows`, a row per message. Webhooks:
//! `mailscore:webhook:{key}` where a test's (with the retention as TTL) or
//! a survey's (the survey's TTL) reports go, the hash
//! `mailscore:deliveries` the queue, and `mailscore:delivery-claim:{id}`
//! which node attempts a delivery now. Each id's keys carry the
//! retention as their TTL, so Redis expires tests by itself (no sweep), and
//! share one hash tag (`{id}`), so the Lua scripts that write several of
//! them at once stay within one Cluster slot. This client still speaks to a
//! single server (or a managed endpoint that proxies); Cluster mode itself
//! is not wired up.
//!
//! The client: the async `redis` client on a one-thread tokio runtime of
//! its own (shared by the process), [`CONNECTIONS`] multiplexed
//! connections used in turn, each reconnecting by itself after Redis
//! restarts; at most [`MAX_IN_FLIGHT`] requests at once, and each bounded:
//! 3 s to connect, 5 s for an answer, 8 s in all (a wait for a place among
//! those in flight included). A timeout or a dropped connection is a
//! [`StoreError::Redis`], which SMTP answers with 451 and the web with 503.
//! The methods are `async` and can be awaited from any runtime; the
//! synchronous [`super::Store`] waits on them with [`wait`].
//!
//! Durability: a write returns once Redis acknowledged it. Whether an
//! acknowledged write survives a Redis crash is Redis's persistence
//! setting (`appendonly yes`, `appendfsync always` or `everysec`), which
//! is the operator's to choose.

use super::history::{self, MAX_SENDS, Send};
use super::{StoreError, StoredMessage};
use crate::smtp::Envelope;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, RedisError, RedisResult, Script};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long opening a connection to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one command may take to be answered once sent.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request may take in all: waiting for a place among those in
/// flight, a reconnection, the command and its answer. Its callers wait on
/// it (an SMTP delivery, a web request), so it is bounded.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
/// The multiplexed connections, used in turn; each carries any number of
/// requests at once and reconnects by itself after Redis restarts.
const CONNECTIONS: usize = 4;
/// Requests in flight at most: a stalled Redis makes the rest wait (up to
/// [`REQUEST_TIMEOUT`]) instead of piling up without bound.
const MAX_IN_FLIGHT: usize = 256;

/// How much longer than the retention a text is kept after its last save:
/// more than the five minutes the analysis trusts a save it made.
const TEXTS_OUTLIVE: Duration = Duration::from_secs(600);

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
    /// The TTL of a survey's keys, renewed by each of its rows; None
    /// keeps them for ever.
    survey_ttl_ms: Option<u64>,
}

struct Shared {
    /// host:port and database, for error messages (never the password).
    location: String,
    ttl_ms: u64,
    connections: Vec<ConnectionManager>,
    /// The connection the next request goes to.
    next: AtomicUsize,
    in_flight: Semaphore,
    put_message: Script,
    put_report: Script,
}

/// The runtime the Redis connections live on, shared by every store of
/// the process: one thread, whose tasks only wait on sockets and timers.
/// Callers on any runtime, or none, hand their requests to it and wait for
/// the answer without holding a thread of their own runtime.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mailscore-redis")
            .enable_all()
            .build()
            .expect("the Redis client's runtime starts")
    })
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

fn webhook_key(key: &str) -> String {
    format!("mailscore:webhook:{key}")
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
        let error = |source| StoreError::Redis {
            location: location.clone(),
            source,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let connections = {
            // The connections' tasks go to the client's own runtime.
            let _runtime = runtime().enter();
            (0..CONNECTIONS)
                .map(|_| ConnectionManager::new_lazy_with_config(client.clone(), config.clone()))
                .collect::<RedisResult<Vec<_>>>()
                .map_err(error)?
        };
        let store = RedisStore {
            shared: Arc::new(Shared {
                location,
                ttl_ms: u64::try_from(retention.as_millis()).unwrap_or(u64::MAX),
                connections,
                next: AtomicUsize::new(0),
                in_flight: Semaphore::new(MAX_IN_FLIGHT),
                put_message: Script::new(PUT_MESSAGE),
                put_report: Script::new(PUT_REPORT),
            }),
            survey_ttl_ms: None,
        };
        wait(store.run(|mut c, _| async move {
            redis::cmd("PING").query_async::<String>(&mut c).await
        }))?;
        Ok(store)
    }

    pub async fn put_message(
        &self,
        id: &str,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<u64, StoreError> {
        let seq: u64 = self
            .run(|mut c, _| async move { c.incr(SEQ_KEY, 1).await })
            .await?;
        let record = StoredMessage::new(seq, envelope.clone());
        let meta = serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let keys = Arc::new(Keys::of(id));
        let (meta, raw) = (Arc::new(meta), Arc::new(raw.to_vec()));
        // Writing the same seq twice (a retry) leaves the same state.
        self.run(move |mut c, shared| {
            let (keys, meta, raw) = (keys.clone(), meta.clone(), raw.clone());
            async move {
                shared
                    .put_message
                    .key(&keys.message)
                    .key(&keys.raw)
                    .key(&keys.pending)
                    .key(&keys.report)
                    .key(&keys.history)
                    .arg(&*meta)
                    .arg(&*raw)
                    .arg(seq)
                    .arg(shared.ttl_ms)
                    .invoke_async::<()>(&mut c)
                    .await
            }
        })
        .await?;
        Ok(seq)
    }

    pub async fn message(&self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let keys = Arc::new(Keys::of(id));
        // One MGET: the envelope and the body of the same delivery.
        let (meta, raw): (Option<Vec<u8>>, Option<Vec<u8>>) = self
            .run(move |mut c, _| {
                let keys = keys.clone();
                async move {
                    redis::cmd("MGET")
                        .arg(&keys.message)
                        .arg(&keys.raw)
                        .query_async(&mut c)
                        .await
                }
            })
            .await?;
        let (Some(meta), Some(raw)) = (meta, raw) else {
            return Ok(None);
        };
        let mut record = StoredMessage::parse(&meta)?;
        record.raw = raw;
        Ok(Some(record))
    }

    pub async fn put_report(&self, id: &str, seq: u64, report: &[u8]) -> Result<bool, StoreError> {
        let keys = Arc::new(Keys::of(id));
        let entry = Arc::new(history::encode(seq, history::now(), report));
        let report = Arc::new(report.to_vec());
        self.run(move |mut c, shared| {
            let (keys, entry, report) = (keys.clone(), entry.clone(), report.clone());
            async move {
                shared
                    .put_report
                    .key(&keys.pending)
                    .key(&keys.report)
                    .key(&keys.message)
                    .key(&keys.history)
                    .arg(seq)
                    .arg(&*report)
                    .arg(&*entry)
                    .arg(MAX_SENDS)
                    .invoke_async::<bool>(&mut c)
                    .await
            }
        })
        .await
    }

    /// The list expires with the address's latest message; within it,
    /// sends older than the retention are left out here.
    pub async fn history(&self, id: &str) -> Result<Vec<Send>, StoreError> {
        let key = Keys::of(id).history;
        let values: Vec<Vec<u8>> = self
            .run_on_key(key, |mut c, key| async move { c.lrange(&key, 0, -1).await })
            .await?;
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

    pub async fn report(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(Keys::of(id).report).await
    }

    /// Kept for the retention plus [`TEXTS_OUTLIVE`]: every report naming
    /// a text is saved within the analysis's trust in its last save (five
    /// minutes, `report::stored::SavedTexts`), and expires with its message
    /// at most a retention after that, so the text outlives every report
    /// that names it; each save sets the time again.
    pub async fn put_texts(&self, hash: u64, texts: &[u8]) -> Result<(), StoreError> {
        let ttl = self
            .shared
            .ttl_ms
            .saturating_add(TEXTS_OUTLIVE.as_millis() as u64);
        let texts = Arc::new(texts.to_vec());
        self.run_on_key(texts_key(hash), move |mut c, key| {
            let texts = texts.clone();
            async move { c.pset_ex::<_, _, ()>(&key, &*texts, ttl).await }
        })
        .await
    }

    pub async fn texts(&self, hash: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(texts_key(hash)).await
    }

    /// Surveys are kept `retention` after their last activity: their keys
    /// get it as TTL, which each row renews.
    pub fn with_survey_retention(self, retention: Duration) -> RedisStore {
        RedisStore {
            survey_ttl_ms: Some(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX)),
            ..self
        }
    }

    pub async fn put_survey(&self, id: &str, survey: &[u8]) -> Result<(), StoreError> {
        let Some(ttl) = self.survey_ttl_ms else {
            return self.set(survey_key(id), survey).await;
        };
        let survey = Arc::new(survey.to_vec());
        self.run_on_key(survey_key(id), move |mut c, key| {
            let survey = survey.clone();
            async move { c.pset_ex::<_, _, ()>(&key, &*survey, ttl).await }
        })
        .await
    }

    pub async fn survey(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(survey_key(id)).await
    }

    pub async fn put_survey_row(
        &self,
        id: &str,
        entry: &str,
        row: &[u8],
    ) -> Result<(), StoreError> {
        let rows = survey_key(id) + ":rows";
        self.hset(rows.clone(), entry, row).await?;
        let Some(ttl) = self.survey_ttl_ms else {
            return Ok(());
        };
        // The survey's last activity: its definition, rows and webhook
        // live on from now.
        let keys = Arc::new([
            survey_key(id),
            rows,
            webhook_key(&super::survey_webhook_key(id)),
        ]);
        self.run(move |mut c, _| {
            let keys = keys.clone();
            async move {
                let mut pipe = redis::pipe();
                for key in keys.iter() {
                    pipe.pexpire(key, i64::try_from(ttl).unwrap_or(i64::MAX))
                        .ignore();
                }
                pipe.query_async::<()>(&mut c).await
            }
        })
        .await
    }

    /// Deletes survey `id`, its rows and the webhook kept under
    /// `webhook`. (Not called by the sweep: their TTL expires them.)
    pub async fn remove_survey(&self, id: &str, webhook: &str) -> Result<(), StoreError> {
        let keys = Arc::new([
            survey_key(id),
            survey_key(id) + ":rows",
            webhook_key(webhook),
        ]);
        self.run(move |mut c, _| {
            let keys = keys.clone();
            async move { c.del::<_, ()>(&keys[..]).await }
        })
        .await
    }

    pub async fn survey_rows(&self, id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        self.run_on_key(survey_key(id) + ":rows", |mut c, key| async move {
            c.hvals(&key).await
        })
        .await
    }

    /// A webhook that does not expire with the tests (a survey's) gets the
    /// survey's TTL.
    pub async fn put_webhook(&self, key: &str, url: &str, expires: bool) -> Result<(), StoreError> {
        let ttl = match expires {
            true => Some(self.shared.ttl_ms),
            false => self.survey_ttl_ms,
        };
        let url = Arc::new(url.to_string());
        self.run_on_key(webhook_key(key), move |mut c, key| {
            let url = url.clone();
            async move {
                match ttl {
                    Some(ttl) => c.pset_ex::<_, _, ()>(&key, &*url, ttl).await,
                    None => c.set::<_, _, ()>(&key, &*url).await,
                }
            }
        })
        .await
    }

    pub async fn webhook(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.run_on_key(
            webhook_key(key),
            |mut c, key| async move { c.get(&key).await },
        )
        .await
    }

    pub async fn put_delivery(&self, id: &str, delivery: &[u8]) -> Result<(), StoreError> {
        self.hset(DELIVERIES_KEY.to_string(), id, delivery).await
    }

    pub async fn deliveries(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.run(|mut c, _| async move { c.hvals(DELIVERIES_KEY).await })
            .await
    }

    pub async fn remove_delivery(&self, id: &str) -> Result<(), StoreError> {
        self.run_on_key(id.to_string(), |mut c, id| async move {
            c.hdel::<_, _, ()>(DELIVERIES_KEY, &id).await
        })
        .await
    }

    /// `SET … NX PX`: the first node to ask holds it for `hold`.
    pub async fn claim_delivery(&self, id: &str, hold: Duration) -> Result<bool, StoreError> {
        let key = format!("mailscore:delivery-claim:{id}");
        let hold = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX);
        let set: Option<String> = self
            .run_on_key(key, move |mut c, key| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(hold)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }

    pub async fn is_pending(&self, id: &str) -> Result<bool, StoreError> {
        self.run_on_key(Keys::of(id).pending, |mut c, key| async move {
            c.exists(&key).await
        })
        .await
    }

    /// The memory the Redis server uses (`INFO memory`: `used_memory`), the
    /// store's size as `/metrics` reports it. Shared by every node, and
    /// by anything else kept in that Redis.
    pub async fn used_bytes(&self) -> Result<u64, StoreError> {
        let info: String =
            self.run(|mut c, _| async move {
                redis::cmd("INFO").arg("memory").query_async(&mut c).await
            })
            .await?;
        info.lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|value| value.trim().parse().ok())
            .ok_or_else(|| StoreError::Corrupt("INFO memory has no used_memory".into()))
    }

    /// Every node's pending ids: a SCAN, which only start-up runs.
    pub async fn pending_ids(&self) -> Result<Vec<String>, StoreError> {
        let keys: Vec<String> = self
            .run(|mut c, _| async move {
                let mut keys = Vec::new();
                let mut cursor = 0u64;
                loop {
                    let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg("mailscore:{*}:pending")
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut c)
                        .await?;
                    keys.extend(batch);
                    if next == 0 {
                        return Ok(keys);
                    }
                    cursor = next;
                }
            })
            .await?;
        Ok(keys
            .iter()
            .filter_map(|key| pending_id(key))
            .map(str::to_string)
            .collect())
    }

    async fn get(&self, key: String) -> Result<Option<Vec<u8>>, StoreError> {
        self.run_on_key(key, |mut c, key| async move { c.get(&key).await })
            .await
    }

    async fn set(&self, key: String, value: &[u8]) -> Result<(), StoreError> {
        let value = Arc::new(value.to_vec());
        self.run_on_key(key, move |mut c, key| {
            let value = value.clone();
            async move { c.set::<_, _, ()>(&key, &*value).await }
        })
        .await
    }

    async fn hset(&self, key: String, field: &str, value: &[u8]) -> Result<(), StoreError> {
        let (field, value) = (Arc::new(field.to_string()), Arc::new(value.to_vec()));
        self.run_on_key(key, move |mut c, key| {
            let (field, value) = (field.clone(), value.clone());
            async move { c.hset::<_, _, _, ()>(&key, &*field, &*value).await }
        })
        .await
    }

    /// [`run`](Self::run) with `key` handed to each attempt.
    async fn run_on_key<T, F, Fut>(&self, key: String, op: F) -> Result<T, StoreError>
    where
        T: std::marker::Send + 'static,
        F: Fn(ConnectionManager, Arc<String>) -> Fut + std::marker::Send + 'static,
        Fut: Future<Output = RedisResult<T>> + std::marker::Send + 'static,
    {
        let key = Arc::new(key);
        self.run(move |c, _| op(c, key.clone())).await
    }

    /// Runs `op` on the next connection, on the client's runtime: at most
    /// [`MAX_IN_FLIGHT`] at once, each within [`REQUEST_TIMEOUT`]. A
    /// connection the server closed meanwhile (a Redis restart, an idle
    /// timeout) reconnects, and the request gets one more attempt; every
    /// operation here is safe to repeat.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        T: std::marker::Send + 'static,
        F: Fn(ConnectionManager, Arc<Shared>) -> Fut + std::marker::Send + 'static,
        Fut: Future<Output = RedisResult<T>> + std::marker::Send + 'static,
    {
        let shared = self.shared.clone();
        let request = async move {
            let _permit = shared
                .in_flight
                .acquire()
                .await
                .expect("the semaphore is never closed");
            let turn = shared.next.fetch_add(1, Ordering::Relaxed);
            let connection = &shared.connections[turn % shared.connections.len()];
            let mut retried = false;
            loop {
                // A failed attempt made the connection reconnect: the
                // retry goes to the same one.
                match op(connection.clone(), shared.clone()).await {
                    Err(e) if !retried && e.is_connection_dropped() => retried = true,
                    result => return result,
                }
            }
        };
        // The timer too is the client runtime's (the caller may have none).
        let task =
            runtime().spawn(async move { tokio::time::timeout(REQUEST_TIMEOUT, request).await });
        let result = match task.await {
            Ok(Ok(result)) => result,
            Ok(Err(_elapsed)) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {REQUEST_TIMEOUT:?}"),
            ))),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(RedisError::from(std::io::Error::other(e.to_string()))),
        };
        result.map_err(|source| StoreError::Redis {
            location: self.shared.location.clone(),
            source,
        })
    }
}

/// Waits for `request` on a thread that is not a task's: the writer
/// thread, start-up, the blocking pool, the analysis lane's own runtime.
/// The request itself runs on the client's runtime; this thread only
/// sleeps until the answer. On a tokio worker (a caller that could not be
/// made async) the worker first hands its other tasks to another thread.
pub(super) fn wait<F: Future>(request: F) -> F::Output {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| park_until_done(request))
        }
        _ => park_until_done(request),
    }
}

/// Polls `future` on this thread, sleeping between wake-ups.
fn park_until_done<F: Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
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
