//! Accepting connections: one tokio task per client, a bound on how many run
//! at once and on how many come from one address, and a pause instead of a
//! spin when `accept` fails.
//!
//! Behind a load balancer the client is who the PROXY protocol header of a
//! trusted peer says (see [`proxy`]): the per-address limits count that
//! client, not the balancer.

use super::Delivery;
use super::peers::Peers;
use super::{proxy, session};
use crate::metrics::{Metrics, Refusal};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The first pause after a failed `accept`; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the SMTP server accepts and how it names itself. Built once from the
/// configuration and shared, read-only, by every session.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// We accept RCPT only at this domain (compared case-insensitively).
    pub domain: String,
    /// Our name in the `220` banner and the EHLO reply.
    pub hostname: String,
    /// Largest message accepted, in bytes; advertised as `SIZE`.
    pub max_message_size: usize,
    /// Most recipients in one transaction.
    pub max_recipients: usize,
}

impl SmtpSettings {
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;
    pub const DEFAULT_MAX_RECIPIENTS: usize = 10;

    /// Settings for `domain`, announced as `hostname`, with default limits.
    pub fn new(domain: impl Into<String>, hostname: impl Into<String>) -> SmtpSettings {
        SmtpSettings {
            domain: domain.into(),
            hostname: hostname.into(),
            max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
            max_recipients: Self::DEFAULT_MAX_RECIPIENTS,
        }
    }
}

/// How much a client may take from the server: time, connections, messages
/// and mistakes. Built once from the configuration and shared, read-only, by
/// the listener and every session; set with [`Listener::with_limits`].
///
/// The defaults follow RFC 5321 §4.5.3.2 for the timeouts and suit a public
/// test mailbox for the rest. The connection, message and error counts are
/// raised to 1 if given as 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpLimits {
    /// How long we wait for the next command, and for the client to take a
    /// reply, before `421` and closing.
    pub command_timeout: Duration,
    /// How long the whole DATA body may take, from `354` to the final dot,
    /// however steadily it trickles in; then `421`, closing, and nothing is
    /// delivered. (Each read during DATA is also bound by `command_timeout`.)
    pub data_timeout: Duration,
    /// How long one connection may last from its greeting, however busy:
    /// then `421` and closing. Without it a client that sends a `NOOP` just
    /// inside each `command_timeout` would hold its slot for ever.
    pub session_lifetime: Duration,
    /// Commands one connection may send (across STARTTLS); the next one is
    /// answered `421 4.7.0` and the connection closed.
    pub max_commands: usize,
    /// Connections served at once. When all are taken the listener stops
    /// accepting: further clients wait in the kernel's listen backlog (and
    /// past that are refused by the kernel) until a session ends, so a flood
    /// can exhaust neither memory nor file descriptors.
    pub max_connections: usize,
    /// Connections open at once from one address (an IPv6 client counts by
    /// its /64). One more is sent `421 4.7.0` and closed at once.
    pub max_connections_per_ip: usize,
    /// Messages an address may start (MAIL FROM) per minute, all its
    /// connections together: a token bucket of this size, refilled at this
    /// rate. When it is empty MAIL gets `450 4.7.1` (RFC 3463).
    pub messages_per_ip_per_minute: u32,
    /// Error replies (4xx and 5xx) one session may earn; with the last one
    /// it is sent `421 4.7.0 Too many errors` and closed.
    pub max_errors: usize,
    /// Header lines (up to the first empty line) a message may have; a
    /// message with more is read to its end and refused with `554 5.6.0`.
    pub max_header_lines: usize,
    /// Accepted messages that may await analysis (queued or running). At
    /// this many, MAIL gets `451 4.3.2` until the analyzer catches up: a
    /// sender's MTA retries later, and memory and report latency stay
    /// bounded when mail arrives faster than it can be analysed.
    pub max_analysis_backlog: u64,
}

impl Default for SmtpLimits {
    fn default() -> SmtpLimits {
        SmtpLimits {
            command_timeout: Duration::from_secs(5 * 60),
            data_timeout: Duration::from_secs(10 * 60),
            session_lifetime: Duration::from_secs(30 * 60),
            // Many messages of ten recipients each, with room to spare.
            max_commands: 2000,
            max_connections: 512,
            max_connections_per_ip: 20,
            messages_per_ip_per_minute: 60,
            max_errors: 10,
            max_header_lines: 1000,
            max_analysis_backlog: 2000,
        }
    }
}

