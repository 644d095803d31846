//! The test DNS server speaks real DNS: raw UDP and TCP exchanges here, and
//! the product's own resolver, get the answers the zone promises.

mod support;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, PTR, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use mailscore::checks::spf::mail_from_verdict;
use mailscore::checks::verdict::Verdict;
use mailscore::dns::{resolver, txt_records};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};
use support::dns::{TestDns, Zone, silent_dns};

/// How long a raw exchange waits before calling the server silent.
const SILENCE: Duration = Duration::from_millis(300);

fn query(name: &str, qtype: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    let name = Name::from_labels(name.trim_end_matches('.').split('.').map(str::as_bytes))
        .expect("query name");
    message.add_query(Query::query(name, qtype));
    message
}

fn with_edns(mut message: Message, payload: u16) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    message.set_edns(edns);
    message
}

fn is_silence(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Sends each datagram from one socket, then returns the first reply, if any.
fn udp_exchange(server: SocketAddr, datagrams: &[Vec<u8>]) -> Option<Message> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind client");
    socket.set_read_timeout(Some(SILENCE)).unwrap();
    for datagram in datagrams {
        socket.send_to(datagram, server).expect("send");
    }
    let mut buf = vec![0; 65535];
    match socket.recv(&mut buf) {
        Ok(len) => Some(Message::from_vec(&buf[..len]).expect("reply decodes")),
        Err(e) if is_silence(&e) => None,
        Err(e) => panic!("UDP receive: {e}"),
    }
}

fn ask_udp(server: SocketAddr, request: &Message) -> Option<Message> {
    udp_exchange(server, &[request.to_vec().unwrap()])
}

/// Sends each query framed on one connection, then returns the first reply.
fn tcp_exchange(server: SocketAddr, requests: &[&Message]) -> Option<Message> {
    let mut stream = TcpStream::connect(server).expect("connect over TCP");
    stream.set_read_timeout(Some(SILENCE)).unwrap();
    for request in requests {
        let bytes = request.to_vec().unwrap();
        let len = u16::try_from(bytes.len()).unwrap().to_be_bytes();
        stream
            .write_all(&[&len[..], &bytes].concat())
            .expect("send");
    }
    let mut len = [0; 2];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if is_silence(&e) => return None,
        Err(e) => panic!("TCP receive: {e}"),
    }
    let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).expect("whole TCP frame");
    Some(Message::from_vec(&buf).expect("reply decodes"))
}

fn ask_tcp(server: SocketAddr, request: &Message) -> Option<Message> {
    tcp_exchange(server, &[request])
}

fn txt_strings(reply: &Message) -> Vec<Vec<String>> {
    reply
        .answers
        .iter()
        .map(|record| match &record.data {
            RData::TXT(TXT { txt_data, .. }) => txt_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
            other => panic!("expected TXT, got {other:?}"),
        })
        .collect()
}

#[test]
fn answers_the_same_txt_over_udp_and_tcp_on_one_port() {
    let dns = TestDns::start(Zone::new().txt("spf.example.test", &["v=spf1 ", "-all"]));
    let request = query("SPF.Example.TEST", RecordType::TXT);

    for (transport, reply) in [
        ("udp", ask_udp(dns.addr, &request)),
        ("tcp", ask_tcp(dns.addr, &request)),
    ] {
        let reply = reply.unwrap_or_else(|| panic!("no answer over {transport}"));
        assert_eq!(reply.metadata.id, request.metadata.id, "{transport}");
        assert!(reply.metadata.authoritative, "{transport}");
        assert!(!reply.metadata.truncation, "{transport}");
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(reply.queries.len(), 1);
        assert!(reply.queries[0].name().eq_case(request.queries[0].name()));
        assert!(reply.answers[0].name.eq_case(request.queries[0].name()));
        assert_eq!(txt_strings(&reply), [["v=spf1 ", "-all"]], "{transport}");
    }
}

