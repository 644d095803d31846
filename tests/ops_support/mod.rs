#![allow(dead_code)] // each ops/proxy test binary uses a different part

//! For the operations and PROXY protocol tests: the real `mailscore serve`
//! with its log (standard error) captured line by line, and a bare SMTP
//! client that can write a PROXY header before it speaks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for something the server will do by itself.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A running `mailscore serve` whose log lines are kept; killed and its
/// data removed on drop.
pub struct LoggedServer {
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl LoggedServer {
    /// `mailscore serve` on free loopback ports asking `dns`, plus `extra`.
    pub fn start(dns: SocketAddr, extra: &[&str]) -> LoggedServer {
        let data_dir = std::env::temp_dir().join(format!(
            "mailscore-ops-{}-{}",
            std::process::id(),
            mailscore::test_id::generate()
        ));
        let mut child = serve_command(dns, &data_dir)
            .args(["--dnsbl", "", "--domain-blocklists", ""])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mailscore serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[server] {line}");
                sink.lock().unwrap().push(line);
            }
        });
        let (smtp, http) = bound_addrs(&mut child);
        LoggedServer {
            smtp,
            http,
            data_dir,
            child,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a `kill` name: HUP, TERM) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line satisfies `wanted` (at most [`PATIENCE`]) and
    /// returns it; panics with the whole log otherwise.
    pub fn wait_for_log(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.log().into_iter().find(|l| wanted(l)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line {what}; log:\n{}",
                self.log().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// GET `path`: (status, lower-cased head, body).
    pub fn get(&self, path: &str) -> (u16, String, String) {
        http_get(self.http, path)
    }

    /// Polls the JSON API until the report for `id` is done.
    pub fn wait_for_report(&self, id: &str) -> serde_json::Value {
        crate::support::server::wait_for_report(self.http, id)
    }
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

use crate::support::server::{bound_addrs, serve_command};

/// One `GET` over HTTP/1.1 with `Connection: close`: (status, head
/// lower-cased, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    crate::support::server::http_exchange(addr, "GET", path, &[])
}

/// A TCP connection to `smtp` from `bind_ip` (any 127/8 address plays
/// another host).
pub fn connect_from(smtp: SocketAddr, bind_ip: IpAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(bind_ip, 0).into())
        .expect("bind client IP");
    socket.connect(&smtp.into()).expect("connect SMTP");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// An SMTP client on an open connection; it reads whole replies.
pub struct Smtp<S: Read + Write> {
    stream: BufReader<S>,
}

impl<S: Read + Write> Smtp<S> {
    pub fn new(stream: S) -> Smtp<S> {
        Smtp {
            stream: BufReader::new(stream),
        }
    }

    /// The next reply (all its lines), or "" when the server closed.
    pub fn reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            match self.stream.read_line(&mut line) {
                Ok(0) | Err(_) => return reply,
                Ok(_) => reply += &line,
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return reply;
            }
        }
    }

    /// Sends `line` and CRLF; returns the reply.
    pub fn command(&mut self, line: &str) -> String {
        let writer = self.stream.get_mut();
        writer.write_all(line.as_bytes()).unwrap();
        writer.write_all(b"\r\n").unwrap();
        writer.flush().unwrap();
        self.reply()
    }

    /// Sends `bytes` as they are; returns the reply ("" if the server
    /// closed instead).
    pub fn raw(&mut self, bytes: &[u8]) -> String {
        let writer = self.stream.get_mut();
        // The server may already have closed: its reply (or EOF) tells.
        let _ = writer.write_all(bytes).and_then(|()| writer.flush());
        self.reply()
    }

    /// Sends `line` and panics unless the reply has `code`.
    pub fn expect(&mut self, line: &str, code: &str) {
        let reply = self.command(line);
        assert!(
            reply.starts_with(code),
            "{line}: expected {code}, got {reply:?}"
        );
    }

    /// EHLO through QUIT, after the greeting has been read; `message` has
    /// CRLF line ends and no line starting with a dot.
    pub fn send(&mut self, helo: &str, mail_from: &str, rcpt_to: &str, message: &str) {
        self.expect(&format!("EHLO {helo}"), "250");
        self.expect(&format!("MAIL FROM:<{mail_from}>"), "250");
        self.expect(&format!("RCPT TO:<{rcpt_to}>"), "250");
        self.expect("DATA", "354");
        self.expect(&format!("{message}\r\n."), "250");
        self.expect("QUIT", "221");
    }

    pub fn into_inner(self) -> S {
        self.stream.into_inner()
    }
}

/// A small message from `from`, with a unique Message-ID.
pub fn message(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: test@localhost\r\nSubject: {subject}\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@example>\r\n\r\nHello.\r\n",
        mailscore::test_id::generate()
    )
}
