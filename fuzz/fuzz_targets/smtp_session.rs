//! One client's whole input to one plaintext SMTP session.
//!
//! The first byte sets how the rest arrives: 0 as reads of up to 16 KiB (what
//! a fast client gives), any other `n` as reads of exactly `n` bytes, so
//! commands, CRLFs and the terminating dot get split at every offset. The
//! stream is in memory and always ready, so no timeout ever fires and a run
//! takes microseconds; the server's replies are collected and checked.
//!
//! Asserted, besides "no panic": every reply line is a three-digit code and
//! ASCII text, and every delivered message got exactly one
//! `250 2.0.0 Message accepted` (nothing accepted is dropped, nothing dropped
//! is accepted) and is within the size limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailscore::smtp::{Delivery, DeliveryError, Envelope, SmtpLimits, SmtpSettings, serve_stream};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const MAX_MESSAGE_SIZE: usize = 4096;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime builds")
});

/// Keeps every delivered message in memory.
#[derive(Default)]
struct Memory(Mutex<Vec<(Envelope, Vec<u8>)>>);

impl Delivery for Memory {
    fn deliver(&self, envelope: &Envelope, message: &[u8]) -> Result<(), DeliveryError> {
        self.0
            .lock()
            .unwrap()
            .push((envelope.clone(), message.to_vec()));
        Ok(())
    }
}

/// The client side of the connection: hands out `input` `chunk` bytes per
/// read, then end of file; collects what the server writes.
struct Script<'a> {
    input: &'a [u8],
    chunk: usize,
    output: Vec<u8>,
}

impl AsyncRead for Script<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.input.len().min(self.chunk).min(buf.remaining());
        let (now, later) = self.input.split_at(n);
        buf.put_slice(now);
        self.input = later;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Script<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.output.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
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
    let settings = SmtpSettings {
        max_message_size: MAX_MESSAGE_SIZE,
        max_recipients: 3,
        ..SmtpSettings::new("test.example", "mx.test.example")
    };
    let limits = SmtpLimits {
        command_timeout: Duration::from_millis(200),
        data_timeout: Duration::from_millis(500),
        max_errors: 20,
        max_header_lines: 50,
        ..SmtpLimits::default()
    };
    let memory = Arc::new(Memory::default());
    let mut script = Script {
        input,
        chunk,
        output: Vec::new(),
    };
    let peer = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 25), 40000));
    RUNTIME.block_on(serve_stream(
        &mut script,
        peer,
        settings,
        limits,
        memory.clone(),
    ));

    let text = std::str::from_utf8(&script.output).expect("replies are UTF-8");
    let mut accepted = 0;
    for line in text.split_terminator("\r\n") {
        let bytes = line.as_bytes();
        assert!(
            bytes.len() > 3
                && bytes[..3].iter().all(u8::is_ascii_digit)
                && matches!(bytes[3], b' ' | b'-')
                && line.is_ascii(),
            "malformed reply line {line:?}"
        );
        if line == "250 2.0.0 Message accepted" {
            accepted += 1;
        }
    }
    let delivered = memory.0.lock().unwrap();
    assert_eq!(delivered.len(), accepted, "deliveries vs 250 replies");
    for (envelope, message) in delivered.iter() {
        assert!(message.len() <= MAX_MESSAGE_SIZE, "{} bytes", message.len());
        assert!(!envelope.rcpt_to.is_empty() && envelope.rcpt_to.len() <= 3);
    }
});
