//! The replies the resolver keeps (`dns::answers`): an answer, positive
//! or negative, is not asked again while its TTL lasts and is asked again
//! once it has run out; a failure is never kept, so the next message asks.

mod support;

use mail_auth::hickory_resolver::net::NetError;
use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
use mailscore::checks::iprev;
use mailscore::dns::answers::Reply;
use mailscore::dns::{Dns, resolver};
use std::time::Duration;
use support::dns::{TestDns, Zone};

fn error(reply: &Reply) -> &NetError {
    (**reply).as_ref().expect_err("no records")
}

fn dns(server: &TestDns, timeout: Duration) -> Dns {
    resolver(Some(server.addr), timeout).expect("resolver")
}

fn txt(reply: &Reply) -> String {
    let lookup = (**reply).as_ref().expect("an answer");
    lookup
        .answers()
        .iter()
        .find_map(|record| match &record.data {
            RData::TXT(txt) => Some(String::from_utf8_lossy(&txt.txt_data[0]).into_owned()),
            _ => None,
        })
        .expect("a TXT record")
}

/// Just over a TTL of one second: hickory counts TTLs in whole seconds.
const PAST_ONE_SECOND: Duration = Duration::from_millis(1_300);

#[tokio::test]
async fn an_answer_is_asked_once_while_its_ttl_lasts_then_again() {
    let server = TestDns::start(
        Zone::new()
            .ttl(1)
            .txt("kept.test", &["v=spf1 -all"])
            .soa("kept.test"),
    );
    let dns = dns(&server, Duration::from_secs(2));
    let first = dns.lookup("kept.test.", RecordType::TXT).await;
    let second = dns.lookup("KEPT.test.", RecordType::TXT).await;
    assert_eq!(txt(&first), "v=spf1 -all");
    assert_eq!(txt(&second), "v=spf1 -all");
    assert_eq!(
        server.queries(),
        1,
        "the second lookup was answered from what was kept"
    );
    assert_eq!(
        dns.answers().len(),
        2,
        "one reply kept for each spelling asked"
    );

    tokio::time::sleep(PAST_ONE_SECOND).await;
    let third = dns.lookup("kept.test.", RecordType::TXT).await;
    assert_eq!(txt(&third), "v=spf1 -all");
    assert_eq!(server.queries(), 2, "asked again once the TTL had run out");
}

#[tokio::test]
async fn a_parsed_name_and_its_text_ask_the_same_question_once_each() {
    let server = TestDns::start(Zone::new().txt("named.test", &["hello"]));
    let dns = dns(&server, Duration::from_secs(2));
    let name = mail_auth::hickory_resolver::proto::rr::Name::from_ascii("named.test.").unwrap();
    assert_eq!(txt(&dns.lookup_name(&name, RecordType::TXT).await), "hello");
    assert_eq!(txt(&dns.lookup_name(&name, RecordType::TXT).await), "hello");
    assert_eq!(
        txt(&dns.lookup("named.test.", RecordType::TXT).await),
        "hello"
    );
    // The text form misses what was kept under the parsed name, and hickory's
    // own cache answers it: still one query on the wire.
    assert_eq!(server.queries(), 1);
    assert_eq!(dns.answers().len(), 2);
}

#[tokio::test]
async fn a_negative_answer_is_kept_for_its_negative_ttl() {
    let server = TestDns::start(Zone::new().ttl(1).soa("neg.test"));
    let dns = dns(&server, Duration::from_secs(2));
    for _ in 0..3 {
        let reply = dns.lookup("missing.neg.test.", RecordType::A).await;
        let error = error(&reply);
        assert!(error.is_nx_domain(), "{error}");
    }
    assert_eq!(
        server.queries(),
        1,
        "NXDOMAIN with an SOA is an answer, kept"
    );
    assert_eq!(dns.answers().len(), 1);

    tokio::time::sleep(PAST_ONE_SECOND).await;
    let reply = dns.lookup("missing.neg.test.", RecordType::A).await;
    assert!(reply.is_err());
    assert_eq!(server.queries(), 2, "asked again after the SOA's TTL");
}

