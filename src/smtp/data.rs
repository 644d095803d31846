//! The DATA phase: undo dot-stuffing, find the terminating `<CRLF>.<CRLF>`,
//! and refuse to hold more than the size limit in memory, or a header longer
//! than the header-line limit.

use smtp_proto::request::receiver::DataReceiver;
use std::slice::Iter;

/// Collects one message body after `354`, across as many reads as it takes.
///
/// The session feeds it each read; it consumes bytes up to and including the
/// terminating dot and leaves the rest (a pipelined next command) in the
/// iterator. A message over a limit is not kept: the body is still read to its
/// end so the connection stays in step, but the bytes are thrown away as they
/// arrive, so memory never grows past the size cap plus one read.
pub(super) struct DataReader {
    receiver: DataReceiver,
    /// The sink `DataReceiver` writes into. It must be a single `Vec` for the
    /// whole message: at the end the receiver pops the `\r` it pushed before
    /// the final `\n`.
    message: Vec<u8>,
    max_size: usize,
    header: HeaderLines,
    /// Why the message is being discarded, once it is.
    refused: Option<Body>,
}

/// What a finished DATA phase produced.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Body {
    /// The unstuffed message, exactly as sent otherwise.
    Complete(Vec<u8>),
    /// The message passed the size limit and was discarded.
    TooBig,
    /// The header had more lines than allowed; the message was discarded.
    TooManyHeaderLines,
}

/// Counts header lines (folded continuations included) as the body streams
/// in, until the empty line that ends the header.
pub(super) struct HeaderLines {
    max: usize,
    counted: usize,
    /// No byte but `\r` seen on the current line yet.
    line_empty: bool,
    ended: bool,
}

impl HeaderLines {
    /// A count that refuses more than `max` lines.
    pub(super) fn new(max: usize) -> HeaderLines {
        HeaderLines {
            max,
            counted: 0,
            line_empty: true,
            ended: false,
        }
    }

    /// The empty line that ends the header has been seen.
    pub(super) fn ended(&self) -> bool {
        self.ended
    }

    /// Counts the lines in `bytes`; true once there are more than `max`.
    pub(super) fn scan(&mut self, bytes: &[u8]) -> bool {
        for &byte in bytes {
            if self.ended {
                break;
            }
            match byte {
                b'\n' if self.line_empty => self.ended = true,
                b'\n' => {
                    self.counted += 1;
                    self.line_empty = true;
                }
                b'\r' => {}
                _ => self.line_empty = false,
            }
        }
        self.counted > self.max
    }
}

impl DataReader {
    /// A reader keeping at most `max_size` bytes and `max_header_lines`
    /// lines before the empty line that ends the header.
    pub(super) fn new(max_size: usize, max_header_lines: usize) -> DataReader {
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
            header: HeaderLines::new(max_header_lines),
            refused: None,
        }
    }

    /// Consumes body bytes; returns the body once its terminating dot is seen,
    /// or `None` if it needs more input (then `bytes` is fully consumed).
    pub(super) fn ingest(&mut self, bytes: &mut Iter<'_, u8>) -> Option<Body> {
        let before = self.message.len();
        let done = self.receiver.ingest(bytes, &mut self.message);
        // The receiver may have popped a `\r` written by an earlier read, so
        // the message can be one byte shorter than before.
        let added = self.message.get(before..).unwrap_or_default();
        if self.refused.is_none() && !self.header.ended && self.header.scan(added) {
            self.refused = Some(Body::TooManyHeaderLines);
        }
        // Mid-body the sink may hold one `\r` that the terminator will pop.
        let limit = if done {
            self.max_size
        } else {
            self.max_size.saturating_add(1)
        };
        if self.refused.is_none() && self.message.len() > limit {
            self.refused = Some(Body::TooBig);
        }
        if self.refused.is_some() {
            self.message = Vec::new();
        }
        if !done {
            return None;
        }
        Some(match self.refused.take() {
            Some(refusal) => refusal,
            None => Body::Complete(std::mem::take(&mut self.message)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` in order; returns the body and the bytes left over.
    fn read(max_size: usize, chunks: &[&[u8]]) -> Option<(Body, Vec<u8>)> {
        read_with(max_size, 1000, chunks)
    }

    fn read_with(
        max_size: usize,
        max_header_lines: usize,
        chunks: &[&[u8]],
    ) -> Option<(Body, Vec<u8>)> {
        let mut reader = DataReader::new(max_size, max_header_lines);
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

    #[test]
    fn header_over_the_line_limit_is_refused_but_read_to_the_end() {
        let header = "X-Filler: x\r\n".repeat(4);
        let message = format!("{header}\r\nbody\r\n.\r\nNOOP\r\n");
        let (body, rest) = read_with(100, 3, &[message.as_bytes()]).unwrap();
        assert_eq!(body, Body::TooManyHeaderLines);
        assert_eq!(rest, b"NOOP\r\n");
    }

    #[test]
    fn header_lines_are_counted_across_reads_and_folds() {
        // Three lines, one of them a folded continuation, split mid-line.
        let chunks: [&[u8]; 3] = [b"A: 1\r\nB: 2\r", b"\n  folded\r\n", b"C: 3\r\n\r\n.\r\n"];
        assert_eq!(
            read_with(100, 3, &chunks).unwrap().0,
            Body::TooManyHeaderLines
        );
        let (body, _) = read_with(100, 4, &chunks).unwrap();
        assert_eq!(
            body,
            Body::Complete(b"A: 1\r\nB: 2\r\n  folded\r\nC: 3\r\n\r\n".to_vec())
        );
    }

    #[test]
    fn body_lines_after_the_empty_line_are_not_header_lines() {
        let message = format!("A: 1\r\n\r\n{}.\r\n", "line\r\n".repeat(10));
        let (body, _) = read_with(1000, 1, &[message.as_bytes()]).unwrap();
        assert!(matches!(body, Body::Complete(_)), "{body:?}");
    }
}
