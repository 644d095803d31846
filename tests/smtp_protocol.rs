//! The SMTP listener as a client sees it: raw TCP against a real `Listener`
//! on 127.0.0.1, with a `Delivery` that only records what it is given.

mod support;

use mailscore::smtp::{Delivery, DeliveryError, Envelope, Listener, SmtpSettings};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

const DOMAIN: &str = "test.example";

/// How long a test waits for a reply before failing instead of hanging.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Records every delivered message; fails the first `failures` deliveries.
#[derive(Default)]
struct Recorder {
    messages: Mutex<Vec<(Envelope, Vec<u8>)>>,
    failures: AtomicUsize,
}

impl Delivery for Recorder {
    fn deliver(&self, envelope: &Envelope, message: &[u8]) -> Result<(), DeliveryError> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(DeliveryError("disk on fire".into()));
        }
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

fn settings() -> SmtpSettings {
    SmtpSettings {
        domain: DOMAIN.into(),
        hostname: "mx.test.example".into(),
        max_message_size: 10 * 1024 * 1024,
        max_recipients: 10,
    }
}

/// A listener on an ephemeral port, running on its own task.
struct Server {
    addr: SocketAddr,
    recorder: Arc<Recorder>,
}

async fn start(settings: SmtpSettings, recorder: Recorder) -> Server {
    let recorder = Arc::new(recorder);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let listener = Listener::bind(addr, settings, recorder.clone())
        .await
        .unwrap();
    let addr = listener.local_addr();
    tokio::spawn(listener.run());
    Server { addr, recorder }
}

async fn start_default() -> Server {
    start(settings(), Recorder::default()).await
}

/// A raw SMTP client: writes bytes, reads whole (multi-line) replies.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn connect(server: &Server) -> Client {
        Client::greeted(TcpStream::connect(server.addr).await.unwrap()).await
    }

    /// Connects from a chosen loopback source address.
    async fn connect_from(server: &Server, source: Ipv4Addr) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((source, 0))).unwrap();
        Client::greeted(socket.connect(server.addr).await.unwrap()).await
    }

    async fn greeted(stream: TcpStream) -> Client {
        let mut client = Client {
            stream: BufReader::new(stream),
        };
        let greeting = client.reply().await;
        assert!(greeting.starts_with("220 mx.test.example "), "{greeting}");
        client
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.unwrap();
    }

    /// One reply; continuation lines (`250-`) are joined with `\n`.
    async fn reply(&mut self) -> String {
        support::smtp_reply::read_reply(&mut self.stream, REPLY_TIMEOUT).await
    }

    /// Sends one command line and returns its reply.
    async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Sends `line` and asserts the reply starts with `expected`.
    async fn expect(&mut self, line: &str, expected: &str) -> String {
        let reply = self.cmd(line).await;
        let shown: String = line.chars().take(40).collect();
        assert!(
            reply.starts_with(expected),
            "{shown:?} got {reply:?}, want {expected:?}"
        );
        reply
    }

    /// EHLO, MAIL, RCPT for one recipient, up to the `354`.
    async fn begin(&mut self, rcpt: &str) {
        self.expect("EHLO client.example", "250").await;
        self.expect("MAIL FROM:<sender@other.example>", "250").await;
        self.expect(&format!("RCPT TO:<{rcpt}>"), "250").await;
        self.expect("DATA", "354").await;
    }

    /// MAIL, RCPT, DATA and `body` (which must end with the dot); returns the
    /// reply to the body.
    async fn transaction(&mut self, body: &[u8]) -> String {
        self.expect("MAIL FROM:<sender@other.example>", "250").await;
        self.expect("RCPT TO:<again@test.example>", "250").await;
        self.expect("DATA", "354").await;
        self.send(body).await;
        self.reply().await
    }

    /// Asserts that the server closed the connection.
    async fn assert_closed(&mut self) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(REPLY_TIMEOUT, self.stream.read_to_end(&mut rest));
        read.await.expect("close in time").unwrap();
        assert!(rest.is_empty(), "unexpected bytes: {rest:?}");
    }
}

