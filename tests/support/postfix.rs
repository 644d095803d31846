#![allow(dead_code)] // each test binary uses a different part of this harness

//! A real Postfix 3.7 instance of the test's own (its own config, queue
//! and log directories), listening on a free loopback port. Debian's
//! `postfix` package; `.ci/run` installs it. Without it the tests skip,
//! but not under `CI=true`, where they fail.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Postfix {
    pub dir: PathBuf,
    /// Where its smtpd listens.
    pub smtp: SocketAddr,
}

impl Postfix {
    /// An instance that relays everything it is given to `relay` with the
    /// extra `main.cf` settings in `settings`; None (after saying why) when
    /// Postfix is not installed and CI is not set.
    pub fn start(relay: SocketAddr, settings: &[&str]) -> Option<Postfix> {
        if Command::new("postconf")
            .arg("-d")
            .arg("mail_version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "Postfix is not installed: CI needs it (Debian package postfix; .ci/run installs it)"
            );
            eprintln!("skipping: Postfix is not installed (apt-get install postfix)");
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "mailscore-postfix-{}",
            mailscore::test_id::generate()
        ));
        let conf = dir.join("conf");
        for sub in ["conf", "queue", "data"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // master and its daemons write their lock and caches as `postfix`.
        run("chown", &["postfix", dir.join("data").to_str().unwrap()]);
        let master = std::fs::read_to_string("/etc/postfix/master.cf.proto")
            .expect("Debian's postfix ships master.cf.proto");
        std::fs::write(conf.join("main.cf"), "").unwrap();
        let d = dir.display();
        let mut main = vec![
            format!("queue_directory = {d}/queue"),
            format!("data_directory = {d}/data"),
            format!("maillog_file = {d}/maillog"),
            "maillog_file_prefixes = /tmp, /var, /dev/stdout".into(),
            "compatibility_level = 3.6".into(),
            "inet_interfaces = 127.0.0.1".into(),
            "inet_protocols = ipv4".into(),
            "myhostname = relay.postfix.test".into(),
            "mydestination =".into(),
            "mynetworks = 127.0.0.0/8".into(),
            "smtpd_relay_restrictions = permit_mynetworks, reject".into(),
            format!("relayhost = [{}]:{}", relay.ip(), relay.port()),
            // Log every SMTP command the client sends to the relay.
            format!("debug_peer_list = {}", relay.ip()),
            "debug_peer_level = 2".into(),
        ];
        main.extend(settings.iter().map(|s| s.to_string()));
        let mut postconf = Command::new("postconf");
        postconf.arg("-c").arg(&conf).arg("-e").args(&main);
        assert!(postconf.status().unwrap().success(), "postconf -e failed");
        // The free port can be taken by another process before master
        // binds it (tests and benchmarks run side by side): another one.
        for attempt in 1.. {
            let smtp = free_port();
            std::fs::write(conf.join("master.cf"), master_cf(&master, smtp)).unwrap();
            let postfix = Postfix {
                dir: dir.clone(),
                smtp,
            };
            let started = Command::new("postfix")
                .arg("-c")
                .arg(&conf)
                .arg("start")
                .status()
                .unwrap();
            if started.success() {
                postfix.wait_listening();
                return Some(postfix);
            }
            let log = postfix.log();
            assert!(
                attempt < 5 && log.contains("Address already in use"),
                "postfix start failed: {log}"
            );
            // Its Drop would stop the instance and remove the directory.
            std::mem::forget(postfix);
        }
        unreachable!("the loop returns or panics")
    }

    /// The instance's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// Waits until the log has a line containing `needle`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the Postfix log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(self.smtp).is_err() {
            assert!(
                Instant::now() < deadline,
                "Postfix never listened:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(self.dir.join("conf"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian's master.cf with smtpd on `smtp` instead of port 25, and no
/// chroot (the instance's queue is not set up as one).
fn master_cf(proto: &str, smtp: SocketAddr) -> String {
    proto
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                ["smtp", "inet", ..] => format!("{smtp} inet n - n - - smtpd"),
                [name, kind, private, unpriv, "y", rest @ ..] if !line.starts_with('#') => {
                    format!("{name} {kind} {private} {unpriv} n {}", rest.join(" "))
                }
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap();
    assert!(status.success(), "{program} {args:?} failed");
}
