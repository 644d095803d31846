//! Our side of an SMTP conversation with the sender's mail exchanger: read
//! what it says within bounds, say one command at a time. The peer is a
//! stranger's server: every reply line is length-limited, every reply has
//! a line limit, every read and write a deadline, and what it says is kept
//! only as bounded, printable text.

use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// A reply line longer than this is not SMTP (RFC 5321 §4.5.3.1.5 allows
/// 512 octets); the conversation ends there.
pub const MAX_LINE: usize = 2048;
/// A reply of more lines than this is not SMTP either (an endless
/// multiline reply).
pub const MAX_LINES: usize = 100;
/// What the report keeps of a reply's text.
const KEPT_TEXT: usize = 300;

/// One complete reply: its code and its lines' text, joined by newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// "250 2.1.5 Ok", as the report shows it: code and first line.
    pub fn summary(&self) -> String {
        let first = self.lines.first().map(String::as_str).unwrap_or("");
        kept(&format!("{} {first}", self.code))
    }
}

/// Why a conversation ended early, in words for the report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogueError {
    #[error("timed out after {0} s waiting for {1}")]
    Timeout(u64, &'static str),
    #[error("closed the connection during {0}")]
    Closed(&'static str),
    #[error("not SMTP during {0}: {1}")]
    Garbage(&'static str, String),
    #[error("{0}")]
    Io(String),
}

/// An SMTP conversation over `S` (TCP, then TLS).
pub struct Dialogue<S> {
    pub stream: BufReader<S>,
    step: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Dialogue<S> {
    pub fn new(stream: S, step: Duration) -> Dialogue<S> {
        Dialogue {
            stream: BufReader::with_capacity(4096, stream),
            step,
        }
    }

    /// Sends `command` (without CRLF) and reads the reply.
    pub async fn command(
        &mut self,
        command: &str,
        what: &'static str,
    ) -> Result<Reply, DialogueError> {
        let line = format!("{command}\r\n");
        let write = async {
            self.stream.get_mut().write_all(line.as_bytes()).await?;
            self.stream.get_mut().flush().await
        };
        match tokio::time::timeout(self.step, write).await {
            Err(_) => return Err(DialogueError::Timeout(self.step.as_secs(), what)),
            Ok(Err(e)) => return Err(DialogueError::Io(format!("sending {what}: {e}"))),
            Ok(Ok(())) => {}
        }
        self.reply(what).await
    }

    /// Reads one whole reply within the step's deadline.
    pub async fn reply(&mut self, what: &'static str) -> Result<Reply, DialogueError> {
        match tokio::time::timeout(self.step, read_reply(&mut self.stream, what)).await {
            Ok(reply) => reply,
            Err(_) => Err(DialogueError::Timeout(self.step.as_secs(), what)),
        }
    }

    /// The stream, for the TLS handshake; an error when the server sent
    /// something after its reply to STARTTLS (it would be read as if it
    /// came over TLS: the STARTTLS command-injection flaw, CVE-2011-0411).
    pub fn into_inner(self) -> Result<S, DialogueError> {
        if !self.stream.buffer().is_empty() {
            return Err(DialogueError::Garbage(
                "STARTTLS",
                "sent data after its 220 before the TLS handshake".into(),
            ));
        }
        Ok(self.stream.into_inner())
    }

    pub fn step(&self) -> Duration {
        self.step
    }
}

async fn read_reply<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    what: &'static str,
) -> Result<Reply, DialogueError> {
    let mut lines = Vec::new();
    let mut code = None;
    loop {
        let line = read_line(reader, what).await?;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let bytes = text.as_bytes();
        let this_code = text
            .get(..3)
            .filter(|digits| bytes.len() >= 3 && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u16>().ok())
            .filter(|c| (200..600).contains(c));
        let Some(this_code) = this_code else {
            return Err(DialogueError::Garbage(what, kept(text)));
        };
        if code.is_some_and(|c| c != this_code) {
            return Err(DialogueError::Garbage(
                what,
                format!("a reply whose lines change code: {}", kept(text)),
            ));
        }
        code = Some(this_code);
        let more = match bytes.get(3) {
            None | Some(b' ') => false,
            Some(b'-') => true,
            Some(_) => return Err(DialogueError::Garbage(what, kept(text))),
        };
        lines.push(kept(text.get(4..).unwrap_or("")));
        if !more {
            return Ok(Reply {
                code: this_code,
                lines,
            });
        }
        if lines.len() >= MAX_LINES {
            return Err(DialogueError::Garbage(
                what,
                format!("a reply of more than {MAX_LINES} lines"),
            ));
        }
    }
}

/// One line, through its LF, refusing to buffer more than [`MAX_LINE`].
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    what: &'static str,
) -> Result<Vec<u8>, DialogueError> {
    let mut line = Vec::new();
    loop {
        let available = reader
            .fill_buf()
            .await
            .map_err(|e| DialogueError::Io(format!("reading {what}: {e}")))?;
        if available.is_empty() {
            return Err(DialogueError::Closed(what));
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        if line.len() + taken > MAX_LINE {
            return Err(DialogueError::Garbage(
                what,
                format!("a reply line longer than {MAX_LINE} bytes"),
            ));
        }
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if done {
            return Ok(line);
        }
    }
}

/// `text` with control characters replaced and cut to [`KEPT_TEXT`]
/// characters: what a report may hold of a stranger's words.
pub fn kept(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(KEPT_TEXT)
        .collect();
    if text.chars().count() > KEPT_TEXT {
        out.push('…');
    }
    out
}

/// The EHLO keywords of a reply (its lines after the greeting), upper-case.
pub fn extensions(ehlo: &Reply) -> Vec<String> {
    ehlo.lines
        .iter()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .map(|keyword| keyword.to_ascii_uppercase())
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(input: &[u8]) -> Result<Reply, DialogueError> {
        let mut reader = BufReader::new(input);
        read_reply(&mut reader, "the test").await
    }

    #[tokio::test]
    async fn replies_are_read_whole_and_bounded() {
        let reply = parse(b"250-mx.example\r\n250-STARTTLS\r\n250 SIZE 100\r\n")
            .await
            .unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(extensions(&reply), ["STARTTLS", "SIZE"]);
        assert_eq!(parse(b"220 hi\n").await.unwrap().summary(), "220 hi");

        let endless = "250-x\r\n".repeat(MAX_LINES + 5);
        assert!(matches!(
            parse(endless.as_bytes()).await,
            Err(DialogueError::Garbage(..))
        ));
        let long = format!("220 {}\r\n", "x".repeat(MAX_LINE));
        assert!(matches!(
            parse(long.as_bytes()).await,
            Err(DialogueError::Garbage(..))
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 400 Bad\r\n").await,
            Err(DialogueError::Garbage(..))
        ));
        assert!(matches!(
            parse(b"250-a\r\n251 b\r\n").await,
            Err(DialogueError::Garbage(..))
        ));
        assert_eq!(
            parse(b"220-a").await,
            Err(DialogueError::Closed("the test"))
        );
        assert_eq!(kept("a\x1b[31mb"), "a\u{fffd}[31mb");
    }
}
