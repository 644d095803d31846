//! The test zones several end-to-end tests share.
#![allow(dead_code)]

use super::dkim::{rsa_key_record, split_255};
use super::dns::Zone;
use std::net::Ipv4Addr;

/// `good.example` does everything right when sending from 127.0.0.1: SPF
/// `-all`, the RSA test key at `sel1._domainkey`, DMARC `p=reject` with
/// reports, an MX, and a HELO name `mail.good.example` that resolves back.
pub fn good_example(zone: Zone) -> Zone {
    let dkim_key = rsa_key_record();
    zone.txt("good.example", &["v=spf1 ip4:127.0.0.1 -all"])
        .txt("sel1._domainkey.good.example", &split_255(&dkim_key))
        .txt(
            "_dmarc.good.example",
            &["v=DMARC1; p=reject; rua=mailto:dmarc@good.example"],
        )
        .a("mail.good.example", Ipv4Addr::LOCALHOST)
        .mx("good.example", 10, "mail.good.example")
        .txt("mail.good.example", &["v=spf1 a -all"])
}

/// `bank.example` publishes `p=reject` and sends only from 192.0.2.1, so
/// mail "from" it sent here is spoofed.
pub fn bank_example(zone: Zone) -> Zone {
    zone.txt("bank.example", &["v=spf1 ip4:192.0.2.1 -all"])
        .txt("_dmarc.bank.example", &["v=DMARC1; p=reject"])
}

/// The rule ids in a JSON report's deductions, in order.
pub fn rule_ids(report: &serde_json::Value) -> Vec<String> {
    report["deductions"]
        .as_array()
        .expect("a report has deductions")
        .iter()
        .map(|d| d["rule"].as_str().expect("a rule id").to_string())
        .collect()
}