fn assert_starts(reply: &str, expected: &str) {
    assert!(
        reply.starts_with(expected),
        "got {reply:?}, want {expected:?}"
    );
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn full_transaction_delivers_exact_bytes_and_envelope() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    let client_port = client.stream.get_ref().local_addr().unwrap().port();
    let before = unix_now();

    let ehlo = client
        .expect("EHLO client.example", "250-mx.test.example")
        .await;
    let lines: Vec<&str> = ehlo.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "250-PIPELINING",
            "250-SIZE 10485760",
            "250-8BITMIME",
            "250-SMTPUTF8",
            "250-CHUNKING",
            "250 ENHANCEDSTATUSCODES"
        ]
    );
    client
        .expect(
            "MAIL FROM:<Sender@Other.Example> BODY=8BITMIME",
            "250 2.1.0",
        )
        .await;
    client
        .expect("RCPT TO:<Ci-Build-42@TEST.Example>", "250 2.1.5")
        .await;
    client.expect("DATA", "354").await;
    let body =
        "Subject: caf\u{e9}\r\nFrom: a@other.example\r\n\r\nline one\r\n  indented\tline\r\n";
    client.send(format!("{body}.\r\n").as_bytes()).await;
    assert_eq!(client.reply().await, "250 2.0.0 Message accepted");
    client.expect("QUIT", "221 2.0.0").await;
    client.assert_closed().await;

    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 1);
    let (envelope, message) = &messages[0];
    assert_eq!(message, body.as_bytes());
    assert_eq!(envelope.client_ip, IpAddr::from(Ipv4Addr::LOCALHOST));
    assert_eq!(envelope.client_port, client_port);
    assert_eq!(envelope.helo, "client.example");
    assert_eq!(envelope.mail_from, "Sender@Other.Example");
    assert_eq!(envelope.rcpt_to, ["ci-build-42@test.example"]);
    assert!((before..=unix_now()).contains(&envelope.received_at));
}

#[tokio::test]
async fn helo_gets_a_plain_250_and_null_sender_is_empty() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    assert_eq!(client.cmd("HELO old.example").await, "250 mx.test.example");
    client.expect("MAIL FROM:<>", "250").await;
    client.expect("RCPT TO:<abc@test.example>", "250").await;
    client.expect("DATA", "354").await;
    client.send(b"hi\r\n.\r\n").await;
    assert_starts(&client.reply().await, "250");

    let (envelope, _) = &server.recorder.messages()[0];
    assert_eq!(envelope.helo, "old.example");
    assert_eq!(envelope.mail_from, "");
}

#[tokio::test]
async fn dot_stuffed_first_and_middle_lines_arrive_unstuffed() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.begin("abc@test.example").await;
    client
        .send(b"..first\r\nmiddle\r\n..dot line\r\n...\r\n.\r\n")
        .await;
    assert_starts(&client.reply().await, "250");

    let (_, message) = &server.recorder.messages()[0];
    assert_eq!(message, b".first\r\nmiddle\r\n.dot line\r\n..\r\n");
}

#[tokio::test]
async fn lone_dot_is_an_empty_message() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.begin("abc@test.example").await;
    client.send(b".\r\n").await;
    assert_eq!(client.reply().await, "250 2.0.0 Message accepted");

    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].1.is_empty());
}

#[tokio::test]
async fn oversize_message_is_refused_and_connection_stays_usable() {
    let small = SmtpSettings {
        max_message_size: 1000,
        ..settings()
    };
    let server = start(small, Recorder::default()).await;
    let mut client = Client::connect(&server).await;
    client.begin("abc@test.example").await;
    let line = format!("{}\r\n", "x".repeat(98));
    client.send(line.repeat(20).as_bytes()).await;
    client.send(b".\r\n").await;
    assert_eq!(client.reply().await, "552 5.3.4 Message too big");
    assert!(server.recorder.messages().is_empty());

    // The transaction is over; a fresh one within the limit goes through.
    client.expect("DATA", "503").await;
    let at_the_cap = line.repeat(10);
    let reply = client
        .transaction(format!("{at_the_cap}.\r\n").as_bytes())
        .await;
    assert_starts(&reply, "250");
    assert_starts(&client.transaction(b"ok\r\n.\r\n").await, "250");
    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].1, at_the_cap.as_bytes());
}

#[tokio::test]
async fn mail_size_parameter_over_the_limit_is_refused() {
    let small = SmtpSettings {
        max_message_size: 1000,
        ..settings()
    };
    let server = start(small, Recorder::default()).await;
    let mut client = Client::connect(&server).await;
    let ehlo = client.expect("EHLO client.example", "250").await;
    assert!(ehlo.contains("250-SIZE 1000\n"), "{ehlo}");
    client
        .expect("MAIL FROM:<a@other.example> SIZE=1001", "552 5.3.4")
        .await;
    client
        .expect("MAIL FROM:<a@other.example> SIZE=1000", "250")
        .await;
}

