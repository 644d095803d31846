//! swaks, the SMTP test client users reach for first: STARTTLS, then
//! MAIL, RCPT and DATA pipelined in one write (RFC 2920), against the real
//! `mailscore serve`. Debian's `swaks`; `.ci/run` installs it. Without it
//! the test skips, but not under `CI=true`.

mod support;

use std::process::Command;
use support::dns::{TestDns, Zone};
use support::server::Server;

#[test]
fn swaks_pipelines_over_starttls() {
    let Ok(probe) = Command::new("swaks").arg("--version").output() else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "swaks is not installed: CI needs it (.ci/run installs it)"
        );
        eprintln!("skipping: swaks is not installed (apt-get install swaks)");
        return;
    };
    assert!(probe.status.success());
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &[]);
    let out = Command::new("swaks")
        .args(["--server", &server.smtp.ip().to_string()])
        .args(["--port", &server.smtp.port().to_string()])
        .args(["--from", "a@sender.example", "--to", "swaks-pipe@localhost"])
        .args(["--helo", "mail.sender.example", "--pipeline", "--tls"])
        .args(["--header", "Subject: swaks pipelined"])
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{transcript}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Over TLS (`~>`), the three commands go out before the first reply.
    let lines: Vec<&str> = transcript.lines().collect();
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in\n{transcript}"))
    };
    let (mail, data, ok) = (at(" ~> MAIL FROM"), at(" ~> DATA"), at("<~  250 2.1.0"));
    assert!(mail < data && data < ok, "not pipelined:\n{transcript}");
    assert!(
        transcript.contains("<~  250 2.0.0 Message accepted"),
        "{transcript}"
    );

    let report = server.wait_for_report("swaks-pipe");
    assert_eq!(report["checks"]["tls"]["result"], "encrypted", "{report:#}");
    assert_eq!(report["message"]["subject"], "swaks pipelined");
    assert_eq!(report["envelope"]["helo"], "mail.sender.example");
}
