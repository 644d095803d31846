//! The analysis pipeline as library tests build it: the loopback test DNS
//! server, no blocklists, no extra trust anchors, the embedded rule table.
#![allow(dead_code)]

use super::dns::TestDns;
use mailscore::analysis::pipeline::Pipeline;
use mailscore::checks::Analyzer;
use mailscore::checks::Settings;
use mailscore::report::{Report, Subject};
use mailscore::score::RuleTable;
use mailscore::smtp::Envelope;
use std::time::Duration;

pub fn pipeline(dns: &TestDns) -> Pipeline {
    let resolver = mailscore::dns::resolver(Some(dns.addr), Duration::from_secs(1))
        .expect("resolver for the test DNS server");
    Pipeline {
        analyzer: Analyzer::new(resolver, "localhost", &Settings::none())
            .expect("system trust store"),
        rules: RuleTable::embedded().expect("embedded rule table").into(),
    }
}

/// A plaintext delivery to box@localhost from `ip`, after `HELO helo` and
/// `MAIL FROM:<mail_from>`.
pub fn envelope(ip: &str, helo: &str, mail_from: &str) -> Envelope {
    Envelope {
        client_ip: ip.parse().expect("a client IP"),
        client_port: 25,
        helo: helo.into(),
        mail_from: mail_from.into(),
        rcpt_to: vec!["box@localhost".into()],
        received_at: 0,
        tls: None,
    }
}

/// The report [`pipeline`] makes of `raw` delivered with `envelope`, for
/// box@localhost.
pub async fn report(dns: &TestDns, envelope: &Envelope, raw: &[u8]) -> Report {
    let subject = Subject {
        id: "box",
        address: "box@localhost",
    };
    pipeline(dns).report(subject, envelope, raw).await
}
