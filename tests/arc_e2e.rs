//! ARC (RFC 8617) end to end: a message is DKIM-signed by its author,
//! relayed by a mailing list (and a forwarder) that verify it and add a real
//! ARC set with mail-auth's `ArcSealer` and the RSA test key, then sent over
//! real SMTP to `mailscore serve`, which checks the chain against the test
//! zones on a loopback DNS server.

mod support;

use mail_auth::arc::ArcSealer;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, AuthenticationResults, DkimResult, DmarcResult, SpfResult};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use support::dkim::{rsa_key, rsa_key_record, rsa_signed, split_255};
use support::dns::{TestDns, Zone};
use support::server::{Server, send_mail};
use support::zones::rule_ids;

/// Where the author's own server sends from.
const AUTHOR_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

fn zone() -> Zone {
    let key = rsa_key_record();
    Zone::new()
        // The author: SPF for its own server, a 2048-bit DKIM key, p=reject.
        .txt("author.example", &["v=spf1 ip4:192.0.2.10 -all"])
        .txt("k2048._domainkey.author.example", &split_255(&key))
        .txt("_dmarc.author.example", &["v=DMARC1; p=reject"])
        // The mailing list, which seals with selector "arc" and delivers to
        // mailscore from 127.0.0.1.
        .a("mx.list.example", Ipv4Addr::LOCALHOST)
        .txt("list.example", &["v=spf1 ip4:127.0.0.1 -all"])
        .txt("arc._domainkey.list.example", &split_255(&key))
        // A forwarder after the list, sealing the second hop.
        .a("mx.forward.example", Ipv4Addr::LOCALHOST)
        .txt("forward.example", &["v=spf1 ip4:127.0.0.1 -all"])
        .txt("arc._domainkey.forward.example", &split_255(&key))
}

/// The author's message, DKIM-signed by author.example.
fn authored() -> Vec<u8> {
    let message = format!(
        "From: news@author.example\r\nTo: members@list.example\r\nSubject: arc\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@author.example>\r\n\r\nHello.\r\n",
        mailscore::test_id::generate()
    );
    rsa_signed(&message, "author.example", "k2048")
}

/// The SMTP hop a sealer received the message over.
struct Hop<'a> {
    ip: IpAddr,
    helo: &'a str,
    mail_from: &'a str,
}

const FROM_AUTHOR: Hop = Hop {
    ip: IpAddr::V4(AUTHOR_IP),
    helo: "mail.author.example",
    mail_from: "news@author.example",
};

const FROM_LIST: Hop = Hop {
    ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
    helo: "mx.list.example",
    mail_from: "bounce@list.example",
};

/// What an ARC sealer does before relaying (RFC 8617 §5.1): verify the
/// message as it arrived (DKIM, SPF for `hop`, DMARC, the ARC chain so far),
/// record the results in an ARC-Authentication-Results, sign the message
/// and seal the chain as `sealer` with the RSA test key.
fn seal(dns: SocketAddr, raw: &[u8], hop: &Hop, sealer: &str) -> Vec<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dns = mailscore::dns::resolver(Some(dns), Duration::from_secs(1)).unwrap();
        let resolver = dns.auth();
        let host = format!("mx.{sealer}");
        let message = AuthenticatedMessage::parse(raw).expect("a parseable message");
        let dkim = resolver.verify_dkim(&message).await;
        let spf = resolver
            .verify_spf(SpfParameters::verify_mail_from(
                hop.ip,
                hop.helo,
                &host,
                hop.mail_from,
            ))
            .await;
        let mail_from_domain = hop.mail_from.rsplit_once('@').unwrap().1;
        let dmarc = resolver
            .verify_dmarc(DmarcParameters::new(
                &message,
                &dkim,
                mail_from_domain,
                &spf,
            ))
            .await;
        let arc = resolver.verify_arc(&message).await;
        // The sealer really verified what it records.
        assert!(dkim.iter().any(|d| d.result() == &DkimResult::Pass));
        assert_eq!(spf.result(), SpfResult::Pass);
        assert_eq!(dmarc.dkim_result(), &DmarcResult::Pass);
        assert!(matches!(arc.result(), DkimResult::Pass | DkimResult::None));

        let results = AuthenticationResults::new(&host)
            .with_dkim_results(&dkim, &message.from[0])
            .with_spf_mailfrom_result(&spf, hop.ip, hop.mail_from, hop.helo)
            .with_dmarc_result(&dmarc)
            .with_arc_result(&arc, hop.ip);
        let set = ArcSealer::from_key(rsa_key())
            .domain(sealer)
            .selector("arc")
            .headers([
                "From",
                "To",
                "Subject",
                "Date",
                "Message-ID",
                "DKIM-Signature",
            ])
            .seal(&message, &results, &arc)
            .expect("seal");
        let mut sealed = set.to_header().into_bytes();
        sealed.extend_from_slice(results.to_header().as_bytes());
        sealed.extend_from_slice(raw);
        sealed
    })
}

