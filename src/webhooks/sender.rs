//! The worker that empties the queue: every delivery that is due is
//! attempted once at a time per node (and, on a shared Redis, by one node
//! at a time), removed on a 2xx, rescheduled with a doubled wait
//! otherwise, and dropped, logged, once it has failed for
//! `give_up_after`.

use super::WebhookSettings;
use super::delivery::{Delivery, now_ms};
use super::signature::{self, DELIVERY_HEADER};
use super::target;
use crate::checks::mail_server::certificate::Roots;
use crate::dns::{Answer, Dns, addresses, answer};
use crate::store::Store;
use mail_auth::hickory_resolver::proto::rr::RecordType;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// How much of a receiver's answer is read (and thrown away).
const MAX_ANSWER: usize = 64 * 1024;
/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// How often the queue is looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);

/// What the worker's attempts share.
struct Outbox {
    store: Store,
    dns: Dns,
    settings: WebhookSettings,
    roots: Roots,
    /// Deliveries being attempted now. The queue is read and an attempt's
    /// outcome written under this lock, so a stale read never starts an
    /// attempt twice.
    in_flight: Mutex<HashSet<String>>,
}

/// Works through the queue until the process ends. `wake` is notified
/// when a delivery is queued.
pub async fn deliver_forever(store: Store, dns: Dns, settings: WebhookSettings, wake: Arc<Notify>) {
    let outbox = Arc::new(Outbox {
        store,
        dns,
        roots: Roots::load(&[]).unwrap_or_else(|_| Roots::none()),
        settings,
        in_flight: Mutex::default(),
    });
    loop {
        let next = start_due(&outbox);
        let wait = next.map_or(POLL, |at| {
            Duration::from_millis(at.saturating_sub(now_ms()))
        });
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait.min(POLL)) => {}
        }
    }
}

/// Starts an attempt for every delivery due; returns when the next one
/// not yet due is.
fn start_due(outbox: &Arc<Outbox>) -> Option<u64> {
    let mut in_flight = outbox
        .in_flight
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let queued = match outbox.store.deliveries() {
        Ok(queued) => queued,
        Err(e) => {
            tracing::warn!(error = %e, "webhook queue unreadable; trying again");
            return None;
        }
    };
    let now = now_ms();
    let mut next = None::<u64>;
    for delivery in queued.iter().filter_map(|bytes| readable(bytes)) {
        if in_flight.contains(&delivery.id) {
            continue;
        }
        if delivery.due_at > now {
            next = Some(next.map_or(delivery.due_at, |n| n.min(delivery.due_at)));
            continue;
        }
        let hold = outbox.settings.timeout * 2;
        if !outbox
            .store
            .claim_delivery(&delivery.id, hold)
            .unwrap_or(false)
        {
            continue;
        }
        in_flight.insert(delivery.id.clone());
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let outcome = post(&outbox, &delivery).await;
            settle(&outbox, delivery, outcome);
        });
    }
    next
}

/// A queued delivery this build can send. One it cannot read (written by a
/// newer build, or corrupt) stays queued as it is, and is named in the log
/// once per process rather than at every pass over the queue.
fn readable(bytes: &[u8]) -> Option<Delivery> {
    static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    match Delivery::decode(bytes) {
        Ok(delivery) => Some(delivery),
        Err(e) => {
            if !TOLD.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(error = %e, "a queued webhook delivery is left as it is");
            }
            None
        }
    }
}

/// Writes an attempt's outcome to the queue.
fn settle(outbox: &Outbox, mut delivery: Delivery, outcome: Result<u16, String>) {
    let mut in_flight = outbox
        .in_flight
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    in_flight.remove(&delivery.id);
    let store = &outbox.store;
    let written = match outcome {
        Ok(status) => {
            tracing::info!(delivery = %delivery.id, status, attempts = delivery.attempts + 1, "webhook delivered");
            store.remove_delivery(&delivery.id)
        }
        Err(error) => {
            delivery.attempts += 1;
            let now = now_ms();
            let given_up = now.saturating_sub(delivery.queued_at)
                >= outbox.settings.give_up_after.as_millis() as u64;
            if given_up {
                tracing::error!(delivery = %delivery.id, url = %delivery.url, attempts = delivery.attempts, %error, "webhook given up");
                store.remove_delivery(&delivery.id)
            } else {
                let wait = backoff(outbox.settings.retry_base, delivery.attempts);
                tracing::warn!(delivery = %delivery.id, attempts = delivery.attempts, retry_in_ms = wait.as_millis() as u64, %error, "webhook not delivered");
                delivery.due_at = now + wait.as_millis() as u64;
                delivery.last_error = Some(error);
                store.put_delivery(&delivery.id, &delivery.encode())
            }
        }
    };
    if let Err(e) = written {
        tracing::error!(delivery = %delivery.id, error = %e, "webhook queue not updated");
    }
}

/// `base`, doubled after each failure after the first, at most an hour.
fn backoff(base: Duration, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    base.saturating_mul(1 << doublings).min(MAX_WAIT)
}

/// One attempt: the receiver's status when it is 2xx, else why not.
async fn post(outbox: &Outbox, delivery: &Delivery) -> Result<u16, String> {
    let settings = &outbox.settings;
    let url = target::check(&delivery.url, settings.allow_private)?;
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let address = resolve(&outbox.dns, &host, settings.allow_private).await?;
    let secret = settings.secret.as_deref().unwrap_or_default();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(outbox.roots.client_config())
        .resolve(&host, SocketAddr::new(address, port))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(settings.timeout)
        .timeout(settings.timeout)
        .user_agent(concat!("mailscore/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let mut response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            signature::HEADER,
            signature::sign(secret, delivery.body.as_bytes()),
        )
        .header(DELIVERY_HEADER, &delivery.id)
        .body(delivery.body.clone())
        .send()
        .await
        .map_err(|e| innermost(&e))?;
    let status = response.status();
    let mut read = 0;
    while read < MAX_ANSWER {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
    match status.is_success() {
        true => Ok(status.as_u16()),
        false => Err(format!("HTTP {status}")),
    }
}

/// The address to send to: the host's literal address, else the first of
/// its A (then AAAA) records, each refused in a private range.
async fn resolve(dns: &Dns, host: &str, allow_private: bool) -> Result<IpAddr, String> {
    if let Some(ip) = target::literal(host) {
        target::address_allowed(ip, allow_private)?;
        return Ok(ip);
    }
    for rtype in [RecordType::A, RecordType::AAAA] {
        let reply = dns.lookup(&format!("{host}."), rtype).await;
        match answer(&reply) {
            Answer::Records(lookup) => {
                let found = addresses(lookup);
                for ip in &found {
                    target::address_allowed(*ip, allow_private)?;
                }
                if let Some(ip) = found.first() {
                    return Ok(*ip);
                }
            }
            Answer::NoRecords => {}
            Answer::Failed(error) => return Err(format!("{host}: {error}")),
        }
    }
    Err(format!("{host} has no address"))
}

/// The innermost cause: "connection refused" says more than "error
/// sending request".
fn innermost(error: &dyn std::error::Error) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_an_hour() {
        let base = Duration::from_secs(10);
        assert_eq!(backoff(base, 1), Duration::from_secs(10));
        assert_eq!(backoff(base, 2), Duration::from_secs(20));
        assert_eq!(backoff(base, 4), Duration::from_secs(80));
        assert_eq!(backoff(base, 30), MAX_WAIT);
    }
}
