//! STARTTLS as a client sees it: a real `Listener` on 127.0.0.1 with the TLS
//! configuration `server_config` builds, and a rustls client that trusts
//! exactly the certificate the server generated in its data directory.

mod support;

use mailscore::smtp::tls::{TlsError, server_config};
use mailscore::smtp::{Delivery, DeliveryError, Envelope, Listener, SmtpSettings, TlsInfo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, SupportedProtocolVersion};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::tls::pinned_client_config;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const HOSTNAME: &str = "mx.test.example";

/// How long a test waits for a reply before failing instead of hanging.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A data directory of its own for one test, removed when dropped. The
/// process id keeps concurrent `cargo test` runs apart.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("smtp_tls")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Records every delivered message.
#[derive(Default)]
struct Recorder {
    messages: Mutex<Vec<(Envelope, Vec<u8>)>>,
}

impl Delivery for Recorder {
    fn deliver(&self, envelope: &Envelope, message: &[u8]) -> Result<(), DeliveryError> {
        let mut messages = self.messages.lock().unwrap();
        messages.push((envelope.clone(), message.to_vec()));
        Ok(())
    }
}

impl Recorder {
    fn messages(&self) -> Vec<(Envelope, Vec<u8>)> {
        self.messages.lock().unwrap().clone()
    }
}

/// A listener on an ephemeral port, running on its own task.
struct Server {
    addr: SocketAddr,
    recorder: Arc<Recorder>,
    /// The certificate the server presents, when it offers STARTTLS.
    cert: Option<CertificateDer<'static>>,
    _data_dir: TempDir,
}

/// A server offering STARTTLS with a certificate generated for `HOSTNAME`.
async fn start_tls(name: &str) -> Server {
    let data_dir = TempDir::new(name);
    let tls = server_config(None, None, &data_dir.0, HOSTNAME).unwrap();
    let cert = CertificateDer::from_pem_file(data_dir.0.join("tls/cert.pem")).unwrap();
    start(Some(tls), Some(cert), data_dir).await
}

/// A server without TLS, as `tests/smtp_protocol.rs` runs it.
async fn start_plain(name: &str) -> Server {
    start(None, None, TempDir::new(name)).await
}

async fn start(
    tls: Option<Arc<rustls::ServerConfig>>,
    cert: Option<CertificateDer<'static>>,
    data_dir: TempDir,
) -> Server {
    let recorder = Arc::new(Recorder::default());
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let settings = SmtpSettings::new("test.example", HOSTNAME);
    let mut listener = Listener::bind(addr, settings, recorder.clone())
        .await
        .unwrap();
    if let Some(tls) = tls {
        listener = listener.with_starttls(tls);
    }
    let addr = listener.local_addr();
    tokio::spawn(listener.run());
    Server {
        addr,
        recorder,
        cert,
        _data_dir: data_dir,
    }
}

impl Server {
    /// A client that trusts this server's certificate and nothing else.
    fn client_config(&self, versions: &[&'static SupportedProtocolVersion]) -> Arc<ClientConfig> {
        let cert = self.cert.clone().expect("server offers TLS");
        pinned_client_config(cert, versions)
    }
}

/// A raw SMTP client over plaintext or TLS: writes bytes, reads whole
/// (multi-line) replies.
struct Client<S> {
    stream: BufReader<S>,
}

impl Client<TcpStream> {
    async fn connect(server: &Server) -> Client<TcpStream> {
        let stream = TcpStream::connect(server.addr).await.unwrap();
        let mut client = Client {
            stream: BufReader::new(stream),
        };
        let greeting = client.reply().await;
        assert!(greeting.starts_with("220 mx.test.example "), "{greeting}");
        client
    }

    /// STARTTLS, its `220`, and the handshake.
    async fn starttls(mut self, config: Arc<ClientConfig>) -> Client<TlsStream<TcpStream>> {
        self.expect("STARTTLS", "220 2.0.0 Ready to start TLS")
            .await;
        self.handshake(config).await
    }

