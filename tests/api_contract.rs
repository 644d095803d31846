//! The API contract: real answers of the real `mailscore serve` binary,
//! validated against the OpenAPI 3.1 document it serves (its paths from
//! `src/web/openapi.paths.json`, its schemas generated from the Rust
//! types), with the `jsonschema` crate (draft 2020-12, formats checked).
//!
//! Each answer is checked against the schema of the operation and status
//! that produced it, so the document is right about *which* endpoint answers
//! what, not only about the shapes. Its objects forbid unknown fields, so an
//! answer carrying a field its type does not declare fails here.

mod support;

use jsonschema::Validator;
use mailscore::analysis::stage::{Stage, StageFailure};
use mailscore::checks::Findings;
use mailscore::checks::arc::ArcFinding;
use mailscore::checks::dkim::DkimFinding;
use mailscore::checks::dkim::key::KeyInfo;
use mailscore::checks::dmarc::{DmarcFinding, DmarcMode, DmarcRecord, TreeWalkVerdict};
use mailscore::checks::dnsbl::{BlocklistFinding, BlocklistResult, Listing, ZoneError};
use mailscore::checks::helo::{HeloFinding, HeloResult};
use mailscore::checks::iprev::IprevFinding;
use mailscore::checks::mail_server::certificate::{CertificateFacts, ChainState};
use mailscore::checks::mail_server::dane::{DaneFinding, DaneState};
use mailscore::checks::mail_server::host::{HostProbe, Reached, StartTls, TlsSession};
use mailscore::checks::mail_server::mta_sts::{MtaStsFinding, StsState};
use mailscore::checks::mail_server::relay::{RcptAttempt, RelayTest, RelayVerdict};
use mailscore::checks::mail_server::{DomainServers, MailServerFinding, ProbeStatus, TargetsFound};
use mailscore::checks::message::MessageFacts;
use mailscore::checks::message_id_domain::{MessageIdDomain, MessageIdDomainFinding};
use mailscore::checks::posture::validation::DnssecValidation;
use mailscore::checks::posture::{PostureFinding, Presence, RecordStatus};
use mailscore::checks::smime::{SignerCert, SmimeFinding, SmimeResult};
use mailscore::checks::spf::{AllPolicy, SpfFinding, SpfIdentity, SpfProblem};
use mailscore::checks::tls::{TlsFinding, TlsResult};
use mailscore::checks::{CheckId, Setup, Verdict};
use mailscore::report::{EnvelopeView, Report};
use mailscore::score::jipdec::SetupGrid;
use mailscore::score::mschecker::{Grade, Item, Level};
use mailscore::score::providers::Audience;
use mailscore::score::readiness::{Readiness, Ready};
use mailscore::score::{Deduction, Text};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::dkim::{rsa_key_record, rsa_signed, split_255};
use support::dns::{TestDns, Zone, silent_dns};
use support::server::{Server, send_mail};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const OTHER_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const LISTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

// ---- the document ----------------------------------------------------------

/// The OpenAPI document, and validators built from its schemas.
struct Spec {
    doc: Value,
}

impl Spec {
    fn load() -> Spec {
        Spec {
            doc: mailscore::web::openapi::document().clone(),
        }
    }

    /// A validator for `schema`, which may `$ref` `#/components/...`: the
    /// components ride along in the root, where those pointers resolve.
    fn validator(&self, schema: &Value) -> Validator {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema],
            "components": self.doc["components"],
        });
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
    }

    /// `#/components/<kind>/<name>` when `value` is a `$ref` to it, else `value`.
    fn resolved<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str() {
            Some(pointer) => self
                .doc
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {pointer}")),
            None => value,
        }
    }

    /// The documented response of `method path` with `status`.
    fn response(&self, method: &str, path: &str, status: u16) -> &Value {
        let operation = &self.doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let response = &operation["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path} does not document status {status}"
        );
        self.resolved(response)
    }

    /// Panics unless `body` is what `method path` documents for `status`.
    fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        let schema = &self.response(method, path, status)["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} {status} documents no JSON body"
        );
        assert_valid(
            &self.validator(schema),
            body,
            &format!("{method} {path} {status}"),
        );
    }

    /// Panics unless `value` is valid against `#/components/schemas/<name>`.
    fn check_schema(&self, name: &str, value: &impl Serialize) {
        let value = serde_json::to_value(value).unwrap();
        let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
        assert_valid(&self.validator(&schema), &value, name);
    }
}

fn assert_valid(validator: &Validator, body: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: answer does not match the OpenAPI document:\n{}\n{body:#}",
        errors.join("\n")
    );
}

/// Every object schema in the document, with its JSON pointer.
fn object_schemas<'a>(pointer: String, value: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("properties") {
                out.push((pointer.clone(), value));
            }
            for (key, child) in map {
                object_schemas(format!("{pointer}/{key}"), child, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                object_schemas(format!("{pointer}/{i}"), child, out);
            }
        }
        _ => {}
    }
}

