//! One SMTP connection: greeting, then EHLO/HELO, MAIL, RCPT, DATA (and RSET,
//! NOOP, QUIT, STARTTLS) until the client leaves or idles out.
//!
//! Commands are parsed by `smtp-proto`. Clients may pipeline (RFC 2920), so
//! every command found in one read is answered in order and the replies go
//! out in a single write once the read is used up.
//!
//! STARTTLS ends the plaintext [`Session`]; after the handshake a new one
//! starts over the TLS stream, so nothing the client said in plaintext (HELO,
//! a transaction, commands pipelined behind STARTTLS) carries over
//! (RFC 3207 §4.2).

use super::data::{Body, DataReader};
use super::{Delivery, DeliveryError, Envelope, SmtpSettings, TlsInfo, tls};
use smtp_proto::request::receiver::{MAX_LINE_LENGTH, RequestReceiver};
use smtp_proto::{Error as ParseError, MailFrom, RcptTo, Request};
use std::io;
use std::net::SocketAddr;
use std::slice::Iter;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long we wait for the client to send anything (RFC 5321 §4.5.3.2
/// suggests 5 minutes), and for it to take our replies.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Bytes read from the socket at a time; also the slack the DATA size cap
/// allows above the limit.
const READ_BUFFER_SIZE: usize = 16 * 1024;

/// How long we wait for a client that has been sent its last reply to take
/// the TLS close_notify.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves one client until it quits, disconnects or idles out, upgrading to
/// TLS on STARTTLS when `starttls` is given. I/O errors and failed handshakes
/// are the client's business (a reset, a half-sent message, a sender that
/// speaks no TLS we do), so they end the connection quietly; nothing
/// half-received is ever delivered.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    settings: Arc<SmtpSettings>,
    starttls: Option<Arc<rustls::ServerConfig>>,
    delivery: Arc<dyn Delivery>,
) {
    let security = Security::Plain {
        starttls: starttls.is_some(),
    };
    let mut plain = Session::new(
        stream,
        peer,
        Arc::clone(&settings),
        Arc::clone(&delivery),
        security,
    );
    plain.reply(&format!("220 {} ESMTP mailscore", settings.hostname));
    let (Ok(Flow::StartTls), Some(config)) = (plain.run().await, starttls) else {
        return;
    };
    // Dropping the plaintext session drops whatever the client pipelined
    // after STARTTLS.
    let Some((stream, info)) = tls::accept(plain.stream, config).await else {
        return;
    };
    // No new greeting: the client speaks first, with EHLO (RFC 3207 §4.2).
    let mut secure = Session::new(stream, peer, settings, delivery, Security::Tls(info));
    if secure.run().await.is_ok() {
        let _ = timeout(CLOSE_TIMEOUT, secure.stream.shutdown()).await;
    }
}

/// Whether the session goes on after a command.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
    /// `220` to STARTTLS was queued: send it, then hand the socket over to
    /// the TLS handshake.
    StartTls,
}

/// What protects the connection a session runs on.
enum Security {
    /// Plaintext; `starttls` says whether we offer the upgrade.
    Plain { starttls: bool },
    /// Upgraded by STARTTLS; the negotiated session goes into each envelope.
    Tls(TlsInfo),
}

/// The mail transaction in progress: opened by MAIL, grown by RCPT, closed by
/// DATA's end or RSET.
struct Transaction {
    mail_from: String,
    rcpt_to: Vec<String>,
}

