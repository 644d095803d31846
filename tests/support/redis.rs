#![allow(dead_code)] // each test binary uses a different part of this harness

//! A real `redis-server` (Debian package `redis-server`) for the shared
//! store tests: on a free loopback port, in its own temporary directory,
//! with persistence off (`--save "" --appendonly no`), killed on drop.
//!
//! Without the binary a test is skipped with a message, except under
//! `CI=true`, where it fails: CI installs the package (.ci/run).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub addr: SocketAddr,
    dir: PathBuf,
    child: Child,
    /// Started with an fsynced append-only file (kept across restarts).
    durable: bool,
}

impl RedisServer {
    /// A fresh server, or None (after saying why) when `redis-server` is
    /// not installed and CI is not set.
    pub fn start() -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "redis-server is not installed: CI needs it for the shared store tests \
                 (Debian package redis-server; .ci/run installs it)"
            );
            eprintln!("skipping: redis-server is not installed (apt-get install redis-server)");
            return None;
        }
        // A free port can be taken by someone else between our probe and
        // Redis binding it; then Redis exits and we try another.
        for _ in 0..5 {
            if let Some(server) = Self::try_start() {
                return Some(server);
            }
        }
        panic!("redis-server did not start on a free loopback port");
    }

    /// A fresh server that writes every command to its append-only file
    /// before answering (`appendfsync always`): what a deployment that
    /// promises "250 means kept" runs, since a kill then loses nothing.
    #[allow(dead_code)]
    pub fn start_durable() -> Option<RedisServer> {
        let mut server = Self::start()?;
        let _ = server.child.kill();
        let _ = server.child.wait();
        server.durable = true;
        server.child = spawn_with(server.addr.port(), &server.dir, true);
        assert!(server.ready(), "redis-server did not start durable");
        Some(server)
    }

    /// SIGKILL: a crash. Start it again with [`RedisServer::restart`].
    #[allow(dead_code)]
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The URL mailscore's `--store` takes.
    pub fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }

    /// SIGSTOP: the server keeps its sockets and data but answers nothing
    /// (a Redis stalled or partitioned away) until [`RedisServer::resume`].
    #[allow(dead_code)]
    pub fn pause(&self) {
        signal(self.child.id(), "-STOP");
    }

    #[allow(dead_code)]
    pub fn resume(&self) {
        signal(self.child.id(), "-CONT");
    }

    /// Kills the server and starts a new one on the same port: what a
    /// client sees when Redis restarts (its data is gone, persistence is
    /// off).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_with(self.addr.port(), &self.dir, self.durable);
        assert!(self.ready(), "redis-server did not come back");
    }

    fn try_start() -> Option<RedisServer> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("probe a free port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "mailscore-redis-{}-{port}-{}",
            std::process::id(),
            mailscore::test_id::generate()
        ));
        std::fs::create_dir_all(&dir).expect("redis directory");
        let mut server = RedisServer {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child: spawn(port, &dir),
            durable: false,
            dir,
        };
        server.ready().then_some(server)
    }

    /// Waits for the server to answer PING; false if it exited instead.
    fn ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            if self.ping() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(self.addr) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

fn spawn(port: u16, dir: &Path) -> Child {
    spawn_with(port, dir, false)
}

fn spawn_with(port: u16, dir: &Path, durable: bool) -> Child {
    let persistence: &[&str] = if durable {
        &[
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ]
    } else {
        &["--save", "", "--appendonly", "no"]
    };
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(persistence)
        // DEBUG SLEEP plays a stalled Redis (from loopback only).
        .args(["--enable-debug-command", "local"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(sent, "kill {signal} {pid}");
}