// ---- HTTP with headers, from a chosen client IP ------------------------------

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// One HTTP/1.0 request (so the answer is never chunked) from `from`.
fn request(http: SocketAddr, from: IpAddr, method: &str, path: &str) -> Answer {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .expect("bind client IP");
    socket.connect(&http.into()).expect("connect HTTP");
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {http}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("HTTP status");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

fn get(server: &Server, path: &str) -> Answer {
    request(server.http, LOCALHOST, "GET", path)
}

// ---- mail ------------------------------------------------------------------

fn zone() -> Zone {
    let dkim_key = rsa_key_record();
    Zone::new()
        // Does everything right, from 127.0.0.1, and publishes posture
        // records of every state: DNSSEC keys, MTA-STS, two TLS-RPT records
        // (invalid), no BIMI.
        .txt("good.example", &["v=spf1 ip4:127.0.0.1 -all"])
        .txt("sel1._domainkey.good.example", &split_255(&dkim_key))
        .txt(
            "_dmarc.good.example",
            &["v=DMARC1; p=reject; rua=mailto:dmarc@good.example"],
        )
        .a("mail.good.example", Ipv4Addr::LOCALHOST)
        .mx("good.example", 10, "mail.good.example")
        .txt("mail.good.example", &["v=spf1 a -all"])
        .soa("good.example")
        .dnskey("good.example")
        .txt("_mta-sts.good.example", &["v=STSv1; id=20250101T000000"])
        .txt(
            "_smtp._tls.good.example",
            &["v=TLSRPTv1; rua=mailto:tls@good.example"],
        )
        .txt(
            "_smtp._tls.good.example",
            &["v=TLSRPTv1; rua=mailto:other@good.example"],
        )
        // A bank with p=reject whose mail servers are elsewhere.
        .txt("bank.example", &["v=spf1 ip4:192.0.2.1 -all"])
        .txt("_dmarc.bank.example", &["v=DMARC1; p=reject"])
        // A link domain on the domain blocklist.
        .a("shady.example.dbl.test", LISTED)
        .txt(
            "shady.example.dbl.test",
            &["phishing, see https://dbl.test/"],
        )
}

fn message(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: test@localhost\r\nSubject: {subject}\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@example>\r\n\r\n{body}\r\n",
        mailscore::test_id::generate()
    )
}

/// A message signed with `openssl smime` by a self-signed certificate for
/// alice@good.example: S/MIME `untrusted`, with the signer's certificate.
fn smime_signed(dir: &Path) -> Vec<u8> {
    std::fs::create_dir_all(dir).unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command line is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "alice.key",
        "-out",
        "alice.pem",
        "-days",
        "30",
        "-subj",
        "/CN=Alice/emailAddress=alice@good.example",
        "-addext",
        "subjectAltName=email:alice@good.example",
    ]);
    std::fs::write(dir.join("body.txt"), "Signed hello.\r\n").unwrap();
    let entity = openssl(&[
        "smime",
        "-sign",
        "-in",
        "body.txt",
        "-signer",
        "alice.pem",
        "-inkey",
        "alice.key",
        "-text",
    ]);
    let mut raw = b"From: Alice <alice@good.example>\r\nTo: smime@localhost\r\nSubject: signed\r\n\
                    Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <smime@good.example>\r\n"
        .to_vec();
    raw.extend_from_slice(&entity);
    raw
}

// ---- tests -------------------------------------------------------------------

#[test]
fn openapi_document_is_served_and_describes_every_endpoint() {
    let spec = Spec::load();
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let answer = get(&server, "/api/openapi.json");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        answer.json(),
        spec.doc,
        "served document differs from the generated one"
    );

    assert_eq!(spec.doc["openapi"], "3.1.0");
    // Every endpoint answers with a status and media type the document gives.
    let body = message("alice@good.example", "pages", "Hello.");
    send_mail(
        server.smtp,
        LOCALHOST,
        "mail.good.example",
        "alice@good.example",
        &["contract-pages@localhost"],
        body.as_bytes(),
    );
    server.wait_for_report("contract-pages");
    let endpoints = [
        ("POST", "/api/tests", "/api/tests", 201),
        ("GET", "/api/tests/contract-pages", "/api/tests/{id}", 200),
        (
            "GET",
            "/api/tests/contract-pages/badge.svg",
            "/api/tests/{id}/badge.svg",
            200,
        ),
        ("GET", "/tests/contract-pages", "/tests/{id}", 200),
        ("GET", "/tests/NOT_VALID", "/tests/{id}", 400),
        ("GET", "/tests/contract-pages/raw", "/tests/{id}/raw", 200),
        (
            "GET",
            "/tests/contract-pages/message.eml",
            "/tests/{id}/message.eml",
            200,
        ),
        ("GET", "/?lang=ja", "/", 200),
        ("GET", "/api/openapi.json", "/api/openapi.json", 200),
        (
            "GET",
            "/api/tests/contract-pages/history",
            "/api/tests/{id}/history",
            200,
        ),
        (
            "GET",
            "/api/tests/contract-pages/1",
            "/api/tests/{id}/{n}",
            200,
        ),
        ("GET", "/tests/contract-pages/1", "/tests/{id}/{n}", 200),
        ("GET", "/tests/contract-pages/2", "/tests/{id}/{n}", 404),
    ];
    for (method, path, documented, status) in endpoints {
        let answer = request(server.http, LOCALHOST, method, path);
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        let media_type = answer
            .header("content-type")
            .and_then(|value| value.split(';').next())
            .unwrap_or_else(|| panic!("{method} {path}: no Content-Type"));
        let content = &spec.response(&method.to_ascii_lowercase(), documented, status)["content"];
        assert!(
            content[media_type].is_object(),
            "{method} {path} answered {media_type}, documented {content}"
        );
    }
    // A second send: the history, one send and the diff as documented.
    let body = message("alice@good.example", "pages again", "Hello again.");
    send_mail(
        server.smtp,
        LOCALHOST,
        "mail.good.example",
        "alice@good.example",
        &["contract-pages@localhost"],
        body.as_bytes(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let history = loop {
        let history = request(
            server.http,
            LOCALHOST,
            "GET",
            "/api/tests/contract-pages/history",
        );
        if history.json()["sends"]
            .as_array()
            .is_some_and(|s| s.len() == 2)
        {
            break history.json();
        }
        assert!(std::time::Instant::now() < deadline, "no second send");
        std::thread::sleep(Duration::from_millis(50));
    };
    spec.check("get", "/api/tests/{id}/history", 200, &history);
    let send = request(server.http, LOCALHOST, "GET", "/api/tests/contract-pages/2").json();
    spec.check("get", "/api/tests/{id}/{n}", 200, &send);
    let diff = request(
        server.http,
        LOCALHOST,
        "GET",
        "/api/tests/contract-pages/diff",
    )
    .json();
    spec.check("get", "/api/tests/{id}/diff", 200, &diff);
    let bad = request(
        server.http,
        LOCALHOST,
        "GET",
        "/api/tests/contract-pages/diff?from=5",
    );
    assert_eq!(bad.status, 400);
    spec.check("get", "/api/tests/{id}/diff", 400, &bad.json());

    let wait = &spec.doc["paths"]["/api/tests/{id}"]["get"]["parameters"];
    assert!(
        wait.as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "wait" && p["in"] == "query"),
        "the long-poll parameter is not documented"
    );

    // Each schema is a valid JSON Schema 2020-12 in its own right.
    for (name, schema) in spec.doc["components"]["schemas"].as_object().unwrap() {
        jsonschema::draft202012::meta::validate(schema)
            .unwrap_or_else(|e| panic!("components/schemas/{name} is not a valid schema: {e}"));
    }
}

