//! Stored reports read back as the JSON the API serves: the store keeps a
//! report without its deductions' texts ([`crate::report::stored`]), and
//! this puts them back in from a cache of the store's texts. A report
//! someone waits for is read as soon as it is announced, before the
//! writer commits it ([`crate::store::announced`]).

use crate::report::{Report, stored};
use crate::store::announced::AnnouncedReport;
use crate::store::arrivals::Arrivals;
use crate::store::history::Send;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

/// One send of an address, with the one before it.
pub struct SendPair {
    pub count: usize,
    pub n: usize,
    pub report: Report,
    pub previous: Option<Report>,
}

impl SendPair {
    /// What changed since the previous send, if there was one.
    pub fn diff(&self) -> Option<crate::report::diff::ReportDiff> {
        let previous = self.previous.as_ref()?;
        Some(crate::report::diff::ReportDiff::between(
            (self.n - 1, previous),
            (self.n, &self.report),
        ))
    }
}

pub struct Reports {
    store: Store,
    /// Where reports are announced before their commit.
    arrivals: Arc<Arrivals>,
    /// By hash. Only texts the store had are kept, so its size is bounded
    /// by the explanations the rule tables ever had.
    texts: RwLock<HashMap<u64, Arc<[u8]>>>,
}

impl Reports {
    /// Reports of `store` alone: none is announced.
    pub fn new(store: Store) -> Reports {
        Reports::announced_by(store, Arc::default())
    }

    /// Reports of `store`, and those announced on `arrivals` before the
    /// store has them.
    pub fn announced_by(store: Store, arrivals: Arc<Arrivals>) -> Reports {
        Reports {
            store,
            arrivals,
            texts: RwLock::default(),
        }
    }

    /// The report for `id` as JSON, if there is one.
    pub fn json(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        // The announcement first: it leaves only once the store has it.
        if let Some(announced) = self.arrivals.announced(id) {
            return self.expand_announced(&announced).map(Some);
        }
        let Some(stored) = self.store.report(id)? else {
            return Ok(None);
        };
        self.expand(stored).map(Some)
    }

    pub fn report(&self, id: &str) -> Result<Option<Report>, StoreError> {
        let Some(json) = self.json(id)? else {
            return Ok(None);
        };
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Every send to `id` still kept, oldest first, as JSON. A report
    /// saved before the history existed is the one send.
    pub fn history_json(&self, id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let (sends, announced) = self.sends(id)?;
        if sends.is_empty() {
            return Ok(self.json(id)?.into_iter().collect());
        }
        sends
            .into_iter()
            .map(|send| self.expand_send(send, announced.as_deref()))
            .collect()
    }

    /// The sends of `id` in the store, oldest first, then the announced
    /// one if it is newer than them (with it, to expand its texts).
    fn sends(&self, id: &str) -> Result<(Vec<Send>, Option<Arc<AnnouncedReport>>), StoreError> {
        // The announcement first: it leaves only once the store has it.
        let announced = self.arrivals.announced(id);
        let mut sends = self.store.history(id)?;
        // Only after a send in the store: without one, the latest report
        // is the one send (see `history_json`), the announced one first.
        if let Some(announced) = &announced
            && sends.last().is_some_and(|last| last.seq < announced.seq)
        {
            sends.push(Send {
                seq: announced.seq,
                saved_at: announced.saved_at,
                report: announced.report.clone(),
            });
        }
        Ok((sends, announced))
    }

    /// Send `n` (1-based; the latest when None) of `id` with the send
    /// before it, and how many there are: what one score page shows. Only
    /// those two are expanded and parsed. None when there is no such send.
    pub fn send_and_previous(
        &self,
        id: &str,
        n: Option<usize>,
    ) -> Result<Option<SendPair>, StoreError> {
        let (mut sends, announced) = self.sends(id)?;
        if sends.is_empty() {
            // Saved before the history existed: the latest is the one send.
            return Ok(match (n, self.report(id)?) {
                (None | Some(1), Some(report)) => Some(SendPair {
                    count: 1,
                    n: 1,
                    report,
                    previous: None,
                }),
                _ => None,
            });
        }
        let count = sends.len();
        let n = n.unwrap_or(count);
        if n == 0 || n > count {
            return Ok(None);
        }
        let parse = |send: Send| -> Result<Report, StoreError> {
            let json = self.expand_send(send, announced.as_deref())?;
            serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        sends.truncate(n);
        let report = parse(sends.pop().expect("n >= 1"))?;
        let previous = sends.pop().map(parse).transpose()?;
        Ok(Some(SendPair {
            count,
            n,
            report,
            previous,
        }))
    }

    /// [`history_json`](Self::history_json), parsed.
    pub fn history(&self, id: &str) -> Result<Vec<Report>, StoreError> {
        self.history_json(id)?
            .iter()
            .map(|json| {
                serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// A stored report as its JSON; one a newer build stored is refused
    /// (and left as it is).
    fn expand(&self, stored: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        self.expand_with(stored, None)
    }

    /// A send as its JSON; the announced one's texts may not be in the
    /// store yet.
    fn expand_send(
        &self,
        send: Send,
        announced: Option<&AnnouncedReport>,
    ) -> Result<Vec<u8>, StoreError> {
        self.expand_with(send.report, announced.filter(|a| a.seq == send.seq))
    }

    fn expand_announced(&self, announced: &AnnouncedReport) -> Result<Vec<u8>, StoreError> {
        self.expand_with(announced.report.clone(), Some(announced))
    }

    /// [`expand`](Self::expand), looking for texts in `announced` first.
    fn expand_with(
        &self,
        stored: Vec<u8>,
        announced: Option<&AnnouncedReport>,
    ) -> Result<Vec<u8>, StoreError> {
        if let Some(format) = stored::newer_format(&stored) {
            return Err(StoreError::NewerFormat {
                record: "report",
                format: u32::from(format),
                readable: u32::from(stored::FORMAT),
            });
        }
        let texts = |hash| {
            announced
                .and_then(|a| a.text(hash))
                .map(Arc::from)
                .or_else(|| self.texts(hash))
        };
        stored::expand(stored, texts).map_err(StoreError::Corrupt)
    }

    fn texts(&self, hash: u64) -> Option<Arc<[u8]>> {
        let cached = self
            .texts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&hash)
            .cloned();
        if cached.is_some() {
            return cached;
        }
        let texts: Arc<[u8]> = match self.store.texts(hash) {
            Ok(Some(texts)) => texts.into(),
            Ok(None) => {
                tracing::warn!(hash, "a report names texts the store does not have");
                return None;
            }
            Err(e) => {
                tracing::warn!(hash, error = %e, "could not read a report's texts");
                return None;
            }
        };
        self.texts
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(hash, texts.clone());
        Some(texts)
    }
}
