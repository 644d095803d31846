//! CHUNKING (RFC 3030): `BDAT <size> [LAST]` followed by exactly that many
//! octets, no dot-stuffing, no terminator. Exchange and Postfix send this
//! way when it is offered. The same limits as DATA hold (size, header
//! lines, the whole-body deadline) and the message is delivered, durable,
//! before the `250` to the LAST chunk, as after DATA's dot.

use super::data::{Body, HeaderLines};

/// The chunks of one message so far, from its first BDAT to LAST.
pub(super) struct Chunks {
    message: Vec<u8>,
    max_size: usize,
    header: HeaderLines,
    /// Why the message is being discarded, once it is.
    refused: Option<Body>,
}

impl Chunks {
    pub(super) fn new(max_size: usize, max_header_lines: usize) -> Chunks {
        Chunks {
            message: Vec::new(),
            max_size,
            header: HeaderLines::new(max_header_lines),
            refused: None,
        }
    }

    /// Appends chunk bytes; past a limit the message is dropped, so memory
    /// never grows past the size cap plus one read.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        if self.refused.is_some() {
            return;
        }
        if !self.header.ended() && self.header.scan(bytes) {
            self.refused = Some(Body::TooManyHeaderLines);
        } else if self.message.len() + bytes.len() > self.max_size {
            self.refused = Some(Body::TooBig);
        } else {
            self.message.extend_from_slice(bytes);
            return;
        }
        self.message = Vec::new();
    }

    /// A limit was passed: the message is refused at the end of this chunk.
    pub(super) fn is_refused(&self) -> bool {
        self.refused.is_some()
    }

    pub(super) fn finish(self) -> Body {
        self.refused.unwrap_or(Body::Complete(self.message))
    }
}

/// One BDAT chunk being read.
pub(super) struct Chunk {
    /// Octets of it still to come.
    pub remaining: usize,
    /// `BDAT … LAST`: the message ends with it.
    pub last: bool,
    /// Its octets, read and dropped, get this reply instead of being kept
    /// (no transaction, no recipient): RFC 3030 §2 has the server read a
    /// refused chunk all the same, to stay in step with the client.
    pub refused: Option<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_join_exactly_as_sent() {
        let mut chunks = Chunks::new(100, 10);
        chunks.push(b"Subject: x\r\n\r\n.");
        chunks.push(b"\r\n.\r\nend");
        assert_eq!(
            chunks.finish(),
            Body::Complete(b"Subject: x\r\n\r\n.\r\n.\r\nend".to_vec())
        );
    }

    #[test]
    fn limits_drop_the_message() {
        let mut big = Chunks::new(10, 10);
        big.push(b"Subject: 1234567890");
        assert!(big.is_refused());
        big.push(b"more");
        assert_eq!(big.finish(), Body::TooBig);
        let mut long = Chunks::new(1000, 2);
        long.push(b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n");
        assert_eq!(long.finish(), Body::TooManyHeaderLines);
    }
}