#[test]
fn every_object_in_the_document_is_closed_and_old_reports_fit() {
    // A field an answer carries but its type does not declare is an error
    // (additionalProperties: false), not silently allowed.
    let spec = Spec::load();
    let mut objects = Vec::new();
    object_schemas(String::new(), &spec.doc["components"], &mut objects);
    assert!(objects.len() > 20, "{} object schemas?", objects.len());
    for (pointer, schema) in &objects {
        assert_eq!(
            schema["additionalProperties"], false,
            "{pointer} must set additionalProperties: false"
        );
    }
    // Reports stored before ARC (content, SpamAssassin, the Message-ID
    // domain) was checked have no `arc` (`content`…): optional, as their
    // `#[serde(default)]` says; the checks every report has are required.
    let required = |schema: &str| -> Vec<String> {
        spec.doc["components"]["schemas"][schema]["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} requires nothing?"))
            .iter()
            .map(|name| name.as_str().unwrap().to_string())
            .collect()
    };
    let checks = required("Checks");
    for late in ["arc", "content", "spamassassin", "message_id_domain"] {
        assert!(
            !checks.contains(&late.to_string()),
            "Checks requires {late}"
        );
    }
    for always in [
        "spf", "spf_helo", "dkim", "dmarc", "iprev", "tls", "posture",
    ] {
        assert!(checks.contains(&always.to_string()), "Checks.{always}?");
    }
    let report = required("Report");
    for always in ["id", "status", "score", "envelope", "checks", "deductions"] {
        assert!(report.contains(&always.to_string()), "Report.{always}?");
    }
    // A report stored before those checks existed is what the API may
    // still answer: it is valid against the document as it is.
    let mut old = serde_json::to_value(full_report()).unwrap();
    for late in ["arc", "content", "spamassassin", "message_id_domain"] {
        old["checks"].as_object_mut().unwrap().remove(late);
    }
    spec.check("get", "/api/tests/{id}", 200, &old);
}

#[test]
fn created_address_and_pending_status_match_the_document() {
    let spec = Spec::load();
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &["--public-url", "https://score.example"]);
    let created = request(server.http, LOCALHOST, "POST", "/api/tests");
    assert_eq!(created.status, 201, "{}", created.body);
    spec.check("post", "/api/tests", 201, &created.json());

    let id = created.json()["id"].as_str().unwrap().to_string();
    for path in [
        format!("/api/tests/{id}"),
        format!("/api/tests/{id}?wait=1"),
    ] {
        let pending = get(&server, &path);
        assert_eq!(pending.status, 200, "{}", pending.body);
        assert_eq!(pending.json()["status"], "pending");
        spec.check("get", "/api/tests/{id}", 200, &pending.json());
    }
}

