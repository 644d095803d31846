//! "250 only after the message is on stable storage", watched from the
//! kernel's side: `mailscore serve` runs under strace (Debian's, installed
//! by .ci/run), one message is delivered, and in the trace a sync of a
//! file of the store (the default SQLite's WAL: `fsync`/`fdatasync`;
//! `syncfs` of the data directory would do too) comes after the read that
//! ends the DATA and before the write of the `250`. (`sync_file_range`,
//! sled's own flush, does not count: it flushes neither the disk's cache
//! nor metadata.)

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use support::dns::{TestDns, Zone};
use support::server::{bound_addrs, fresh_data_dir, send_mail, serve_command};

/// Syscalls that put data on stable storage.
const SYNCS: [&str; 3] = ["syncfs(", "fsync(", "fdatasync("];

/// Where in `lines` a call completed: its own line when it did not block,
/// else its `<... resumed>` line.
fn completed(lines: &[&str], starts: &str) -> Vec<usize> {
    let name = starts.trim_end_matches('(');
    lines
        .iter()
        .enumerate()
        .filter(|(_, line)| {
            let whole = line.contains(starts) && !line.contains("<unfinished");
            let resumed = line.contains(&format!("<... {name} resumed>"));
            (whole || resumed) && line.trim_end().ends_with("= 0")
        })
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn the_store_is_synced_after_the_data_and_before_the_250() {
    if Command::new("strace").arg("-V").output().is_err() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "strace is not installed: CI needs it (.ci/run installs it)"
        );
        eprintln!("skipping: strace is not installed (apt-get install strace)");
        return;
    }
    // A container may forbid ptrace: nothing to watch with, then.
    let traced = Command::new("strace")
        .args(["-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !traced {
        eprintln!("skipping: strace cannot trace here (ptrace not permitted)");
        return;
    }
    let dns = TestDns::start(Zone::new());
    let data = fresh_data_dir();
    let trace = data.with_extension("strace");
    let serve = serve_command(dns.addr, &data);
    let mut command = Command::new("strace");
    command
        // -y: each descriptor with its path, to see which file is synced.
        .args(["-f", "-y", "-s", "128", "-o"])
        .arg(&trace)
        .args([
            "-e",
            "trace=syncfs,fsync,fdatasync,sync_file_range,read,recvfrom,write,sendto",
        ])
        .arg(serve.get_program())
        .args(serve.get_args());
    for (key, value) in serve.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let mut child = command
        .env("MAILSCORE_PROBE", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start strace");
    let (smtp, _) = bound_addrs(&mut child);
    send_mail(
        smtp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "client.example",
        "a@example.org",
        &["durable-commit@localhost"],
        b"Subject: durable\r\n\r\nKept before the 250.\r\n",
    );
    // The server stops as a supervisor stops it (SIGTERM); strace, which
    // it runs under, then writes out its trace and exits too.
    let server = Command::new("pgrep")
        .args(["-P", &child.id().to_string()])
        .output()
        .unwrap();
    let server = String::from_utf8_lossy(&server.stdout).trim().to_string();
    assert!(!server.is_empty(), "no server under strace");
    Command::new("kill")
        .args(["-TERM", &server])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("strace did not end with the server");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let text = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The body's read (its final dot may come in the next one).
    let end_of_data = lines
        .iter()
        .position(|l| {
            (l.contains("recvfrom(") || l.contains("read(")) && l.contains("Kept before the 250")
        })
        .unwrap_or_else(|| panic!("no read of the message in the trace:\n{text}"));
    let accepted = lines
        .iter()
        .position(|l| {
            (l.contains("sendto(") || l.contains("write("))
                && l.contains("250 2.0.0 Message accepted")
        })
        .unwrap_or_else(|| panic!("no 250 written in the trace:\n{text}"));
    let syncs: Vec<usize> = SYNCS.iter().flat_map(|s| completed(&lines, s)).collect();
    let data_path = data.display().to_string();
    let between: Vec<&str> = syncs
        .iter()
        .filter(|&&i| end_of_data < i && i < accepted)
        .map(|&i| lines[i])
        .filter(|line| line.contains(&data_path))
        .collect();
    assert!(
        !between.is_empty(),
        "no sync of the store's files in {data_path} between the end of DATA (line {end_of_data}) and the 250 (line {accepted}):\n{}",
        lines[end_of_data..=accepted].join("\n")
    );
    eprintln!("synced before the 250: {}", between[0]);
    std::fs::remove_file(&trace).ok();
    std::fs::remove_dir_all(&data).ok();
}
