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
//! (RFC 3207 §4.2). What the client has spent of its [`SmtpLimits`] (error
//! replies, message tokens) does carry over, in the [`Client`].
//!
//! A hostile client is held to the limits: it waits at most
//! `command_timeout` for each command and `data_timeout` for a whole body,
//! and every 4xx/5xx reply it earns counts toward `max_errors`. Whatever
//! bytes it sends (NUL, binary noise, endless lines) end as a reply, a
//! discarded line, or a close, never a panic.
//!
//! Every transaction's outcome is one log event (test ids, client IP, the
//! proxy it came through, accepted or refused and why) and a count in
//! [`Metrics`]. A PROXY protocol header is refused here, where a connection
//! starts: a trusted proxy's was already read by the listener, so one that
//! reaches a session comes from a peer that may not choose its address.

use super::chunking::{Chunk, Chunks};
use super::data::{Body, DataReader};
use super::extensions::{self, NEEDS_SMTPUTF8};
use super::peers::{PeerConnection, Peers};
use super::{Delivery, DeliveryError, Envelope, SmtpLimits, SmtpSettings, TlsInfo, proxy, tls};
use crate::metrics::{Metrics, Refusal};
use smtp_proto::request::receiver::{MAX_LINE_LENGTH, RequestReceiver};
use smtp_proto::{Error as ParseError, MailFrom, RcptTo, Request};
use std::io;
use std::net::SocketAddr;
use std::slice::Iter;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

/// Refused at MAIL or before storing while the disk is nearly full (RFC
/// 3463: 4.3.1 mail system full).
const INSUFFICIENT_STORAGE: &str = "452 4.3.1 Insufficient system storage, try again later";

/// How long a session waits for its message to be stored before `451`.
const STORE_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes read from the socket at a time; also the slack the DATA size cap
/// allows above the limit.
const READ_BUFFER_SIZE: usize = 16 * 1024;

/// How long we wait for a client that has been sent its last reply to take
/// the TLS close_notify.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// After we end a session with `421`, how long we keep reading (and
/// discarding) what the client had already sent. Closing a socket with
/// unread input resets the connection, and a reset can destroy the `421`
/// before the client reads it.
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// The client on one connection, and what it may still do: kept for the
/// whole connection, across STARTTLS.
pub(super) struct Client {
    /// The sender: the TCP peer, or the client a trusted proxy named.
    pub(super) peer: SocketAddr,
    /// The trusted proxy the connection came through, if any.
    pub(super) proxied_by: Option<SocketAddr>,
    pub(super) settings: Arc<SmtpSettings>,
    pub(super) limits: Arc<SmtpLimits>,
    pub(super) delivery: Arc<dyn Delivery>,
    pub(super) metrics: Arc<Metrics>,
    /// Counts this connection against its address; holds its message bucket.
    pub(super) connection: PeerConnection,
    /// Error replies sent so far.
    pub(super) errors: usize,
    /// Command lines received so far.
    pub(super) commands: usize,
    /// When the connection was accepted: it ends `session_lifetime` later.
    pub(super) started: Instant,
}

/// Serves one client until it quits, disconnects or idles out, upgrading to
/// TLS on STARTTLS when `starttls` is given. I/O errors and failed handshakes
/// are the client's business (a reset, a half-sent message, a sender that
/// speaks no TLS we do), so they end the connection quietly; nothing
/// half-received is ever delivered.
pub(super) async fn serve(
    stream: TcpStream,
    client: Client,
    starttls: Option<Arc<rustls::ServerConfig>>,
) {
    let security = Security::Plain {
        starttls: starttls.is_some(),
    };
    let greeting = format!("220 {} ESMTP mailscore", client.settings.hostname);
    let mut plain = Session::new(stream, client, security);
    plain.reply(&greeting);
    let (Ok(Flow::StartTls), Some(config)) = (plain.run().await, starttls) else {
        return;
    };
    // Dropping the plaintext session drops whatever the client pipelined
    // after STARTTLS.
    let Session { stream, client, .. } = plain;
    let Some((stream, info)) = tls::accept(stream, config).await else {
        return;
    };
    // No new greeting: the client speaks first, with EHLO (RFC 3207 §4.2).
    let mut secure = Session::new(stream, client, Security::Tls(info));
    if secure.run().await.is_ok() {
        let _ = timeout(CLOSE_TIMEOUT, secure.stream.shutdown()).await;
    }
}

