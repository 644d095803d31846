//! The SMTP listener against hostile senders: idlers, tricklers, floods of
//! connections, messages, errors and commands, and binary noise. Raw TCP
//! against a real `Listener` on loopback, with small `SmtpLimits` so each
//! limit is reached in well under a second.

use mailscore::smtp::{Delivery, DeliveryError, Envelope, Listener, SmtpLimits, SmtpSettings};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// How long a test waits for a reply before failing instead of hanging.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// A second loopback address, to play another client.
const OTHER_HOST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Records every delivered message.
#[derive(Default)]
struct Recorder {
    messages: Mutex<Vec<Vec<u8>>>,
}

impl Delivery for Recorder {
    fn deliver(&self, _: &Envelope, message: &[u8]) -> Result<(), DeliveryError> {
        self.messages.lock().unwrap().push(message.to_vec());
        Ok(())
    }
}

/// A listener on an ephemeral port, running on its own task.
struct Server {
    addr: SocketAddr,
    recorder: Arc<Recorder>,
}

impl Server {
    async fn start(limits: SmtpLimits) -> Server {
        let settings = SmtpSettings {
            domain: "test.example".into(),
            hostname: "mx.test.example".into(),
            max_message_size: 1024 * 1024,
            max_recipients: 10,
        };
        let recorder = Arc::new(Recorder::default());
        let listener = Listener::bind(SocketAddr::from((LOCALHOST, 0)), settings, recorder.clone())
            .await
            .unwrap()
            .with_limits(limits);
        let addr = listener.local_addr();
        tokio::spawn(listener.run());
        Server { addr, recorder }
    }

    fn delivered(&self) -> Vec<Vec<u8>> {
        self.recorder.messages.lock().unwrap().clone()
    }
}

