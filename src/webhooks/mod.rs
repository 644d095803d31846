//! Webhooks: when a report is done, its JSON is POSTed to the URL its test
//! (`POST /api/tests {"webhook": …}`) or survey asked for, signed with
//! `X-Mailscore-Signature: sha256=<hex HMAC-SHA256 of the body>` under the
//! operator's secret, with `X-Mailscore-Delivery: <id>`. A 2xx delivers;
//! anything else is tried again with exponential backoff for up to 24 h.
//!
//! The queue is kept in the store ([`delivery`]) and the [`sender`] works
//! through it, so a restart, `kill -9` included, loses no delivery, and a
//! delivered one leaves the queue before anything else happens. Targets
//! in loopback, private and link-local ranges are refused (at creation for
//! an address, at delivery for a name's addresses) unless the operator
//! allows them: no requests into the operator's network from a public
//! instance.

pub mod delivery;
pub mod sender;
pub mod signature;
pub mod target;

use std::time::Duration;

/// The operator's webhook settings.
#[derive(Clone, PartialEq)]
pub struct WebhookSettings {
    /// The HMAC key; without one, no webhook is taken.
    pub secret: Option<String>,
    /// Targets in loopback, private and link-local ranges (and plain
    /// `http://`) are allowed: for tests and closed networks.
    pub allow_private: bool,
    /// One attempt, connection to answer.
    pub timeout: Duration,
    /// The wait after the first failure; it doubles after each (at most an
    /// hour).
    pub retry_base: Duration,
    /// When a delivery that keeps failing is dropped.
    pub give_up_after: Duration,
}

/// Never prints the secret.
impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("allow_private", &self.allow_private)
            .field("timeout", &self.timeout)
            .field("retry_base", &self.retry_base)
            .field("give_up_after", &self.give_up_after)
            .finish()
    }
}

impl WebhookSettings {
    pub fn off() -> WebhookSettings {
        WebhookSettings {
            secret: None,
            allow_private: false,
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(10),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// The store key of a test's webhook.
pub fn test_key(id: &str) -> String {
    format!("test:{id}")
}

/// The store key of a survey's webhook.
pub fn survey_key(id: &str) -> String {
    crate::store::survey_webhook_key(id)
}
