//! Every finished send to an address, not only the latest: each saved
//! report is also appended to the address's history, so that a user who
//! fixed something and sent again can see what changed. Both stores keep
//! the entries in this one format, oldest first, at most [`MAX_SENDS`] per
//! address (a flood to one address cannot grow it without bound), and drop
//! them with the retention like everything else.

use std::time::{SystemTime, UNIX_EPOCH};

/// Sends kept per address; older ones go first.
pub const MAX_SENDS: usize = 50;

/// One finished send: the report of message `seq`, saved at `saved_at`
/// (Unix seconds), in the store's compact form
/// ([`crate::report::stored`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub seq: u64,
    pub saved_at: u64,
    pub report: Vec<u8>,
}

/// `seq` and `saved_at` (8 bytes each, big-endian), then the report.
pub(super) fn encode(seq: u64, saved_at: u64, report: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(16 + report.len());
    value.extend_from_slice(&seq.to_be_bytes());
    value.extend_from_slice(&saved_at.to_be_bytes());
    value.extend_from_slice(report);
    value
}

pub(super) fn decode(value: &[u8]) -> Option<Send> {
    let (seq, rest) = value.split_first_chunk::<8>()?;
    let (saved_at, report) = rest.split_first_chunk::<8>()?;
    Some(Send {
        seq: u64::from_be_bytes(*seq),
        saved_at: u64::from_be_bytes(*saved_at),
        report: report.to_vec(),
    })
}

/// `saved_at` of an encoded entry, without copying its report.
pub(super) fn saved_at(value: &[u8]) -> u64 {
    value
        .get(8..16)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_back_as_written() {
        let value = encode(7, 1_700_000_000, b"{\"score\":9}");
        assert_eq!(saved_at(&value), 1_700_000_000);
        let send = decode(&value).unwrap();
        assert_eq!((send.seq, send.saved_at), (7, 1_700_000_000));
        assert_eq!(send.report, b"{\"score\":9}");
        assert_eq!(decode(b"short"), None);
    }
}