#[test]
fn unknown_name_is_nxdomain_and_known_name_without_the_type_is_nodata() {
    let dns = TestDns::start(Zone::new().a("mail.example.test", Ipv4Addr::new(192, 0, 2, 1)));

    let nodata = ask_udp(dns.addr, &query("mail.example.test", RecordType::TXT)).unwrap();
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());

    let nxdomain = ask_tcp(dns.addr, &query("nope.example.test", RecordType::TXT)).unwrap();
    assert_eq!(nxdomain.metadata.response_code, ResponseCode::NXDomain);
    assert!(nxdomain.metadata.authoritative);
    assert!(nxdomain.answers.is_empty());

    let empty_non_terminal = ask_udp(dns.addr, &query("example.test", RecordType::A)).unwrap();
    assert_eq!(
        empty_non_terminal.metadata.response_code,
        ResponseCode::NoError
    );
    assert!(empty_non_terminal.answers.is_empty());

    let a = ask_udp(dns.addr, &query("mail.example.test", RecordType::A)).unwrap();
    assert!(matches!(a.answers[0].data, RData::A(A(ip)) if ip == Ipv4Addr::new(192, 0, 2, 1)));
}

#[test]
fn timeout_names_get_no_answer_except_for_types_they_have() {
    let dns = TestDns::start(
        Zone::new()
            .timeout("down.example.test")
            .txt("half.example.test", &["v=spf1 -all"])
            .timeout("half.example.test"),
    );
    let down = query("down.example.test", RecordType::TXT);
    assert!(ask_udp(dns.addr, &down).is_none(), "UDP answered");
    assert!(ask_tcp(dns.addr, &down).is_none(), "TCP answered");
    assert!(ask_udp(dns.addr, &query("half.example.test", RecordType::A)).is_none());

    // The connection survives the unanswered query and serves the next one.
    let half = query("half.example.test", RecordType::TXT);
    let reply = tcp_exchange(dns.addr, &[&down, &half]).expect("second query answered");
    assert_eq!(reply.metadata.id, half.metadata.id);
    assert_eq!(txt_strings(&reply), [["v=spf1 -all"]]);
}

#[test]
fn oversized_udp_answer_is_truncated_and_whole_over_tcp() {
    let strings: Vec<String> = (0..20)
        .map(|i| format!("{i:02}{}", "x".repeat(98)))
        .collect();
    let zone = strings
        .iter()
        .fold(Zone::new(), |zone, s| zone.txt("big.example.test", &[s]));
    let dns = TestDns::start(zone);
    let request = query("big.example.test", RecordType::TXT);

    let truncated = ask_udp(dns.addr, &request).unwrap();
    assert!(truncated.metadata.truncation, "2 KB answer fit 512 bytes?");
    assert!(truncated.answers.is_empty());
    assert_eq!(truncated.queries, request.queries);

    let big_edns = ask_udp(dns.addr, &with_edns(request.clone(), 4096)).unwrap();
    assert!(!big_edns.metadata.truncation);
    assert_eq!(big_edns.answers.len(), 20);
    assert!(big_edns.edns.is_some(), "EDNS query, answer without OPT");

    let small_edns = ask_udp(dns.addr, &with_edns(request.clone(), 1232)).unwrap();
    assert!(small_edns.metadata.truncation);

    let whole = ask_tcp(dns.addr, &request).unwrap();
    assert!(!whole.metadata.truncation);
    assert_eq!(whole.answers.len(), 20);
}

#[tokio::test]
async fn product_resolver_retries_a_truncated_answer_over_tcp() {
    let strings: Vec<String> = (0..20)
        .map(|i| format!("{i:02}{}", "y".repeat(98)))
        .collect();
    let zone = strings
        .iter()
        .fold(Zone::new(), |zone, s| zone.txt("big.example.test", &[s]));
    let dns = TestDns::start(zone);
    let resolver = resolver(Some(dns.addr), Duration::from_secs(2)).unwrap();

    let mut found = txt_records(&resolver, "big.example.test").await;
    found.sort();
    assert_eq!(found, strings);
}