#[test]
fn reports_of_every_kind_match_the_document() {
    let spec = Spec::load();
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &["--domain-blocklists", "dbl.test"]);

    // Authenticated, over TLS, DKIM-signed, with a link to a listed domain.
    let signed = rsa_signed(
        &message(
            "Alice <alice@good.example>",
            "Quarterly report",
            "See https://shady.example/login",
        ),
        "good.example",
        "sel1",
    );
    server.send_mail_tls(
        "mail.good.example",
        "alice@good.example",
        &["contract-good@localhost"],
        &signed,
    );
    // Spoofed: a p=reject domain from the wrong IP, in plaintext, unsigned.
    let spoofed = message("Bank <ceo@bank.example>", "Urgent", "Wire it.");
    send_mail(
        server.smtp,
        OTHER_CLIENT,
        "mail.bank.example",
        "ceo@bank.example",
        &["contract-spoof@localhost"],
        spoofed.as_bytes(),
    );
    // S/MIME-signed by a certificate nobody vouches for.
    let smime = smime_signed(&server.data_dir.join("smime-pki"));
    send_mail(
        server.smtp,
        LOCALHOST,
        "mail.good.example",
        "alice@good.example",
        &["contract-smime@localhost"],
        &smime,
    );

    let good = server.wait_for_report("contract-good");
    let spoof = server.wait_for_report("contract-spoof");
    let smime = server.wait_for_report("contract-smime");
    for report in [&good, &spoof, &smime] {
        spec.check("get", "/api/tests/{id}", 200, report);
    }

    // The reports did exercise the optional parts of the schema.
    let checks = &good["checks"];
    assert_eq!(checks["tls"]["result"], "encrypted", "{good:#}");
    assert_eq!(checks["dkim"][0]["result"], "pass", "{good:#}");
    assert_eq!(checks["dkim"][0]["key"]["bits"], 2048);
    assert_eq!(checks["dmarc"]["record"]["p"], "reject");
    assert_eq!(checks["posture"]["dnssec"]["status"], "present", "{good:#}");
    assert_eq!(checks["posture"]["mta_sts"]["status"], "present");
    assert_eq!(checks["posture"]["tls_rpt"]["status"], "invalid");
    assert_eq!(checks["posture"]["bimi"]["status"], "absent");
    assert_eq!(checks["domain_blocklists"]["result"], "listed", "{good:#}");
    assert!(checks["domain_blocklists"]["listings"][0]["reason"].is_string());
    assert_eq!(checks["ip_blocklists"]["result"], "skipped");
    assert!(!good["headers"].as_array().unwrap().is_empty());

    assert_eq!(spoof["checks"]["dmarc"]["result"], "fail", "{spoof:#}");
    assert_eq!(spoof["checks"]["tls"]["result"], "plaintext");
    assert!(!spoof["deductions"].as_array().unwrap().is_empty());

    assert_eq!(smime["checks"]["smime"]["result"], "untrusted", "{smime:#}");
    assert_eq!(
        smime["checks"]["smime"]["signer"]["emails"][0],
        "alice@good.example"
    );
}

#[test]
fn surveys_match_the_document() {
    let spec = Spec::load();
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let created = request(server.http, LOCALHOST, "POST", "/api/surveys");
    assert_eq!(created.status, 201, "{}", created.body);
    spec.check("post", "/api/surveys", 201, &created.json());
    let id = created.json()["id"].as_str().unwrap().to_string();
    let empty = get(&server, &format!("/api/surveys/{id}"));
    spec.check("get", "/api/surveys/{id}", 200, &empty.json());

    let signed = rsa_signed(
        &message("Alice <alice@good.example>", "News", "This week."),
        "good.example",
        "sel1",
    );
    let to = format!("{id}.news@localhost");
    server.send_mail_tls("mail.good.example", "alice@good.example", &[&to], &signed);
    spec.check(
        "get",
        "/api/tests/{id}",
        200,
        &server.wait_for_report(&format!("{id}.news")),
    );
    let compared = format!("/api/surveys/{id}?from=2001-01-01&compare_to=2000-12-31&sort=score");
    let tables = get(&server, &compared);
    assert_eq!(tables.json()["senders"], 1, "{}", tables.body);
    assert!(tables.json()["compare"]["senders"].is_object());
    spec.check("get", "/api/surveys/{id}", 200, &tables.json());

    let missing = get(&server, "/api/surveys/no-such-survey");
    spec.check("get", "/api/surveys/{id}", 404, &missing.json());
    let bad = get(&server, &format!("/api/surveys/{id}?to=yesterday"));
    spec.check("get", "/api/surveys/{id}", 400, &bad.json());
}

#[test]
fn report_with_dns_down_matches_the_document() {
    let spec = Spec::load();
    let server = Server::start(silent_dns(), &["--domain-blocklists", "dbl.test"]);
    let body = message(
        "alice@good.example",
        "DNS is down",
        "https://shady.example/",
    );
    send_mail(
        server.smtp,
        LOCALHOST,
        "mail.good.example",
        "alice@good.example",
        &["contract-dns-down@localhost"],
        body.as_bytes(),
    );
    let report = server.wait_for_report("contract-dns-down");
    spec.check("get", "/api/tests/{id}", 200, &report);
    let checks = &report["checks"];
    assert_eq!(checks["spf"]["result"], "temperror", "{report:#}");
    assert_eq!(checks["posture"]["dnssec"]["status"], "unknown");
    assert_eq!(checks["posture"]["mta_sts"]["status"], "unknown");
    assert!(checks["posture"]["mx_error"].is_string());
    assert_eq!(checks["domain_blocklists"]["result"], "unknown");
    assert!(checks["domain_blocklists"]["errors"][0]["error"].is_string());
}

