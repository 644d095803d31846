//! The HTTP listener: the routes served by hyper with the limits a public
//! server needs. warp's own `serve` sets none of them (no timer, so no
//! header-read timeout; no cap on connections): 500 clients trickling
//! header bytes would each hold a task and a socket for ever.

use ipnet::IpNet;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use warp::Filter;

/// What one HTTP client may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// How long a client has to send a request's whole header section,
    /// counted from the connection or from the previous response: both the
    /// slowloris bound and the keep-alive idle timeout.
    pub header_timeout: Duration,
    /// Connections served at once; further clients wait in the kernel's
    /// backlog until one ends, as on the SMTP port.
    pub max_connections: usize,
    /// Header fields in one request; more get `431`.
    pub max_headers: usize,
    /// Bytes hyper buffers for one request head; more get `431`.
    pub max_head_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_headers: 64,
            max_head_bytes: 16 * 1024,
        }
    }
}

/// The client of a request as the rate limits see it: the TCP peer, or
/// the address a trusted proxy put last in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The TCP peer is in `--proxy-trusted`: its `X-Forwarded-For` names
    /// the client.
    pub trusted_proxy: bool,
}

impl Peer {
    /// The client's address: the last `X-Forwarded-For` entry (the one the
    /// trusted proxy appended; earlier ones are the client's own claims),
    /// or the TCP peer's.
    pub fn client_ip(&self, forwarded_for: Option<&str>) -> std::net::IpAddr {
        let forwarded = forwarded_for
            .filter(|_| self.trusted_proxy)
            .and_then(|list| list.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok());
        forwarded.unwrap_or(self.addr.ip())
    }
}

/// Serves `routes` on `listener` under `limits` until `shutdown`, then
/// lets the requests in flight finish.
pub async fn run<F, R>(
    listener: TcpListener,
    routes: F,
    limits: HttpLimits,
    proxy_trusted: Vec<IpNet>,
    shutdown: impl Future<Output = ()>,
) where
    F: Filter<Extract = (R,), Error = Infallible> + Clone + Send + Sync + 'static,
    R: warp::Reply,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = Arc::new(limits);
    let service = warp::service(routes);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            () = &mut shutdown => break,
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let peer = Peer {
            addr,
            trusted_proxy: proxy_trusted.iter().any(|net| net.contains(&addr.ip())),
        };
        let connection = builder(&limits).serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            WithPeer {
                inner: service.clone(),
                peer,
            },
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are the client's: a reset, a timeout, a bad head.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn builder(limits: &HttpLimits) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(limits.max_headers)
        .max_buf_size(limits.max_head_bytes.max(8192));
    builder
}

/// An accept error is mostly a full file table (EMFILE): wait for
/// connections to end instead of spinning on it.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!(error = %e, "HTTP accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The routes as a hyper service, with the [`Peer`] in each request's
/// extensions (read by `warp::ext`).
#[derive(Clone)]
struct WithPeer<S> {
    inner: S,
    peer: Peer,
}

impl<S> hyper::service::Service<hyper::Request<hyper::body::Incoming>> for WithPeer<S>
where
    S: tower_service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = warp::reply::Response,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = warp::reply::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut request: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        request.extensions_mut().insert(self.peer);
        let mut inner = self.inner.clone();
        Box::pin(inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str, trusted_proxy: bool) -> Peer {
        Peer {
            addr: addr.parse().unwrap(),
            trusted_proxy,
        }
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let header = Some("198.51.100.7, 203.0.113.9");
        let direct = peer("192.0.2.1:4000", false);
        assert_eq!(
            direct.client_ip(header),
            "192.0.2.1".parse::<std::net::IpAddr>().unwrap()
        );
        let proxy = peer("192.0.2.1:4000", true);
        // The last entry is the one the proxy appended; the first is the
        // client's own claim.
        assert_eq!(
            proxy.client_ip(header),
            "203.0.113.9".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(
            proxy.client_ip(None),
            "192.0.2.1".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(
            proxy.client_ip(Some("junk")),
            "192.0.2.1".parse::<std::net::IpAddr>().unwrap()
        );
    }
}
