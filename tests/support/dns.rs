//! An authoritative DNS server for tests, speaking the real protocol on
//! loopback over UDP and TCP (same port), so the product's resolver is tested
//! end to end instead of against a mock.
//!
//! ```ignore
//! let dns = TestDns::start(
//!     Zone::new()
//!         .txt("example.test", &["v=spf1 ip4:192.0.2.1 -all"])
//!         .a("mail.example.test", Ipv4Addr::new(192, 0, 2, 1)),
//! );
//! let resolver = mailscore::dns::resolver(Some(dns.addr), Duration::from_secs(1))?;
//! ```
//!
//! The server runs on a thread of its own with its own tokio runtime, so it
//! outlives any one test's runtime and also serves a separate `mailscore`
//! process started by a test. It stops when the [`TestDns`] is dropped: keep
//! the value alive for as long as something may query it.
//!
//! What it answers, for the one question of a query:
//! - always authoritatively (AA set), echoing the id, the question (with its
//!   letter case) and the RD bit; no RA, no SOA in negative answers;
//! - records of the asked type (or all, for `ANY`) at the name → NOERROR with them;
//! - a CNAME at the name → the CNAME, then the same lookup at its target,
//!   within this zone (a loop stops at the first repeated name);
//! - a name with records, but none of the asked type, or with none itself but
//!   names below it (an empty non-terminal) → NOERROR/NODATA;
//! - a name with nothing at or below it → NXDOMAIN;
//! - a name marked [`Zone::timeout`] and with no record of the asked type →
//!   no answer at all;
//! - a name marked [`Zone::servfail`] and with no record of the asked type →
//!   SERVFAIL;
//! - a NXDOMAIN or NODATA answer at or below a name with a [`Zone::soa`]
//!   carries that SOA in its authority section, as RFC 2308 asks (zones
//!   without one keep answering with no SOA);
//! - a UDP answer longer than 512 bytes, or than the query's EDNS payload size,
//!   goes back with TC set and no records, so the client retries over TCP;
//! - a datagram or TCP frame that is not a DNS query with exactly one question
//!   is dropped; an opcode other than QUERY gets NOTIMP, a class other than IN
//!   gets REFUSED.
//!
//! With `TEST_DNS_LOG=1` in the environment every server prints each query
//! and what it did with it to stderr (shown by `cargo test -- --nocapture`).

#![allow(dead_code)]

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NULL, PTR, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::oneshot;

/// Requests every test DNS server in this process has received, so a
/// benchmark can tell whether answers came from the resolver's cache.
pub static QUERIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// TTL of every record served, unless [`Zone::ttl`] says otherwise.
const TTL: u32 = 60;
/// Type code of the SPF RR (RFC 4408 §3.1.1, obsoleted by RFC 7208), which
/// hickory no longer names.
const SPF_TYPE: u16 = 99;
/// The UDP payload size this server advertises to EDNS clients.
const EDNS_PAYLOAD: u16 = 1232;
/// Longest `<character-string>` a TXT or SPF record can carry (RFC 1035 §3.3).
const MAX_CHARACTER_STRING: usize = 255;

/// The records a [`TestDns`] serves, built with chained calls.
///
/// Names are case-insensitive, may end in a dot or not, and are taken
/// byte-for-byte between the dots (so `foo:bar/baz.example.com` or labels with
/// spaces are fine). Each call adds one record; several calls on one name and
/// type make an RRset. A name with a CNAME should have nothing else.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    nodes: HashMap<Name, Node>,
    /// TTL of every record and negative answer; [`TTL`] when unset.
    ttl: Option<u32>,
    /// Queries this zone's server received (clones share the count).
    asked: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    records: Vec<RData>,
    /// Stay silent on queries this node has no records of the type for.
    timeout: bool,
    /// Answer SERVFAIL to queries this node has no records of the type for.
    servfail: bool,
}

impl Zone {
    pub fn new() -> Self {
        Self::default()
    }

    /// One TXT record made of `strings`, each a `<character-string>` on the
    /// wire (readers join them without a separator). A string longer than 255
    /// bytes is a test bug and panics: split it yourself, e.g. with
    /// `.as_bytes().chunks(255)`. No strings at all makes an empty RDATA.
    pub fn txt(self, name: &str, strings: &[&str]) -> Self {
        let rdata = TXT::from_bytes(character_strings(name, strings));
        self.add(name, RData::TXT(rdata))
    }

    /// One record of the obsolete SPF type (99), same RDATA format as
    /// [`Zone::txt`]. RFC 7208 checkers must ignore it.
    pub fn spf(self, name: &str, strings: &[&str]) -> Self {
        let mut rdata = Vec::new();
        for string in character_strings(name, strings) {
            rdata.push(string.len() as u8);
            rdata.extend_from_slice(string);
        }
        let rdata = if rdata.is_empty() {
            NULL::new()
        } else {
            NULL::with(rdata)
        };
        let code = RecordType::from(SPF_TYPE);
        self.add(name, RData::Unknown { code, rdata })
    }

