//! Listening sockets with a backlog deep enough for a burst of clients.
//!
//! `tokio::net::TcpListener::bind` listens with a backlog of 128. When 500
//! senders connect at once while the workers are busy serving earlier
//! sessions, the kernel drops the SYNs past 128 and each of those clients
//! waits out its SYN retransmission (1 s, then 3 s): measured with
//! `smtp-source -s 500`, 256 messages/s against 1,900 once the listener was
//! warm. The kernel caps the backlog at `net.core.somaxconn` (4096 on
//! current Linux), so asking for more is harmless.

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpSocket};

/// The accept queue asked of the kernel.
const BACKLOG: u32 = 4096;

/// Binds `addr` (with `SO_REUSEADDR`, as std and tokio do, so a restart
/// does not wait for the old connections' TIME_WAIT) and listens.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Nobody accepts here: every connection the kernel completes waits in
    /// the accept queue. With tokio's own backlog (128) the SYNs past it are
    /// dropped and those connects never finish while the queue stays full.
    #[tokio::test]
    async fn a_burst_of_300_connections_waits_in_the_queue_instead_of_being_dropped() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let connects = (0..300).map(|_| {
            tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        });
        let results = futures_util::future::join_all(connects).await;
        let connected = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(connected, 300);
        drop(listener);
    }
}
