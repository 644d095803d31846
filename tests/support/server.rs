#![allow(dead_code)] // each test binary uses a different part of this harness

//! Runs the real `mailscore serve` binary on free loopback ports, and talks
//! to it the way users do: SMTP to send, HTTP to read the report.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `mailscore serve`, killed and its data removed on drop.
pub struct Server {
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    child: Child,
}

impl Server {
    /// Starts the binary with `--dns dns` and any extra flags.
    pub fn start(dns: SocketAddr, extra: &[&str]) -> Server {
        Self::start_with_env(dns, extra, &[])
    }

    /// As [`Server::start`], with extra environment variables.
    pub fn start_with_env(dns: SocketAddr, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_in(fresh_data_dir(), dns, extra, env)
    }

    /// As [`Server::start`], on an existing data directory (removed on drop).
    pub fn start_in(
        data_dir: PathBuf,
        dns: SocketAddr,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let mut child = serve_command(dns, &data_dir)
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mailscore serve");
        let (smtp, http) = bound_addrs(&mut child);
        Server {
            smtp,
            http,
            data_dir,
            child,
        }
    }

    /// GETs `path` and returns (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_request(self.http, "GET", path, &[])
    }

    /// The value of `series` (a metric's name and labels, as `/metrics`
    /// prints them) now.
    pub fn metric<T: std::str::FromStr>(&self, series: &str) -> T {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200);
        body.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} not in /metrics:\n{body}"))
    }

    pub fn post(&self, path: &str) -> (u16, String) {
        http_request(self.http, "POST", path, &[])
    }

    /// POSTs `body` as JSON to `path`; (status, body).
    pub fn post_json(&self, path: &str, body: &str) -> (u16, String) {
        let (status, _, body) = http_send(self.http, "POST", path, &[], body.as_bytes());
        (status, body)
    }

    /// GETs `path`: (status, the response head lower-cased, body).
    pub fn get_with_head(&self, path: &str) -> (u16, String, String) {
        http_exchange(self.http, "GET", path, &[])
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        http_request(self.http, "GET", path, headers)
    }

    /// Polls `GET /api/tests/{id}` until the status is "done" (or "error").
    pub fn wait_for_report(&self, id: &str) -> serde_json::Value {
        wait_for_report(self.http, id)
    }
}

/// Polls `GET /api/tests/{id}` on the server at `http` until the analysis
/// ended, status "done" or "error" (at most 30 s); the report.
pub fn wait_for_report(http: SocketAddr, id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_request(http, "GET", &format!("/api/tests/{id}"), &[]);
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
        if json["status"] == "done" || json["status"] == "error" {
            return json;
        }
        assert!(Instant::now() < deadline, "no report for {id}: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash would: returns the data directory, kept for a
    /// restart with [`Server::start_in`].
    pub fn crash(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data_dir = std::mem::take(&mut self.data_dir);
        std::mem::forget(self);
        data_dir
    }

    /// SIGTERM, as a supervisor stops it, and waits for the exit: returns
    /// the data directory, kept for a restart with [`Server::start_in`].
    pub fn stop(mut self) -> PathBuf {
        let term = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(term.success());
        let exit = self.wait_exit(Duration::from_secs(15));
        assert!(exit.is_some_and(|e| e.success()), "no clean exit: {exit:?}");
        let data_dir = std::mem::take(&mut self.data_dir);
        std::mem::forget(self);
        data_dir
    }

    /// Waits up to `limit` for the process to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A data directory path no other test uses.
pub fn fresh_data_dir() -> PathBuf {
    std::env::temp_dir().join(format!("mailscore-e2e-{}-{}", std::process::id(), unique()))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `mailscore serve` on free loopback ports, asking `dns` (one-second
/// timeouts), keeping its data in `data_dir`; callers add flags and stdio.
pub fn serve_command(dns: SocketAddr, data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailscore"));
    command
        .arg("serve")
        .args([
            "--smtp-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .args(["--dns", &dns.to_string(), "--dns-timeout", "1"])
        .arg("--data-dir")
        .arg(data_dir)
        // The test zones are unsigned: there is nothing to validate (a
        // test that signs its zones turns it on with the flag).
        .env("MAILSCORE_DNSSEC_VALIDATION", "off");
    command
}

/// The SMTP and HTTP addresses from the start-up line on `child`'s piped
/// standard output.
pub fn bound_addrs(child: &mut Child) -> (SocketAddr, SocketAddr) {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the startup line");
    (addr_after(&line, "SMTP on "), addr_after(&line, "HTTP on "))
}

/// The socket address after `marker` in the start-up line.
fn addr_after(line: &str, marker: &str) -> SocketAddr {
    let start = line
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in startup line {line:?}"))
        + marker.len();
    line[start..]
        .split([',', ' '])
        .next()
        .unwrap()
        .parse()
        .expect("socket address")
}

fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let (status, _, body) = http_exchange(addr, method, path, headers);
    (status, body)
}

/// One HTTP/1.1 request: (status, response head lower-cased, body).
pub fn http_exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    http_send(addr, method, path, headers, b"")
}

/// One HTTP/1.1 request with `body`: (status, response head lower-cased, body).
pub fn http_send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect HTTP");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    request += "\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("HTTP status");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, head.to_ascii_lowercase(), body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out += &rest[..size];
        body = &rest[size + 2..];
    }
    out
}

/// One SMTP transaction in plaintext, from `bind_ip` (to play another
/// sender IP). Panics on an unexpected reply code.
pub fn send_mail(
    smtp: SocketAddr,
    bind_ip: IpAddr,
    helo: &str,
    mail_from: &str,
    rcpt_to: &[&str],
    message: &[u8],
) {
    let mut stream = BufReader::new(connect(smtp, bind_ip));
    expect(&mut stream, "220");
    transaction(&mut stream, helo, mail_from, rcpt_to, message);
}

/// One pipelined transaction to `{id}@localhost`; true when the final
/// reply was 250. Never panics: the server may die at any point, which is
/// what the crash tests do to it.
pub fn try_deliver(smtp: SocketAddr, helo: &str, mail_from: &str, id: &str) -> bool {
    deliver_reply(smtp, helo, mail_from, id).starts_with("250")
}

/// [`try_deliver`], with the final reply (empty when the connection
/// failed or closed before it).
#[allow(dead_code)]
pub fn deliver_reply(smtp: SocketAddr, helo: &str, mail_from: &str, id: &str) -> String {
    let attempt = || -> std::io::Result<String> {
        let stream = TcpStream::connect(smtp)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let mut reply = || -> std::io::Result<String> {
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(String::new());
                }
                if line.as_bytes().get(3) != Some(&b'-') {
                    return Ok(line);
                }
            }
        };
        reply()?;
        let script = format!(
            "HELO {helo}\r\nMAIL FROM:<{mail_from}>\r\nRCPT TO:<{id}@localhost>\r\nDATA\r\n"
        );
        writer.write_all(script.as_bytes())?;
        for _ in 0..4 {
            reply()?;
        }
        writer.write_all(format!("Subject: {id}\r\n\r\nbody\r\n.\r\n").as_bytes())?;
        reply()
    };
    attempt().unwrap_or_default()
}

