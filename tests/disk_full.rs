//! A full disk, for real: the data directory on a 10 MB tmpfs (mounted by
//! the test; CI runs as root), 100 KB messages until the disk is nearly
//! full. Every message that got `250` is readable, with its report, after
//! a `kill -9` and a restart; every other one got `452 4.3.1` (never a
//! `250`, never a hung session); `/readyz` is 503 while the disk is full
//! and 200 again, without a restart, once space is freed.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::dns::{TestDns, Zone};
use support::server::{Server, wait_for_report};

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(megabytes: u32) -> Option<Tmpfs> {
        let dir = std::env::temp_dir().join(format!(
            "mailscore-disk-full-{}",
            mailscore::test_id::generate()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("disk_full: cannot mount a tmpfs here (not root?); skipped");
            std::fs::remove_dir(&dir).ok();
            return None;
        }
        Some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        Command::new("umount").arg("-l").arg(&self.0).status().ok();
        std::fs::remove_dir(&self.0).ok();
    }
}

/// One SMTP transaction of a `size`-byte message to `id@localhost`: the
/// last reply (to MAIL, RCPT or the final dot), or why there was none.
fn deliver(smtp: SocketAddr, id: &str, size: usize) -> String {
    let stream = TcpStream::connect(smtp).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut reply = || {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return "no reply".to_string();
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_string();
            }
        }
    };
    reply();
    let mut steps = vec![
        "EHLO client.example\r\n".to_string(),
        "MAIL FROM:<a@example.org>\r\n".to_string(),
        format!("RCPT TO:<{id}@localhost>\r\n"),
        "DATA\r\n".to_string(),
    ];
    let line = "x".repeat(98);
    let mut body = format!("From: a@example.org\r\nSubject: {id}\r\n\r\n");
    while body.len() < size {
        body.push_str(&line);
        body.push_str("\r\n");
    }
    body.push_str(".\r\n");
    steps.push(body);
    let mut last = String::new();
    for step in steps {
        writer.write_all(step.as_bytes()).unwrap();
        last = reply();
        if !(last.starts_with('2') || last.starts_with("354")) {
            break;
        }
    }
    writer.write_all(b"QUIT\r\n").ok();
    last
}

fn readyz(server: &Server) -> (u16, String) {
    server.get("/readyz")
}

fn start(dir: &Path, dns: &TestDns) -> Server {
    Server::start_in(
        dir.to_path_buf(),
        dns.addr,
        &[
            "--min-free-space-mb",
            "2",
            "--max-message-size",
            "262144",
            "--messages-per-ip-per-minute",
            "10000",
        ],
        &[("MAILSCORE_PROBE", "off")],
    )
}

#[test]
fn a_full_disk_gets_452_never_250_and_loses_nothing() {
    let Some(tmpfs) = Tmpfs::mount(10) else {
        return;
    };
    let dns = TestDns::start(Zone::new());
    // Room the test can give back later.
    let filler = tmpfs.0.join("filler");
    std::fs::write(&filler, vec![0; 3_000_000]).unwrap();
    let data = tmpfs.0.join("data");
    let server = start(&data, &dns);
    assert_eq!(readyz(&server).0, 200);

    let mut accepted = Vec::new();
    let mut refused = 0;
    for n in 0..200 {
        let id = format!("full-{n}");
        let reply = deliver(server.smtp, &id, 100 * 1024);
        if reply.starts_with("250") {
            assert!(refused == 0, "250 after a 452: {id}");
            accepted.push(id);
        } else {
            assert!(
                reply.starts_with("452 4.3.1"),
                "{id}: neither 250 nor 452: {reply}"
            );
            refused += 1;
            if refused == 5 {
                break;
            }
        }
    }
    assert!(accepted.len() >= 5, "the disk was never usable");
    assert_eq!(
        refused,
        5,
        "the disk never filled: {} accepted",
        accepted.len()
    );
    let (status, body) = readyz(&server);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("disk nearly full"), "{body}");
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("mailscore_smtp_refused_total{reason=\"insufficient_storage\"} 5"),
        "{metrics}"
    );
    // Every accepted message is analysed: the reserve held its reports.
    for id in &accepted {
        wait_for_report(server.http, id);
    }

    // Space comes back: ready again, mail taken again, no restart.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while readyz(&server).0 != 200 {
        assert!(Instant::now() < deadline, "never ready again");
        std::thread::sleep(Duration::from_millis(100));
    }
    let reply = deliver(server.smtp, "full-after", 100 * 1024);
    assert!(reply.starts_with("250"), "{reply}");
    accepted.push("full-after".into());

    // Nothing that got 250 is lost, even to a kill -9.
    let data = server.crash();
    let server = start(&data, &dns);
    for id in &accepted {
        let (status, _) = server.get(&format!("/tests/{id}/message.eml"));
        assert_eq!(status, 200, "{id} lost");
        let report = wait_for_report(server.http, id);
        assert_eq!(report["status"], "done", "{id}");
    }
    drop(server);
    drop(tmpfs);
}
