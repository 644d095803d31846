//! What an operator watches, from the real binary: `/healthz`, `/readyz`
//! and `/metrics` (Prometheus text format) as real SMTP traffic goes
//! through, and the log with one event per SMTP transaction, as JSON lines
//! (`--log-format json`) or text. The JSON answers are validated against
//! the schemas the served OpenAPI document gives them.

mod ops_support;
mod support;

use ops_support::{LoggedServer, PATIENCE, Smtp, connect_from, message};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use support::dns::{TestDns, Zone};
use support::zones::good_example;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Panics unless `body` is what the document gives for `GET path status`,
/// in the media type `content_type` names.
fn assert_documented(path: &str, status: u16, content_type: &str, body: &str) {
    let doc = mailscore::web::openapi::document();
    let response = &doc["paths"][path]["get"]["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "GET {path} {status} is not documented"
    );
    let media_type = content_type.split(';').next().unwrap().trim();
    let content = &response["content"][media_type];
    assert!(
        content.is_object(),
        "GET {path} answered {media_type}, documented {}",
        response["content"]
    );
    if media_type != "application/json" {
        return;
    }
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [content["schema"]],
        "components": doc["components"],
    });
    let validator = jsonschema::draft202012::options()
        .build(&root)
        .expect("schema compiles");
    let body: Value = serde_json::from_str(body).expect("JSON body");
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "GET {path} {status}: {errors:?}\n{body}");
}

fn content_type(head: &str) -> &str {
    head.lines()
        .find_map(|line| line.strip_prefix("content-type: "))
        .expect("a Content-Type")
}

/// A scrape: every sample by its name with labels, after checking the
/// exposition format line by line (HELP and TYPE before each family's
/// samples, numeric values, cumulative histogram buckets).
fn scrape(server: &LoggedServer) -> BTreeMap<String, f64> {
    let (status, head, body) = server.get("/metrics");
    assert_eq!(status, 200, "{body}");
    assert_documented("/metrics", 200, content_type(&head), &body);
    assert_eq!(
        content_type(&head),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let mut samples = BTreeMap::new();
    let mut typed = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.push(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| typed.iter().any(|t| t == base))
            .unwrap_or(name);
        assert!(
            typed.iter().any(|t| t == family),
            "sample before its TYPE: {line}"
        );
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{line}"
        );
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        samples.insert(series.to_string(), value);
    }
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(series, _)| series.starts_with("mailscore_analysis_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(buckets.len(), 11, "{body}");
    samples
}