/// One connection's protocol state, over plaintext TCP or over TLS.
struct Session<S> {
    stream: S,
    peer: SocketAddr,
    settings: Arc<SmtpSettings>,
    delivery: Arc<dyn Delivery>,
    security: Security,
    /// Command parser; keeps a partial line between reads.
    requests: RequestReceiver,
    /// The bytes of the command line the parser is holding, as far as it
    /// has got; needed to see arguments `smtp-proto` ignores (STARTTLS's).
    partial_line: Vec<u8>,
    /// After a too-long command line, the rest of that line is discarded.
    skipping_line: bool,
    /// The HELO/EHLO argument, once given.
    helo: Option<String>,
    transaction: Option<Transaction>,
    /// Present between `354` and the terminating dot.
    body: Option<DataReader>,
    /// Replies waiting for the end of the current read.
    replies: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    fn new(
        stream: S,
        peer: SocketAddr,
        settings: Arc<SmtpSettings>,
        delivery: Arc<dyn Delivery>,
        security: Security,
    ) -> Session<S> {
        Session {
            stream,
            peer,
            settings,
            delivery,
            security,
            requests: RequestReceiver::default(),
            partial_line: Vec::new(),
            skipping_line: false,
            helo: None,
            transaction: None,
            body: None,
            replies: Vec::new(),
        }
    }

    /// Sends any queued reply (the greeting), then serves commands until the
    /// session ends: `Close` when it is over, `StartTls` when the socket is
    /// to be upgraded (the `220` is already sent).
    async fn run(&mut self) -> io::Result<Flow> {
        self.flush().await?;
        let mut buf = vec![0; READ_BUFFER_SIZE];
        loop {
            let Ok(read) = timeout(IDLE_TIMEOUT, self.stream.read(&mut buf)).await else {
                self.reply("421 4.4.2 Idle too long, closing connection");
                self.flush().await?;
                return Ok(Flow::Close);
            };
            let n = read?;
            if n == 0 {
                return Ok(Flow::Close);
            }
            let flow = self.ingest(&buf[..n]).await;
            self.flush().await?;
            if flow != Flow::Continue {
                return Ok(flow);
            }
        }
    }

    /// Handles everything in one read: commands, body bytes, or both. Stops
    /// at QUIT or an accepted STARTTLS, ignoring the rest of the read.
    async fn ingest(&mut self, input: &[u8]) -> Flow {
        let mut bytes = input.iter();
        while !bytes.as_slice().is_empty() {
            if let Some(reader) = &mut self.body {
                if let Some(body) = reader.ingest(&mut bytes) {
                    self.body = None;
                    self.end_data(body).await;
                }
            } else if self.skipping_line {
                self.skip_line(&mut bytes);
            } else {
                let flow = self.next_command(&mut bytes);
                if flow != Flow::Continue {
                    return flow;
                }
            }
        }
        Flow::Continue
    }

    /// Parses and answers the next command; consumes all of `bytes` when the
    /// command is not complete yet (the parser keeps the partial line).
    fn next_command(&mut self, bytes: &mut Iter<'_, u8>) -> Flow {
        let input = bytes.as_slice();
        let left = bytes.len();
        let parsed = self.requests.ingest(bytes).map(Request::into_owned);
        let consumed = &input[..left - bytes.len()];
        // The parser limits only lines that span reads; hold a line that
        // arrived whole to the same limit.
        let whole_line_too_long = consumed.len() > MAX_LINE_LENGTH;
        // What earlier reads gave of this line, for arguments the parser skips.
        let earlier = match parsed {
            Err(ParseError::NeedsMoreData { .. }) => {
                if self.partial_line.len() <= MAX_LINE_LENGTH {
                    self.partial_line.extend_from_slice(consumed);
                }
                Vec::new()
            }
            _ => std::mem::take(&mut self.partial_line),
        };
        match parsed {
            Err(ParseError::NeedsMoreData { .. }) => {}
            Err(ParseError::ResponseTooLong) => {
                self.reply("500 5.5.2 Line too long");
                self.skipping_line = true;
            }
            _ if whole_line_too_long => self.reply("500 5.5.2 Line too long"),
            Ok(Request::StartTls) => return self.starttls(&[&earlier[..], consumed].concat()),
            Ok(request) => return self.handle(request),
            Err(err) => self.reply(&parse_error_reply(&err)),
        }
        if bytes.len() == left {
            // The parser took nothing: never loop on the same bytes.
            *bytes = [].iter();
        }
        Flow::Continue
    }

    /// Drops bytes up to and including the next LF.
    fn skip_line(&mut self, bytes: &mut Iter<'_, u8>) {
        let rest = bytes.as_slice();
        match rest.iter().position(|&b| b == b'\n') {
            Some(pos) => {
                *bytes = rest[pos + 1..].iter();
                self.skipping_line = false;
            }
            None => *bytes = [].iter(),
        }
    }

