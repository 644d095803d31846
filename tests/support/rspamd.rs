//! A real rspamd (Debian's `rspamd` package, 3.4) on a loopback port, for
//! as long as the value lives. The package's configuration, with a local
//! and override dir of our own in a temp dir: the normal worker alone on a
//! free port (no controller, no proxy), DNS asked of the test's DNS server,
//! no redis (the modules that need it switch themselves off), and the
//! modules that ask outside servers (fuzzy, RBLs, ASN) off, so the scores
//! depend on the message and the test zone only.
#![allow(dead_code)]

use super::spamd::free_port;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Rspamd {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
}

/// Where rspamd is installed, if it is.
pub fn binary() -> Option<PathBuf> {
    ["/usr/bin/rspamd", "/usr/sbin/rspamd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The files of the local and override dirs (`$LOCAL_CONFDIR`).
fn config(port: u16, dns: SocketAddr) -> Vec<(&'static str, String)> {
    vec![
        (
            "override.d/worker-normal.inc",
            format!("bind_socket = \"127.0.0.1:{port}\";\ncount = 1;\n"),
        ),
        (
            "override.d/worker-controller.inc",
            "enabled = false;\n".into(),
        ),
        ("override.d/worker-proxy.inc", "enabled = false;\n".into()),
        (
            "override.d/logging.inc",
            "type = \"console\";\nlevel = \"info\";\n".into(),
        ),
        (
            "override.d/options.inc",
            format!(
                "dns {{\n  nameserver = [\"{dns}\"];\n  timeout = 1s;\n  retransmits = 1;\n}}\n"
            ),
        ),
        ("override.d/fuzzy_check.conf", "enabled = false;\n".into()),
        ("override.d/rbl.conf", "enabled = false;\n".into()),
        ("override.d/asn.conf", "enabled = false;\n".into()),
    ]
}

impl Rspamd {
    /// Starts rspamd asking `dns`, or None (with a message) where it is not
    /// installed. Under CI=true a missing rspamd fails the test: `.ci/run`
    /// installs it.
    pub fn start(dns: SocketAddr) -> Option<Rspamd> {
        let Some(binary) = binary() else {
            let message = "rspamd not found: install Debian's rspamd package (.ci/run does)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{message}");
            }
            eprintln!("SKIPPED: {message}");
            return None;
        };
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("mailscore-rspamd-{}-{port}", std::process::id()));
        for (file, text) in config(port, dns) {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let log = std::fs::File::create(dir.join("rspamd.log")).unwrap();
        let var = |name: &str| format!("{name}={}", dir.display());
        let mut command = Command::new(binary);
        command
            .args(["-f", "-c", "/etc/rspamd/rspamd.conf"])
            .args(["--var", &var("LOCAL_CONFDIR")])
            .args(["--var", &var("DBDIR")])
            .args(["--var", &var("RUNDIR")])
            .args(["--var", &var("LOGDIR")]);
        // As root, rspamd would switch to its own user, which cannot
        // read our temp dir: stay root (-i allows the workers to).
        if is_root() {
            command.args(["-u", "root", "-g", "root", "-i"]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start rspamd");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut rspamd = Rspamd { child, addr, dir };
        rspamd.wait_until_listening();
        Some(rspamd)
    }

    /// rspamd loads its rules and symbols before it forks the worker
    /// (several seconds).
    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if self.answers_ping() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("rspamd exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("rspamd never listened on {}: {}", self.addr, self.log());
    }

    /// Whether our rspamd answers `GET /ping` with `pong`: a bare connect
    /// could reach another test's listener that took the port first.
    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)) else {
            return false;
        };
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut reply = Vec::new();
        stream
            .write_all(b"GET /ping HTTP/1.0\r\nConnection: close\r\n\r\n")
            .is_ok()
            && stream.read_to_end(&mut reply).is_ok()
            && String::from_utf8_lossy(&reply).contains("pong")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("rspamd.log")).unwrap_or_default()
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl Drop for Rspamd {
    /// SIGTERM first: the main process then stops its workers, which
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