/// Serves one plaintext client over any byte stream, exactly as the
/// listener serves a TCP connection but without STARTTLS, a connection slot
/// or other clients' counts: the client at `peer` starts with a fresh message
/// bucket. It exists so fuzzers and in-memory tests can drive the real state
/// machine; a server uses [`Listener`](super::Listener).
#[doc(hidden)]
pub async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    settings: SmtpSettings,
    limits: SmtpLimits,
    delivery: Arc<dyn Delivery>,
) {
    let peers = Arc::new(Peers::new(
        limits.max_connections_per_ip,
        limits.messages_per_ip_per_minute,
    ));
    let Some(connection) = peers.connect(peer.ip()) else {
        return;
    };
    let client = Client {
        peer,
        proxied_by: None,
        settings: Arc::new(settings),
        limits: Arc::new(limits),
        delivery,
        metrics: Arc::default(),
        connection,
        errors: 0,
        commands: 0,
        started: Instant::now(),
    };
    let greeting = format!("220 {} ESMTP mailscore", client.settings.hostname);
    let mut session = Session::new(stream, client, Security::Plain { starttls: false });
    session.reply(&greeting);
    let _ = session.run().await;
}

/// Whether the session goes on after a command.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
    /// `220` to STARTTLS was queued: send it, then hand the socket over to
    /// the TLS handshake.
    StartTls,
    /// A `421` was queued: send it, then close without reading further
    /// commands.
    Abort,
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
    /// MAIL said SMTPUTF8: UTF-8 addresses are allowed (RFC 6531).
    smtputf8: bool,
    /// `postmaster` was a recipient: the message is for the operator, kept
    /// in the log, not a test (RFC 5321 §4.5.1).
    postmaster: bool,
}

/// One connection's protocol state, over plaintext TCP or over TLS.
struct Session<S> {
    stream: S,
    client: Client,
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
    /// The BDAT chunk whose octets are being read.
    chunk: Option<Chunk>,
    /// The message's BDAT chunks so far, from the first to LAST.
    chunks: Option<Chunks>,
    /// When the body in progress must be complete (`data_timeout` after
    /// `354`).
    body_deadline: Option<Instant>,
    /// Replies waiting for the end of the current read.
    replies: Vec<u8>,
    /// Nothing has been read yet on this plaintext connection: where a
    /// PROXY header from an untrusted peer would be.
    first_read: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    fn new(stream: S, client: Client, security: Security) -> Session<S> {
        let first_read = matches!(security, Security::Plain { .. });
        Session {
            stream,
            client,
            security,
            requests: RequestReceiver::default(),
            partial_line: Vec::new(),
            skipping_line: false,
            helo: None,
            transaction: None,
            body: None,
            chunk: None,
            chunks: None,
            body_deadline: None,
            replies: Vec::new(),
            first_read,
        }
    }

    /// Sends any queued reply (the greeting), then serves commands until the
    /// session ends: `Close` when it is over, `StartTls` when the socket is
    /// to be upgraded (the `220` is already sent).
    async fn run(&mut self) -> io::Result<Flow> {
        self.flush().await?;
        let mut buf = vec![0; READ_BUFFER_SIZE];
        loop {
            let idle = Instant::now() + self.client.limits.command_timeout;
            let end = self.client.started + self.client.limits.session_lifetime;
            let deadline = self.body_deadline.map_or(idle, |body| body.min(idle));
            let Ok(read) = timeout_at(deadline.min(end), self.stream.read(&mut buf)).await else {
                if end < deadline {
                    // Whatever was under way is not delivered.
                    let reply = "421 4.4.2 Session lasted too long, closing connection";
                    self.refuse(Refusal::SessionTooLong, reply);
                } else if deadline < idle {
                    // Nothing of a body that is late is delivered.
                    let reply = "421 4.4.2 Message body took too long, closing connection";
                    self.refuse(Refusal::Timeout, reply);
                } else if self.transaction.is_some() {
                    let reply = "421 4.4.2 Idle too long, closing connection";
                    self.refuse(Refusal::Timeout, reply);
                } else {
                    self.reply("421 4.4.2 Idle too long, closing connection");
                }
                self.flush().await?;
                self.linger().await;
                return Ok(Flow::Close);
            };
            let n = read?;
            if n == 0 {
                return Ok(Flow::Close);
            }
            let flow = self.ingest(&buf[..n]).await;
            self.flush().await?;
            match flow {
                Flow::Continue => {}
                Flow::Abort => {
                    self.linger().await;
                    return Ok(Flow::Close);
                }
                Flow::Close | Flow::StartTls => return Ok(flow),
            }
        }
    }

