//! The probe of the sender's own mail servers against real ones: Postfix
//! on loopback playing the MX (relay closed or open, STARTTLS with a
//! certificate from a test CA, expired or for another name, or none),
//! found through the test DNS server; and hostile exchangers (garbage,
//! endless replies, a stalled handshake, a 10 MB line) that must end the
//! probe within its bounds as "could not check".

mod support;

use hickory_proto::rr::RecordType;
use mailscore::checks::mail_server::dane::DaneState;
use mailscore::checks::mail_server::host::{HostProbe, Reached, StartTls};
use mailscore::checks::mail_server::relay::RelayVerdict;
use mailscore::checks::mail_server::{MailServerFinding, MailServers, ProbeSettings, TargetsFound};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::dns::{TestDns, Zone};
use support::mx::{Relay, TestCa, postfix_mx};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn zone() -> Zone {
    Zone::new()
        .mx("good.example", 10, "mail.good.example")
        .a("mail.good.example", Ipv4Addr::LOCALHOST)
        .mx("nomail.example", 0, ".")
        .a("implicit.example", Ipv4Addr::LOCALHOST)
        .mx("private.example", 10, "mx.private.example")
        .a("mx.private.example", Ipv4Addr::new(10, 0, 0, 25))
}

fn settings(port: u16, ca: Option<PathBuf>) -> ProbeSettings {
    ProbeSettings {
        enabled: true,
        port,
        allow_private: true,
        ca_files: ca.into_iter().collect(),
        helo: "mailscore.test".into(),
        step_timeout: Duration::from_secs(3),
        total_timeout: Duration::from_secs(8),
        ..ProbeSettings::off()
    }
}

async fn probe(dns: &TestDns, settings: &ProbeSettings, domain: &str) -> MailServerFinding {
    let resolver = mailscore::dns::resolver(Some(dns.addr), Duration::from_secs(1)).unwrap();
    let servers = MailServers::new(settings).unwrap();
    servers.probe(&resolver, Some(domain), None).await
}