    pub fn a(self, name: &str, ip: Ipv4Addr) -> Self {
        self.add(name, RData::A(A(ip)))
    }

    pub fn aaaa(self, name: &str, ip: Ipv6Addr) -> Self {
        self.add(name, RData::AAAA(AAAA(ip)))
    }

    /// An MX record; an empty or "." `host` is the null MX (RFC 7505).
    pub fn mx(self, name: &str, pref: u16, host: &str) -> Self {
        self.add(name, RData::MX(MX::new(pref, dns_name(host))))
    }

    /// A PTR record at the reverse name of `ip` (`4.3.2.1.in-addr.arpa`,
    /// nibbles under `ip6.arpa`).
    pub fn ptr(self, ip: IpAddr, host: &str) -> Self {
        self.add_at(Name::from(ip), RData::PTR(PTR(dns_name(host))))
    }

    /// A PTR record at a name given as written.
    pub fn ptr_name(self, name: &str, host: &str) -> Self {
        self.add(name, RData::PTR(PTR(dns_name(host))))
    }

    pub fn cname(self, name: &str, target: &str) -> Self {
        self.add(name, RData::CNAME(CNAME(dns_name(target))))
    }

    /// Queries for `name` get no answer at all, as from a server that is
    /// down, unless `name` has records of the asked type: those are still
    /// served. So `timeout` alone silences the name, and `txt` + `timeout`
    /// models the broken server that answers TXT but drops other types.
    pub fn timeout(mut self, name: &str) -> Self {
        self.nodes.entry(dns_name(name)).or_default().timeout = true;
        self
    }

    /// Queries for `name` get SERVFAIL, as from a resolver whose upstream
    /// failed, unless `name` has records of the asked type (see
    /// [`Zone::timeout`] for the same rule).
    pub fn servfail(mut self, name: &str) -> Self {
        self.nodes.entry(dns_name(name)).or_default().servfail = true;
        self
    }

    /// A record of any type, its RDATA given as the raw wire bytes; for
    /// types this builder has no method for.
    pub fn record(self, name: &str, record_type: RecordType, rdata: &[u8]) -> Self {
        let rdata = if rdata.is_empty() {
            NULL::new()
        } else {
            NULL::with(rdata.to_vec())
        };
        self.add(
            name,
            RData::Unknown {
                code: record_type,
                rdata,
            },
        )
    }

    /// A DNSKEY record (RFC 4034 §2): a zone key with the SEP flag (257),
    /// protocol 3, algorithm 13 (ECDSA P-256) and a made-up 64-byte key.
    /// Nothing here signs: it only says the zone publishes a key.
    pub fn dnskey(self, name: &str) -> Self {
        let mut rdata = vec![0x01, 0x01, 3, 13];
        rdata.extend_from_slice(&[0x5a; 64]);
        self.record(name, RecordType::DNSKEY, &rdata)
    }

    /// A DS record (RFC 4034 §5) with key tag 12345, algorithm 13, digest
    /// type 2 (SHA-256) and a made-up digest.
    pub fn ds(self, name: &str) -> Self {
        let mut rdata = vec![0x30, 0x39, 13, 2];
        rdata.extend_from_slice(&[0xa5; 32]);
        self.record(name, RecordType::DS, &rdata)
    }

    /// A CAA record (RFC 8659 §4.1): `flags`, then `tag` and `value` as given.
    pub fn caa(self, name: &str, flags: u8, tag: &str, value: &str) -> Self {
        let tag_len = u8::try_from(tag.len()).expect("test zone: CAA tag over 255 bytes");
        let mut rdata = vec![flags, tag_len];
        rdata.extend_from_slice(tag.as_bytes());
        rdata.extend_from_slice(value.as_bytes());
        self.record(name, RecordType::CAA, &rdata)
    }

    /// An SOA record at `name`, the apex of a zone: besides answering SOA
    /// queries, it goes in the authority section of every NXDOMAIN and
    /// NODATA answer at or below `name`, so a resolver can tell which zone
    /// a name belongs to.
    /// Serves every record, and every negative answer (through the SOA's
    /// TTL, which RFC 2308 caps it with), with this TTL in seconds.
    pub fn ttl(mut self, seconds: u32) -> Self {
        self.ttl = Some(seconds);
        self
    }

    fn record_ttl(&self) -> u32 {
        self.ttl.unwrap_or(TTL)
    }

    pub fn soa(self, name: &str) -> Self {
        let soa = SOA::new(
            dns_name(&format!("ns.{}", name.trim_end_matches('.'))),
            dns_name(&format!("hostmaster.{}", name.trim_end_matches('.'))),
            1,
            3600,
            600,
            86400,
            TTL,
        );
        self.add(name, RData::SOA(soa))
    }

