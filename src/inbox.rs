//! Where the SMTP listener delivers: each message is stored once per test
//! id among its recipients (durably, before the 250), then its ids are
//! queued for [`analysis`](crate::analysis), with the message in memory
//! when it fits the queue's budget ([`handed`]). Nothing here reads a
//! message.

use crate::analysis::Queued;
use crate::analysis::handed::{self, Handed};
use crate::metrics::Metrics;
use crate::smtp::{Delivery, DeliveryError, DeliveryFuture, Envelope};
use crate::store::free_space::FreeSpace;
use crate::store::{Store, Writer};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The listener's delivery target: one stored copy per recipient id.
pub struct Inbox {
    pub store: Store,
    /// Batches the sessions' writes under one flush.
    pub writer: Writer,
    pub domain: String,
    pub queue: mpsc::UnboundedSender<Queued>,
    pub metrics: Arc<Metrics>,
    /// The reserve kept free on the data directory's disk (sled); None
    /// for a shared store, which is not on our disk.
    pub free_space: Option<FreeSpace>,
}

impl Inbox {
    /// The test ids among the recipients: the local parts at our domain.
    fn ids(&self, envelope: &Envelope) -> Vec<String> {
        envelope
            .rcpt_to
            .iter()
            .filter_map(|rcpt| rcpt.rsplit_once('@'))
            .filter(|(_, domain)| domain.eq_ignore_ascii_case(&self.domain))
            .map(|(local, _)| local.to_string())
            .collect()
    }

    /// Queues stored ids for analysis, each with its stored copy when the
    /// session hands it over (None: read back from the store).
    fn queue_analysis(&self, ids: Vec<String>, copies: Vec<Option<Handed>>) {
        let copies = copies.into_iter().chain(std::iter::repeat_with(|| None));
        for (id, handed) in ids.into_iter().zip(copies) {
            // Counted before sending: the analyzer may take the id (and count
            // it down) before `send` returns, and the gauge saturates at 0.
            self.metrics.analysis_queued();
            // The analyzer only stops at shutdown; the message is on disk and
            // will be picked up as pending at the next start.
            if self.queue.send(Queued::handed(id, handed)).is_err() {
                self.metrics.analysis_started();
                self.metrics.analysis_ended();
            }
        }
    }
}

impl Delivery for Inbox {
    fn deliver(&self, envelope: &Envelope, message: &[u8]) -> Result<(), DeliveryError> {
        let ids = self.ids(envelope);
        for id in &ids {
            self.store
                .put_message(id, envelope, message)
                .map_err(|e| DeliveryError(e.to_string()))?;
        }
        self.queue_analysis(ids, Vec::new());
        Ok(())
    }

    fn room_for(&self, size: u64) -> Result<(), String> {
        match &self.free_space {
            Some(free_space) => free_space.room_for(size).map_err(|s| s.to_string()),
            None => Ok(()),
        }
    }

    fn submit(self: Arc<Self>, envelope: Envelope, message: Vec<u8>) -> DeliveryFuture {
        Box::pin(async move {
            let ids = self.ids(&envelope);
            if ids.is_empty() {
                return Ok(());
            }
            let written = self
                .writer
                .write(ids.clone(), envelope, message)
                .await
                .map_err(DeliveryError)?;
            let copies = Handed::for_each_copy(
                &handed::BUDGET,
                &written.seqs,
                written.envelope,
                written.raw,
            );
            self.queue_analysis(ids, copies);
            Ok(())
        })
    }
}
