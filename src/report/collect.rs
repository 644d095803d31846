//! Collecting the texts no report names any more. Reports name their
//! explanations and the probe's JSON by hash ([`stored`](super::stored));
//! the texts were kept for ever, and the probe's, one per distinct result,
//! grow with every new sender domain. Each retention sweep marks the
//! hashes the kept reports name and drops a text that was unnamed at this
//! sweep and the one before (ten minutes apart): a text saved for a report
//! being written right now is named by the time of the next sweep, and the
//! analysis forgets that it saved a text after five minutes, so it saves it
//! again rather than trust a text that may have gone.
//!
//! sled and SQLite only ([`TextGc`]): Redis's texts are shared by nodes
//! whose caches this process cannot reach, so Redis expires them instead,
//! a retention and ten minutes after their last save (`store::redis_store`).

use super::stored;
use crate::store::{StoreError, TextGc};
use std::collections::HashSet;

/// Unnamed texts found by the last sweep: dropped if still unnamed at the
/// next one.
#[derive(Debug, Default)]
pub struct Candidates(HashSet<u64>);

impl Candidates {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One sweep over `store`: returns how many texts were dropped.
pub fn collect_texts(store: &dyn TextGc, candidates: &mut Candidates) -> Result<usize, StoreError> {
    let mut named = HashSet::new();
    store.for_each_report(&mut |report| named.extend(stored::referenced_texts(report)))?;
    let unnamed: HashSet<u64> = store
        .text_hashes()?
        .into_iter()
        .filter(|hash| !named.contains(hash))
        .collect();
    let (drop, keep): (Vec<u64>, Vec<u64>) = unnamed
        .into_iter()
        .partition(|hash| candidates.0.contains(hash));
    store.remove_texts(&drop)?;
    candidates.0 = keep.into_iter().collect();
    Ok(drop.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    /// A stored report (format 1) naming the texts `hashes`.
    fn report_naming(hashes: &[u64]) -> Vec<u8> {
        let head = b"{\"id\":\"x\",\"deductions\":";
        let mut bytes = vec![0x01];
        bytes.extend_from_slice(&(head.len() as u32).to_le_bytes());
        bytes.extend_from_slice(head);
        let entries: Vec<(&str, &str, f64, u64)> =
            hashes.iter().map(|h| ("RULE", "spf", 1.0, *h)).collect();
        bytes.extend(serde_json::to_vec(&entries).unwrap());
        bytes
    }

    #[test]
    fn a_text_goes_after_two_sweeps_unnamed_and_a_named_one_stays() {
        let dir = std::env::temp_dir().join(format!(
            "mailscore-collect-{}-{}",
            std::process::id(),
            crate::test_id::generate()
        ));
        let store = SledStore::open(&dir).unwrap();
        let envelope = crate::store::test_envelope();
        let seq = store.put_message("kept", &envelope, b"m").unwrap();
        assert!(
            store
                .put_report("kept", seq, &report_naming(&[1, 2]))
                .unwrap()
        );
        for hash in [1, 2, 3] {
            store.put_texts(hash, b"{}").unwrap();
        }
        let mut candidates = Candidates::default();
        assert_eq!(collect_texts(&store, &mut candidates).unwrap(), 0);
        assert_eq!(candidates.len(), 1, "3 is unnamed, once");
        assert_eq!(collect_texts(&store, &mut candidates).unwrap(), 1);
        assert!(store.texts(3).unwrap().is_none());
        assert!(store.texts(1).unwrap().is_some() && store.texts(2).unwrap().is_some());

        // Once its report is swept, the named ones go too (two sweeps on).
        store.remove_received_before(u64::MAX).unwrap();
        assert_eq!(collect_texts(&store, &mut candidates).unwrap(), 0);
        assert_eq!(collect_texts(&store, &mut candidates).unwrap(), 2);
        assert!(store.text_hashes().unwrap().is_empty());
        assert!(candidates.is_empty());
        drop(store);
        std::fs::remove_dir_all(dir).ok();
    }
}
