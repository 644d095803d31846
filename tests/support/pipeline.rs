//! The analysis pipeline as library tests build it: the loopback test DNS
//! server, no blocklists, no extra trust anchors, the embedded rule table.
#![allow(dead_code)]

use super::dns::TestDns;
use mailscore::analyze::Analyzer;
use mailscore::config::Lists;
use mailscore::pipeline::Pipeline;
use mailscore::score::RuleTable;
use std::time::Duration;

pub fn pipeline(dns: &TestDns) -> Pipeline {
    let resolver = mailscore::analyze::dns::resolver(Some(dns.addr), Duration::from_secs(1))
        .expect("resolver for the test DNS server");
    Pipeline {
        analyzer: Analyzer::with_lists(resolver, "localhost", &Lists::none())
            .expect("system trust store"),
        rules: RuleTable::embedded().expect("embedded rule table").into(),
    }
}
