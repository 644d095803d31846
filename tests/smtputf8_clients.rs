//! A Japanese sender through real clients: Python's smtplib refuses to send
//! from `送信者@例え.jp` unless the server offers SMTPUTF8 (RFC 6531), then
//! sends `MAIL FROM:<…> SMTPUTF8` and UTF-8 header fields (RFC 6532). The
//! real `mailscore serve` takes it, and the report shows the address and
//! the subject as sent.

mod support;

use std::process::Command;
use support::dns::{TestDns, Zone};
use support::server::Server;

/// Sends one message with smtplib, SMTPUTF8 on; returns what Python printed.
fn smtplib_send(server: &Server, from: &str, to: &str, subject: &str) -> String {
    let script = r#"
import smtplib, sys
from email.message import EmailMessage
host, port, sender, rcpt, subject = sys.argv[1:6]
msg = EmailMessage()
msg["From"] = "送信者 <" + sender + ">"
msg["To"] = rcpt
msg["Subject"] = subject
msg.set_content("こんにちは。\n")
with smtplib.SMTP(host, int(port), timeout=30) as smtp:
    smtp.ehlo("mail.example.jp")
    print("offers SMTPUTF8:", smtp.has_extn("smtputf8"))
    refused = smtp.send_message(msg, sender, [rcpt], mail_options=["SMTPUTF8"])
    print("refused:", refused)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([
            &server.smtp.ip().to_string(),
            &server.smtp.port().to_string(),
            from,
            to,
            subject,
        ])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "smtplib failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn smtplib_sends_from_a_japanese_address_with_smtputf8() {
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &[]);
    let printed = smtplib_send(
        &server,
        "送信者@例え.jp",
        "utf8-test@localhost",
        "日本語の件名",
    );
    assert!(printed.contains("offers SMTPUTF8: True"), "{printed}");
    assert!(printed.contains("refused: {}"), "{printed}");

    let report = server.wait_for_report("utf8-test");
    assert_eq!(
        report["envelope"]["mail_from"], "送信者@例え.jp",
        "{report:#}"
    );
    assert_eq!(report["message"]["subject"], "日本語の件名");
    assert_eq!(report["message"]["from_address"], "送信者@例え.jp");
    let (status, page) = server.get("/tests/utf8-test");
    assert_eq!(status, 200);
    assert!(page.contains("日本語の件名") && page.contains("送信者@例え.jp"));
}