#[tokio::test]
async fn a_timeout_is_not_kept_and_the_next_lookup_asks_again() {
    let server = TestDns::start(Zone::new().timeout("slow.test"));
    let dns = dns(&server, Duration::from_millis(300));
    let reply = dns.lookup("slow.test.", RecordType::TXT).await;
    let error = error(&reply);
    assert!(!error.is_no_records_found(), "{error}");
    assert!(dns.answers().is_empty(), "a failure is not kept");
    let asked = server.queries();
    assert!(asked >= 1);

    let _ = dns.lookup("slow.test.", RecordType::TXT).await;
    assert!(
        server.queries() > asked,
        "the next lookup asked the server again"
    );
}

#[tokio::test]
async fn a_servfail_is_not_kept() {
    let server = TestDns::start(Zone::new().servfail("broken.test"));
    let dns = dns(&server, Duration::from_secs(2));
    let reply = dns.lookup("broken.test.", RecordType::MX).await;
    assert!(reply.is_err());
    assert!(dns.answers().is_empty());
}

#[tokio::test]
async fn mail_auth_lookups_are_kept_until_their_ttl_ends() {
    let ip: std::net::IpAddr = "192.0.2.25".parse().unwrap();
    let server = TestDns::start(
        Zone::new()
            .ttl(1)
            .ptr(ip, "mail.kept.test")
            .a("mail.kept.test", std::net::Ipv4Addr::new(192, 0, 2, 25)),
    );
    let dns = dns(&server, Duration::from_secs(2));
    let first = iprev::verdict(&dns, ip).await;
    assert!(first.forward_confirmed, "{first:?}");
    let asked = server.queries();
    assert_eq!(dns.kept_records().ptr.len(), 1);
    assert_eq!(dns.kept_records().ipv4.len(), 1);

    let second = iprev::verdict(&dns, ip).await;
    assert_eq!(second.ptr, first.ptr);
    assert_eq!(server.queries(), asked, "PTR and A were kept");

    tokio::time::sleep(PAST_ONE_SECOND).await;
    let third = iprev::verdict(&dns, ip).await;
    assert!(third.forward_confirmed);
    assert!(
        server.queries() > asked,
        "asked again once the TTL had run out"
    );
}

#[tokio::test]
async fn a_txt_name_ours_found_empty_is_not_asked_again_by_mail_auth() {
    use mail_auth::dmarc::Dmarc;
    use mail_auth::{DnsError as AuthDnsError, Error as AuthError};
    let server = TestDns::start(
        Zone::new()
            .txt("_dmarc.org.test", &["v=DMARC1; p=reject"])
            .soa("org.test"),
    );
    let dns = dns(&server, Duration::from_secs(2));
    let ours = dns.lookup("_dmarc.mail.org.test.", RecordType::TXT).await;
    assert!(error(&ours).is_nx_domain());
    assert_eq!(dns.kept_records().txt.len(), 1, "kept for mail-auth too");
    let asked = server.queries();

    // mail-auth's tree walk asks the same name: answered from what we kept,
    // as hickory would have answered it.
    let walk = dns
        .auth()
        .txt_lookup::<Dmarc>("_dmarc.mail.org.test.", Some(&dns.kept_records().txt))
        .await;
    assert!(
        matches!(walk, Err(AuthError::Dns(AuthDnsError::RecordNotFound(_)))),
        "{walk:?}"
    );
    assert_eq!(server.queries(), asked, "mail-auth did not ask again");

    // A name with a record is mail-auth's to parse, and then kept by it.
    let found = dns
        .auth()
        .txt_lookup::<Dmarc>("_dmarc.org.test.", Some(&dns.kept_records().txt))
        .await;
    assert!(found.is_ok(), "{found:?}");
    assert_eq!(server.queries(), asked + 1);
    let again = dns
        .auth()
        .txt_lookup::<Dmarc>("_dmarc.org.test.", Some(&dns.kept_records().txt))
        .await;
    assert!(again.is_ok());
    assert_eq!(server.queries(), asked + 1);
    assert_eq!(dns.kept_records().txt.len(), 2);
}
