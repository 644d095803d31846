//! Backpressure: when `--max-analysis-backlog` accepted messages still await
//! analysis, MAIL gets `451 4.3.2` (the sender's MTA retries later) until
//! the analyzer catches up. The DNS server never answers, so each analysis
//! takes seconds of timeouts: the backlog is still full when the next
//! sender asks, without any timing luck.

mod ops_support;
mod support;

use ops_support::{Smtp, connect_from};
use std::net::{IpAddr, Ipv4Addr};
use support::dns::silent_dns;
use support::server::Server;

const MESSAGE: &str = "From: Alice <alice@good.example>\r\n\
Subject: backpressure\r\n\
Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <bp@good.example>\r\n\r\nhello\r\n";

fn smtp(server: &Server) -> Smtp<std::net::TcpStream> {
    let mut smtp = Smtp::new(connect_from(server.smtp, IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert!(smtp.reply().starts_with("220"));
    smtp.expect("EHLO mail.good.example", "250");
    smtp
}

#[test]
fn a_full_analysis_backlog_defers_new_mail_until_it_drains() {
    let server = Server::start(silent_dns(), &["--max-analysis-backlog", "1"]);

    let mut first = smtp(&server);
    first.expect("MAIL FROM:<alice@good.example>", "250");
    first.expect("RCPT TO:<backlog-one@localhost>", "250");
    first.expect("DATA", "354");
    first.expect(&format!("{MESSAGE}."), "250");

    // Its analysis is waiting on DNS: a second sender is told to come back.
    let mut second = smtp(&server);
    let reply = second.command("MAIL FROM:<bob@other.example>");
    assert!(reply.starts_with("451 4.3.2"), "{reply:?}");
    assert_eq!(
        server.metric::<f64>("mailscore_smtp_refused_total{reason=\"analysis_backlog_full\"}"),
        1.0
    );
    assert_eq!(server.metric::<f64>("mailscore_analysis_unfinished"), 1.0);
    let report = server.wait_for_report("backlog-one");
    assert_eq!(report["status"], "done");
    assert_eq!(report["checks"]["spf"]["result"], "temperror");

    // The count drops when the analysis task ends, just after the report.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.metric::<f64>("mailscore_analysis_unfinished") != 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "backlog never drained"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    second.expect("MAIL FROM:<bob@other.example>", "250");
    second.expect("RCPT TO:<backlog-two@localhost>", "250");
    second.expect("DATA", "354");
    second.expect(&format!("{MESSAGE}."), "250");
    second.expect("QUIT", "221");
    first.expect("QUIT", "221");
}