#[tokio::test]
async fn foreign_domains_and_invalid_test_ids_are_refused() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    assert_eq!(
        client.cmd("RCPT TO:<abc@elsewhere.example>").await,
        "550 5.7.1 Relaying denied"
    );
    client
        .expect("RCPT TO:<abc@sub.test.example>", "550 5.7.1")
        .await;
    client
        .expect("RCPT TO:<ab@test.example>", "550 5.1.1")
        .await;
    client
        .expect("RCPT TO:<bad_name@test.example>", "550 5.1.1")
        .await;
    client.expect("DATA", "503").await;
}

#[tokio::test]
async fn eleventh_recipient_is_refused_and_duplicates_count_once() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    client.expect("RCPT TO:<rcpt-0@test.example>", "250").await;
    client.expect("RCPT TO:<RCPT-0@test.example>", "250").await;
    for i in 1..10 {
        client
            .expect(&format!("RCPT TO:<rcpt-{i}@test.example>"), "250")
            .await;
    }
    assert_eq!(
        client.cmd("RCPT TO:<rcpt-10@test.example>").await,
        "452 4.5.3 Too many recipients"
    );
    client.expect("DATA", "354").await;
    client.send(b".\r\n").await;
    assert_starts(&client.reply().await, "250");

    let (envelope, _) = &server.recorder.messages()[0];
    let expected: Vec<String> = (0..10).map(|i| format!("rcpt-{i}@test.example")).collect();
    assert_eq!(envelope.rcpt_to, expected);
}

#[tokio::test]
async fn commands_out_of_order_get_503() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client
        .expect("MAIL FROM:<a@other.example>", "503 5.5.1")
        .await;
    client.expect("EHLO client.example", "250").await;
    client.expect("RCPT TO:<abc@test.example>", "503").await;
    client.expect("DATA", "503").await;
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    client.expect("MAIL FROM:<a@other.example>", "503").await;
    client.expect("DATA", "503").await;
    client.expect("RCPT TO:<abc@test.example>", "250").await;
    client.expect("RSET", "250").await;
    client.expect("DATA", "503").await;
    client.expect("NOOP", "250").await;
}

#[tokio::test]
async fn unknown_commands_and_bad_syntax_are_refused() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    client.expect("FOO bar", "500 5.5.1").await;
    client.expect("MAIL FROM:<<bad", "501").await;
    client.expect("MAIL FROM:<<bad>", "501").await;
    client
        .expect("MAIL FROM:a@other.example", "501 5.5.4")
        .await;
    client.expect("STARTTLS", "502").await;
    // The failed MAILs left no transaction behind.
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    client.expect("RCPT TO:<no-at-sign>", "501").await;
}

#[tokio::test]
async fn overlong_line_is_refused_whether_read_whole_or_in_parts() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    let long = format!("MAIL FROM:<a@other.example> ENVID={}", "a".repeat(5_000));
    client.expect(&long, "500 5.5.2").await;

    // Sent in pieces, so the server sees the line across several reads.
    for chunk in long.as_bytes().chunks(1_000) {
        client.send(chunk).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.send(b"\r\n").await;
    assert_starts(&client.reply().await, "500 5.5.2");

    // Neither line was taken as a command, nor its tail as another one.
    client.expect("MAIL FROM:<a@other.example>", "250").await;
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client
        .send(b"EHLO client.example\r\nMAIL FROM:<a@other.example>\r\nRCPT TO:<bogus@elsewhere.example>\r\nRCPT TO:<abc@test.example>\r\nDATA\r\n")
        .await;
    assert_starts(&client.reply().await, "250-mx.test.example");
    assert_starts(&client.reply().await, "250 2.1.0");
    assert_starts(&client.reply().await, "550 5.7.1");
    assert_starts(&client.reply().await, "250 2.1.5");
    assert_starts(&client.reply().await, "354");
    client.send(b"pipelined\r\n.\r\n").await;
    assert_starts(&client.reply().await, "250");
    assert_eq!(server.recorder.messages()[0].1, b"pipelined\r\n");
}

#[tokio::test]
async fn whole_session_in_one_write_works() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client
        .send(b"EHLO client.example\r\nMAIL FROM:<a@other.example>\r\nRCPT TO:<abc@test.example>\r\nDATA\r\nSubject: one write\r\n\r\n..body\r\n.\r\nQUIT\r\n")
        .await;
    for expected in ["250-", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221"] {
        assert_starts(&client.reply().await, expected);
    }
    client.assert_closed().await;
    let messages = server.recorder.messages();
    assert_eq!(messages[0].1, b"Subject: one write\r\n\r\n.body\r\n");
}

