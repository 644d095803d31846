//! The zone apex of a domain, remembered for a while.
//!
//! Finding it takes an SOA query. For a domain below its zone's apex
//! (`news.brand.example`), the answer is NODATA with the apex's SOA in the
//! authority section, which the resolver's cache did not keep: every
//! message from such a sender asked again, one round trip each. Apexes
//! move rarely, so a short memory here is safe; failures are not kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an apex is trusted without asking again.
const KEEP_FOR: Duration = Duration::from_secs(300);

/// Most domains remembered; past it the memory starts over, so a flood of
/// distinct sender domains cannot grow it without bound.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub struct ZoneApexes {
    known: Mutex<HashMap<String, (String, Instant)>>,
}

impl ZoneApexes {
    /// The apex found for `domain` less than [`KEEP_FOR`] ago.
    pub fn get(&self, domain: &str) -> Option<String> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let (apex, found) = known.get(domain)?;
        (found.elapsed() < KEEP_FOR).then(|| apex.clone())
    }

    pub fn remember(&self, domain: &str, apex: &str) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= MAX_ENTRIES {
            known.clear();
        }
        known.insert(domain.to_string(), (apex.to_string(), Instant::now()));
    }
}

impl std::fmt::Debug for ZoneApexes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ZoneApexes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_full_then_starts_over() {
        let apexes = ZoneApexes::default();
        apexes.remember("news.brand.example", "brand.example");
        assert_eq!(
            apexes.get("news.brand.example").as_deref(),
            Some("brand.example")
        );
        assert_eq!(apexes.get("other.example"), None);
        for n in 0..MAX_ENTRIES {
            apexes.remember(&format!("d{n}.example"), "example");
        }
        assert_eq!(apexes.get("news.brand.example"), None);
        assert!(apexes.known.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