    /// The TLS handshake, once `220` has been read. The server must have
    /// sent nothing after it.
    async fn handshake(self, config: Arc<ClientConfig>) -> Client<TlsStream<TcpStream>> {
        let early = self.stream.buffer();
        assert!(early.is_empty(), "plaintext after 220: {early:?}");
        let name = ServerName::try_from(HOSTNAME).unwrap();
        let connect = TlsConnector::from(config).connect(name, self.stream.into_inner());
        let stream = tokio::time::timeout(REPLY_TIMEOUT, connect)
            .await
            .expect("handshake in time")
            .expect("handshake succeeds");
        Client {
            stream: BufReader::new(stream),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn send(&mut self, bytes: &[u8]) {
        let stream = self.stream.get_mut();
        stream.write_all(bytes).await.unwrap();
        stream.flush().await.unwrap();
    }

    /// One reply; continuation lines (`250-`) are joined with `\n`.
    async fn reply(&mut self) -> String {
        support::smtp_reply::read_reply(&mut self.stream, REPLY_TIMEOUT).await
    }

    /// Sends `line` and asserts the reply starts with `expected`.
    async fn expect(&mut self, line: &str, expected: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        let reply = self.reply().await;
        assert!(
            reply.starts_with(expected),
            "{line:?} got {reply:?}, want {expected:?}"
        );
        reply
    }

    /// MAIL, RCPT, DATA and a small body; asserts the `250`.
    async fn deliver(&mut self, from: &str) {
        self.expect(&format!("MAIL FROM:<{from}>"), "250").await;
        self.expect("RCPT TO:<abc@test.example>", "250").await;
        self.expect("DATA", "354").await;
        self.send(b"Subject: hi\r\n\r\nbody\r\n.\r\n").await;
        assert_eq!(self.reply().await, "250 2.0.0 Message accepted");
    }

    /// Reads until the server closes; fails if it does not in time.
    async fn read_until_closed(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(REPLY_TIMEOUT, self.stream.read_to_end(&mut rest));
        // A reset is as good a close as a FIN here.
        let _ = read.await.expect("server closes in time");
        rest
    }
}

fn tls13() -> [&'static SupportedProtocolVersion; 1] {
    [&rustls::version::TLS13]
}

fn ehlo_lines(reply: &str) -> Vec<&str> {
    reply.lines().map(|line| &line[4..]).collect()
}

#[tokio::test]
async fn ehlo_offers_starttls_only_when_tls_is_configured() {
    let server = start_tls("offers").await;
    let mut client = Client::connect(&server).await;
    let ehlo = client.expect("EHLO client.example", "250-").await;
    assert!(ehlo_lines(&ehlo).contains(&"STARTTLS"), "{ehlo}");

    let server = start_plain("not-offered").await;
    let mut client = Client::connect(&server).await;
    let ehlo = client.expect("EHLO client.example", "250-").await;
    assert!(!ehlo_lines(&ehlo).contains(&"STARTTLS"), "{ehlo}");
    client
        .expect("STARTTLS", "502 5.5.1 Command not implemented")
        .await;
    // Still plaintext and usable.
    client.deliver("plain@other.example").await;
}

#[tokio::test]
async fn starttls_transaction_records_tls13_in_the_envelope() {
    let server = start_tls("tls13").await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO plain.example", "250").await;
    let mut client = client.starttls(server.client_config(&tls13())).await;

    let ehlo = client
        .expect("EHLO secure.example", "250-mx.test.example")
        .await;
    let lines = ehlo_lines(&ehlo);
    assert!(lines.contains(&"PIPELINING"), "{ehlo}");
    assert!(!lines.contains(&"STARTTLS"), "offered twice: {ehlo}");
    client.expect("STARTTLS", "503 5.5.1").await;
    client.deliver("sender@other.example").await;
    client.expect("QUIT", "221 2.0.0").await;
    // The server ends TLS properly (close_notify), so this is a clean EOF.
    assert!(client.read_until_closed().await.is_empty());

    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 1);
    let (envelope, message) = &messages[0];
    assert_eq!(message, b"Subject: hi\r\n\r\nbody\r\n");
    assert_eq!(envelope.helo, "secure.example");
    assert_eq!(envelope.mail_from, "sender@other.example");
    let tls = envelope.tls.as_ref().expect("delivered over TLS");
    assert_eq!(tls.version, "TLSv1.3");
    assert!(tls.cipher.starts_with("TLS13_"), "{tls:?}");
}

#[tokio::test]
async fn tls12_client_is_recorded_as_tls12() {
    let server = start_tls("tls12").await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO plain.example", "250").await;
    let config = server.client_config(&[&rustls::version::TLS12]);
    let mut client = client.starttls(config).await;
    client.expect("EHLO secure.example", "250").await;
    client.deliver("sender@other.example").await;

    let messages = server.recorder.messages();
    let tls = messages[0].0.tls.clone().expect("delivered over TLS");
    assert_eq!(tls.version, "TLSv1.2");
    // The generated key is ECDSA, so an ECDHE_ECDSA suite.
    assert!(tls.cipher.starts_with("TLS_ECDHE_ECDSA_"), "{tls:?}");
}

#[tokio::test]
async fn every_message_on_a_tls_connection_carries_the_tls_info() {
    let server = start_tls("every-message").await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO plain.example", "250").await;
    let mut client = client.starttls(server.client_config(&tls13())).await;
    client.expect("EHLO secure.example", "250").await;
    client.deliver("first@other.example").await;
    client.deliver("second@other.example").await;

    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 2);
    let first: Option<&TlsInfo> = messages[0].0.tls.as_ref();
    assert!(first.is_some());
    assert_eq!(messages[1].0.tls.as_ref(), first);
}

#[tokio::test]
async fn plaintext_delivery_on_a_tls_listener_has_no_tls() {
    let server = start_tls("plaintext").await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    client.deliver("plain@other.example").await;

    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0.tls, None);
}

