//! Postfix 3.7 as the sending MTA, as a sender's outbound relay would be:
//! it takes a message on its own smtpd and relays it to `mailscore serve`
//! with `smtp_tls_security_level = encrypt` (TLS or no delivery). The
//! report says the message came over TLS, from Postfix's HELO name.
//!
//! Postfix's SMTP client does not send BDAT (only its server takes it), so
//! it ends the message with DATA here even though CHUNKING is offered: the
//! log shows both. BDAT itself is tested on raw sockets
//! (tests/smtp_protocol.rs).

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use support::dns::{TestDns, Zone};
use support::postfix::Postfix;
use support::server::{Server, send_mail};

#[test]
fn postfix_relays_to_us_over_tls_only() {
    let dns = TestDns::start(Zone::new());
    let server = Server::start(dns.addr, &[]);
    let Some(postfix) = Postfix::start(server.smtp, &["smtp_tls_security_level = encrypt"]) else {
        return;
    };
    let message = "From: a@sender.example\r\nTo: postfix-tls@localhost\r\nSubject: via Postfix\r\n\
                   Date: Fri, 04 Dec 2026 10:00:00 +0900\r\nMessage-ID: <pf@sender.example>\r\n\r\n\
                   Hello through Postfix.\r\n";
    send_mail(
        postfix.smtp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "client.sender.example",
        "a@sender.example",
        &["postfix-tls@localhost"],
        message.as_bytes(),
    );
    let log = postfix.wait_for_log("status=sent", Duration::from_secs(60));
    let relay = format!("{}", server.smtp.port());
    let client_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("postfix/smtp[") && l.contains(&relay))
        .collect();
    let said = |needle: &str| client_lines.iter().any(|l| l.contains(needle));
    assert!(
        said("< 127.0.0.1[127.0.0.1]:") && said("250-CHUNKING"),
        "{log}"
    );
    assert!(
        said("> 127.0.0.1[127.0.0.1]:") && said(": STARTTLS"),
        "{log}"
    );
    assert!(said("220 2.0.0 Ready to start TLS"), "{log}");
    assert!(log.contains("(250 2.0.0 Message accepted)"), "{log}");

    let report = server.wait_for_report("postfix-tls");
    assert_eq!(report["checks"]["tls"]["result"], "encrypted", "{report:#}");
    assert!(
        report["checks"]["tls"]["version"]
            .as_str()
            .unwrap()
            .starts_with("TLSv1.")
    );
    assert_eq!(report["envelope"]["helo"], "relay.postfix.test");
    assert_eq!(report["envelope"]["mail_from"], "a@sender.example");
    assert_eq!(report["message"]["subject"], "via Postfix");
}
