//! DNS blocklists and From-domain posture, asked over real DNS on loopback.
//! Lists live under `.test` zones (`bl.test`, `dbl.test`): the real default
//! zones are never queried here.

mod support;

use mailscore::checks::dnsbl::{
    BlocklistFinding, BlocklistResult, Listing, domain_listings, ip_listings,
};
use mailscore::checks::posture::{Presence, RecordStatus, posture};
use mailscore::dns::Dns;
use mailscore::dns::zone_apex::ZoneApexes;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use support::dns::{TestDns, Zone, silent_dns};

fn resolver(dns: &TestDns) -> Dns {
    mailscore::dns::resolver(Some(dns.addr), Duration::from_secs(1)).unwrap()
}

fn down_resolver() -> Dns {
    mailscore::dns::resolver(Some(silent_dns()), Duration::from_millis(300)).unwrap()
}

fn zones(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

const CLIENT: &str = "192.0.2.25";
const LISTED_NAME: &str = "25.2.0.192.bl.test";

// ---- IP lists -------------------------------------------------------------

#[tokio::test]
async fn listed_ipv4_reports_zone_code_and_reason() {
    let dns = TestDns::start(
        Zone::new()
            .a(LISTED_NAME, Ipv4Addr::new(127, 0, 0, 2))
            .txt(LISTED_NAME, &["Listed: see https://bl.test/192.0.2.25"]),
    );
    let finding = ip_listings(&resolver(&dns), ip(CLIENT), &zones(&["bl.test"])).await;
    assert_eq!(finding.result, BlocklistResult::Listed);
    assert_eq!(
        finding.listings,
        [Listing {
            zone: "bl.test".into(),
            item: CLIENT.into(),
            codes: vec!["127.0.0.2".into()],
            reason: Some("Listed: see https://bl.test/192.0.2.25".into()),
        }]
    );
    assert_eq!(finding.checked, ["bl.test"]);
    assert!(finding.not_checked.is_empty());
}

#[tokio::test]
async fn listing_without_txt_has_no_reason_and_keeps_every_code() {
    let dns = TestDns::start(
        Zone::new()
            .a(LISTED_NAME, Ipv4Addr::new(127, 0, 0, 2))
            .a(LISTED_NAME, Ipv4Addr::new(127, 0, 0, 4)),
    );
    let finding = ip_listings(&resolver(&dns), ip(CLIENT), &zones(&["bl.test"])).await;
    assert_eq!(finding.result, BlocklistResult::Listed);
    let mut codes = finding.listings[0].codes.clone();
    codes.sort();
    assert_eq!(codes, ["127.0.0.2", "127.0.0.4"]);
    assert_eq!(finding.listings[0].reason, None);
}

#[tokio::test]
async fn unlisted_ip_is_clean_and_names_the_zones_checked() {
    // Another address is listed, so the zone exists; ours is NXDOMAIN.
    let dns = TestDns::start(Zone::new().a("2.0.0.127.bl.test", Ipv4Addr::new(127, 0, 0, 2)));
    let finding = ip_listings(
        &resolver(&dns),
        ip(CLIENT),
        &zones(&["bl.test", "other.test"]),
    )
    .await;
    assert_eq!(finding.result, BlocklistResult::Clean);
    assert_eq!(finding.checked, ["bl.test", "other.test"]);
    assert!(finding.listings.is_empty());
    assert!(finding.not_checked.is_empty());
}

#[tokio::test]
async fn nodata_at_the_query_name_is_not_a_listing() {
    // A TXT but no A at the name: NOERROR with no answer.
    let dns = TestDns::start(Zone::new().txt(LISTED_NAME, &["stale reason"]));
    let finding = ip_listings(&resolver(&dns), ip(CLIENT), &zones(&["bl.test"])).await;
    assert_eq!(finding.result, BlocklistResult::Clean);
    assert_eq!(finding.checked, ["bl.test"]);
}

#[tokio::test]
async fn ipv6_is_asked_by_reversed_nibbles() {
    // 2001:db8::25 as RFC 5782 §2.4 writes it: 32 nibbles, lowest first.
    let name = "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl6.test";
    let dns = TestDns::start(
        Zone::new()
            .a(name, Ipv4Addr::new(127, 0, 0, 3))
            .txt(name, &["IPv6 listing"]),
    );
    let finding = ip_listings(&resolver(&dns), ip("2001:db8::25"), &zones(&["bl6.test"])).await;
    assert_eq!(finding.result, BlocklistResult::Listed);
    assert_eq!(finding.listings[0].item, "2001:db8::25");
    assert_eq!(finding.listings[0].codes, ["127.0.0.3"]);
    assert_eq!(finding.listings[0].reason.as_deref(), Some("IPv6 listing"));
}

#[tokio::test]
async fn spamhaus_refusal_code_is_not_checked_not_listed() {
    let dns = TestDns::start(
        Zone::new()
            .a(LISTED_NAME, Ipv4Addr::new(127, 255, 255, 254))
            .txt(LISTED_NAME, &["open resolver"]),
    );
    let finding = ip_listings(&resolver(&dns), ip(CLIENT), &zones(&["bl.test"])).await;
    assert_eq!(finding.result, BlocklistResult::Unknown);
    assert!(finding.listings.is_empty());
    assert_eq!(finding.not_checked, ["bl.test"]);
    assert!(finding.checked.is_empty());
    assert_eq!(finding.errors.len(), 1);
    assert!(
        finding.errors[0].error.contains("127.255.255.254")
            && finding.errors[0].error.contains("public/open resolvers"),
        "{:?}",
        finding.errors
    );
}

#[tokio::test]
async fn answer_outside_loopback_net_is_not_a_listing() {
    // A resolver that rewrites NXDOMAIN into an ad server's address.
    let dns = TestDns::start(Zone::new().a(LISTED_NAME, Ipv4Addr::new(198, 51, 100, 7)));
    let finding = ip_listings(&resolver(&dns), ip(CLIENT), &zones(&["bl.test"])).await;
    assert_eq!(finding.result, BlocklistResult::Unknown);
    assert_eq!(finding.not_checked, ["bl.test"]);
    assert!(finding.errors[0].error.contains("127.0.0.0/8"));
}

#[tokio::test]
async fn zone_that_times_out_is_not_checked_never_clean() {
    let dns = TestDns::start(Zone::new().timeout("25.2.0.192.slow.test"));
    let finding = ip_listings(
        &resolver(&dns),
        ip(CLIENT),
        &zones(&["bl.test", "slow.test"]),
    )
    .await;
    assert_eq!(finding.result, BlocklistResult::Unknown);
    assert_eq!(finding.checked, ["bl.test"]);
    assert_eq!(finding.not_checked, ["slow.test"]);
    assert_eq!(finding.errors[0].zone, "slow.test");
    assert!(
        finding.errors[0].error.contains("timed out"),
        "{:?}",
        finding.errors
    );
}

#[tokio::test]
async fn zone_answering_servfail_is_not_checked() {
    let dns = TestDns::start(Zone::new().servfail("25.2.0.192.broken.test"));
    let finding = ip_listings(&resolver(&dns), ip(CLIENT), &zones(&["broken.test"])).await;
    assert_eq!(finding.result, BlocklistResult::Unknown);
    assert_eq!(finding.not_checked, ["broken.test"]);
    assert!(
        finding.errors[0].error.contains("Server Failure"),
        "{:?}",
        finding.errors
    );
}

#[tokio::test]
async fn dns_down_makes_every_zone_not_checked() {
    let finding = ip_listings(
        &down_resolver(),
        ip(CLIENT),
        &zones(&["bl.test", "bl2.test"]),
    )
    .await;
    assert_eq!(finding.result, BlocklistResult::Unknown);
    assert_eq!(finding.not_checked, ["bl.test", "bl2.test"]);
    assert!(finding.checked.is_empty() && finding.listings.is_empty());
}

#[tokio::test]
async fn a_listing_wins_over_a_zone_that_timed_out() {
    let dns = TestDns::start(
        Zone::new()
            .a(LISTED_NAME, Ipv4Addr::new(127, 0, 0, 2))
            .timeout("25.2.0.192.slow.test"),
    );
    let finding = ip_listings(
        &resolver(&dns),
        ip(CLIENT),
        &zones(&["slow.test", "bl.test"]),
    )
    .await;
    assert_eq!(finding.result, BlocklistResult::Listed);
    assert_eq!(finding.listings[0].zone, "bl.test");
    assert_eq!(finding.not_checked, ["slow.test"]);
}

#[tokio::test]
async fn zones_are_asked_concurrently() {
    // Three zones that each time out after 300 ms: asked one after the
    // other they would take 900 ms.
    let started = Instant::now();
    let finding = ip_listings(
        &down_resolver(),
        ip(CLIENT),
        &zones(&["a.test", "b.test", "c.test"]),
    )
    .await;
    assert_eq!(finding.not_checked.len(), 3);
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn private_and_loopback_clients_are_skipped_without_a_query() {
    // Listed on the server, so a query would show up as a listing; and the
    // resolver asks a silent server with a long timeout, so a query would
    // also be slow.
    let dns = TestDns::start(
        Zone::new()
            .a("1.0.0.127.bl.test", Ipv4Addr::new(127, 0, 0, 2))
            .a("1.1.168.192.bl.test", Ipv4Addr::new(127, 0, 0, 2)),
    );
    for resolver in [
        resolver(&dns),
        mailscore::dns::resolver(Some(silent_dns()), Duration::from_secs(5)).unwrap(),
    ] {
        for client in [
            "127.0.0.1",
            "192.168.1.1",
            "10.0.0.9",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            let finding = tokio::time::timeout(
                Duration::from_millis(500),
                ip_listings(&resolver, ip(client), &zones(&["bl.test"])),
            )
            .await
            .unwrap_or_else(|_| panic!("{client} was looked up"));
            assert_eq!(finding.result, BlocklistResult::Skipped, "{client}");
            assert!(finding.checked.is_empty() && finding.not_checked.is_empty());
            assert!(finding.listings.is_empty());
            assert!(finding.note.is_some());
        }
    }
}

#[tokio::test]
async fn domains_are_listed_once_each_lowercased() {
    let dns = TestDns::start(
        Zone::new()
            .a("spam.example.dbl.test", Ipv4Addr::new(127, 0, 1, 2))
            .txt("spam.example.dbl.test", &["https://dbl.test/spam.example"]),
    );
    let domains = zones(&["Spam.Example", "spam.example.", "clean.example"]);
    let finding = domain_listings(&resolver(&dns), &domains, &zones(&["dbl.test"])).await;
    assert_eq!(finding.result, BlocklistResult::Listed);
    assert_eq!(
        finding.listings,
        [Listing {
            zone: "dbl.test".into(),
            item: "spam.example".into(),
            codes: vec!["127.0.1.2".into()],
            reason: Some("https://dbl.test/spam.example".into()),
        }]
    );
    assert_eq!(finding.checked, ["dbl.test"]);
}

#[tokio::test]
async fn clean_domains_are_clean_and_a_silent_list_is_unknown() {
    let dns = TestDns::start(Zone::new().timeout("good.example.slowdbl.test"));
    let domains = zones(&["good.example"]);
    let clean = domain_listings(&resolver(&dns), &domains, &zones(&["dbl.test"])).await;
    assert_eq!(clean.result, BlocklistResult::Clean);
    assert_eq!(clean.checked, ["dbl.test"]);
    let finding = domain_listings(
        &resolver(&dns),
        &domains,
        &zones(&["dbl.test", "slowdbl.test"]),
    )
    .await;
    assert_eq!(finding.result, BlocklistResult::Unknown);
    assert_eq!(finding.checked, ["dbl.test"]);
    assert_eq!(finding.not_checked, ["slowdbl.test"]);
}

#[test]
fn blocklist_finding_serializes_with_lowercase_result() {
    let finding = BlocklistFinding {
        result: BlocklistResult::Skipped,
        listings: Vec::new(),
        not_checked: Vec::new(),
        checked: Vec::new(),
        errors: Vec::new(),
        note: Some("loopback".into()),
    };
    let json = serde_json::to_value(&finding).unwrap();
    assert_eq!(json["result"], "skipped");
    let back: BlocklistFinding = serde_json::from_value(json).unwrap();
    assert_eq!(back, finding);
}

// ---- posture ----------------------------------------------------------------

#[tokio::test]
async fn well_set_up_domain_has_everything_present() {
    let dns = TestDns::start(
        Zone::new()
            .soa("good.test")
            .dnskey("good.test")
            .ds("good.test")
            .mx("good.test", 20, "mx2.good.test")
            .mx("good.test", 10, "MX1.good.test")
            .txt("_mta-sts.good.test", &["v=STSv1; id=20240101T000000"])
            .txt("_mta-sts.good.test", &["some-verification=abc"])
            .txt(
                "_smtp._tls.good.test",
                &["v=TLSRPTv1; rua=mailto:tlsrpt@good.test"],
            )
            .txt(
                "default._bimi.good.test",
                &["v=BIMI1; l=https://good.test/logo.svg; a=https://good.test/vmc.pem"],
            ),
    );
    let finding = posture(&resolver(&dns), &ZoneApexes::default(), "Good.Test.").await;
    assert_eq!(finding.domain, "good.test");
    assert_eq!(finding.mx, ["mx1.good.test", "mx2.good.test"]);
    assert!(!finding.null_mx);
    assert_eq!(finding.mx_error, None);
    assert_eq!(
        finding.dnssec,
        Presence::Present {
            zone: "good.test".into(),
            found: vec!["DNSKEY".into(), "DS".into()],
        }
    );
    assert_eq!(
        finding.mta_sts,
        RecordStatus::Present {
            record: "v=STSv1; id=20240101T000000".into()
        }
    );
    assert_eq!(
        finding.tls_rpt,
        RecordStatus::Present {
            record: "v=TLSRPTv1; rua=mailto:tlsrpt@good.test".into()
        }
    );
    assert!(
        matches!(finding.bimi, RecordStatus::Present { .. }),
        "{:?}",
        finding.bimi
    );
    let json = serde_json::to_value(&finding).unwrap();
    assert_eq!(json["mta_sts"]["status"], "present");
    assert_eq!(json["dnssec"]["status"], "present");
}

#[tokio::test]
async fn null_mx_bad_sts_id_and_no_tls_rpt() {
    let dns = TestDns::start(
        Zone::new()
            .soa("nomail.test")
            .mx("nomail.test", 0, ".")
            .txt("_mta-sts.nomail.test", &["v=STSv1; id=not-valid!"]),
    );
    let finding = posture(&resolver(&dns), &ZoneApexes::default(), "nomail.test").await;
    assert!(finding.null_mx);
    assert!(finding.mx.is_empty());
    assert_eq!(finding.mx_error, None);
    match &finding.mta_sts {
        RecordStatus::Invalid { record, error } => {
            assert_eq!(record, "v=STSv1; id=not-valid!");
            assert!(error.contains("RFC 8461"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(finding.tls_rpt, RecordStatus::Absent);
    assert_eq!(finding.bimi, RecordStatus::Absent);
    assert_eq!(
        finding.dnssec,
        Presence::Absent {
            zone: "nomail.test".into()
        }
    );
}

#[tokio::test]
async fn domain_without_mx_has_an_empty_list_and_no_error() {
    let dns = TestDns::start(Zone::new().a("web.test", Ipv4Addr::new(192, 0, 2, 80)));
    let finding = posture(&resolver(&dns), &ZoneApexes::default(), "web.test").await;
    assert!(finding.mx.is_empty() && !finding.null_mx);
    assert_eq!(finding.mx_error, None);
}

#[tokio::test]
async fn subdomain_inherits_dnssec_from_its_zone_apex() {
    // mail.signed.test is not a zone apex: the NODATA answer to its SOA
    // query carries signed.test's SOA, where the DNSKEY lives.
    let dns = TestDns::start(
        Zone::new()
            .soa("signed.test")
            .dnskey("signed.test")
            .a("mail.signed.test", Ipv4Addr::new(192, 0, 2, 1)),
    );
    let finding = posture(&resolver(&dns), &ZoneApexes::default(), "mail.signed.test").await;
    assert_eq!(
        finding.dnssec,
        Presence::Present {
            zone: "signed.test".into(),
            found: vec!["DNSKEY".into()],
        }
    );
}

#[tokio::test]
async fn a_zone_apex_found_once_is_remembered() {
    let apexes = ZoneApexes::default();
    let signed = TestDns::start(
        Zone::new()
            .soa("signed.test")
            .dnskey("signed.test")
            .a("mail.signed.test", Ipv4Addr::new(192, 0, 2, 1)),
    );
    posture(&resolver(&signed), &apexes, "mail.signed.test").await;
    // This server has the keys but no SOA: only the memory knows the apex.
    let keys_only = TestDns::start(
        Zone::new()
            .dnskey("signed.test")
            .a("mail.signed.test", Ipv4Addr::new(192, 0, 2, 1)),
    );
    let remembered = posture(&resolver(&keys_only), &apexes, "mail.signed.test").await;
    assert_eq!(
        remembered.dnssec,
        Presence::Present {
            zone: "signed.test".into(),
            found: vec!["DNSKEY".into()],
        }
    );
    let fresh = posture(
        &resolver(&keys_only),
        &ZoneApexes::default(),
        "mail.signed.test",
    )
    .await;
    assert_eq!(
        fresh.dnssec,
        Presence::Absent {
            zone: "mail.signed.test".into()
        }
    );
}

#[tokio::test]
async fn several_sts_records_are_invalid_and_other_versions_ignored() {
    let dns = TestDns::start(
        Zone::new()
            .txt("_mta-sts.twice.test", &["v=STSv1; id=1"])
            .txt("_mta-sts.twice.test", &["v=STSv1; id=2"])
            .txt(
                "_smtp._tls.twice.test",
                &["v=TLSRPTv2; rua=mailto:a@twice.test"],
            )
            .txt(
                "default._bimi.twice.test",
                &["v=BIMI1; l=http://twice.test/logo.svg"],
            ),
    );
    let finding = posture(&resolver(&dns), &ZoneApexes::default(), "twice.test").await;
    assert!(
        matches!(&finding.mta_sts, RecordStatus::Invalid { error, .. } if error.contains("2 records")),
        "{:?}",
        finding.mta_sts
    );
    // Not a TLSRPTv1 record: as if none were published (RFC 8460 §3).
    assert_eq!(finding.tls_rpt, RecordStatus::Absent);
    assert!(
        matches!(&finding.bimi, RecordStatus::Invalid { error, .. } if error.contains("https")),
        "{:?}",
        finding.bimi
    );
}

#[tokio::test]
async fn servfail_on_a_policy_name_is_unknown_not_absent() {
    let dns = TestDns::start(
        Zone::new()
            .soa("flaky.test")
            .servfail("_mta-sts.flaky.test")
            .timeout("_smtp._tls.flaky.test"),
    );
    let finding = posture(&resolver(&dns), &ZoneApexes::default(), "flaky.test").await;
    assert!(
        matches!(finding.mta_sts, RecordStatus::Unknown { .. }),
        "{:?}",
        finding.mta_sts
    );
    assert!(
        matches!(finding.tls_rpt, RecordStatus::Unknown { .. }),
        "{:?}",
        finding.tls_rpt
    );
    assert_eq!(finding.bimi, RecordStatus::Absent);
}

#[tokio::test]
async fn dns_down_makes_posture_unknown_not_absent() {
    let finding = posture(&down_resolver(), &ZoneApexes::default(), "good.test").await;
    assert!(finding.mx.is_empty() && !finding.null_mx);
    assert!(finding.mx_error.is_some());
    assert!(
        matches!(finding.dnssec, Presence::Unknown { .. }),
        "{:?}",
        finding.dnssec
    );
    for status in [&finding.mta_sts, &finding.tls_rpt, &finding.bimi] {
        assert!(matches!(status, RecordStatus::Unknown { .. }), "{status:?}");
    }
    let json = serde_json::to_value(&finding).unwrap();
    assert_eq!(json["tls_rpt"]["status"], "unknown");
}

#[tokio::test]
async fn dnskey_lookup_timing_out_is_unknown() {
    let dns = TestDns::start(Zone::new().soa("keyless.test").timeout("keyless.test"));
    let finding = posture(&resolver(&dns), &ZoneApexes::default(), "keyless.test").await;
    assert!(
        matches!(&finding.dnssec, Presence::Unknown { error } if error.contains("DNSKEY")),
        "{:?}",
        finding.dnssec
    );
}

#[tokio::test]
async fn test_server_serves_caa_records() {
    use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
    let dns = TestDns::start(Zone::new().caa("good.test", 0, "issue", "ca.test"));
    let reply = resolver(&dns).lookup("good.test.", RecordType::CAA).await;
    let caa = (*reply)
        .as_ref()
        .unwrap()
        .answers()
        .iter()
        .find_map(|record| match &record.data {
            RData::CAA(caa) => Some(caa.clone()),
            _ => None,
        })
        .expect("a CAA record");
    assert_eq!(caa.tag, "issue");
}