/// Waits until the scrape satisfies `wanted`; returns it.
fn scrape_until(
    server: &LoggedServer,
    wanted: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let samples = scrape(server);
        if wanted(&samples) {
            return samples;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never got there: {samples:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn health_readiness_and_metrics_follow_real_traffic() {
    let dns = TestDns::start(good_example(Zone::new()));
    let server = LoggedServer::start(dns.addr, &["--log-format", "json"]);

    let (status, head, body) = server.get("/healthz");
    assert_eq!(status, 200, "{body}");
    assert_documented("/healthz", 200, content_type(&head), &body);
    let (status, head, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert_documented("/readyz", 200, content_type(&head), &body);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ready"
    );

    let before = scrape(&server);
    assert_eq!(before["mailscore_messages_received_total"], 0.0);
    assert_eq!(before["mailscore_analysis_seconds_count"], 0.0);

    // One accepted message, one relay attempt, one unknown test address.
    let mut smtp = Smtp::new(connect_from(server.smtp, LOCALHOST));
    assert!(smtp.reply().starts_with("220"));
    smtp.expect("EHLO mail.good.example", "250");
    smtp.expect("MAIL FROM:<alice@good.example>", "250");
    smtp.expect("RCPT TO:<someone@elsewhere.example>", "550");
    smtp.expect("RCPT TO:<x@localhost>", "550");
    smtp.expect("RCPT TO:<ops-metrics@localhost>", "250");
    smtp.expect("DATA", "354");
    let body = message("Alice <alice@good.example>", "metrics");
    smtp.expect(&format!("{body}\r\n."), "250");
    smtp.expect("QUIT", "221");
    drop(smtp);
    server.wait_for_report("ops-metrics");
    let (status, _, _) = server.get("/tests/ops-metrics");
    assert_eq!(status, 200);

    let after = scrape_until(&server, |s| s["mailscore_smtp_connections_open"] == 0.0);
    assert_eq!(after["mailscore_messages_received_total"], 1.0);
    assert_eq!(
        after["mailscore_smtp_refused_total{reason=\"relay_denied\"}"],
        1.0
    );
    assert_eq!(
        after["mailscore_smtp_refused_total{reason=\"no_such_address\"}"],
        1.0
    );
    assert_eq!(
        after["mailscore_smtp_refused_total{reason=\"rate_limited\"}"],
        0.0
    );
    assert_eq!(after["mailscore_analysis_seconds_count"], 1.0);
    assert_eq!(after["mailscore_analysis_seconds_bucket{le=\"+Inf\"}"], 1.0);
    assert!(after["mailscore_analysis_seconds_sum"] > 0.0);
    // SPF for MAIL FROM and HELO, DMARC, ARC, iprev; no DKIM signature.
    assert_eq!(after["mailscore_dns_lookups_total{check=\"spf\"}"], 1.0);
    assert_eq!(after["mailscore_dns_lookups_total{check=\"dkim\"}"], 0.0);
    assert_eq!(after["mailscore_dns_timeouts_total{check=\"spf\"}"], 0.0);
    assert!(after["mailscore_reports_served_total{format=\"json\"}"] >= 1.0);
    assert_eq!(
        after["mailscore_reports_served_total{format=\"html\"}"],
        1.0
    );
    assert!(after["mailscore_store_bytes"] > 0.0);
    assert_eq!(after["mailscore_analysis_queued"], 0.0);

    // The log: JSON lines only, one event per transaction outcome.
    let events: Vec<Value> = server
        .log()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let accepted: Vec<&Value> = events
        .iter()
        .filter(|e| e["outcome"] == "accepted")
        .collect();
    assert_eq!(accepted.len(), 1, "{events:#?}");
    assert_eq!(accepted[0]["test_id"], "ops-metrics");
    assert_eq!(accepted[0]["client_ip"], "127.0.0.1");
    assert_eq!(accepted[0]["level"], "INFO");
    let reasons: Vec<&str> = events
        .iter()
        .filter(|e| e["outcome"] == "refused")
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["relay_denied", "no_such_address"]);
    let started = events
        .iter()
        .find(|e| e["message"] == "mailscore started")
        .expect("a start-up event");
    assert_eq!(started["smtp"], server.smtp.to_string());
}

#[test]
fn text_log_names_test_client_and_outcome_and_shutdown() {
    let dns = TestDns::start(good_example(Zone::new()));
    let mut server = LoggedServer::start(dns.addr, &[]);
    let mut smtp = Smtp::new(connect_from(
        server.smtp,
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
    ));
    assert!(smtp.reply().starts_with("220"));
    smtp.send(
        "mail.good.example",
        "alice@good.example",
        "ops-text-log@localhost",
        &message("Alice <alice@good.example>", "text log"),
    );
    let line = server.wait_for_log("of the accepted transaction", |l| {
        l.contains("SMTP transaction accepted")
    });
    assert!(line.contains("INFO"), "{line}");
    assert!(line.contains("test_id=ops-text-log"), "{line}");
    assert!(line.contains("client_ip=127.0.0.3"), "{line}");
    assert!(line.contains("outcome=\"accepted\""), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "no terminal colours in logs: {line:?}"
    );

    server.signal("TERM");
    server.wait_for_log("of the shutdown", |l| l.contains("mailscore stopped"));
    let deadline = Instant::now() + PATIENCE;
    while server.is_running() {
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn readyz_says_not_ready_when_the_shared_store_is_gone() {
    let Some(redis) = support::redis::RedisServer::start() else {
        return;
    };
    let dns = TestDns::start(good_example(Zone::new()));
    let server = LoggedServer::start(dns.addr, &["--store", &redis.url()]);
    let (status, _, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");

    drop(redis);
    let deadline = Instant::now() + PATIENCE;
    let (head, body) = loop {
        let (status, head, body) = server.get("/readyz");
        if status == 503 {
            break (head, body);
        }
        assert!(
            Instant::now() < deadline,
            "still ready without a store: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_documented("/readyz", 503, content_type(&head), &body);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .starts_with("store unavailable"),
        "{answer}"
    );
    // Alive all the same: a restart would not bring the store back.
    let (status, _, _) = server.get("/healthz");
    assert_eq!(status, 200);
    // No store size for a shared store.
    let (_, _, metrics) = server.get("/metrics");
    assert!(!metrics.contains("mailscore_store_bytes"), "{metrics}");
}