/// How long an address over its connection cap gets to take its `421`.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a trusted proxy has to send its PROXY header. A balancer sends
/// it with the connection, so this only bounds a broken or silent one.
const PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections [`SmtpLimits::max_connections`] may allow: what a
/// semaphore holds, and what shutdown can wait for in one `acquire_many(u32)`.
const MAX_CONNECTIONS_CAP: usize = if (u32::MAX as usize) < Semaphore::MAX_PERMITS {
    u32::MAX as usize
} else {
    Semaphore::MAX_PERMITS
};

/// The bound SMTP socket. `bind` first (so the caller learns the port and
/// any bind error up front), then `run` it on a task of its own.
pub struct Listener {
    socket: TcpListener,
    settings: Arc<SmtpSettings>,
    /// Offered as STARTTLS when present.
    tls: Option<Arc<rustls::ServerConfig>>,
    delivery: Arc<dyn Delivery>,
    limits: Arc<SmtpLimits>,
    /// One permit per connection being served (`limits.max_connections`).
    limit: Arc<Semaphore>,
    /// Connections and message buckets per client address.
    peers: Arc<Peers>,
    /// Peers whose connections start with a PROXY protocol header.
    proxy_trusted: Arc<Vec<IpNet>>,
    metrics: Arc<Metrics>,
}

impl Listener {
    pub async fn bind(
        addr: SocketAddr,
        settings: SmtpSettings,
        delivery: Arc<dyn Delivery>,
    ) -> std::io::Result<Listener> {
        let limits = SmtpLimits::default();
        Ok(Listener {
            socket: crate::listen::bind(addr)?,
            settings: Arc::new(settings),
            tls: None,
            delivery,
            limit: Arc::new(Semaphore::new(limits.max_connections)),
            peers: Arc::new(Peers::new(
                limits.max_connections_per_ip,
                limits.messages_per_ip_per_minute,
            )),
            limits: Arc::new(limits),
            proxy_trusted: Arc::new(Vec::new()),
            metrics: Arc::default(),
        })
    }

    /// Expects a PROXY protocol header (v1 or v2) first on every connection
    /// from these peers, and takes the client it names as the sender: its
    /// address is the envelope's, and the one the per-address limits count.
    /// A connection from them without a valid header is closed. Call it
    /// before [`run`](Self::run).
    pub fn with_proxy_trusted(mut self, trusted: Vec<IpNet>) -> Listener {
        self.proxy_trusted = Arc::new(trusted);
        self
    }