fn only_host(finding: &MailServerFinding) -> &HostProbe {
    assert_eq!(finding.domains.len(), 1, "{finding:#?}");
    assert_eq!(finding.domains[0].hosts.len(), 1, "{finding:#?}");
    &finding.domains[0].hosts[0]
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "mailscore-mx-{name}-{}",
        mailscore::test_id::generate()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_mx_with_a_certificate_from_a_trusted_ca_is_well_run() {
    let dir = scratch("closed");
    let ca = TestCa::new(&dir);
    let (crt, key) = ca.issue(&dir, "mx", "mail.good.example", false);
    let Some(mx) = postfix_mx(Relay::Closed, Some((&crt, &key))) else {
        return;
    };
    // DANE-EE, SPKI, SHA-256 of the certificate's key (RFC 7672 §3.1.1),
    // and a DANE-TA record for another CA that matches nothing.
    let pem = std::fs::read(&crt).unwrap();
    let spki = openssl::x509::X509::from_pem(&pem)
        .unwrap()
        .public_key()
        .unwrap()
        .public_key_to_der()
        .unwrap();
    let mut dane_ee = vec![3, 1, 1];
    dane_ee.extend(openssl::sha::sha256(&spki));
    let tlsa = "_25._tcp.mail.good.example";
    let dns = TestDns::start(zone().record(tlsa, RecordType::TLSA, &dane_ee).record(
        tlsa,
        RecordType::TLSA,
        &[2, 0, 1, 0xab, 0xcd],
    ));

    let finding = probe(
        &dns,
        &settings(mx.smtp.port(), Some(ca.pem_path.clone())),
        "good.example",
    )
    .await;
    let host = only_host(&finding);
    assert_eq!(host.reached, Reached::Completed, "{host:#?}\n{}", mx.log());
    assert_eq!(host.host, "mail.good.example");
    assert!(
        host.banner
            .as_deref()
            .unwrap()
            .starts_with("220 mail.good.example ESMTP"),
        "{host:#?}"
    );
    assert_eq!(host.starttls, StartTls::Offered);
    let tls = host.tls.as_ref().unwrap();
    assert_eq!(tls.version.as_deref(), Some("TLSv1.3"), "{tls:#?}");
    let cert = tls.certificate.as_ref().unwrap();
    assert_eq!(cert.chain.as_str(), "valid", "{cert:#?}");
    assert!(cert.name_matches && !cert.self_signed, "{cert:#?}");
    assert_eq!(cert.issuer, "mailscore test CA");
    assert!(cert.days_left > 300, "{cert:#?}");
    assert_eq!(host.dane.state, DaneState::Matched, "{:#?}", host.dane);
    assert_eq!(host.dane.records.len(), 2);
    assert!(
        host.dane.records.iter().any(|r| r == "2 0 1 abcd"),
        "{:#?}",
        host.dane
    );
    // Every disguise of the outside recipient refused, over TLS, and
    // never a DATA: Postfix logs no queue id for us.
    assert_eq!(host.relay.verdict, RelayVerdict::Closed, "{host:#?}");
    assert_eq!(host.relay.attempts.len(), 4);
    for attempt in &host.relay.attempts {
        assert!(
            !attempt.accepted && attempt.reply.starts_with('5'),
            "{attempt:?}"
        );
    }
    let log = mx.wait_for_log("rset=1", Duration::from_secs(10));
    assert!(log.contains("Relay access denied"), "{log}");
    assert!(
        log.contains("rset=1") && log.contains("quit=1") && !log.contains("data="),
        "{log}"
    );

    // Without the test CA the same chain is untrusted (and the probe
    // still completes: opportunistic TLS delivers over any certificate).
    let finding = probe(&dns, &settings(mx.smtp.port(), None), "good.example").await;
    let cert = only_host(&finding)
        .tls
        .as_ref()
        .unwrap()
        .certificate
        .clone()
        .unwrap();
    assert_eq!(cert.chain.as_str(), "untrusted", "{cert:#?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_relay_is_found_and_every_variant_is_reported() {
    let Some(mx) = postfix_mx(Relay::Open, None) else {
        return;
    };
    let dns = TestDns::start(zone());
    let finding = probe(&dns, &settings(mx.smtp.port(), None), "good.example").await;
    let host = only_host(&finding);
    assert_eq!(host.reached, Reached::Completed, "{host:#?}");
    assert_eq!(finding.relay(), RelayVerdict::Open);
    let plain = &host.relay.attempts[0];
    assert_eq!(
        (plain.variant.as_str(), plain.accepted),
        ("plain", true),
        "{host:#?}"
    );
    assert_eq!(plain.recipient, "<relay-test@relay-test.invalid>");
    assert!(plain.reply.starts_with("250"), "{plain:?}");
    // Postfix without STARTTLS configured offers none.
    assert_eq!(host.starttls, StartTls::NotOffered);
    assert!(host.tls.is_none());
    let log = mx.wait_for_log("rset=1", Duration::from_secs(10));
    assert!(!log.contains("data="), "the probe never sends DATA:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_wrong_name_certificates_are_named() {
    let dir = scratch("certs");
    let ca = TestCa::new(&dir);
    for (file, name, expired, word) in [
        ("expired", "mail.good.example", true, "expired"),
        ("other", "other.example", false, "valid"),
    ] {
        let (crt, key) = ca.issue(&dir, file, name, expired);
        let Some(mx) = postfix_mx(Relay::Closed, Some((&crt, &key))) else {
            return;
        };
        let dns = TestDns::start(zone());
        let finding = probe(
            &dns,
            &settings(mx.smtp.port(), Some(ca.pem_path.clone())),
            "good.example",
        )
        .await;
        let host = only_host(&finding);
        let cert = host.tls.as_ref().unwrap().certificate.clone().unwrap();
        assert_eq!(cert.chain.as_str(), word, "{file}: {cert:#?}");
        assert_eq!(
            cert.name_matches,
            name == "mail.good.example",
            "{file}: {cert:#?}"
        );
        if expired {
            assert!(cert.days_left < -300, "{cert:#?}");
        }
        assert_eq!(host.relay.verdict, RelayVerdict::Closed);
        assert_eq!(host.dane.state, DaneState::Absent);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_a_domain_receives_mail_follows_rfc_5321_and_7505() {
    let Some(mx) = postfix_mx(Relay::Closed, None) else {
        return;
    };
    let dns = TestDns::start(zone());
    let port = mx.smtp.port();

    // No MX: the domain's own A record is the exchanger.
    let finding = probe(&dns, &settings(port, None), "implicit.example").await;
    let host = only_host(&finding);
    assert!(
        host.implicit && host.host == "implicit.example",
        "{host:#?}"
    );
    assert_eq!(host.reached, Reached::Completed);

    let finding = probe(&dns, &settings(port, None), "nomail.example").await;
    assert_eq!(
        finding.domains[0].targets,
        TargetsFound::NullMx,
        "{finding:#?}"
    );
    assert!(finding.domains[0].hosts.is_empty());

    let finding = probe(&dns, &settings(port, None), "nothing.example").await;
    assert_eq!(
        finding.domains[0].targets,
        TargetsFound::Nowhere,
        "{finding:#?}"
    );

    // A private or loopback address is never probed unless allowed.
    let public_only = ProbeSettings {
        allow_private: false,
        ..settings(port, None)
    };
    for (domain, why) in [
        ("private.example", "10.0.0.25 is a private address"),
        ("good.example", "127.0.0.1 is a loopback address"),
    ] {
        let finding = probe(&dns, &public_only, domain).await;
        let host = only_host(&finding);
        assert_eq!(host.reached, Reached::Refused, "{host:#?}");
        assert!(host.error.as_deref().unwrap().starts_with(why), "{host:#?}");
    }
    let log = mx.wait_for_log("rset=1", Duration::from_secs(10));
    assert_eq!(conversations(&log), 1, "one probe only:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_probe_per_address_however_many_reports_wait() {
    let Some(mx) = postfix_mx(Relay::Closed, None) else {
        return;
    };
    let dns = TestDns::start(zone());
    let resolver = mailscore::dns::resolver(Some(dns.addr), Duration::from_secs(1)).unwrap();
    let servers = MailServers::new(&settings(mx.smtp.port(), None)).unwrap();
    let reports =
        (0..10).map(|_| servers.probe(&resolver, Some("good.example"), Some("good.example")));
    let findings = futures_util::future::join_all(reports).await;
    assert!(
        findings.iter().all(|f| f == &findings[0]),
        "all share one probe"
    );
    assert_eq!(
        findings[0].domains.len(),
        1,
        "MAIL FROM in the same domain is probed once"
    );
    assert_eq!(servers.cached(), 1);
    let log = mx.wait_for_log("rset=1", Duration::from_secs(10));
    assert_eq!(conversations(&log), 1, "{log}");
}

/// SMTP conversations Postfix logged (the harness's own connect to see it
/// listening says no EHLO).
fn conversations(log: &str) -> usize {
    log.lines()
        .filter(|line| line.contains("]: disconnect from") && line.contains("ehlo="))
        .count()
}

/// A hostile exchanger on loopback: it sends `script`'s greeting and then
/// does what `behave` says.
async fn hostile(behave: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                match behave {
                    "garbage" => {
                        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                    }
                    "endless" => {
                        let _ = stream.write_all(b"220 hi\r\n").await;
                        let _ = stream.read(&mut buf).await;
                        loop {
                            if stream.write_all(b"250-and more\r\n").await.is_err() {
                                return;
                            }
                        }
                    }
                    "stalled_tls" => {
                        let _ = stream.write_all(b"220 hi\r\n").await;
                        let _ = stream.read(&mut buf).await;
                        let _ = stream.write_all(b"250-hi\r\n250 STARTTLS\r\n").await;
                        let _ = stream.read(&mut buf).await;
                        let _ = stream.write_all(b"220 go ahead\r\n").await;
                        // The ClientHello is read and never answered.
                        let _ = stream.read(&mut buf).await;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    "huge_line" => {
                        let line = vec![b'2'; 10 * 1024 * 1024];
                        let _ = stream.write_all(&line).await;
                    }
                    _ => tokio::time::sleep(Duration::from_secs(60)).await,
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_exchangers_end_within_bounds_as_could_not_check() {
    let dns = TestDns::start(zone());
    for (behave, expected) in [
        ("garbage", "not SMTP during the greeting"),
        ("endless", "a reply of more than 100 lines"),
        ("stalled_tls", "TLS handshake timed out"),
        ("huge_line", "a reply line longer than 2048 bytes"),
        ("silent", "timed out after 3 s waiting for the greeting"),
    ] {
        let addr = hostile(behave).await;
        let started = Instant::now();
        let finding = probe(&dns, &settings(addr.port(), None), "good.example").await;
        let elapsed = started.elapsed();
        eprintln!("{behave}: {elapsed:?} {finding:?}");
        // Each step has 3 s; the stalled handshake then makes a second,
        // plaintext connection for the relay test, which stalls again.
        assert!(
            elapsed < Duration::from_secs(8) + Duration::from_millis(500),
            "{behave}: {elapsed:?}"
        );
        let host = only_host(&finding);
        let error = host
            .error
            .clone()
            .or_else(|| host.tls.as_ref().and_then(|t| t.error.clone()))
            .unwrap_or_default();
        assert!(error.contains(expected), "{behave}: {host:#?}");
        assert_ne!(finding.relay(), RelayVerdict::Open, "{behave}");
        if behave != "stalled_tls" {
            assert_eq!(host.reached, Reached::Failed, "{behave}: {host:#?}");
            assert_eq!(finding.relay(), RelayVerdict::Unknown);
        }
    }
}

/// An HTTPS server on loopback answering every request with `policy` as
/// `content_type`, its certificate for mta-sts.good.example from `ca`.
async fn policy_server(
    ca: &TestCa,
    dir: &std::path::Path,
    policy: &'static str,
    content_type: &'static str,
) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (crt, key) = ca.issue(dir, "mta-sts", "mta-sts.good.example", false);
    let certs = CertificateDer::pem_file_iter(&crt)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                assert!(request.starts_with(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n"));
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{policy}",
                    policy.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mta_sts_policies_are_fetched_over_verified_https_and_matched_to_the_mx() {
    use mailscore::checks::mail_server::mta_sts::StsState;
    let dir = scratch("mta-sts");
    let ca = TestCa::new(&dir);
    let dns = TestDns::start(
        zone()
            .txt("_mta-sts.good.example", &["v=STSv1; id=20261204T000000;"])
            .a("mta-sts.good.example", Ipv4Addr::LOCALHOST),
    );
    // No MX listens: the policy is judged whatever the exchangers say.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let enforce = "version: STSv1\r\nmode: enforce\r\nmx: mail.good.example\r\nmax_age: 604800\r\n";
    let elsewhere = "version: STSv1\r\nmode: enforce\r\nmx: *.other.example\r\nmax_age: 604800\r\n";
    for (policy, content_type, trusted, state, detail) in [
        (enforce, "text/plain", true, StsState::Valid, ""),
        (
            elsewhere,
            "text/plain; charset=utf-8",
            true,
            StsState::MxMismatch,
            "",
        ),
        (
            enforce,
            "text/plain",
            false,
            StsState::Invalid,
            "UnknownIssuer",
        ),
        (
            enforce,
            "text/html",
            true,
            StsState::Invalid,
            "not text/plain",
        ),
    ] {
        let https_port = policy_server(&ca, &dir, policy, content_type).await;
        let settings = ProbeSettings {
            https_port,
            ..settings(closed_port, trusted.then(|| ca.pem_path.clone()))
        };
        let finding = probe(&dns, &settings, "good.example").await;
        let sts = &finding.domains[0].mta_sts;
        assert_eq!(sts.state, state, "{sts:#?}");
        assert_eq!(sts.id.as_deref(), Some("20261204T000000"));
        assert_eq!(
            sts.url.as_deref(),
            Some(
                format!("https://mta-sts.good.example:{https_port}/.well-known/mta-sts.txt")
                    .as_str()
            )
        );
        assert!(
            sts.error.clone().unwrap_or_default().contains(detail),
            "{sts:#?}"
        );
        if state == StsState::MxMismatch {
            assert_eq!(sts.unmatched, ["mail.good.example"]);
            assert_eq!(sts.mode.as_deref(), Some("enforce"));
        }
    }
    // Without the TXT record nothing is fetched.
    let finding = probe(
        &TestDns::start(zone()),
        &settings(closed_port, None),
        "good.example",
    )
    .await;
    assert_eq!(finding.domains[0].mta_sts.state, StsState::NotPublished);
    let _ = std::fs::remove_dir_all(dir);
}