#[tokio::test]
async fn plaintext_pipelined_after_starttls_is_discarded() {
    let server = start_tls("injection").await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO plain.example", "250").await;
    // An attacker on the path appends commands to the client's STARTTLS; they
    // must not be run inside the TLS session (RFC 3207 §4.2).
    client
        .send(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\nRCPT TO:<abc@test.example>\r\n")
        .await;
    assert_eq!(client.reply().await, "220 2.0.0 Ready to start TLS");
    let mut client = client.handshake(server.client_config(&tls13())).await;

    client.expect("EHLO secure.example", "250").await;
    client
        .expect("RCPT TO:<abc@test.example>", "503 5.5.1 Send MAIL first")
        .await;
    client.expect("DATA", "503").await;
    // No injected MAIL is open, so this one is not "nested".
    client.deliver("real@other.example").await;

    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0.mail_from, "real@other.example");
    assert_eq!(messages[0].0.rcpt_to, ["abc@test.example"]);
}

#[tokio::test]
async fn starttls_forgets_helo_and_the_open_transaction() {
    let server = start_tls("reset").await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO plain.example", "250").await;
    client
        .expect("MAIL FROM:<before@other.example>", "250")
        .await;
    client.expect("RCPT TO:<abc@test.example>", "250").await;
    let mut client = client.starttls(server.client_config(&tls13())).await;

    client
        .expect(
            "MAIL FROM:<after@other.example>",
            "503 5.5.1 Send EHLO or HELO first",
        )
        .await;
    client.expect("EHLO secure.example", "250").await;
    client.expect("DATA", "503 5.5.1 Send MAIL first").await;
    client.deliver("after@other.example").await;

    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0.helo, "secure.example");
    assert_eq!(messages[0].0.mail_from, "after@other.example");
}

#[tokio::test]
async fn starttls_with_parameters_is_refused() {
    let server = start_tls("parameters").await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    client.expect("STARTTLS now", "501 5.5.4").await;
    // The same, arriving in two reads.
    client.send(b"STARTTLS").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.send(b" now\r\n").await;
    assert!(client.reply().await.starts_with("501 5.5.4"));
    // Still plaintext; a bare STARTTLS (lower case, as RFC 5321 allows) works.
    client
        .expect("starttls", "220 2.0.0 Ready to start TLS")
        .await;
    let mut client = client.handshake(server.client_config(&tls13())).await;
    client.expect("EHLO secure.example", "250").await;
    client.deliver("sender@other.example").await;
    assert!(server.recorder.messages()[0].0.tls.is_some());
}

#[tokio::test]
async fn garbage_instead_of_a_handshake_closes_only_that_connection() {
    let server = start_tls("garbage").await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    client.expect("STARTTLS", "220").await;
    client.send(b"EHLO this is not a ClientHello\r\n").await;
    // The server may send a TLS alert before it closes, but no SMTP reply.
    let rest = client.read_until_closed().await;
    assert!(!rest.starts_with(b"250"), "{rest:?}");

    let mut client = Client::connect(&server).await;
    client.expect("EHLO plain.example", "250").await;
    let mut client = client.starttls(server.client_config(&tls13())).await;
    client.expect("EHLO secure.example", "250").await;
    client.deliver("sender@other.example").await;
}

