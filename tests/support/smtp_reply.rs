//! Reading SMTP replies in the async protocol tests, over any stream.
#![allow(dead_code)]

use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One reply; continuation lines (`250-`) are joined with `\n`. Panics when
/// the server closes first or says nothing for `timeout`.
pub async fn read_reply<R: AsyncBufRead + Unpin>(reader: &mut R, timeout: Duration) -> String {
    let mut reply = String::new();
    loop {
        let mut line = String::new();
        let read = tokio::time::timeout(timeout, reader.read_line(&mut line));
        let n = read.await.expect("reply in time").unwrap();
        assert!(n > 0, "connection closed; reply so far: {reply:?}");
        let line = line.strip_suffix("\r\n").expect("reply line ends in CRLF");
        reply.push_str(line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return reply;
        }
        reply.push('\n');
    }
}