    fn handle(&mut self, request: Request<String>) -> Flow {
        match request {
            Request::Ehlo { host } => self.ehlo(host),
            Request::Helo { host } => self.helo(host),
            Request::Mail { from } => self.mail(from),
            Request::Rcpt { to } => self.rcpt(to),
            Request::Data => self.data(),
            Request::Rset => {
                self.transaction = None;
                self.reply("250 2.0.0 OK");
            }
            Request::Noop { .. } => self.reply("250 2.0.0 OK"),
            Request::Vrfy { .. } => self.reply("252 2.5.0 Cannot VRFY; send mail to test"),
            Request::Help { .. } => self.reply("214 2.0.0 See RFC 5321"),
            Request::Quit => {
                self.reply("221 2.0.0 Bye");
                return Flow::Close;
            }
            _ => self.reply("502 5.5.1 Command not implemented"),
        }
        Flow::Continue
    }

    /// EHLO: our extensions. Like HELO, it starts over any transaction.
    /// STARTTLS is offered only while the connection is still plaintext.
    fn ehlo(&mut self, host: String) {
        let settings = &self.settings;
        let starttls = match self.security {
            Security::Plain { starttls: true } => "250-STARTTLS\r\n",
            _ => "",
        };
        let reply = format!(
            "250-{}\r\n250-PIPELINING\r\n250-SIZE {}\r\n250-8BITMIME\r\n{starttls}250 ENHANCEDSTATUSCODES",
            settings.hostname, settings.max_message_size
        );
        self.reply(&reply);
        self.helo = Some(host);
        self.transaction = None;
    }

    /// STARTTLS (RFC 3207): `220`, after which the caller runs the handshake.
    /// `line` is the whole command line: STARTTLS takes no parameters.
    fn starttls(&mut self, line: &[u8]) -> Flow {
        match self.security {
            Security::Tls(_) => self.reply("503 5.5.1 TLS already active"),
            Security::Plain { starttls: false } => self.reply("502 5.5.1 Command not implemented"),
            Security::Plain { starttls: true } if line.trim_ascii().len() > b"STARTTLS".len() => {
                self.reply("501 5.5.4 Syntax error (no parameters allowed)");
            }
            Security::Plain { starttls: true } => {
                self.reply("220 2.0.0 Ready to start TLS");
                return Flow::StartTls;
            }
        }
        Flow::Continue
    }

    fn helo(&mut self, host: String) {
        self.reply(&format!("250 {}", self.settings.hostname));
        self.helo = Some(host);
        self.transaction = None;
    }

    fn mail(&mut self, from: MailFrom<String>) {
        if self.helo.is_none() {
            self.reply("503 5.5.1 Send EHLO or HELO first");
        } else if self.transaction.is_some() {
            self.reply("503 5.5.1 Nested MAIL command");
        } else if from.size > self.settings.max_message_size {
            self.reply("552 5.3.4 Message size exceeds fixed maximum message size");
        } else {
            self.transaction = Some(Transaction {
                mail_from: from.address,
                rcpt_to: Vec::new(),
            });
            self.reply("250 2.1.0 OK");
        }
    }

    fn rcpt(&mut self, to: RcptTo<String>) {
        let max = self.settings.max_recipients;
        let reply = match (
            self.transaction.as_mut(),
            accepted_recipient(&self.settings, &to.address),
        ) {
            (None, _) => "503 5.5.1 Send MAIL first",
            (Some(_), Err(reply)) => reply,
            (Some(tx), Ok(address)) if tx.rcpt_to.contains(&address) => "250 2.1.5 OK",
            (Some(tx), Ok(_)) if tx.rcpt_to.len() >= max => "452 4.5.3 Too many recipients",
            (Some(tx), Ok(address)) => {
                tx.rcpt_to.push(address);
                "250 2.1.5 OK"
            }
        };
        self.reply(reply);
    }