#[test]
fn errors_are_json_with_their_status_as_documented() {
    let spec = Spec::load();
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    // (method, request path, documented path, expected status)
    let cases = [
        ("GET", "/api/tests/NOT_VALID", "/api/tests/{id}", 400),
        ("GET", "/api/tests/abc?wait=soon", "/api/tests/{id}", 400),
        (
            "GET",
            "/api/tests/NOT_VALID/history",
            "/api/tests/{id}/history",
            400,
        ),
        (
            "GET",
            "/api/tests/no-such-test/1",
            "/api/tests/{id}/{n}",
            404,
        ),
        (
            "GET",
            "/api/tests/no-such-test/diff",
            "/api/tests/{id}/diff",
            404,
        ),
        ("GET", "/tests/no-such-test/raw", "/tests/{id}/raw", 404),
        (
            "GET",
            "/tests/no-such-test/message.eml",
            "/tests/{id}/message.eml",
            404,
        ),
        (
            "GET",
            "/tests/NOT_VALID/message.eml",
            "/tests/{id}/message.eml",
            400,
        ),
        (
            "GET",
            "/api/tests/NOT_VALID/badge.svg",
            "/api/tests/{id}/badge.svg",
            400,
        ),
    ];
    for (method, path, documented, status) in cases {
        let answer = request(server.http, LOCALHOST, method, path);
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{method} {path}"
        );
        let body = answer.json();
        assert_eq!(body["status"], status, "{method} {path}: {body}");
        spec.check(&method.to_ascii_lowercase(), documented, status, &body);
    }

    // Undocumented paths and methods: the shared 404 and 405 responses.
    let cases = [
        ("GET", "/no/such/page", 404, "NotFound"),
        ("GET", "/api", 404, "NotFound"),
        ("GET", "/api/tests/abc/nothing", 404, "NotFound"),
        ("GET", "/api/tests", 405, "MethodNotAllowed"),
        ("DELETE", "/api/tests/abc", 405, "MethodNotAllowed"),
        ("POST", "/", 405, "MethodNotAllowed"),
    ];
    for (method, path, status, documented) in cases {
        let answer = request(server.http, LOCALHOST, method, path);
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        assert_eq!(answer.json()["status"], status);
        let schema = &spec.doc["components"]["responses"][documented]["content"]["application/json"]
            ["schema"];
        assert_valid(&spec.validator(schema), &answer.json(), path);
    }
}

#[test]
fn address_creation_is_rate_limited_per_client_ip() {
    let spec = Spec::load();
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let mut created = 0;
    let limited = loop {
        let answer = request(server.http, LOCALHOST, "POST", "/api/tests");
        match answer.status {
            201 => created += 1,
            429 => break answer,
            other => panic!("POST /api/tests answered {other}: {}", answer.body),
        }
        assert!(created <= 12, "no 429 after {created} addresses");
    };
    // The burst is 10; at 30 a minute, at most one more refilled meanwhile.
    assert!((10..=11).contains(&created), "{created} created before 429");
    let retry_after: u64 = limited
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    let body = limited.json();
    assert_eq!(body["status"], 429);
    assert!(
        body["error"].as_str().unwrap().contains("retry in"),
        "{body}"
    );
    spec.check("post", "/api/tests", 429, &body);
    assert_eq!(
        request(server.http, LOCALHOST, "POST", "/api/tests").status,
        429,
        "still limited"
    );

    // Another client is not affected, and reading is never limited.
    let other = request(server.http, OTHER_CLIENT, "POST", "/api/tests");
    assert_eq!(other.status, 201, "{}", other.body);
    assert_eq!(get(&server, "/api/tests/some-test").status, 200);
}

// ---- every field and variant, not only those a test message produces -------

fn text(en: &str) -> Text {
    Text {
        en: en.into(),
        ja: "日本語".into(),
    }
}

fn spf(identity: SpfIdentity, all: AllPolicy) -> SpfFinding {
    SpfFinding {
        result: Verdict::Pass,
        setup: Setup::Configured,
        identity,
        domain: "example.com".into(),
        records: vec!["v=spf1 -all".into()],
        explanation: Some("see https://example.com/spf".into()),
        error: Some("11 DNS lookups, limit 10".into()),
        problem: Some(SpfProblem::LookupLimit),
        matched: Some("include:_spf.example.com".into()),
        dns_lookups: 11,
        void_lookups: 1,
        all,
        uses_ptr: true,
    }
}

fn blocklist(result: BlocklistResult) -> BlocklistFinding {
    BlocklistFinding {
        result,
        listings: vec![Listing {
            zone: "bl.test".into(),
            item: "192.0.2.1".into(),
            codes: vec!["127.0.0.2".into()],
            reason: Some("spam".into()),
        }],
        not_checked: vec!["slow.test".into()],
        checked: vec!["bl.test".into()],
        errors: vec![ZoneError {
            zone: "slow.test".into(),
            item: "192.0.2.1".into(),
            error: "timed out".into(),
        }],
        note: Some("why".into()),
    }
}