#[tokio::test]
async fn client_ip_is_the_connecting_address() {
    let server = start_default().await;
    let mut client = Client::connect_from(&server, Ipv4Addr::new(127, 0, 0, 2)).await;
    client.begin("abc@test.example").await;
    client.send(b".\r\n").await;
    assert_starts(&client.reply().await, "250");

    let (envelope, _) = &server.recorder.messages()[0];
    assert_eq!(
        envelope.client_ip,
        IpAddr::from(Ipv4Addr::new(127, 0, 0, 2))
    );
}

#[tokio::test]
async fn failed_delivery_gets_451_and_connection_stays_usable() {
    let recorder = Recorder {
        failures: AtomicUsize::new(1),
        ..Recorder::default()
    };
    let server = start(settings(), recorder).await;
    let mut client = Client::connect(&server).await;
    client.begin("abc@test.example").await;
    client.send(b"first\r\n.\r\n").await;
    assert_starts(&client.reply().await, "451 4.3.0");
    assert!(server.recorder.messages().is_empty());

    assert_starts(&client.transaction(b"second\r\n.\r\n").await, "250");
    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].1, b"second\r\n");
}

#[tokio::test]
async fn disconnect_mid_data_delivers_nothing_and_server_keeps_serving() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.begin("abc@test.example").await;
    client
        .send(b"Subject: cut off\r\n\r\nhalf a body\r\n")
        .await;
    drop(client);

    let mut client = Client::connect(&server).await;
    client.begin("abc@test.example").await;
    client.send(b"whole\r\n.\r\n").await;
    assert_starts(&client.reply().await, "250");
    client.expect("QUIT", "221").await;
    // Give the first session time to see its EOF before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].1, b"whole\r\n");
}

#[tokio::test]
async fn parameters_of_extensions_not_offered_get_555() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    for mail in [
        "MAIL FROM:<a@other.example> RET=HDRS",
        "MAIL FROM:<a@other.example> ENVID=QQ314159",
        "MAIL FROM:<a@other.example> BODY=BINARYMIME",
        "MAIL FROM:<a@other.example> REQUIRETLS",
        "MAIL FROM:<a@other.example> AUTH=<>",
    ] {
        client.expect(mail, "555 5.5.4").await;
    }
    // What is offered is taken: SIZE, BODY=7BIT/8BITMIME, SMTPUTF8.
    client
        .expect(
            "MAIL FROM:<a@other.example> SIZE=100 BODY=7BIT SMTPUTF8",
            "250 2.1.0",
        )
        .await;
    for rcpt in [
        "RCPT TO:<box@test.example> NOTIFY=SUCCESS,FAILURE",
        "RCPT TO:<box@test.example> ORCPT=rfc822;box@test.example",
    ] {
        client.expect(rcpt, "555 5.5.4").await;
    }
    client
        .expect("RCPT TO:<box@test.example>", "250 2.1.5")
        .await;
}

#[tokio::test]
async fn utf8_addresses_need_smtputf8() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    client
        .expect("MAIL FROM:<送信者@例え.jp>", "553 5.6.7")
        .await;
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    client
        .expect("RCPT TO:<受信者@test.example>", "553 5.6.7")
        .await;
    client.expect("RSET", "250").await;
    client
        .expect("MAIL FROM:<送信者@例え.jp> SMTPUTF8", "250 2.1.0")
        .await;
    client
        .expect("RCPT TO:<utf8-box@test.example>", "250 2.1.5")
        .await;
    client.expect("DATA", "354").await;
    let body = "From: 送信者 <送信者@例え.jp>\r\nSubject: 日本語の件名\r\n\r\nこんにちは\r\n";
    client.send(format!("{body}.\r\n").as_bytes()).await;
    assert_eq!(client.reply().await, "250 2.0.0 Message accepted");
    let messages = server.recorder.messages();
    assert_eq!(messages[0].0.mail_from, "送信者@例え.jp");
    assert_eq!(messages[0].1, body.as_bytes());
}