#[test]
fn cname_is_followed_within_the_zone() {
    let target = Ipv4Addr::new(192, 0, 2, 9);
    let dns = TestDns::start(
        Zone::new()
            .cname("alias.example.test", "target.example.test")
            .a("target.example.test", target)
            .cname("dangling.example.test", "gone.example.test")
            .cname("loop1.example.test", "loop2.example.test")
            .cname("loop2.example.test", "LOOP1.example.test"),
    );

    let reply = ask_udp(dns.addr, &query("alias.example.test", RecordType::A)).unwrap();
    assert_eq!(reply.answers.len(), 2);
    assert!(
        matches!(&reply.answers[0].data, RData::CNAME(CNAME(n)) if n.to_ascii() == "target.example.test.")
    );
    assert_eq!(reply.answers[1].name.to_ascii(), "target.example.test.");
    assert!(matches!(reply.answers[1].data, RData::A(A(ip)) if ip == target));

    let nodata = ask_udp(dns.addr, &query("alias.example.test", RecordType::MX)).unwrap();
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert_eq!(nodata.answers.len(), 1, "only the CNAME");

    let only_cname = ask_udp(dns.addr, &query("alias.example.test", RecordType::CNAME)).unwrap();
    assert_eq!(only_cname.answers.len(), 1);

    let dangling = ask_udp(dns.addr, &query("dangling.example.test", RecordType::A)).unwrap();
    assert_eq!(dangling.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(dangling.answers.len(), 1);

    let looped = ask_udp(dns.addr, &query("loop1.example.test", RecordType::A)).unwrap();
    assert_eq!(
        looped.answers.len(),
        2,
        "a loop ends at the first repeated name"
    );
}

#[test]
fn ptr_is_published_at_the_reverse_name_and_spf_type_is_its_own() {
    let dns = TestDns::start(
        Zone::new()
            .ptr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), "mail.example.test")
            .ptr("2001:db8::1".parse().unwrap(), "mail6.example.test.")
            .spf("spf.example.test", &["v=spf1 -all"]),
    );

    let v4 = ask_udp(dns.addr, &query("7.2.0.192.in-addr.arpa", RecordType::PTR)).unwrap();
    assert!(
        matches!(&v4.answers[0].data, RData::PTR(PTR(n)) if n.to_ascii() == "mail.example.test.")
    );

    let nibbles = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6.arpa";
    let v6 = ask_tcp(dns.addr, &query(nibbles, RecordType::PTR)).unwrap();
    assert!(
        matches!(&v6.answers[0].data, RData::PTR(PTR(n)) if n.to_ascii() == "mail6.example.test.")
    );

    let spf = ask_udp(dns.addr, &query("spf.example.test", RecordType::from(99))).unwrap();
    match &spf.answers[0].data {
        RData::Unknown { code, rdata } => {
            assert_eq!(u16::from(*code), 99);
            assert_eq!(rdata.anything, b"\x0bv=spf1 -all");
        }
        other => panic!("expected type 99, got {other:?}"),
    }
    let txt = ask_udp(dns.addr, &query("spf.example.test", RecordType::TXT)).unwrap();
    assert!(txt.answers.is_empty(), "an SPF record is no TXT record");
}

#[test]
fn malformed_queries_are_dropped() {
    let dns = TestDns::start(Zone::new().a("mail.example.test", Ipv4Addr::new(192, 0, 2, 1)));
    let good = query("mail.example.test", RecordType::A);
    let mut response = query("mail.example.test", RecordType::A).into_response();
    response.metadata.id = good.metadata.id.wrapping_add(1);
    let mut two_questions = query("mail.example.test", RecordType::A);
    two_questions.add_query(Query::query(Name::root(), RecordType::A));

    let reply = udp_exchange(
        dns.addr,
        &[
            b"\x12\x34garbage".to_vec(),
            response.to_vec().unwrap(),
            two_questions.to_vec().unwrap(),
            good.to_vec().unwrap(),
        ],
    )
    .expect("the good query is answered");
    assert_eq!(
        reply.metadata.id, good.metadata.id,
        "answered a malformed one"
    );
    assert!(ask_tcp(dns.addr, &two_questions).is_none());
}

#[tokio::test]
async fn silent_dns_makes_spf_a_temperror() {
    let resolver = resolver(Some(silent_dns()), Duration::from_millis(300)).unwrap();
    let started = Instant::now();
    let finding = mail_from_verdict(
        &resolver,
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        "mail.example.test",
        "receiver.example",
        "someone@example.test",
    )
    .await;
    assert_eq!(finding.result, Verdict::Temperror);
    assert!(started.elapsed() < Duration::from_secs(10));
}
