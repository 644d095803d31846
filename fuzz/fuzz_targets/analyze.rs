//! Arbitrary bytes as a received message, through the whole pipeline
//! (analyze → score → report) and into the JSON the API serves.
//!
//! DNS goes to a closed port on loopback, over TCP only: each query's
//! connect is refused by the kernel at once (a TCP reset), so every check
//! ends as "could not be checked" without waiting (`dns::tcp_resolver`).
//! Over UDP, as `dns::resolver` asks, it would not: hickory sends from
//! unconnected sockets, which never see the ICMP port-unreachable, so each
//! query waits out its whole timeout (about 12 s a message at 1 s). No
//! blocklists are asked (`Settings::none()`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailscore::analysis::pipeline::Pipeline;
use mailscore::checks::Analyzer;
use mailscore::checks::Settings;
use mailscore::dns::tcp_resolver;
use mailscore::report::Subject;
use mailscore::score::RuleTable;
use mailscore::smtp::Envelope;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::LazyLock;
use std::time::Duration;

/// Nothing listens here (the discard port, closed on a test machine).
const CLOSED_DNS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9);

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds")
});

static PIPELINE: LazyLock<Pipeline> = LazyLock::new(|| {
    // The resolver's connections are tasks on this runtime.
    let _runtime = RUNTIME.enter();
    let dns = tcp_resolver(CLOSED_DNS, Duration::from_secs(1)).expect("resolver");
    Pipeline {
        analyzer: Analyzer::new(dns, "mx.test.example", &Settings::none()).expect("analyzer"),
        rules: RuleTable::embedded()
            .expect("the embedded rule table loads")
            .into(),
    }
});

fuzz_target!(|data: &[u8]| {
    let envelope = Envelope {
        client_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 25)),
        client_port: 40000,
        helo: "mail.example.com".to_string(),
        mail_from: "sender@example.com".to_string(),
        rcpt_to: vec!["abc@test.example".to_string()],
        received_at: 1_700_000_000,
        tls: None,
    };
    let subject = Subject {
        id: "abc",
        address: "abc@test.example",
    };
    let report = RUNTIME.block_on(PIPELINE.report(subject, &envelope, data));
    serde_json::to_vec(&report).expect("a report always serialises");
});