/// A probed exchanger with every optional field set.
fn mail_server() -> MailServerFinding {
    MailServerFinding {
        status: ProbeStatus::Probed,
        domains: vec![DomainServers {
            domain: "example.com".into(),
            role: "from".into(),
            targets: TargetsFound::Exchangers,
            errors: vec!["mx2.example.com has no address (A/AAAA)".into()],
            mta_sts: MtaStsFinding {
                state: StsState::MxMismatch,
                id: Some("20261204".into()),
                url: Some("https://mta-sts.example.com/.well-known/mta-sts.txt".into()),
                mode: Some("enforce".into()),
                max_age: Some(604800),
                mx: vec!["*.example.net".into()],
                unmatched: vec!["mx.example.com".into()],
                error: Some("x".into()),
            },
            hosts: vec![HostProbe {
                host: "mx.example.com".into(),
                preference: 10,
                implicit: false,
                address: "192.0.2.25".parse().unwrap(),
                reached: Reached::Completed,
                error: Some("x".into()),
                banner: Some("220 mx.example.com ESMTP".into()),
                extensions: vec!["STARTTLS".into()],
                starttls: StartTls::Offered,
                tls: Some(TlsSession {
                    version: Some("TLSv1.3".into()),
                    cipher: Some("TLS13_AES_256_GCM_SHA384".into()),
                    certificate: Some(CertificateFacts {
                        subject: "mx.example.com".into(),
                        issuer: "R3".into(),
                        names: vec!["mx.example.com".into()],
                        not_after: "Jan  1 00:00:00 2030 GMT".into(),
                        days_left: 1000,
                        self_signed: false,
                        chain: ChainState::Valid,
                        chain_error: Some("x".into()),
                        name_matches: true,
                    }),
                    error: Some("x".into()),
                }),
                dane: DaneFinding {
                    state: DaneState::NotMatched,
                    records: vec!["3 1 1 abcd".into()],
                    error: Some("x".into()),
                },
                relay: RelayTest {
                    verdict: RelayVerdict::Open,
                    mail_from_refused: Some("550 no".into()),
                    attempts: vec![RcptAttempt {
                        variant: "plain".into(),
                        recipient: "<relay-test@relay-test.invalid>".into(),
                        reply: "250 2.1.5 Ok".into(),
                        accepted: true,
                    }],
                    error: Some("x".into()),
                },
            }],
        }],
    }
}

/// A report with every optional field set and every list non-empty. A
/// struct literal, so a new field does not compile until it is added here,
/// and then fails until it is in the document.
fn full_report() -> Report {
    Report {
        id: "full-report".into(),
        address: "full-report@localhost".into(),
        status: "done".into(),
        failed_stage: Some(StageFailure::of(Stage::Score)),
        score: 7.5,
        max_score: 10.0,
        received_at: "2025-11-25T10:00:00Z".into(),
        envelope: EnvelopeView {
            client_ip: "2001:db8::25".parse().unwrap(),
            client_port: 40000,
            helo: "mail.example.com".into(),
            mail_from: "a@example.com".into(),
            rcpt_to: vec!["full-report@localhost".into()],
        },
        message: MessageFacts {
            subject: Some("Hello".into()),
            from: Some("A <a@example.com>".into()),
            from_address: Some("a@example.com".into()),
            message_id: Some("<1@example.com>".into()),
            date: Some("2025-11-25T10:00:00Z".into()),
            size: 1234,
            parsed: true,
            from_name: Some("A".into()),
        },
        checks: Findings {
            spf: spf(SpfIdentity::Mailfrom, AllPolicy::Fail),
            spf_helo: spf(SpfIdentity::Helo, AllPolicy::Redirect),
            dkim: vec![DkimFinding {
                result: Verdict::Fail,
                setup: Setup::Configured,
                domain: "example.com".into(),
                selector: "s1".into(),
                algorithm: "ed25519-sha256".into(),
                error: Some("body hash mismatch".into()),
                records: vec!["v=DKIM1; k=ed25519; p=AAAA".into()],
                key: Some(KeyInfo {
                    key_type: "ed25519".into(),
                    bits: 256,
                }),
                body_length_limited: true,
                from_signed: true,
                author_domain: false,
                signed_headers: vec!["from".into(), "list-unsubscribe".into()],
            }],
            dmarc: DmarcFinding {
                result: Verdict::Pass,
                setup: Setup::Configured,
                from_domain: "example.com".into(),
                policy: Some("quarantine".into()),
                spf_aligned: true,
                dkim_aligned: false,
                records: vec!["v=DMARC1; p=quarantine".into()],
                record_domain: Some("example.com".into()),
                error: Some("x".into()),
                record: Some(DmarcRecord {
                    p: "quarantine".into(),
                    sp: "reject".into(),
                    pct: 50,
                    testing: true,
                    rua: vec!["mailto:d@example.com".into()],
                    ruf: vec!["mailto:f@example.com".into()],
                    adkim: "strict".into(),
                    aspf: "relaxed".into(),
                }),
                org_domain: Some("example.com".into()),
                dmarcbis: Some(TreeWalkVerdict {
                    result: Verdict::Fail,
                    record_domain: Some("com".into()),
                    spf_aligned: false,
                    dkim_aligned: false,
                }),
                record_problems: vec!["pct=150: must be an integer from 0 to 100".into()],
                mode: DmarcMode::Enforcing,
            },
            arc: ArcFinding {
                result: Verdict::Pass,
                instances: 2,
                sealers: vec!["list.example".into()],
                error: Some("x".into()),
            },
            iprev: IprevFinding {
                result: Verdict::Pass,
                setup: Setup::Configured,
                ip: "192.0.2.25".parse().unwrap(),
                ptr: vec!["mail.example.com".into()],
                forward_confirmed: true,
                generic: false,
                error: Some("x".into()),
            },
            helo: HeloFinding {
                result: HeloResult::Match,
                name: "mail.example.com".into(),
                addresses: vec![
                    "192.0.2.25".parse().unwrap(),
                    "2001:db8::25".parse().unwrap(),
                ],
            },
            tls: TlsFinding {
                result: TlsResult::Encrypted,
                version: Some("TLSv1.3".into()),
                cipher: Some("TLS13_AES_128_GCM_SHA256".into()),
            },
            smime: SmimeFinding {
                result: SmimeResult::Trusted,
                signer: Some(SignerCert {
                    subject: "CN=A".into(),
                    issuer: "CN=CA".into(),
                    serial: "0A1B".into(),
                    not_before: "2025-01-01T00:00:00Z".into(),
                    not_after: "2026-01-01T00:00:00Z".into(),
                    emails: vec!["a@example.com".into()],
                    key_algorithm: "rsa".into(),
                    key_bits: 2048,
                }),
                digest: Some("sha256".into()),
                error: Some("x".into()),
            },
            ip_blocklists: blocklist(BlocklistResult::Listed),
            domain_blocklists: blocklist(BlocklistResult::Unknown),
            posture: PostureFinding {
                domain: "example.com".into(),
                mx: vec!["mx.example.com".into()],
                null_mx: false,
                mx_error: Some("x".into()),
                dnssec: Presence::Present {
                    zone: "example.com".into(),
                    found: vec!["DNSKEY".into(), "DS".into()],
                },
                dnssec_validation: DnssecValidation::Bogus {
                    reason: "the signatures of its records do not validate".into(),
                },
                mta_sts: RecordStatus::Present {
                    record: "v=STSv1; id=1".into(),
                },
                tls_rpt: RecordStatus::Invalid {
                    record: "v=TLSRPTv1".into(),
                    error: "no rua".into(),
                },
                bimi: RecordStatus::Unknown {
                    error: "timed out".into(),
                },
            },
            content: full_content(),
            spamassassin: full_spamassassin(),
            rspamd: full_rspamd(),
            message_id_domain: MessageIdDomainFinding {
                result: MessageIdDomain::Foreign,
                message_id_domain: Some("esp.example".into()),
                from_domain: Some("example.com".into()),
            },
            failed: vec![mailscore::checks::guard::CheckFailure {
                check: mailscore::checks::CheckId::Posture,
                reason: mailscore::checks::guard::FailureReason::TimedOut,
            }],
            mail_server: mail_server(),
        },
        grade: Grade {
            level: Level::Danger,
            decided_by: vec![Item::OpenRelay],
            not_checked: vec![Item::DnssecNotOk],
        },
        setup: SetupGrid {
            smime: Setup::Missing,
            spf: Setup::Configured,
            dkim: Setup::Misconfigured,
            dmarc: Setup::Unknown,
        },
        readiness: vec![Readiness {
            provider: "gmail".into(),
            audience: Audience::Bulk,
            verdict: Ready::NotReady,
            failing: vec!["SPF_AND_DKIM".into()],
            not_checked: vec!["REVERSE_DNS".into()],
            advised: vec!["UNSUBSCRIBE_LINK".into()],
        }],
        deductions: vec![Deduction {
            rule: "SPF_FAIL".into(),
            check: CheckId::Spf,
            points: 2.0,
            title: text("SPF fails"),
            advice: text("Fix SPF"),
        }],
        headers: vec![("Subject".into(), "Hello".into())],
    }
}