/// Delivers `raw` as the list (or forwarder) would, and returns the report.
fn deliver(server: &Server, id: &str, hop: &Hop, raw: &[u8]) -> Value {
    send_mail(
        server.smtp,
        hop.ip,
        hop.helo,
        hop.mail_from,
        &[&format!("{id}@localhost")],
        raw,
    );
    server.wait_for_report(id)
}

#[test]
fn a_valid_one_hop_chain_passes() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let sealed = seal(dns.addr, &authored(), &FROM_AUTHOR, "list.example");

    let report = deliver(&server, "arc-pass", &FROM_LIST, &sealed);
    let arc = &report["checks"]["arc"];
    assert_eq!(arc["result"], "pass", "{report:#}");
    assert_eq!(arc["instances"], 1);
    assert_eq!(arc["sealers"], serde_json::json!(["list.example"]));
    assert_eq!(arc["error"], Value::Null);
    assert!(!rule_ids(&report).contains(&"ARC_FAIL".to_string()));
}

#[test]
fn a_two_hop_chain_names_each_sealer_first_hop_first() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let once = seal(dns.addr, &authored(), &FROM_AUTHOR, "list.example");
    let twice = seal(dns.addr, &once, &FROM_LIST, "forward.example");

    let from_forwarder = Hop {
        helo: "mx.forward.example",
        mail_from: "bounce@forward.example",
        ..FROM_LIST
    };
    let report = deliver(&server, "arc-two-hops", &from_forwarder, &twice);
    let arc = &report["checks"]["arc"];
    assert_eq!(arc["result"], "pass", "{report:#}");
    assert_eq!(arc["instances"], 2);
    assert_eq!(
        arc["sealers"],
        serde_json::json!(["list.example", "forward.example"])
    );
}

#[test]
fn a_body_changed_after_sealing_breaks_the_chain() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let sealed = seal(dns.addr, &authored(), &FROM_AUTHOR, "list.example");
    // Something after the list appends a footer.
    let mut tampered = sealed.clone();
    tampered.extend_from_slice(b"-- \r\nAdded after sealing.\r\n");

    let report = deliver(&server, "arc-body-changed", &FROM_LIST, &tampered);
    let arc = &report["checks"]["arc"];
    assert_eq!(arc["result"], "fail", "{report:#}");
    assert_eq!(arc["sealers"], serde_json::json!(["list.example"]));
    let error = arc["error"].as_str().expect("an error");
    assert!(error.contains("body hash"), "{error}");
    let deduction = report["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rule"] == "ARC_FAIL")
        .unwrap_or_else(|| panic!("no ARC_FAIL in {:?}", rule_ids(&report)));
    assert_eq!(deduction["check"], "arc");
    assert_eq!(deduction["points"], 0.5);
}

#[test]
fn direct_mail_has_no_arc_and_costs_nothing() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);

    let report = deliver(&server, "arc-none", &FROM_LIST, &authored());
    let arc = &report["checks"]["arc"];
    assert_eq!(arc["result"], "none", "{report:#}");
    assert_eq!(arc["instances"], 0);
    assert_eq!(arc["sealers"], serde_json::json!([]));
    assert!(
        !report["deductions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["check"] == "arc"),
        "{:?}",
        rule_ids(&report)
    );
}

#[test]
fn the_page_shows_no_arc_as_information_and_names_the_sealers() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    deliver(&server, "arc-page-none", &FROM_LIST, &authored());
    let sealed = seal(dns.addr, &authored(), &FROM_AUTHOR, "list.example");
    deliver(&server, "arc-page-pass", &FROM_LIST, &sealed);

    let (status, none) = server.get("/tests/arc-page-none");
    assert_eq!(status, 200);
    assert!(
        none.contains("<details id=\"arc\" class=\"check info\"><summary><span class=\"icon\" aria-hidden=\"true\">i</span> <strong>ARC</strong> <span class=\"result\">none</span>"),
        "{none}"
    );
    let (_, pass) = server.get("/tests/arc-page-pass?lang=ja");
    assert!(
        pass.contains("<details id=\"arc\" class=\"check ok\"><summary><span class=\"icon\" aria-hidden=\"true\">✔</span> <strong>ARC (1 セット: list.example)</strong> <span class=\"result\">成功</span>"),
        "{pass}"
    );
}
