//! The DATA phase: undo dot-stuffing, find the terminating `<CRLF>.<CRLF>`,
//! and refuse to hold more than the size limit in memory.

use smtp_proto::request::receiver::DataReceiver;
use std::slice::Iter;

/// Collects one message body after `354`, across as many reads as it takes.
///
/// The session feeds it each read; it consumes bytes up to and including the
/// terminating dot and leaves the rest (a pipelined next command) in the
/// iterator. A message over the cap is not kept: the body is still read to its
/// end so the connection stays in step, but the bytes are thrown away as they
/// arrive, so memory never grows past the cap plus one read.
pub(super) struct DataReader {
    receiver: DataReceiver,
    /// The sink `DataReceiver` writes into. It must be a single `Vec` for the
    /// whole message: at the end the receiver pops the `\r` it pushed before
    /// the final `\n`.
    message: Vec<u8>,
    max_size: usize,
    oversize: bool,
}

/// What a finished DATA phase produced.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Body {
    /// The unstuffed message, exactly as sent otherwise.
    Complete(Vec<u8>),
    /// The message passed the size limit and was discarded.
    TooBig,
}

impl DataReader {
    pub(super) fn new(max_size: usize) -> DataReader {
        let mut receiver = DataReceiver::new();
        // `DataReceiver` starts as if mid-line, so a first line of `..x` would
        // stay stuffed and a lone `.` (an empty message) would never end the
        // body. Feeding it the CRLF that ended the DATA command puts it at the
        // start of a line; what it writes for that CRLF is dropped.
        let mut scratch = Vec::new();
        receiver.ingest(&mut b"\r\n".iter(), &mut scratch);
        DataReader {
            receiver,
            message: Vec::new(),
            max_size,
            oversize: false,
        }
    }

    /// Consumes body bytes; returns the body once its terminating dot is seen,
    /// or `None` if it needs more input (then `bytes` is fully consumed).
    pub(super) fn ingest(&mut self, bytes: &mut Iter<'_, u8>) -> Option<Body> {
        let done = self.receiver.ingest(bytes, &mut self.message);
        // Mid-body the sink may hold one `\r` that the terminator will pop.
        let limit = if done {
            self.max_size
        } else {
            self.max_size.saturating_add(1)
        };
        if self.message.len() > limit {
            self.message = Vec::new();
            self.oversize = true;
        }
        if !done {
            return None;
        }
        Some(if self.oversize {
            Body::TooBig
        } else {
            Body::Complete(std::mem::take(&mut self.message))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` in order; returns the body and the bytes left over.
    fn read(max_size: usize, chunks: &[&[u8]]) -> Option<(Body, Vec<u8>)> {
        let mut reader = DataReader::new(max_size);
        for chunk in chunks {
            let mut bytes = chunk.iter();
            if let Some(body) = reader.ingest(&mut bytes) {
                return Some((body, bytes.as_slice().to_vec()));
            }
        }
        None
    }

    #[test]
    fn unstuffs_first_and_middle_lines() {
        let (body, rest) = read(100, &[b"..first\r\nmid\r\n..dot\r\n.\r\nQUIT\r\n"]).unwrap();
        assert_eq!(body, Body::Complete(b".first\r\nmid\r\n.dot\r\n".to_vec()));
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn lone_dot_is_an_empty_message() {
        let (body, rest) = read(100, &[b".\r\n"]).unwrap();
        assert_eq!(body, Body::Complete(Vec::new()));
        assert!(rest.is_empty());
    }

    #[test]
    fn terminator_split_across_reads() {
        let (body, _) = read(100, &[b"a\r", b"\n.", b"\r", b"\n"]).unwrap();
        assert_eq!(body, Body::Complete(b"a\r\n".to_vec()));
    }

    #[test]
    fn oversize_body_is_dropped_but_read_to_the_end() {
        let (body, rest) = read(4, &[b"12345", b"678\r\n.\r\nNOOP\r\n"]).unwrap();
        assert_eq!(body, Body::TooBig);
        assert_eq!(rest, b"NOOP\r\n");
    }

    #[test]
    fn body_exactly_at_the_cap_is_kept() {
        let (body, _) = read(5, &[b"abc\r\n.\r", b"\n"]).unwrap();
        assert_eq!(body, Body::Complete(b"abc\r\n".to_vec()));
        let (body, _) = read(5, &[b"abcd\r\n.\r\n"]).unwrap();
        assert_eq!(body, Body::TooBig);
    }
}