    /// Counts connections and refusals into `metrics` instead of a private
    /// set nobody reads.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Listener {
        self.metrics = metrics;
        self
    }

    /// Serves clients within `limits` instead of [`SmtpLimits::default`].
    /// Call it before [`run`](Self::run).
    pub fn with_limits(mut self, limits: SmtpLimits) -> Listener {
        let connections = limits.max_connections.clamp(1, MAX_CONNECTIONS_CAP);
        self.limit = Arc::new(Semaphore::new(connections));
        self.peers = Arc::new(Peers::new(
            limits.max_connections_per_ip,
            limits.messages_per_ip_per_minute,
        ));
        self.limits = Arc::new(SmtpLimits {
            max_connections: connections,
            ..limits
        });
        self
    }

    /// Offers STARTTLS (RFC 3207) with this configuration, usually built by
    /// [`server_config`](super::tls::server_config). Without it the listener
    /// speaks plaintext only and answers STARTTLS with `502`.
    pub fn with_starttls(mut self, tls: Arc<rustls::ServerConfig>) -> Listener {
        self.tls = Some(tls);
        self
    }

    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Accepts clients until the future is dropped; each gets its own task.
    ///
    /// At most `max_connections` are served at once: while all are taken
    /// this loop waits for one to end before it accepts again, and newcomers
    /// queue in the kernel's backlog. An address already at its
    /// `max_connections_per_ip` is sent `421 4.7.0` and closed where its
    /// greeting would be, without a session.
    ///
    /// It does not return on its own: accept errors (often a full descriptor
    /// table) are logged and retried after a growing pause. To stop the
    /// server, drop this future, e.g. from a `select!` on a shutdown signal;
    /// sessions already running finish by themselves.
    pub async fn run(self) -> std::io::Result<()> {
        self.metrics.smtp_listening(true);
        loop {
            let permit = Arc::clone(&self.limit)
                .acquire_owned()
                .await
                .expect("the connection semaphore is never closed");
            let (stream, peer) = self.accept().await;
            let connection = Connection {
                settings: Arc::clone(&self.settings),
                limits: Arc::clone(&self.limits),
                tls: self.tls.clone(),
                delivery: Arc::clone(&self.delivery),
                peers: Arc::clone(&self.peers),
                metrics: Arc::clone(&self.metrics),
                proxied: self.is_trusted_proxy(peer),
            };
            tokio::spawn(async move {
                connection.serve(stream, peer).await;
                drop(permit);
            });
        }
    }

    fn is_trusted_proxy(&self, peer: SocketAddr) -> bool {
        let ip = peer.ip().to_canonical();
        self.proxy_trusted.iter().any(|net| net.contains(&ip))
    }

    /// Accepts clients until `shutdown` completes; then closes the listening
    /// socket (new clients are refused) and gives the sessions in flight up
    /// to `grace` to finish, so a client in the middle of DATA still gets its
    /// answer. Returns false when some were still open after `grace`.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>, grace: Duration) -> bool {
        let limit = Arc::clone(&self.limit);
        let all = u32::try_from(self.limits.max_connections)
            .expect("with_limits keeps max_connections within u32");
        let metrics = Arc::clone(&self.metrics);
        tokio::select! {
            _ = self.run() => {}
            _ = shutdown => {}
        }
        metrics.smtp_listening(false);
        tokio::time::timeout(grace, limit.acquire_many(all))
            .await
            .is_ok()
    }

    /// The next connection, waiting out accept errors rather than spinning.
    async fn accept(&self) -> (TcpStream, SocketAddr) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.socket.accept().await {
                Ok(accepted) => return accepted,
                Err(err) => {
                    tracing::warn!(error = %err, ?backoff, "SMTP accept failed, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// What one accepted connection needs from the listener.
struct Connection {
    settings: Arc<SmtpSettings>,
    limits: Arc<SmtpLimits>,
    tls: Option<Arc<rustls::ServerConfig>>,
    delivery: Arc<dyn Delivery>,
    peers: Arc<Peers>,
    metrics: Arc<Metrics>,
    /// From a trusted proxy: a PROXY header comes first.
    proxied: bool,
}

impl Connection {
    /// Learns who the client is (from the PROXY header when `proxied`),
    /// holds it to its per-address cap, and runs its session.
    async fn serve(self, mut stream: TcpStream, peer: SocketAddr) {
        let _open = self.metrics.connection_opened();
        let client = match self.proxied {
            false => peer,
            true => {
                let header =
                    tokio::time::timeout(PROXY_HEADER_TIMEOUT, proxy::read_header(&mut stream));
                match header.await {
                    Ok(Ok(source)) => source.unwrap_or(peer),
                    Ok(Err(err)) => return self.refuse_proxy(stream, peer, &err.to_string()).await,
                    Err(_) => {
                        return self
                            .refuse_proxy(stream, peer, "no PROXY header in time")
                            .await;
                    }
                }
            }
        };
        let Some(connection) = self.peers.connect(client.ip()) else {
            // Nothing is set up for this client: it gets one line, at most
            // `REFUSAL_TIMEOUT` of a slot, and the door.
            self.metrics.refused(Refusal::TooManyConnections);
            tracing::info!(
                client_ip = %client.ip(),
                outcome = "refused",
                reason = Refusal::TooManyConnections.as_str(),
                "SMTP connection refused"
            );
            let reply = "421 4.7.0 Too many connections from your address\r\n";
            return refuse(stream, reply).await;
        };
        let client = session::Client {
            peer: client,
            proxied_by: self.proxied.then_some(peer),
            settings: self.settings,
            limits: self.limits,
            delivery: self.delivery,
            metrics: self.metrics.clone(),
            connection,
            errors: 0,
            commands: 0,
            started: tokio::time::Instant::now(),
        };
        session::serve(stream, client, self.tls).await;
    }

    /// A trusted proxy that did not send a valid header: the connection
    /// cannot be attributed to anyone, so it is closed.
    async fn refuse_proxy(&self, stream: TcpStream, peer: SocketAddr, problem: &str) {
        self.metrics.refused(Refusal::ProxyHeaderInvalid);
        tracing::warn!(
            proxy = %peer,
            outcome = "refused",
            reason = Refusal::ProxyHeaderInvalid.as_str(),
            problem,
            "connection from a trusted proxy without a valid PROXY header"
        );
        refuse(stream, "421 4.7.0 PROXY protocol header expected\r\n").await;
    }
}

/// Sends `reply` to a client we will not serve and closes the connection.
async fn refuse(mut stream: TcpStream, reply: &str) {
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
        stream.write_all(reply.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}