    /// The SOA of the closest zone apex at or above `name`, for the
    /// authority section of a negative answer.
    fn enclosing_soa(&self, name: &Name) -> Option<Record> {
        let mut owner = name.clone();
        loop {
            let soa = self.nodes.get(&owner).and_then(|node| {
                node.records
                    .iter()
                    .find(|rdata| rdata.record_type() == RecordType::SOA)
            });
            if let Some(soa) = soa {
                return Some(Record::from_rdata(owner, self.record_ttl(), soa.clone()));
            }
            if owner.is_root() {
                return None;
            }
            owner = owner.base_name();
        }
    }

    fn add(self, name: &str, rdata: RData) -> Self {
        self.add_at(dns_name(name), rdata)
    }

    fn add_at(mut self, name: Name, rdata: RData) -> Self {
        self.nodes.entry(name).or_default().records.push(rdata);
        self
    }

    /// The response to `request`, or `None` when the server must stay silent
    /// (malformed query, or a [`Zone::timeout`] name).
    fn respond(&self, request: &Message) -> Option<Message> {
        QUERIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.asked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if request.metadata.message_type != MessageType::Query || request.queries.len() != 1 {
            return None;
        }
        let query = &request.queries[0];
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.add_query(query.clone());
        if request.edns.is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(EDNS_PAYLOAD);
            response.set_edns(edns);
        }
        if request.metadata.op_code != OpCode::Query {
            response.metadata.response_code = ResponseCode::NotImp;
            return Some(response);
        }
        if query.query_class() != DNSClass::IN {
            response.metadata.response_code = ResponseCode::Refused;
            return Some(response);
        }

        let qtype = query.query_type();
        // The first owner keeps the query's letter case: resolvers compare it.
        let mut owner = query.name().clone();
        let mut seen = HashSet::new();
        while seen.insert(owner.clone()) {
            let Some(node) = self.nodes.get(&owner) else {
                // An empty non-terminal (a name with names below it) exists.
                if !self.nodes.keys().any(|name| owner.zone_of(name)) {
                    response.metadata.response_code = ResponseCode::NXDomain;
                }
                break;
            };
            let mut matching = node
                .records
                .iter()
                .filter(|rdata| qtype == RecordType::ANY || rdata.record_type() == qtype)
                .peekable();
            if matching.peek().is_some() {
                for rdata in matching {
                    let ttl = self.record_ttl();
                    response.add_answer(Record::from_rdata(owner.clone(), ttl, rdata.clone()));
                }
                break;
            }
            if let Some(RData::CNAME(CNAME(target))) = node
                .records
                .iter()
                .find(|rdata| rdata.record_type() == RecordType::CNAME)
            {
                let alias = RData::CNAME(CNAME(target.clone()));
                response.add_answer(Record::from_rdata(owner, self.record_ttl(), alias));
                owner = target.clone();
                continue;
            }
            if node.timeout {
                return None;
            }
            if node.servfail {
                response.metadata.response_code = ResponseCode::ServFail;
                return Some(response);
            }
            break; // NODATA
        }
        let negative = response.answers.is_empty()
            || response.metadata.response_code == ResponseCode::NXDomain;
        if negative && let Some(soa) = self.enclosing_soa(&owner) {
            response.add_authority(soa);
        }
        Some(response)
    }
}

/// `name` as a DNS name, labels taken byte-for-byte; panics on a name that
/// cannot be put on the wire (empty or over-long label), which is a test bug.
fn dns_name(name: &str) -> Name {
    let relative = name.strip_suffix('.').unwrap_or(name);
    if relative.is_empty() {
        return Name::root();
    }
    Name::from_labels(relative.split('.').map(str::as_bytes))
        .unwrap_or_else(|e| panic!("test zone: {name:?} is not a valid DNS name: {e}"))
}

fn character_strings<'a>(name: &str, strings: &[&'a str]) -> Vec<&'a [u8]> {
    strings
        .iter()
        .map(|string| {
            assert!(
                string.len() <= MAX_CHARACTER_STRING,
                "test zone: a string of {} bytes at {name:?} exceeds the 255 a \
                 <character-string> holds; split it into several strings",
                string.len()
            );
            string.as_bytes()
        })
        .collect()
}

/// `response` on the wire; over UDP (`limit` set) an answer that does not fit
/// goes as its header and question only, with TC set.
fn encode(response: &Message, limit: Option<usize>) -> Option<Vec<u8>> {
    let bytes = response.to_vec().ok()?;
    match limit {
        Some(limit) if bytes.len() > limit => response.truncate().to_vec().ok(),
        _ => Some(bytes),
    }
}

