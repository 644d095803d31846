//! SMTP listener: accepts mail for test addresses at our domain.
//!
//! Commands are parsed by `smtp-proto` (stalwartlabs, the authors of
//! mail-auth and mail-parser) inside our own tokio connection loop. samotop was
//! evaluated and set aside: last released January 2022, built on the
//! discontinued async-std, and it would bring a second runtime into a tokio
//! program.
//!
//! STARTTLS (RFC 3207) is offered when the listener is given a TLS
//! configuration (see [`tls`]); what it negotiated is recorded in the
//! [`Envelope`].
//!
//! Behind a load balancer, the HAProxy PROXY protocol (v1 and v2, see
//! [`proxy`]) gives the real client's address, from trusted peers only.
//!
//! Senders are held to [`SmtpLimits`] (RFC 5321 §4.5.3.2 timeouts,
//! connections and messages per address, error replies, header lines), so a
//! public test mailbox stays up for everyone while a hostile one misbehaves.

mod chunking;
mod data;
mod envelope;
mod extensions;
mod listener;
mod peers;
pub mod proxy;
mod session;
pub mod tls;

pub use envelope::{Envelope, TlsInfo};
pub use listener::{Listener, SmtpLimits, SmtpSettings};
#[doc(hidden)]
pub use session::serve_stream;
use std::sync::Arc;

/// Where the listener hands a finished message. It must make the message
/// durable before returning `Ok`: only then does the client get `250`.
pub trait Delivery: Send + Sync + 'static {
    /// Stores the message, blocking until it is durable.
    fn deliver(&self, envelope: &Envelope, message: &[u8]) -> Result<(), DeliveryError>;

    /// Whether a message of `size` bytes can be kept now; the reason when
    /// not (the disk is nearly full). Asked at MAIL (with the declared
    /// SIZE) and again before the message is stored.
    fn room_for(&self, size: u64) -> Result<(), String> {
        let _ = size;
        Ok(())
    }

    /// What a session awaits after the final dot. By default [`deliver`]
    /// on the blocking pool; an implementation that batches writes (one
    /// flush for many sessions' messages) overrides it.
    ///
    /// [`deliver`]: Delivery::deliver
    fn submit(self: Arc<Self>, envelope: Envelope, message: Vec<u8>) -> DeliveryFuture {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || self.deliver(&envelope, &message))
                .await
                .unwrap_or_else(|err| Err(DeliveryError(format!("delivery task failed: {err}"))))
        })
    }
}

/// A delivery under way: resolves once the message is durable, or not.
pub type DeliveryFuture = std::pin::Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send>>;

/// Delivery failed; the client gets a temporary `451` and keeps the message.
#[derive(Debug, thiserror::Error)]
#[error("delivery failed: {0}")]
pub struct DeliveryError(pub String);