#[test]
fn every_field_and_variant_of_the_report_is_in_the_document() {
    let spec = Spec::load();
    let full = full_report();
    spec.check_schema("Report", &full);
    spec.check(
        "get",
        "/api/tests/{id}",
        200,
        &serde_json::to_value(&full).unwrap(),
    );

    // Each `match` lists every variant: a new one does not compile until it
    // is listed here, and then fails until the document has it.
    for verdict in Verdict::ALL {
        match verdict {
            Verdict::Pass
            | Verdict::Fail
            | Verdict::Softfail
            | Verdict::Neutral
            | Verdict::None
            | Verdict::Permerror
            | Verdict::Temperror => spec.check_schema("Verdict", &verdict),
        }
        let setup = verdict.setup();
        match setup {
            Setup::Configured | Setup::Missing | Setup::Misconfigured | Setup::Unknown => {
                spec.check_schema("Setup", &setup)
            }
        }
    }
    for all in [
        AllPolicy::Fail,
        AllPolicy::Softfail,
        AllPolicy::Neutral,
        AllPolicy::Pass,
        AllPolicy::Redirect,
        AllPolicy::None,
        AllPolicy::Unknown,
    ] {
        match all {
            AllPolicy::Fail
            | AllPolicy::Softfail
            | AllPolicy::Neutral
            | AllPolicy::Pass
            | AllPolicy::Redirect
            | AllPolicy::None
            | AllPolicy::Unknown => {
                spec.check_schema("SpfFinding", &spf(SpfIdentity::Mailfrom, all))
            }
        }
    }
    for result in [
        HeloResult::Match,
        HeloResult::Mismatch,
        HeloResult::Unresolvable,
        HeloResult::Invalid,
        HeloResult::Unknown,
    ] {
        match result {
            HeloResult::Match
            | HeloResult::Mismatch
            | HeloResult::Unresolvable
            | HeloResult::Invalid
            | HeloResult::Unknown => spec.check_schema(
                "HeloFinding",
                &HeloFinding {
                    result,
                    name: "h".into(),
                    addresses: vec![],
                },
            ),
        }
    }
    for result in [
        TlsResult::Encrypted,
        TlsResult::Plaintext,
        TlsResult::Unknown,
    ] {
        match result {
            TlsResult::Encrypted | TlsResult::Plaintext | TlsResult::Unknown => spec.check_schema(
                "TlsFinding",
                &TlsFinding {
                    result,
                    version: None,
                    cipher: None,
                },
            ),
        }
    }
    for result in SmimeResult::ALL {
        match result {
            SmimeResult::None
            | SmimeResult::Trusted
            | SmimeResult::Untrusted
            | SmimeResult::Expired
            | SmimeResult::Mismatch
            | SmimeResult::Invalid
            | SmimeResult::Encrypted
            | SmimeResult::Unknown => spec.check_schema(
                "SmimeFinding",
                &SmimeFinding {
                    result,
                    ..SmimeFinding::none()
                },
            ),
        }
    }
    for result in [
        BlocklistResult::Listed,
        BlocklistResult::Unknown,
        BlocklistResult::Clean,
        BlocklistResult::Skipped,
    ] {
        match result {
            BlocklistResult::Listed
            | BlocklistResult::Unknown
            | BlocklistResult::Clean
            | BlocklistResult::Skipped => spec.check_schema("BlocklistFinding", &blocklist(result)),
        }
    }
    for presence in [
        Presence::Present {
            zone: "example.com".into(),
            found: vec!["DS".into()],
        },
        Presence::Absent {
            zone: "example.com".into(),
        },
        Presence::Unknown {
            error: "timed out".into(),
        },
    ] {
        match presence {
            Presence::Present { .. } | Presence::Absent { .. } | Presence::Unknown { .. } => {
                spec.check_schema("DnssecPresence", &presence)
            }
        }
    }
    for status in [
        RecordStatus::Present { record: "r".into() },
        RecordStatus::Absent,
        RecordStatus::Invalid {
            record: "r".into(),
            error: "e".into(),
        },
        RecordStatus::Unknown { error: "e".into() },
    ] {
        match status {
            RecordStatus::Present { .. }
            | RecordStatus::Absent
            | RecordStatus::Invalid { .. }
            | RecordStatus::Unknown { .. } => spec.check_schema("PolicyRecord", &status),
        }
    }

    // And the document is not so loose that anything passes.
    let mut extra = serde_json::to_value(&full).unwrap();
    extra["checks"]["spf"]["new_field"] = json!(true);
    let schema = json!({ "$ref": "#/components/schemas/Report" });
    assert!(
        !spec.validator(&schema).is_valid(&extra),
        "unknown field passed"
    );
    let mut missing = serde_json::to_value(&full).unwrap();
    missing["checks"]["dkim"][0]
        .as_object_mut()
        .unwrap()
        .remove("selector");
    assert!(
        !spec.validator(&schema).is_valid(&missing),
        "missing field passed"
    );
    let mut wrong = serde_json::to_value(&full).unwrap();
    wrong["checks"]["posture"]["dnssec"] = json!({ "status": "present", "zone": "x" });
    assert!(
        !spec.validator(&schema).is_valid(&wrong),
        "bad tagged enum passed"
    );
}