impl Server {
    /// One SMTP transaction over STARTTLS (TLS 1.3), trusting exactly the
    /// certificate the server generated in its data directory.
    pub fn send_mail_tls(&self, helo: &str, mail_from: &str, rcpt_to: &[&str], message: &[u8]) {
        let mut plain = BufReader::new(connect(self.smtp, IpAddr::from([127, 0, 0, 1])));
        expect(&mut plain, "220");
        command(&mut plain, &format!("EHLO {helo}"), "250");
        command(&mut plain, "STARTTLS", "220");
        let cert_pem =
            std::fs::read(self.data_dir.join("tls/cert.pem")).expect("server certificate");
        let cert = CertificateDer::from_pem_slice(&cert_pem).unwrap();
        let config = super::tls::pinned_client_config(cert, &[&rustls::version::TLS13]);
        let name = ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(config, name).unwrap();
        let tls = rustls::StreamOwned::new(connection, plain.into_inner());
        transaction(&mut BufReader::new(tls), helo, mail_from, rcpt_to, message);
    }
}

fn connect(smtp: SocketAddr, bind_ip: IpAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(bind_ip, 0).into())
        .expect("bind client IP");
    socket.connect(&smtp.into()).expect("connect SMTP");
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// EHLO through QUIT on an open session.
fn transaction<S: Read + Write>(
    stream: &mut BufReader<S>,
    helo: &str,
    mail_from: &str,
    rcpt_to: &[&str],
    message: &[u8],
) {
    command(stream, &format!("EHLO {helo}"), "250");
    command(stream, &format!("MAIL FROM:<{mail_from}>"), "250");
    for rcpt in rcpt_to {
        command(stream, &format!("RCPT TO:<{rcpt}>"), "250");
    }
    command(stream, "DATA", "354");
    let mut data = dot_stuff(message);
    data.extend_from_slice(b".");
    command(
        stream,
        std::str::from_utf8(&data).expect("UTF-8 test message"),
        "250",
    );
    command(stream, "QUIT", "221");
}

/// Sends `line` and CRLF, and expects a reply with `code`.
fn command<S: Read + Write>(stream: &mut BufReader<S>, line: &str, code: &str) {
    let writer = stream.get_mut();
    writer.write_all(line.as_bytes()).unwrap();
    writer.write_all(b"\r\n").unwrap();
    writer.flush().unwrap();
    expect(stream, code);
}

fn expect(reader: &mut impl BufRead, code: &str) {
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("SMTP reply");
        assert!(line.starts_with(code), "expected {code}, got {line:?}");
        if line.as_bytes().get(3) != Some(&b'-') {
            return;
        }
    }
}

/// CRLF line ends, a leading dot doubled, and a final CRLF.
fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message).replace("\r\n", "\n");
    let mut out = String::new();
    for line in text.trim_end_matches('\n').split('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out += line;
        out += "\r\n";
    }
    out.into_bytes()
}
