//! Stored reports read back as the JSON the API serves: the store keeps a
//! report without its deductions' texts ([`crate::report::stored`]), and
//! this puts them back in from a cache of the store's texts.

use crate::report::{Report, stored};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

pub struct Reports {
    store: Store,
    /// By hash. Only texts the store had are kept, so its size is bounded
    /// by the explanations the rule tables ever had.
    texts: RwLock<HashMap<u64, Arc<[u8]>>>,
}

impl Reports {
    pub fn new(store: Store) -> Reports {
        Reports {
            store,
            texts: RwLock::default(),
        }
    }

    /// The report for `id` as JSON, if there is one.
    pub fn json(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(stored) = self.store.report(id)? else {
            return Ok(None);
        };
        stored::expand(stored, |hash| self.texts(hash))
            .map(Some)
            .map_err(StoreError::Corrupt)
    }

    pub fn report(&self, id: &str) -> Result<Option<Report>, StoreError> {
        let Some(json) = self.json(id)? else {
            return Ok(None);
        };
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
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