/// A running test DNS server; dropping it stops the server.
#[must_use = "the server stops when this value is dropped"]
pub struct TestDns {
    /// 127.0.0.1 and the port it serves on, over both UDP and TCP.
    pub addr: SocketAddr,
    asked: Arc<std::sync::atomic::AtomicU64>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestDns {
    /// Starts serving `zone`; returns once both sockets are listening.
    pub fn start(zone: Zone) -> TestDns {
        let (udp, tcp, addr) = bind_udp_and_tcp();
        let asked = zone.asked.clone();
        let zone = Arc::new(zone);
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("test-dns-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("test DNS: tokio runtime");
                runtime.block_on(async move {
                    let udp = UdpSocket::from_std(udp).expect("test DNS: UDP socket");
                    let tcp = TcpListener::from_std(tcp).expect("test DNS: TCP listener");
                    tokio::select! {
                        _ = serve_udp(&udp, &zone) => {}
                        _ = serve_tcp(&tcp, &zone) => {}
                        _ = stop => {}
                    }
                });
                // Dropping the runtime ends the open TCP connections' tasks.
            })
            .expect("test DNS: spawn server thread");
        TestDns {
            addr,
            asked,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Queries this server has received so far, over UDP and TCP.
    pub fn queries(&self) -> u64 {
        self.asked.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// 127.0.0.1 and a port bound for UDP and TCP that never answers: a DNS
/// server that is down, for temperror tests. Queries over TCP connect (the
/// kernel completes the handshake) and then wait forever. The same address
/// is returned for the whole test process.
pub fn silent_dns() -> SocketAddr {
    static SILENT: OnceLock<(std::net::UdpSocket, std::net::TcpListener, SocketAddr)> =
        OnceLock::new();
    SILENT.get_or_init(bind_udp_and_tcp).2
}

/// A UDP socket on 127.0.0.1 with a free port, and a TCP listener on the same
/// port, both non-blocking.
fn bind_udp_and_tcp() -> (std::net::UdpSocket, std::net::TcpListener, SocketAddr) {
    const TRIES: usize = 64;
    for _ in 0..TRIES {
        let udp = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind UDP 127.0.0.1");
        let addr = udp.local_addr().expect("UDP local address");
        match std::net::TcpListener::bind(addr) {
            Ok(tcp) => {
                udp.set_nonblocking(true).expect("non-blocking UDP");
                tcp.set_nonblocking(true).expect("non-blocking TCP");
                return (udp, tcp, addr);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("bind TCP {addr}: {e}"),
        }
    }
    panic!("no port on 127.0.0.1 was free for both UDP and TCP in {TRIES} tries");
}

async fn serve_udp(socket: &UdpSocket, zone: &Zone) {
    let mut buf = vec![0; u16::MAX as usize];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(request) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        let response = zone.respond(&request);
        log("udp", &request, response.as_ref());
        let Some(response) = response else {
            continue;
        };
        let limit = usize::from(request.max_payload());
        if let Some(bytes) = encode(&response, Some(limit)) {
            let _ = socket.send_to(&bytes, peer).await;
        }
    }
}

async fn serve_tcp(listener: &TcpListener, zone: &Arc<Zone>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_tcp_connection(stream, Arc::clone(zone)));
            }
            // Out of file descriptors, say: wait instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Queries framed by a 2-byte length (RFC 1035 §4.2.2), answered in order.
async fn serve_tcp_connection(mut stream: TcpStream, zone: Arc<Zone>) {
    loop {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut buf = vec![0; usize::from(len)];
        if stream.read_exact(&mut buf).await.is_err() {
            return;
        }
        let Ok(request) = Message::from_vec(&buf) else {
            continue;
        };
        let response = zone.respond(&request);
        log("tcp", &request, response.as_ref());
        let Some(response) = response else {
            continue;
        };
        let Some(bytes) = encode(&response, None) else {
            continue;
        };
        let Ok(len) = u16::try_from(bytes.len()) else {
            continue;
        };
        let mut frame = Vec::with_capacity(2 + bytes.len());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&bytes);
        if stream.write_all(&frame).await.is_err() {
            return;
        }
    }
}

/// With `TEST_DNS_LOG` set, one stderr line per query: what was asked, and
/// the answer's code and size, or that it went unanswered.
fn log(transport: &str, request: &Message, response: Option<&Message>) {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    if !*ENABLED.get_or_init(|| std::env::var_os("TEST_DNS_LOG").is_some()) {
        return;
    }
    let question = request
        .queries
        .first()
        .map(|q| format!("{} {}", q.query_type(), q.name()))
        .unwrap_or_default();
    match response {
        Some(response) => eprintln!(
            "test-dns {transport} {question} -> {} ({} records)",
            response.metadata.response_code,
            response.answers.len()
        ),
        None => eprintln!("test-dns {transport} {question} -> no answer"),
    }
}
