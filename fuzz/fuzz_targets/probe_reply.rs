//! What a stranger's mail server says to the probe, through the probe's SMTP
//! reply reader (`checks::mail_server::dialogue`).
//!
//! The first byte sets how the rest arrives: 0 as reads of up to 16 KiB,
//! any other `n` as reads of exactly `n` bytes, so lines and CRLFs get split
//! at every offset. The stream is in memory and always ready, so the step
//! deadline never fires. Replies are read until the reader gives up (the
//! server closed, or said something that is not SMTP).
//!
//! Asserted, besides "no panic": every reply has a code in 200..600 and 1 to
//! `MAX_LINES` lines; the bytes it was read from are exactly that many lines,
//! each at most `MAX_LINE` bytes with the reply's code in front; every kept
//! text (lines, summary, error words) has no control characters and is at
//! most 300 characters and an ellipsis; the EHLO keywords are at most 40,
//! non-empty, ASCII upper-case and without whitespace.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailscore::checks::mail_server::dialogue::{
    Dialogue, DialogueError, MAX_LINE, MAX_LINES, extensions, kept,
};
use std::io;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `dialogue::KEPT_TEXT` (private): what the report keeps of a text.
const KEPT_TEXT: usize = 300;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime builds")
});

/// The server's side: hands out `input` `chunk` bytes per read, then end of
/// file; counts what it handed out; swallows what the probe writes.
struct Server<'a> {
    input: &'a [u8],
    chunk: usize,
    handed: usize,
}

impl AsyncRead for Server<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.input.len().min(self.chunk).min(buf.remaining());
        let (now, later) = self.input.split_at(n);
        buf.put_slice(now);
        self.input = later;
        self.handed += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Server<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Report-safe: no control characters, at most `KEPT_TEXT` characters and
/// an ellipsis.
fn assert_kept(text: &str) {
    assert!(
        !text.chars().any(char::is_control),
        "control character kept: {text:?}"
    );
    let count = text.chars().count();
    assert!(
        count <= KEPT_TEXT || (count == KEPT_TEXT + 1 && text.ends_with('…')),
        "{count} characters kept"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let chunk = if first == 0 {
        usize::MAX
    } else {
        usize::from(first)
    };
    let server = Server {
        input,
        chunk,
        handed: 0,
    };
    let mut dialogue = Dialogue::new(server, Duration::from_secs(5));
    let mut at = 0;
    RUNTIME.block_on(async {
        loop {
            let reply = match dialogue.reply("the fuzz").await {
                Ok(reply) => reply,
                Err(error) => {
                    if let DialogueError::Garbage(_, words) = &error {
                        assert!(!words.chars().any(char::is_control), "{words:?}");
                    }
                    assert!(!matches!(error, DialogueError::Timeout(..)), "{error}");
                    break;
                }
            };
            assert!((200..600).contains(&reply.code), "code {}", reply.code);
            assert!(
                !reply.lines.is_empty() && reply.lines.len() <= MAX_LINES,
                "{} lines",
                reply.lines.len()
            );
            for line in &reply.lines {
                assert_kept(line);
            }
            assert_kept(&reply.summary());
            let keywords = extensions(&reply);
            assert!(keywords.len() <= 40);
            for keyword in &keywords {
                assert!(!keyword.is_empty() && !keyword.contains(char::is_whitespace));
                assert_eq!(*keyword, keyword.to_ascii_uppercase());
            }

            // The bytes this reply was read from.
            let now = dialogue.stream.get_ref().handed - dialogue.stream.buffer().len();
            let read = &input[at..now];
            at = now;
            let raw: Vec<&[u8]> = read.split_inclusive(|&b| b == b'\n').collect();
            assert_eq!(raw.len(), reply.lines.len(), "lines read vs kept");
            let code = reply.code.to_string();
            for line in raw {
                assert!(line.len() <= MAX_LINE, "a line of {} bytes", line.len());
                assert!(line.ends_with(b"\n") && line.starts_with(code.as_bytes()));
            }
        }
    });
    // What the probe keeps of anything at all.
    if let Ok(text) = std::str::from_utf8(input) {
        assert_kept(&kept(text));
    }
});
