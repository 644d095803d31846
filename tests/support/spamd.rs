//! A real spamd (Debian's `spamassassin` package) on a loopback port, for
//! as long as the value lives. Network tests off (`-L`): no DNS
//! blocklists or URIBLs, so the scores depend on the message only.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Spamd {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
}

/// Where spamd is installed, if it is.
fn binary() -> Option<PathBuf> {
    ["/usr/sbin/spamd", "/usr/bin/spamd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A free loopback port (taken and released: spamd binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Spamd {
    /// Starts spamd, or None (with a message) where it is not installed.
    /// Under CI=true a missing spamd fails the test: `.ci/run` installs it.
    pub fn start() -> Option<Spamd> {
        let Some(binary) = binary() else {
            let message = "spamd not found: install Debian's spamassassin and spamc packages \
                           (.ci/run does)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{message}");
            }
            eprintln!("SKIPPED: {message}");
            return None;
        };
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("mailscore-spamd-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("spamd.log")).unwrap();
        let child = Command::new(binary)
            .args(["-L", "-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", "2", "-x", "-s", "stderr"])
            .arg(format!("--pidfile={}", dir.join("spamd.pid").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start spamd");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut spamd = Spamd { child, addr, dir };
        spamd.wait_until_listening();
        Some(spamd)
    }

    /// spamd compiles its rules before it listens (a second or more).
    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if self.answers_ping() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("spamd exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("spamd never listened on {}: {}", self.addr, self.log());
    }

    /// Whether our spamd answers on its port: a bare connect could reach
    /// another test's listener that took the port first.
    fn answers_ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)) else {
            return false;
        };
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut reply = Vec::new();
        stream.write_all(b"PING SPAMC/1.5\r\n\r\n").is_ok()
            && stream.read_to_end(&mut reply).is_ok()
            && reply.starts_with(b"SPAMD/1.5 0 PONG")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("spamd.log")).unwrap_or_default()
    }
}

impl Drop for Spamd {
    /// SIGTERM first: spamd then stops its pre-forked children too, which
    /// SIGKILL would leave behind.
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().ok();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
