//! Accepting connections: one tokio task per client, a bound on how many run
//! at once, and a pause instead of a spin when `accept` fails.

use super::Delivery;
use super::session;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Connections served at once; further clients wait in the kernel's backlog
/// until a session ends, so a flood cannot exhaust file descriptors.
const MAX_CONNECTIONS: usize = 512;

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

/// The bound SMTP socket. `bind` first (so the caller learns the port and
/// any bind error up front), then `run` it on a task of its own.
pub struct Listener {
    socket: TcpListener,
    settings: Arc<SmtpSettings>,
    /// Offered as STARTTLS when present.
    tls: Option<Arc<rustls::ServerConfig>>,
    delivery: Arc<dyn Delivery>,
    limit: Arc<Semaphore>,
}

impl Listener {
    pub async fn bind(
        addr: SocketAddr,
        settings: SmtpSettings,
        delivery: Arc<dyn Delivery>,
    ) -> std::io::Result<Listener> {
        Ok(Listener {
            socket: TcpListener::bind(addr).await?,
            settings: Arc::new(settings),
            tls: None,
            delivery,
            limit: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        })
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
    /// It does not return on its own: accept errors (often a full descriptor
    /// table) are logged and retried after a growing pause. To stop the
    /// server, drop this future, e.g. from a `select!` on a shutdown signal;
    /// sessions already running finish by themselves.
    pub async fn run(self) -> std::io::Result<()> {
        loop {
            let permit = Arc::clone(&self.limit)
                .acquire_owned()
                .await
                .expect("the connection semaphore is never closed");
            let (stream, peer) = self.accept().await;
            let settings = Arc::clone(&self.settings);
            let tls = self.tls.clone();
            let delivery = Arc::clone(&self.delivery);
            tokio::spawn(async move {
                session::serve(stream, peer, settings, tls, delivery).await;
                drop(permit);
            });
        }
    }

    /// Accepts clients until `shutdown` completes; then closes the listening
    /// socket (new clients are refused) and gives the sessions in flight up
    /// to `grace` to finish, so a client in the middle of DATA still gets its
    /// answer. Returns false when some were still open after `grace`.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>, grace: Duration) -> bool {
        let limit = Arc::clone(&self.limit);
        tokio::select! {
            _ = self.run() => {}
            _ = shutdown => {}
        }
        let all = u32::try_from(MAX_CONNECTIONS).expect("MAX_CONNECTIONS fits in u32");
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
                    eprintln!("smtp: accept failed, retrying in {backoff:?}: {err}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