    fn data(&mut self) {
        match &self.transaction {
            None => self.reply("503 5.5.1 Send MAIL first"),
            Some(tx) if tx.rcpt_to.is_empty() => self.reply("503 5.5.1 Send RCPT first"),
            Some(_) => {
                self.body = Some(DataReader::new(self.settings.max_message_size));
                self.reply("354 Start mail input; end with <CRLF>.<CRLF>");
            }
        }
    }

    /// The body is in: deliver it (or not), answer, and close the transaction.
    async fn end_data(&mut self, body: Body) {
        let Some(tx) = self.transaction.take() else {
            return;
        };
        let Body::Complete(message) = body else {
            self.reply("552 5.3.4 Message too big");
            return;
        };
        let envelope = Envelope {
            client_ip: self.peer.ip().to_canonical(),
            client_port: self.peer.port(),
            helo: self.helo.clone().unwrap_or_default(),
            mail_from: tx.mail_from,
            rcpt_to: tx.rcpt_to,
            received_at: unix_now(),
            tls: match &self.security {
                Security::Plain { .. } => None,
                Security::Tls(info) => Some(info.clone()),
            },
        };
        match self.deliver(envelope, message).await {
            Ok(()) => self.reply("250 2.0.0 Message accepted"),
            Err(err) => {
                eprintln!("smtp: message from {} not stored: {err}", self.peer);
                self.reply("451 4.3.0 Temporary failure storing the message, try again later");
            }
        }
    }

    /// Runs the delivery on the blocking pool: it fsyncs, which must not
    /// stall the runtime's workers.
    async fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> Result<(), DeliveryError> {
        let delivery = Arc::clone(&self.delivery);
        tokio::task::spawn_blocking(move || delivery.deliver(&envelope, &message))
            .await
            .unwrap_or_else(|err| Err(DeliveryError(format!("delivery task failed: {err}"))))
    }

    /// Queues one reply (possibly multi-line, lines joined by CRLF).
    fn reply(&mut self, reply: &str) {
        self.replies.extend_from_slice(reply.as_bytes());
        self.replies.extend_from_slice(b"\r\n");
    }

    /// Sends the queued replies; a client that stops reading times out.
    async fn flush(&mut self) -> io::Result<()> {
        if self.replies.is_empty() {
            return Ok(());
        }
        let write = self.stream.write_all(&self.replies);
        match timeout(IDLE_TIMEOUT, write).await {
            Ok(result) => result?,
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
        }
        self.replies.clear();
        Ok(())
    }
}

/// The lowercased address if we take mail for it, else the reply refusing it.
fn accepted_recipient(settings: &SmtpSettings, address: &str) -> Result<String, &'static str> {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err("501 5.1.3 Bad recipient address syntax");
    };
    if !domain.eq_ignore_ascii_case(&settings.domain) {
        return Err("550 5.7.1 Relaying denied");
    }
    let local = local.to_ascii_lowercase();
    if !crate::test_id::is_valid(&local) {
        return Err("550 5.1.1 No such test address");
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// The reply to a command `smtp-proto` could not parse. Client text is never
/// echoed back.
fn parse_error_reply(err: &ParseError) -> String {
    if let ParseError::SyntaxError { syntax } = err {
        return format!("501 5.5.4 Syntax: {syntax}");
    }
    let reply = match err {
        ParseError::UnknownCommand => "500 5.5.1 Unrecognized command",
        ParseError::InvalidSenderAddress => "501 5.1.7 Bad sender address syntax",
        ParseError::InvalidRecipientAddress => "501 5.1.3 Bad recipient address syntax",
        ParseError::SyntaxError { .. } | ParseError::InvalidParameter { .. } => {
            "501 5.5.4 Syntax error in parameters or arguments"
        }
        ParseError::UnsupportedParameter { .. } => "555 5.5.4 Unsupported parameter",
        ParseError::ResponseTooLong => "500 5.5.2 Line too long",
        ParseError::NeedsMoreData { .. } | ParseError::InvalidResponse { .. } => {
            "500 5.5.1 Unrecognized command"
        }
    };
    reply.to_string()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