    /// Ends the connection after our `421`: sends EOF, then reads and drops
    /// whatever the client still sends for up to [`LINGER_TIMEOUT`], so the
    /// close does not reset the connection under the unread `421`.
    async fn linger(&mut self) {
        let mut sink = vec![0; READ_BUFFER_SIZE];
        let _ = timeout(LINGER_TIMEOUT, async {
            self.stream.shutdown().await?;
            while self.stream.read(&mut sink).await? > 0 {}
            io::Result::Ok(())
        })
        .await;
    }

    /// Handles everything in one read: commands, body bytes, or both. Stops
    /// at QUIT, an accepted STARTTLS or the error reply that reaches
    /// `max_errors`, ignoring the rest of the read.
    async fn ingest(&mut self, input: &[u8]) -> Flow {
        if std::mem::take(&mut self.first_read) && proxy::looks_like_header(input) {
            // Trusted proxies' headers were read by the listener; this peer
            // is not one, and must not pick the address we judge.
            let reply = "554 5.7.0 PROXY protocol not accepted from your address";
            self.refuse(Refusal::ProxyUntrusted, reply);
            return Flow::Abort;
        }
        let mut bytes = input.iter();
        while !bytes.as_slice().is_empty() || self.chunk_done() {
            if let Some(chunk) = &mut self.chunk {
                let rest = bytes.as_slice();
                let (octets, after) = rest.split_at(chunk.remaining.min(rest.len()));
                chunk.remaining -= octets.len();
                if chunk.refused.is_none()
                    && let Some(chunks) = &mut self.chunks
                {
                    chunks.push(octets);
                }
                bytes = after.iter();
                if self.chunk_done() {
                    self.end_chunk().await;
                }
            } else if let Some(reader) = &mut self.body {
                if let Some(body) = reader.ingest(&mut bytes) {
                    self.body = None;
                    self.body_deadline = None;
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
            if self.client.errors >= self.client.limits.max_errors.max(1) {
                let reply = "421 4.7.0 Too many errors, closing connection";
                self.refuse(Refusal::TooManyErrors, reply);
                return Flow::Abort;
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
        if !matches!(parsed, Err(ParseError::NeedsMoreData { .. })) {
            self.client.commands += 1;
            if self.client.commands > self.client.limits.max_commands.max(1) {
                let reply = "421 4.7.0 Too many commands, closing connection";
                self.refuse(Refusal::TooManyCommands, reply);
                return Flow::Abort;
            }
        }
        match parsed {
            Err(ParseError::NeedsMoreData { .. }) => {}
            Err(ParseError::ResponseTooLong) => {
                self.reply("500 5.5.2 Line too long");
                self.skipping_line = true;
            }
            _ if whole_line_too_long => self.reply("500 5.5.2 Line too long"),
            Ok(Request::StartTls) => return self.starttls(&[&earlier[..], consumed].concat()),
            // smtp-proto reads `<postmaster>` as the empty address (as `<>`).
            Ok(Request::Rcpt { mut to })
                if to.address.is_empty()
                    && extensions::is_bare_postmaster_rcpt(&[&earlier[..], consumed].concat()) =>
            {
                to.address = "postmaster".into();
                return self.handle(Request::Rcpt { to });
            }
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
            Request::Bdat {
                chunk_size,
                is_last,
            } => self.bdat(chunk_size, is_last),
            Request::Rset => {
                self.transaction = None;
                self.chunks = None;
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
        let settings = &self.client.settings;
        let starttls = match self.security {
            Security::Plain { starttls: true } => "250-STARTTLS\r\n",
            _ => "",
        };
        let mut reply = format!("250-{}\r\n", settings.hostname);
        for extension in extensions::EHLO_EXTENSIONS {
            reply += &match extension {
                "SIZE" => format!("250-SIZE {}\r\n", settings.max_message_size),
                _ => format!("250-{extension}\r\n"),
            };
        }
        reply += starttls;
        reply += "250 ENHANCEDSTATUSCODES";
        self.reply(&reply);
        self.helo = Some(host);
        self.transaction = None;
        self.chunks = None;
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
        self.reply(&format!("250 {}", self.client.settings.hostname));
        self.helo = Some(host);
        self.transaction = None;
        self.chunks = None;
    }

    fn mail(&mut self, from: MailFrom<String>) {
        if self.helo.is_none() {
            self.reply("503 5.5.1 Send EHLO or HELO first");
        } else if self.transaction.is_some() {
            self.reply("503 5.5.1 Nested MAIL command");
        } else if extensions::unoffered_mail_parameter(&from) {
            self.reply("555 5.5.4 Unsupported parameter (see EHLO for what is offered)");
        } else if !from.address.is_ascii() && !extensions::smtputf8(&from) {
            self.reply(NEEDS_SMTPUTF8);
        } else if from.size > self.client.settings.max_message_size {
            let reply = "552 5.3.4 Message size exceeds fixed maximum message size";
            self.refuse(Refusal::MessageTooBig, reply);
        } else if self.client.metrics.unanalysed() >= self.client.limits.max_analysis_backlog {
            let reply = "451 4.3.2 Busy analysing earlier messages, try again later";
            self.refuse(Refusal::Busy, reply);
        } else if let Err(shortage) = self.client.delivery.room_for(from.size as u64) {
            tracing::warn!(reason = %shortage, "new mail refused");
            self.refuse(Refusal::InsufficientStorage, INSUFFICIENT_STORAGE);
        } else if !self.client.connection.take_message_token() {
            let reply = "450 4.7.1 Too many messages from your address, try again later";
            self.refuse(Refusal::RateLimited, reply);
        } else {
            self.transaction = Some(Transaction {
                smtputf8: extensions::smtputf8(&from),
                mail_from: from.address,
                rcpt_to: Vec::new(),
                postmaster: false,
            });
            self.reply("250 2.1.0 OK");
        }
    }

    fn rcpt(&mut self, to: RcptTo<String>) {
        let Some(tx) = self.transaction.as_mut() else {
            return self.reply("503 5.5.1 Send MAIL first");
        };
        if extensions::unoffered_rcpt_parameter(&to) {
            return self.reply("555 5.5.4 Unsupported parameter (see EHLO for what is offered)");
        }
        if !to.address.is_ascii() && !tx.smtputf8 {
            return self.reply(NEEDS_SMTPUTF8);
        }
        if extensions::is_postmaster(&to.address, &self.client.settings.domain) {
            tx.postmaster = true;
            return self.reply("250 2.1.5 OK (postmaster: for the operator, not a test)");
        }
        let max = self.client.settings.max_recipients;
        let (reply, refusal) = match (
            self.transaction.as_mut(),
            accepted_recipient(&self.client.settings, &to.address),
        ) {
            (None, _) => ("503 5.5.1 Send MAIL first", None),
            (Some(_), Err(refused)) => refused,
            (Some(tx), Ok(address)) if tx.rcpt_to.contains(&address) => ("250 2.1.5 OK", None),
            (Some(tx), Ok(_)) if tx.rcpt_to.len() >= max => (
                "452 4.5.3 Too many recipients",
                Some(Refusal::TooManyRecipients),
            ),
            (Some(tx), Ok(address)) => {
                tx.rcpt_to.push(address);
                ("250 2.1.5 OK", None)
            }
        };
        match refusal {
            Some(reason) => self.refuse(reason, reply),
            None => self.reply(reply),
        }
    }

    /// Why a body (DATA or BDAT) cannot start yet, if it cannot.
    fn not_ready_for_body(&self) -> Option<&'static str> {
        match &self.transaction {
            None => Some("503 5.5.1 Send MAIL first"),
            Some(tx) if tx.rcpt_to.is_empty() && !tx.postmaster => {
                Some("503 5.5.1 Send RCPT first")
            }
            Some(_) => None,
        }
    }

    fn data(&mut self) {
        let refused = if self.transaction.is_some() && self.chunks.is_some() {
            Some("503 5.5.1 BDAT in progress: end it with BDAT LAST")
        } else {
            self.not_ready_for_body()
        };
        if let Some(reply) = refused {
            return self.reply(reply);
        }
        let (settings, limits) = (&self.client.settings, &self.client.limits);
        let reader = DataReader::new(settings.max_message_size, limits.max_header_lines);
        self.body = Some(reader);
        self.body_deadline = Some(Instant::now() + limits.data_timeout);
        self.reply("354 Start mail input; end with <CRLF>.<CRLF>");
    }

    /// `BDAT <size> [LAST]` (RFC 3030): its octets follow at once, and are
    /// read whatever the answer; the answer comes once they are in.
    fn bdat(&mut self, size: usize, last: bool) {
        let refused = self.not_ready_for_body();
        if refused.is_none() && self.chunks.is_none() {
            let (settings, limits) = (&self.client.settings, &self.client.limits);
            self.chunks = Some(Chunks::new(
                settings.max_message_size,
                limits.max_header_lines,
            ));
            self.body_deadline = Some(Instant::now() + limits.data_timeout);
        }
        self.chunk = Some(Chunk {
            remaining: size,
            last,
            refused,
        });
    }

    /// The chunk being read has all its octets.
    fn chunk_done(&self) -> bool {
        self.chunk
            .as_ref()
            .is_some_and(|chunk| chunk.remaining == 0)
    }

    /// Answers the chunk just read: its refusal, the refusal of a message
    /// past a limit, `250` for a middle chunk, or delivery after LAST.
    async fn end_chunk(&mut self) {
        let Some(chunk) = self.chunk.take() else {
            return;
        };
        if let Some(reply) = chunk.refused {
            return self.reply(reply);
        }
        let refused = self.chunks.as_ref().is_some_and(Chunks::is_refused);
        if chunk.last || refused {
            let Some(chunks) = self.chunks.take() else {
                return;
            };
            self.body_deadline = None;
            return self.end_data(chunks.finish()).await;
        }
        self.reply("250 2.0.0 Chunk received");
    }

    /// The body is in: deliver it (or not), answer, and close the transaction.
    async fn end_data(&mut self, body: Body) {
        let message = match body {
            Body::Complete(message) => message,
            Body::TooBig => {
                return self.end_refused(Refusal::MessageTooBig, "552 5.3.4 Message too big");
            }
            Body::TooManyHeaderLines => {
                let reply = "554 5.6.0 Too many header lines";
                return self.end_refused(Refusal::TooManyHeaderLines, reply);
            }
        };
        let Some(tx) = &self.transaction else {
            return;
        };
        let peer = self.client.peer;
        if tx.postmaster {
            log_for_postmaster(peer, &tx.mail_from, &message);
            if tx.rcpt_to.is_empty() {
                self.reply("250 2.0.0 Kept for the operator");
                self.transaction = None;
                return;
            }
        }
        let envelope = Envelope {
            client_ip: peer.ip().to_canonical(),
            client_port: peer.port(),
            helo: self.helo.clone().unwrap_or_default(),
            mail_from: tx.mail_from.clone(),
            rcpt_to: tx.rcpt_to.clone(),
            received_at: unix_now(),
            tls: match &self.security {
                Security::Plain { .. } => None,
                Security::Tls(info) => Some(info.clone()),
            },
        };
        let test_ids = test_ids(&tx.rcpt_to);
        let size = message.len();
        if let Err(shortage) = self.client.delivery.room_for(size as u64) {
            tracing::warn!(test_id = %test_ids, reason = %shortage, "message not stored");
            return self.end_refused(Refusal::InsufficientStorage, INSUFFICIENT_STORAGE);
        }
        // A store that never answers (sled after a write error) must not
        // hold the session: the client gets a 451 and keeps the message.
        let delivered = timeout(STORE_TIMEOUT, self.deliver(envelope, message))
            .await
            .unwrap_or_else(|_| Err(DeliveryError("the store did not answer in time".into())));
        match delivered {
            Ok(()) => {
                self.client.metrics.message_received();
                tracing::info!(
                    test_id = %test_ids,
                    client_ip = %peer.ip().to_canonical(),
                    proxy = %self.proxy_field(),
                    tls = matches!(self.security, Security::Tls(_)),
                    size,
                    outcome = "accepted",
                    "SMTP transaction accepted"
                );
                self.reply("250 2.0.0 Message accepted");
            }
            Err(err) => {
                tracing::error!(test_id = %test_ids, error = %err, "message not stored");
                let reply = "451 4.3.0 Temporary failure storing the message, try again later";
                self.refuse(Refusal::StorageFailed, reply);
            }
        }
        self.transaction = None;
    }

    /// Refuses the message whose body just ended; the transaction is over.
    fn end_refused(&mut self, reason: Refusal, reply: &str) {
        self.refuse(reason, reply);
        self.transaction = None;
    }

    /// Queues `reply`, which turns the client or its message away, counts
    /// it by `reason`, and logs it as the outcome of the transaction (with
    /// the test ids of the recipients accepted so far).
    fn refuse(&mut self, reason: Refusal, reply: &str) {
        self.client.metrics.refused(reason);
        let test_ids = self
            .transaction
            .as_ref()
            .map_or_else(String::new, |tx| test_ids(&tx.rcpt_to));
        tracing::info!(
            test_id = %test_ids,
            client_ip = %self.client.peer.ip().to_canonical(),
            proxy = %self.proxy_field(),
            outcome = "refused",
            reason = reason.as_str(),
            "SMTP transaction refused"
        );
        self.reply(reply);
    }

    /// The proxy the client came through, for logs; empty when direct.
    fn proxy_field(&self) -> String {
        self.client
            .proxied_by
            .map_or_else(String::new, |proxy| proxy.to_string())
    }

    /// Hands the message to the delivery and waits until it is durable.
    async fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> Result<(), DeliveryError> {
        Arc::clone(&self.client.delivery)
            .submit(envelope, message)
            .await
    }

    /// Queues one reply (possibly multi-line, lines joined by CRLF). A 4xx or
    /// 5xx reply counts toward the session's `max_errors`.
    fn reply(&mut self, reply: &str) {
        if matches!(reply.as_bytes().first(), Some(b'4' | b'5')) {
            self.client.errors += 1;
        }
        self.replies.extend_from_slice(reply.as_bytes());
        self.replies.extend_from_slice(b"\r\n");
    }

    /// Sends the queued replies; a client that stops reading times out.
    async fn flush(&mut self) -> io::Result<()> {
        if self.replies.is_empty() {
            return Ok(());
        }
        let write = self.stream.write_all(&self.replies);
        match timeout(self.client.limits.command_timeout, write).await {
            Ok(result) => result?,
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
        }
        self.replies.clear();
        Ok(())
    }
}

/// Mail to postmaster goes to the operator through the log: who sent it
/// and its header section (bounded), at warn so it is seen. It is not
/// stored as a test and not scored.
fn log_for_postmaster(peer: SocketAddr, mail_from: &str, message: &[u8]) {
    const MAX_LOGGED: usize = 8 * 1024;
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(message.len())
        .min(MAX_LOGGED);
    tracing::warn!(
        client_ip = %peer.ip().to_canonical(),
        mail_from = %mail_from,
        size = message.len(),
        headers = %String::from_utf8_lossy(&message[..end]),
        "mail for postmaster"
    );
}

/// The test ids of `recipients` (their local parts), comma-separated.
fn test_ids(recipients: &[String]) -> String {
    let ids: Vec<&str> = recipients
        .iter()
        .map(|rcpt| rcpt.rsplit_once('@').map_or(rcpt.as_str(), |(id, _)| id))
        .collect();
    ids.join(",")
}

/// The lowercased address if we take mail for it, else the reply refusing
/// it (and why, when it is a refusal rather than a syntax error).
fn accepted_recipient(
    settings: &SmtpSettings,
    address: &str,
) -> Result<String, (&'static str, Option<Refusal>)> {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(("501 5.1.3 Bad recipient address syntax", None));
    };
    if !domain.eq_ignore_ascii_case(&settings.domain) {
        return Err(("550 5.7.1 Relaying denied", Some(Refusal::RelayDenied)));
    }
    let local = local.to_ascii_lowercase();
    if !crate::test_id::is_valid(&local) {
        let reply = "550 5.1.1 No such test address";
        return Err((reply, Some(Refusal::NoSuchAddress)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::peers::Peers;
    use std::net::Ipv4Addr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;

    /// Counts deliveries.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Delivery for Counter {
        fn deliver(&self, _: &Envelope, _: &[u8]) -> Result<(), DeliveryError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    /// A deterministic byte source (xorshift64), so a failing seed can be
    /// replayed.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// Valid commands, whole transactions, body lines, NUL, bare CR/LF,
        /// random bytes and very long lines, in random order.
        fn session_input(&mut self) -> Vec<u8> {
            const PIECES: &[&[u8]] = &[
                b"EHLO client.example\r\n",
                b"HELO \xff\xfe\x00\r\n",
                b"MAIL FROM:<a@other.example>\r\n",
                b"MAIL FROM:<\x00@\xff>\r\n",
                b"RCPT TO:<abc@test.example>\r\n",
                b"RCPT TO:<\xc3\x28@test.example>\r\n",
                b"DATA\r\n",
                b"Subject: x\r\n",
                b"\r\n",
                b".\r\n",
                b"..\r\n",
                b"RSET\r\n",
                b"NOOP\r\n",
                b"STARTTLS\r\n",
                b"BDAT 10 LAST\r\n",
                b"AUTH PLAIN AAAA\r\n",
                b"\x00\x00\x00",
                b"\r",
                b"\n",
                b"\r\n.\r\n",
                b"MAIL FROM:<a@b> SIZE=99999999999999999999999\r\n",
            ];
            const TRANSACTION: &[u8] =
                b"EHLO c.example\r\nRSET\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<abc@test.example>\r\nDATA\r\n";
            let mut input = Vec::new();
            for _ in 0..self.below(60) {
                match self.below(12) {
                    0 => input.extend((0..self.below(300)).map(|_| self.next() as u8)),
                    1 => input.extend(std::iter::repeat_n(b'A', self.below(20_000))),
                    2 | 3 => input.extend_from_slice(TRANSACTION),
                    _ => input.extend_from_slice(PIECES[self.below(PIECES.len())]),
                }
            }
            input
        }
    }

    fn client(limits: SmtpLimits, delivery: Arc<Counter>) -> Client {
        let peers = Arc::new(Peers::new(10, 1_000));
        let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 2525));
        Client {
            peer,
            proxied_by: None,
            metrics: Arc::default(),
            settings: Arc::new(SmtpSettings {
                max_message_size: 4096,
                ..SmtpSettings::new("test.example", "mx.test.example")
            }),
            limits: Arc::new(limits),
            delivery,
            connection: peers.connect(peer.ip()).unwrap(),
            errors: 0,
            commands: 0,
            started: Instant::now(),
        }
    }

    /// Runs one plaintext session on an in-memory pipe; returns what the
    /// server wrote once it has finished.
    async fn session_output(input: Vec<u8>, limits: SmtpLimits) -> Vec<u8> {
        let (near, far) = tokio::io::duplex(64 * 1024);
        let mut session = Session::new(
            far,
            client(limits, Arc::default()),
            Security::Plain { starttls: false },
        );
        let server = tokio::spawn(async move { session.run().await.map(|_| ()) });
        let (mut from_server, mut to_server) = tokio::io::split(near);
        let send = async move {
            // The server may stop reading (QUIT, too many errors) first.
            let _ = to_server.write_all(&input).await;
            let _ = to_server.shutdown().await;
        };
        let mut output = Vec::new();
        let receive = from_server.read_to_end(&mut output);
        let ((), received) = tokio::join!(send, receive);
        received.unwrap();
        server.await.expect("the session must not panic").ok();
        output
    }

    #[tokio::test]
    async fn random_input_gets_well_formed_replies_and_never_panics() {
        for seed in 1..300u64 {
            let mut noise = Noise(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let input = noise.session_input();
            let limits = SmtpLimits {
                max_errors: if seed % 2 == 0 { 10 } else { 1000 },
                max_header_lines: 3,
                ..SmtpLimits::default()
            };
            let output = session_output(input, limits.clone()).await;
            let text = String::from_utf8(output).expect("replies are ASCII");
            let lines: Vec<&str> = text.split_terminator("\r\n").collect();
            let mut errors = 0;
            for line in &lines {
                let code = line.get(..3).unwrap_or_default();
                assert!(
                    code.bytes().all(|b| b.is_ascii_digit()) && line.len() > 3,
                    "seed {seed}: malformed reply {line:?}"
                );
                if line.starts_with('4') || line.starts_with('5') {
                    errors += 1;
                }
            }
            assert!(
                errors <= limits.max_errors + 1,
                "seed {seed}: {errors} errors"
            );
            if errors > limits.max_errors {
                assert!(
                    lines.last().unwrap().starts_with("421 4.7.0"),
                    "seed {seed}"
                );
            }
        }
    }
}
