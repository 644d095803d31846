#![allow(dead_code)] // each test binary uses a different part of this harness

//! A DNS root of the test's own, DNSSEC-signed: keys made with
//! `ldns-keygen`, the zone signed with `ldns-signzone` (NSEC), served by a
//! real `knotd` on loopback. Its key-signing key is the trust anchor given
//! to mailscore. Names live in the root zone itself (no delegations), so
//! they are signed by the root's key; besides the test's own records:
//! `bogus.example` (an MX whose signature has one byte changed) and
//! `insecure.example` (delegated, without DS, to an unsigned zone).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SignedRoot {
    /// Where knotd answers, over UDP and TCP.
    pub addr: SocketAddr,
    /// The root's key-signing key, a DNSKEY record in zone-file form.
    pub anchor: PathBuf,
    dir: PathBuf,
    knotd: Child,
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl SignedRoot {
    /// Signs and serves a root holding `records` (zone-file lines with
    /// absolute owner names); None (after saying why) when ldnsutils or
    /// knot is missing and CI is not set.
    pub fn start(records: &str) -> Option<SignedRoot> {
        if !installed("ldns-signzone") || !installed("knotd") {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "ldnsutils and knot are needed in CI (.ci/run installs them)"
            );
            eprintln!("skipping: ldnsutils or knot is not installed");
            return None;
        }
        let dir =
            std::env::temp_dir().join(format!("mailscore-root-{}", mailscore::test_id::generate()));
        std::fs::create_dir_all(dir.join("db")).unwrap();
        std::fs::write(
            dir.join("root.zone"),
            format!(
                "$ORIGIN .\n$TTL 300\n\
                 .\tIN SOA ns.root.test. hostmaster.root.test. 1 3600 600 86400 300\n\
                 .\tIN NS ns.root.test.\n\
                 ns.root.test.\tIN A 127.0.0.1\n\
                 bogus.example.\tIN MX 10 mail.bogus.example.\n\
                 insecure.example.\tIN NS ns.root.test.\n\
                 {records}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("insecure.zone"),
            "$ORIGIN insecure.example.\n$TTL 300\n\
             @\tIN SOA ns.root.test. hostmaster.root.test. 1 3600 600 86400 300\n\
             @\tIN NS ns.root.test.\n@\tIN MX 10 mail.insecure.example.\n",
        )
        .unwrap();
        let ksk = run_in(&dir, "ldns-keygen", &["-a", "ECDSAP256SHA256", "-k", "."]);
        let zsk = run_in(&dir, "ldns-keygen", &["-a", "ECDSAP256SHA256", "."]);
        run_in(&dir, "ldns-signzone", &["root.zone", &ksk, &zsk]);
        tamper(&dir.join("root.zone.signed"), "bogus.example.", "MX");
        let addr = free_addr();
        let d = dir.display();
        std::fs::write(
            dir.join("knot.conf"),
            format!(
                "server:\n    listen: {ip}@{port}\n    rundir: {d}\n    user: root:root\n\
                 database:\n    storage: {d}/db\n\
                 zone:\n  - domain: .\n    file: {d}/root.zone.signed\n    journal-content: none\n\
                 \x20 - domain: insecure.example.\n    file: {d}/insecure.zone\n    journal-content: none\n",
                ip = addr.ip(),
                port = addr.port()
            ),
        )
        .unwrap();
        let knotd = Command::new("knotd")
            .arg("-c")
            .arg(dir.join("knot.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("knotd.log")).unwrap())
            .spawn()
            .expect("start knotd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "knotd never listened: {}",
                std::fs::read_to_string(dir.join("knotd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(SignedRoot {
            addr,
            anchor: dir.join(format!("{ksk}.key")),
            dir,
            knotd,
        })
    }
}

impl Drop for SignedRoot {
    fn drop(&mut self) {
        let _ = self.knotd.kill();
        let _ = self.knotd.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `program` in `dir`; its standard output, trimmed.
fn run_in(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Changes one character of the signature over `owner`'s `rtype` records.
fn tamper(zone: &Path, owner: &str, rtype: &str) {
    let signed = std::fs::read_to_string(zone).unwrap();
    let mut changed = false;
    let lines: Vec<String> = signed
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if !changed
                && fields.first() == Some(&owner)
                && fields.get(3) == Some(&"RRSIG")
                && fields.get(4) == Some(&rtype)
            {
                changed = true;
                let (head, signature) = line.rsplit_once(' ').unwrap();
                let mut bytes = signature.as_bytes().to_vec();
                bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
                return format!("{head} {}", String::from_utf8(bytes).unwrap());
            }
            line.to_string()
        })
        .collect();
    assert!(changed, "no RRSIG {rtype} for {owner} in the signed zone");
    std::fs::write(zone, lines.join("\n") + "\n").unwrap();
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}