#[tokio::test]
async fn stalled_handshake_does_not_hold_up_other_clients() {
    let server = start_tls("stall").await;
    let mut stalled = Client::connect(&server).await;
    stalled.expect("EHLO client.example", "250").await;
    stalled.expect("STARTTLS", "220").await;
    // `stalled` now says nothing, keeping its handshake open.

    let mut client = Client::connect(&server).await;
    client.expect("EHLO plain.example", "250").await;
    let mut client = client.starttls(server.client_config(&tls13())).await;
    client.expect("EHLO secure.example", "250").await;
    client.deliver("sender@other.example").await;
    assert_eq!(server.recorder.messages().len(), 1);
    drop(stalled);
}

#[test]
fn generated_certificate_is_created_once_and_reused() {
    let data_dir = TempDir::new("generate");
    let (cert, key) = (
        data_dir.0.join("tls/cert.pem"),
        data_dir.0.join("tls/key.pem"),
    );
    server_config(None, None, &data_dir.0, "mx.test").unwrap();
    let first = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
    assert!(first.0.starts_with(b"-----BEGIN CERTIFICATE-----"));
    assert!(first.1.starts_with(b"-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    server_config(None, None, &data_dir.0, "mx.test").unwrap();
    let second = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
    assert_eq!(first, second);

    // A start interrupted between the two files leaves the key alone: a
    // certificate is issued for it.
    std::fs::remove_file(&cert).unwrap();
    server_config(None, None, &data_dir.0, "mx.test").unwrap();
    assert_eq!(std::fs::read(&key).unwrap(), first.1);
    assert!(
        std::fs::read(&cert)
            .unwrap()
            .starts_with(b"-----BEGIN CERTIFICATE-----")
    );

    // A certificate without its key is not overwritten.
    std::fs::remove_file(&key).unwrap();
    let err = server_config(None, None, &data_dir.0, "mx.test").unwrap_err();
    assert!(err.to_string().contains(&*key.to_string_lossy()), "{err}");
}

#[tokio::test]
async fn configured_certificate_files_are_used() {
    // A pair made elsewhere, then given as explicit paths.
    let made = TempDir::new("configured-source");
    server_config(None, None, &made.0, HOSTNAME).unwrap();
    let (cert_path, key_path) = (made.0.join("tls/cert.pem"), made.0.join("tls/key.pem"));

    let data_dir = TempDir::new("configured");
    let tls = server_config(Some(&cert_path), Some(&key_path), &data_dir.0, HOSTNAME).unwrap();
    assert!(!data_dir.0.join("tls").exists(), "generated a pair anyway");
    let cert = CertificateDer::from_pem_file(&cert_path).unwrap();
    let server = start(Some(tls), Some(cert), data_dir).await;

    let mut client = Client::connect(&server).await;
    client.expect("EHLO plain.example", "250").await;
    let mut client = client.starttls(server.client_config(&tls13())).await;
    client.expect("EHLO secure.example", "250").await;
}

#[test]
fn missing_or_unpaired_files_are_named_in_the_error() {
    let data_dir = TempDir::new("errors");
    server_config(None, None, &data_dir.0, "mx.test").unwrap();
    let key = data_dir.0.join("tls/key.pem");
    let missing = data_dir.0.join("no-such-cert.pem");

    let err = server_config(Some(&missing), Some(&key), &data_dir.0, "mx.test").unwrap_err();
    assert!(matches!(err, TlsError::Certificate { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "{err}"
    );

    let cert = data_dir.0.join("tls/cert.pem");
    let err = server_config(Some(&cert), Some(&missing), &data_dir.0, "mx.test").unwrap_err();
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "{err}"
    );

    let err = server_config(Some(&cert), None, &data_dir.0, "mx.test").unwrap_err();
    assert!(matches!(err, TlsError::CertWithoutKey(_)), "{err:?}");

    // A certificate whose key is not the one configured.
    let other = TempDir::new("errors-other");
    server_config(None, None, &other.0, "mx.test").unwrap();
    let other_key = other.0.join("tls/key.pem");
    let err = server_config(Some(&cert), Some(&other_key), &data_dir.0, "mx.test").unwrap_err();
    assert!(matches!(err, TlsError::Rejected { .. }), "{err:?}");
}