/// Content findings with every list non-empty (content and spamd are
/// issue 4's; their enum words are checked in tests/content_api.rs).
fn full_content() -> mailscore::checks::content::ContentFinding {
    use mailscore::checks::content::attachments::{Attachment, AttachmentFinding};
    use mailscore::checks::content::{ContentFinding, Profile};
    let mut content = ContentFinding {
        profile: Profile::Fisc,
        ..ContentFinding::default()
    };
    content.headers.notes = vec!["Reply-To domain: other.example".into()];
    content.body.forbidden_tags = vec!["script".into()];
    content.body.notes = vec!["visible text is 1.0% of the HTML".into()];
    content.links.count = 3;
    content.links.mismatched = vec!["shows a.example, goes to b.example".into()];
    content.links.shorteners = vec!["bit.ly".into()];
    content.links.raw_ip = vec!["192.0.2.1".into()];
    content.attachments = AttachmentFinding {
        files: vec![Attachment {
            name: "invoice.zip".into(),
            content_type: "application/zip".into(),
            size: 120,
            flags: vec!["encrypted_archive".into(), "archive_executable".into()],
        }],
        count: 1,
    };
    content
}

fn full_spamassassin() -> mailscore::checks::spamd::SpamdFinding {
    use mailscore::checks::spamd::{SpamRule, SpamdFinding, SpamdStatus};
    SpamdFinding {
        status: SpamdStatus::Checked,
        server: Some("127.0.0.1:783".into()),
        spam: Some(true),
        score: Some(7.5),
        threshold: Some(5.0),
        rules: vec![SpamRule {
            name: "MISSING_HEADERS".into(),
            points: -1.2,
            description: "Missing To: header".into(),
        }],
        error: Some("x".into()),
    }
}

fn full_rspamd() -> mailscore::checks::rspamd::RspamdFinding {
    use mailscore::checks::rspamd::{RspamdFinding, RspamdStatus, RspamdSymbol};
    RspamdFinding {
        status: RspamdStatus::Checked,
        server: Some("127.0.0.1:11333".into()),
        action: Some("add header".into()),
        score: Some(7.5),
        required_score: Some(15.0),
        symbols: vec![RspamdSymbol {
            name: "DATE_IN_PAST".into(),
            score: 1.0,
            description: "Message date is in past".into(),
            options: vec!["9180".into()],
        }],
        error: Some("x".into()),
    }
}

#[test]
fn every_golden_and_stored_report_matches_the_document() {
    // The goldens are the reports of the MIME and content corpora and the
    // end-to-end scenarios; `stored/` holds reports written by older code.
    let spec = Spec::load();
    let mut reports = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json")
                && !path.to_string_lossy().ends_with(".texts.json")
            {
                reports.push(path);
            }
        }
    }
    assert!(reports.len() > 90, "{} golden reports?", reports.len());
    for path in reports {
        let report: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        spec.check("get", "/api/tests/{id}", 200, &report);
    }
}