#[tokio::test]
async fn postmaster_is_accepted_for_the_operator_not_as_a_test() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    for postmaster in ["postmaster", "PostMaster@Test.Example"] {
        client.expect("MAIL FROM:<a@other.example>", "250").await;
        client
            .expect(&format!("RCPT TO:<{postmaster}>"), "250 2.1.5")
            .await;
        client.expect("DATA", "354").await;
        client
            .send(b"Subject: abuse report\r\n\r\nHello.\r\n.\r\n")
            .await;
        assert_eq!(client.reply().await, "250 2.0.0 Kept for the operator");
    }
    // Not delivered as a test (it would be the test "postmaster").
    assert!(server.recorder.messages().is_empty());
    // Beside a test address, the test gets the message as usual.
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    client.expect("RCPT TO:<postmaster>", "250").await;
    client.expect("RCPT TO:<box@test.example>", "250").await;
    client.expect("DATA", "354").await;
    client.send(b"Subject: both\r\n\r\nHello.\r\n.\r\n").await;
    assert_eq!(client.reply().await, "250 2.0.0 Message accepted");
    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0.rcpt_to, ["box@test.example"]);
    // postmaster at another domain is still relaying.
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    client
        .expect("RCPT TO:<postmaster@elsewhere.example>", "550 5.7.1")
        .await;
}

#[tokio::test]
async fn bdat_chunks_deliver_the_exact_bytes() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    client
        .expect("MAIL FROM:<a@other.example> BODY=8BITMIME", "250")
        .await;
    client
        .expect("RCPT TO:<bdat-box@test.example>", "250")
        .await;
    // No dot-stuffing in BDAT: a line of one dot is content, and so is a
    // chunk boundary in the middle of a line.
    let first = "Subject: chunked\r\n\r\n.\r\n..lead";
    let second = "ing dots stay\r\n";
    client
        .send(format!("BDAT {}\r\n{first}", first.len()).as_bytes())
        .await;
    assert_eq!(client.reply().await, "250 2.0.0 Chunk received");
    // The last chunk and QUIT pipelined in one write.
    client
        .send(format!("BDAT {} LAST\r\n{second}QUIT\r\n", second.len()).as_bytes())
        .await;
    assert_eq!(client.reply().await, "250 2.0.0 Message accepted");
    assert_starts(&client.reply().await, "221");
    let messages = server.recorder.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].1, format!("{first}{second}").as_bytes());
    assert_eq!(messages[0].0.rcpt_to, ["bdat-box@test.example"]);
}

#[tokio::test]
async fn bdat_in_the_wrong_state_is_read_and_refused() {
    let server = start_default().await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    // Refused, but its octets are read (these six are not a RSET): the
    // next command is understood.
    client.send(b"BDAT 6 LAST\r\nRSET\r\n").await;
    assert_starts(&client.reply().await, "503 5.5.1 Send MAIL first");
    client.expect("NOOP", "250").await;
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    client.send(b"BDAT 4\r\nabcd").await;
    assert_starts(&client.reply().await, "503 5.5.1 Send RCPT first");
    client.expect("RCPT TO:<box@test.example>", "250").await;
    client.send(b"BDAT 3\r\nA: ").await;
    assert_eq!(client.reply().await, "250 2.0.0 Chunk received");
    client.expect("DATA", "503 5.5.1 BDAT in progress").await;
    // An empty LAST chunk ends the message.
    client.send(b"BDAT 0 LAST\r\n").await;
    assert_eq!(client.reply().await, "250 2.0.0 Message accepted");
    assert_eq!(server.recorder.messages()[0].1, b"A: ");
}

#[tokio::test]
async fn bdat_over_the_size_limit_is_refused_and_not_kept() {
    let mut limits = settings();
    limits.max_message_size = 1024;
    let server = start(limits, Recorder::default()).await;
    let mut client = Client::connect(&server).await;
    client.expect("EHLO client.example", "250").await;
    client.expect("MAIL FROM:<a@other.example>", "250").await;
    client.expect("RCPT TO:<box@test.example>", "250").await;
    let chunk = "x".repeat(1000);
    client
        .send(format!("BDAT 1000\r\n{chunk}").as_bytes())
        .await;
    assert_eq!(client.reply().await, "250 2.0.0 Chunk received");
    client
        .send(format!("BDAT 1000 LAST\r\n{chunk}").as_bytes())
        .await;
    assert_starts(&client.reply().await, "552 5.3.4");
    // The transaction is over; the connection is still in step.
    client.send(b"BDAT 2 LAST\r\nab").await;
    assert_starts(&client.reply().await, "503");
    client.expect("NOOP", "250").await;
    assert!(server.recorder.messages().is_empty());
}