/// A raw SMTP client: writes bytes, reads whole (multi-line) replies. The
/// halves are separate so a test can keep writing while it reads.
struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    /// Connects from `source` without reading anything.
    async fn open(server: &Server, source: Ipv4Addr) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((source, 0))).unwrap();
        let (reader, writer) = socket.connect(server.addr).await.unwrap().into_split();
        Client {
            reader: BufReader::new(reader),
            writer,
        }
    }

    /// Connects from `source` and reads the `220` greeting.
    async fn greeted(server: &Server, source: Ipv4Addr) -> Client {
        let mut client = Client::open(server, source).await;
        let greeting = client.reply().await;
        assert!(greeting.starts_with("220 mx.test.example "), "{greeting}");
        client
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// The next reply line, or `None` once the server has closed.
    async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = tokio::time::timeout(REPLY_TIMEOUT, self.reader.read_line(&mut line));
        let n = read.await.expect("reply in time").unwrap();
        if n == 0 {
            return None;
        }
        let line = line.strip_suffix("\r\n").expect("reply line ends in CRLF");
        Some(line.to_string())
    }

    /// One reply; continuation lines (`250-`) are joined with `\n`.
    async fn reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let Some(line) = self.line().await else {
                panic!("connection closed; reply so far: {reply:?}");
            };
            reply.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return reply;
            }
            reply.push('\n');
        }
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

    /// One whole transaction after EHLO; returns the reply to the body.
    async fn transaction(&mut self, body: &[u8]) -> String {
        self.expect("MAIL FROM:<sender@other.example>", "250").await;
        self.expect("RCPT TO:<abc@test.example>", "250").await;
        self.expect("DATA", "354").await;
        self.send(body).await;
        self.reply().await
    }

    /// Asserts that the server closed the connection with nothing more said.
    async fn assert_closed(&mut self) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(REPLY_TIMEOUT, self.reader.read_to_end(&mut rest));
        read.await.expect("close in time").unwrap();
        assert!(
            rest.is_empty(),
            "unexpected bytes: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}

fn assert_starts(reply: &str, expected: &str) {
    assert!(
        reply.starts_with(expected),
        "got {reply:?}, want {expected:?}"
    );
}

/// A deterministic stream of bytes (xorshift64).
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[tokio::test]
async fn idle_client_gets_421_and_its_slot_goes_to_the_next_client() {
    let server = Server::start(SmtpLimits {
        command_timeout: Duration::from_millis(300),
        max_connections: 1,
        ..SmtpLimits::default()
    })
    .await;
    let started = Instant::now();
    let mut idle = Client::greeted(&server, LOCALHOST).await;

    // The only slot is taken: the next client waits in the backlog, ungreeted.
    let mut next = Client::open(&server, OTHER_HOST).await;
    let early = tokio::time::timeout(Duration::from_millis(100), next.reader.read_u8()).await;
    assert!(early.is_err(), "greeted while the only slot was taken");

    assert_starts(&idle.reply().await, "421 4.4.2");
    assert!(started.elapsed() >= Duration::from_millis(300));
    idle.assert_closed().await;
    drop(idle);

    let greeting = next.reply().await;
    assert_starts(&greeting, "220 mx.test.example");
    next.expect("EHLO client.example", "250").await;
    next.expect("QUIT", "221").await;
}

#[tokio::test]
async fn body_trickled_past_the_data_timeout_gets_421_and_is_not_delivered() {
    let server = Server::start(SmtpLimits {
        command_timeout: Duration::from_millis(300),
        data_timeout: Duration::from_millis(800),
        ..SmtpLimits::default()
    })
    .await;
    let mut client = Client::greeted(&server, LOCALHOST).await;
    client.expect("EHLO client.example", "250").await;
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    client.expect("RCPT TO:<abc@test.example>", "250").await;
    client.expect("DATA", "354").await;
    let started = Instant::now();

    // One byte every 100 ms: never idle for a command timeout, but the body
    // as a whole takes too long.
    let Client { mut reader, writer } = client;
    let trickle = tokio::spawn(async move {
        let mut writer = writer;
        for byte in b"Subject: slow\r\n\r\n".iter().cycle() {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut line = String::new();
    let read = tokio::time::timeout(REPLY_TIMEOUT, reader.read_line(&mut line));
    read.await.expect("reply in time").unwrap();
    let elapsed = started.elapsed();
    trickle.abort();
    assert_starts(&line, "421 4.4.2");
    assert!(elapsed >= Duration::from_millis(800), "{elapsed:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(server.delivered().is_empty());
}

#[tokio::test]
async fn connection_over_the_per_ip_cap_gets_421_while_another_ip_is_served() {
    let server = Server::start(SmtpLimits {
        max_connections_per_ip: 3,
        ..SmtpLimits::default()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Client::greeted(&server, LOCALHOST).await);
    }

    let mut fourth = Client::open(&server, LOCALHOST).await;
    assert_starts(&fourth.reply().await, "421 4.7.0");
    fourth.assert_closed().await;

    let mut other = Client::greeted(&server, OTHER_HOST).await;
    other.expect("EHLO other.example", "250").await;
    assert_starts(&other.transaction(b"hi\r\n.\r\n").await, "250");

    // The first three are still served; when one leaves, its place is free.
    for client in &mut open {
        client.expect("NOOP", "250").await;
    }
    let mut leaving = open.pop().unwrap();
    leaving.expect("QUIT", "221").await;
    leaving.assert_closed().await;
    drop(leaving);
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        let mut client = Client::open(&server, LOCALHOST).await;
        let reply = client.reply().await;
        if reply.starts_with("220") {
            break;
        }
        assert_starts(&reply, "421 4.7.0");
        assert!(Instant::now() < deadline, "the freed place never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn mail_over_the_message_rate_gets_450_and_another_ip_is_unaffected() {
    let server = Server::start(SmtpLimits {
        messages_per_ip_per_minute: 3,
        ..SmtpLimits::default()
    })
    .await;
    let mut client = Client::greeted(&server, LOCALHOST).await;
    client.expect("EHLO client.example", "250").await;
    for _ in 0..3 {
        assert_starts(&client.transaction(b"hi\r\n.\r\n").await, "250");
    }
    client
        .expect("MAIL FROM:<a@other.example>", "450 4.7.1")
        .await;

    // The bucket belongs to the address, not to the connection.
    let mut again = Client::greeted(&server, LOCALHOST).await;
    again.expect("EHLO client.example", "250").await;
    again
        .expect("MAIL FROM:<a@other.example>", "450 4.7.1")
        .await;

    let mut other = Client::greeted(&server, OTHER_HOST).await;
    other.expect("EHLO other.example", "250").await;
    assert_starts(&other.transaction(b"other\r\n.\r\n").await, "250");
    assert_eq!(server.delivered().len(), 4);
}

#[tokio::test]
async fn too_many_errors_get_421_and_close() {
    let server = Server::start(SmtpLimits {
        max_errors: 3,
        ..SmtpLimits::default()
    })
    .await;
    let mut client = Client::greeted(&server, LOCALHOST).await;
    client.expect("FOO", "500").await;
    client.expect("NOOP", "250").await;
    client.expect("MAIL FROM:<a@other.example>", "503").await;
    client.expect("EHLO client.example", "250").await;
    client.expect("RCPT TO:<abc@test.example>", "503").await;
    assert_eq!(
        client.reply().await,
        "421 4.7.0 Too many errors, closing connection"
    );
    client.assert_closed().await;

    // Pipelined: the bad commands after the limit are not even read.
    let mut client = Client::greeted(&server, LOCALHOST).await;
    client.send("FOO\r\n".repeat(10_000).as_bytes()).await;
    for _ in 0..3 {
        assert_starts(&client.reply().await, "500 5.5.1");
    }
    assert_starts(&client.reply().await, "421 4.7.0");
    client.assert_closed().await;
}

#[tokio::test]
async fn nul_bytes_binary_noise_and_a_100_kb_line_get_errors_not_a_crash() {
    let server = Server::start(SmtpLimits::default()).await;
    let mut client = Client::greeted(&server, LOCALHOST).await;
    client.expect("EHLO client.example", "250").await;
    client.send(b"\0\0\0\r\n").await;
    assert_starts(&client.reply().await, "500");
    client.send(b"MAIL FROM:<a\0b@other.example>\r\n").await;
    assert_starts(&client.reply().await, "501");
    let mut long = vec![b'A'; 100 * 1024];
    long.extend_from_slice(b"\r\n");
    client.send(&long).await;
    assert_eq!(client.reply().await, "500 5.5.2 Line too long");
    // Three errors so far: the connection is still in step and usable.
    client.expect("NOOP", "250").await;
    assert_starts(&client.transaction(b"ok\r\n.\r\n").await, "250");

    // Then pure noise, NUL and all, until it is cut off (or not).
    let mut noisy = noise(64 * 1024, 0x5eed);
    noisy.extend_from_slice(b"\r\nNOOP\r\n");
    client.send(&noisy).await;
    let mut errors = 0;
    while let Some(line) = client.line().await {
        assert!(
            line.len() > 3 && line.as_bytes()[..3].iter().all(u8::is_ascii_digit),
            "malformed reply {line:?}"
        );
        if line.starts_with('4') || line.starts_with('5') {
            errors += 1;
        }
        if line.starts_with("421") || line == "250 2.0.0 OK" {
            break;
        }
    }
    assert!(errors > 0);

    // Whatever that connection came to, the listener serves the next client.
    let mut next = Client::greeted(&server, LOCALHOST).await;
    next.expect("EHLO client.example", "250").await;
    assert_starts(&next.transaction(b"next\r\n.\r\n").await, "250");
    assert_eq!(
        server.delivered(),
        [b"ok\r\n".to_vec(), b"next\r\n".to_vec()]
    );
}

#[tokio::test]
async fn too_many_header_lines_get_554_and_the_connection_stays_usable() {
    let server = Server::start(SmtpLimits {
        max_header_lines: 5,
        ..SmtpLimits::default()
    })
    .await;
    let mut client = Client::greeted(&server, LOCALHOST).await;
    client.expect("EHLO client.example", "250").await;
    // Six header lines (the body after the empty line does not count).
    let six = format!("{}\r\nbody\r\n.\r\n", "X-Filler: x\r\n".repeat(6));
    assert_eq!(
        client.transaction(six.as_bytes()).await,
        "554 5.6.0 Too many header lines"
    );
    assert!(server.delivered().is_empty());

    let five = format!(
        "{}\r\n{}.\r\n",
        "X-Filler: x\r\n".repeat(5),
        "line\r\n".repeat(50)
    );
    assert_starts(&client.transaction(five.as_bytes()).await, "250");
    assert_eq!(server.delivered().len(), 1);
}

#[tokio::test]
async fn flood_of_pipelined_noops_is_answered_in_order() {
    let server = Server::start(SmtpLimits {
        max_commands: 20_000,
        ..SmtpLimits::default()
    })
    .await;
    let client = Client::greeted(&server, LOCALHOST).await;
    let Client { mut reader, writer } = client;
    let started = Instant::now();
    // One write; the replies are read at the same time, so neither side's
    // buffers can fill up and stall the other.
    let writing = tokio::spawn(async move {
        let mut writer = writer;
        let mut flood = "NOOP\r\n".repeat(10_000);
        flood.push_str("QUIT\r\n");
        writer.write_all(flood.as_bytes()).await.unwrap();
        writer
    });
    let mut replies = Vec::new();
    let read = tokio::time::timeout(REPLY_TIMEOUT, reader.read_to_end(&mut replies));
    read.await.expect("all replies in time").unwrap();
    let elapsed = started.elapsed();
    let _writer = writing.await.unwrap();

    let mut expected = "250 2.0.0 OK\r\n".repeat(10_000);
    expected.push_str("221 2.0.0 Bye\r\n");
    assert!(
        replies == expected.as_bytes(),
        "{} bytes of replies, {} expected",
        replies.len(),
        expected.len()
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn commands_past_the_cap_get_421_and_close() {
    let server = Server::start(SmtpLimits::default()).await;
    let cap = SmtpLimits::default().max_commands;
    let mut client = Client::greeted(&server, LOCALHOST).await;
    client.send("NOOP\r\n".repeat(cap + 500).as_bytes()).await;
    for n in 0..cap {
        let reply = client.reply().await;
        assert!(reply.starts_with("250"), "command {n}: {reply}");
    }
    assert_eq!(
        client.reply().await,
        "421 4.7.0 Too many commands, closing connection"
    );
    client.assert_closed().await;
}

#[tokio::test]
async fn a_noop_just_inside_each_timeout_is_closed_at_the_session_lifetime() {
    let server = Server::start(SmtpLimits {
        command_timeout: Duration::from_millis(400),
        session_lifetime: Duration::from_millis(1500),
        ..SmtpLimits::default()
    })
    .await;
    let started = Instant::now();
    let mut client = Client::greeted(&server, LOCALHOST).await;
    client.expect("EHLO client.example", "250").await;
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    client.expect("RCPT TO:<abc@test.example>", "250").await;
    // Never idle for a command timeout (the 299 s NOOP of a real abuser).
    let closing = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        client.send(b"NOOP\r\n").await;
        let reply = client.reply().await;
        if !reply.starts_with("250") {
            break reply;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never closed");
    };
    let elapsed = started.elapsed();
    assert_eq!(
        closing,
        "421 4.4.2 Session lasted too long, closing connection"
    );
    assert!(elapsed >= Duration::from_millis(1500), "{elapsed:?}");
    client.assert_closed().await;
    assert!(server.delivered().is_empty());

    // Other clients are served as before.
    let mut next = Client::greeted(&server, OTHER_HOST).await;
    next.expect("EHLO other.example", "250").await;
}
