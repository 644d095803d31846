//! Surveys of live mail: a survey is created over the API, senders mail
//! `<survey>.<label>@localhost` over real SMTP (one DKIM-signed under the
//! expected domain, one with SPF only outside it), and the survey's JSON,
//! CSV and page count one row per sending address, with periods and a
//! comparison between them. The same on sled (across a restart: the
//! tables outlive the server) and on a real Redis.

mod support;

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use support::dkim::{rsa_key_record, rsa_signed, split_255};
use support::dns::{TestDns, Zone};
use support::redis::RedisServer;
use support::server::{Server, send_mail};
use support::survey::{row, wait_for_messages};

fn zone() -> Zone {
    Zone::new()
        .txt("news.go.jp", &["v=spf1 ip4:127.0.0.1 -all"])
        .txt("sel1._domainkey.news.go.jp", &split_255(&rsa_key_record()))
        .txt("_dmarc.news.go.jp", &["v=DMARC1; p=reject"])
        .txt("plain.example", &["v=spf1 ip4:127.0.0.1 -all"])
}

fn message(from: &str, to: &str) -> String {
    let domain = from.rsplit_once('@').unwrap().1;
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Weekly news\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@{domain}>\r\n\r\nNews.\r\n",
        mailscore::test_id::generate()
    )
}

fn json(server: &Server, path: &str) -> (u16, Value) {
    let (status, body) = server.get(path);
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (status, value)
}

fn send(server: &Server, from: &str, to: &str, signed: bool) {
    let text = message(from, to);
    let raw = if signed {
        rsa_signed(&text, "news.go.jp", "sel1")
    } else {
        text.into_bytes()
    };
    let domain = from.rsplit_once('@').unwrap().1;
    send_mail(
        server.smtp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "mail.example",
        &format!("bounce@{domain}"),
        &[to],
        &raw,
    );
}

/// Creates a survey, has two senders mail it (one twice), and checks the
/// tables; returns the survey id.
fn survey_counts_each_sender_once(server: &Server) -> String {
    let (status, body) = server.post_json(
        "/api/surveys",
        r#"{"name": "Government <newsletters>", "expect_domain": "GO.JP"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["expect_domain"], "go.jp");
    assert_eq!(created["address"], format!("{id}.<label>@localhost"));
    assert!(
        created["survey_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/surveys/{id}"))
    );

    let (status, empty) = json(server, &format!("/api/surveys/{id}"));
    assert_eq!(
        (status, &empty["senders"]),
        (200, &Value::from(0)),
        "{empty}"
    );

    let weekly = format!("{id}.weekly@localhost");
    let alerts = format!("{id}.alerts@localhost");
    send(server, "news@news.go.jp", &weekly, true);
    send(server, "Info@Plain.example", &alerts, false);
    send(server, "news@news.go.jp", &weekly, true);
    // A survey that does not exist counts nothing; its mail is a test.
    send(
        server,
        "news@news.go.jp",
        "nosuchsurvey.weekly@localhost",
        true,
    );

    let tables = wait_for_messages(server, &id, 3, Duration::from_secs(30));
    assert_eq!(tables["senders"], 2, "{tables}");
    assert_eq!(tables["survey"]["name"], "Government <newsletters>");
    let news = row(&tables, "news@news.go.jp");
    assert_eq!(news["messages"], 2);
    assert_eq!(news["label"], "weekly");
    assert_eq!(
        [&news["spf"], &news["dkim"], &news["dmarc"], &news["smime"]],
        ["set", "set", "set", "not_set"]
    );
    let plain = row(&tables, "info@plain.example");
    assert_eq!(plain["messages"], 1);
    assert_eq!([&plain["spf"], &plain["dkim"]], ["set", "not_set"]);
    assert_eq!(tables["mechanisms"]["dkim"]["set_percent"], 50.0);
    assert_eq!(tables["outside_expected_domain"]["count"], 1);
    assert_eq!(
        tables["outside_expected_domain"]["rows"][0],
        "info@plain.example"
    );
    let combos = tables["combinations"].as_array().unwrap();
    assert_eq!(combos.len(), 2, "{tables}");
    assert!(
        combos
            .iter()
            .all(|c| c["count"] == 1 && c["percent"] == 50.0)
    );

    // Each message is also a test of its own, with its page.
    let report = server.wait_for_report(&format!("{id}.alerts"));
    assert_eq!(report["message"]["from_address"], "Info@Plain.example");
    let (status, _) = json(server, "/api/surveys/nosuchsurvey");
    assert_eq!(status, 404);
    id
}

/// The CSV, the page, periods, comparison and bad queries.
fn downloads_page_and_periods(server: &Server, id: &str) {
    let (status, head, csv) = server.get_with_head(&format!("/api/surveys/{id}?format=csv"));
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/csv"), "{head}");
    assert!(
        head.contains(&format!("filename=\"survey-{id}.csv\"")),
        "{head}"
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("from,label,messages"));

    let (status, page) = server.get(&format!("/surveys/{id}?lang=ja&sort=from"));
    assert_eq!(status, 200);
    assert!(
        page.contains("Government &lt;newsletters&gt;"),
        "the name is escaped"
    );
    assert!(!page.contains("<newsletters>"));
    assert!(page.contains(&format!("<code>{id}.&lt;label&gt;@localhost</code>")));
    assert!(page.contains(&format!("href=\"/tests/{id}.weekly\"")));
    assert!(page.contains("送信先") && page.contains("表 1"));
    let (at_info, at_news) = (
        page.find("info@plain.example"),
        page.find("news@news.go.jp"),
    );
    assert!(at_info.unwrap() < at_news.unwrap(), "sorted by From");
    let (status, _, json_download) = server.get_with_head(&format!("/surveys/{id}?format=json"));
    assert_eq!(status, 200);
    assert!(json_download.contains("\"senders\":2"));

    let (status, past) = json(server, &format!("/api/surveys/{id}?to=2000-12-31"));
    assert_eq!((status, &past["senders"]), (200, &Value::from(0)), "{past}");
    let (_, now) = json(
        server,
        &format!("/api/surveys/{id}?from=2001-01-01&compare_from=2000-01-01&compare_to=2000-12-31"),
    );
    assert_eq!(now["senders"], 2);
    assert_eq!(
        now["compare"]["senders"]["change"], 2.0,
        "{}",
        now["compare"]
    );
    assert_eq!(
        now["compare"]["mechanisms.spf.set_percent"]["change"],
        100.0
    );
    assert_eq!(now["compare_period"]["to"], "2000-12-31");

    for bad in ["?from=April", "?sort=colour", "?format=xml"] {
        let (status, body) = json(server, &format!("/api/surveys/{id}{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, body) = server.post_json("/api/surveys", r#"{"webhook": "https://x"}"#);
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.post_json("/api/surveys", r#"{"expect_domain": "go jp"}"#);
    assert_eq!(status, 400, "{body}");
}

#[test]
fn a_survey_of_live_mail_on_sled_outlives_a_restart() {
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &[]);
    let id = survey_counts_each_sender_once(&server);
    downloads_page_and_periods(&server, &id);
    let (_, before) = json(&server, &format!("/api/surveys/{id}"));
    let data_dir = server.stop();

    let server = Server::start_in(data_dir, dns.addr, &[], &[]);
    let (status, after) = json(&server, &format!("/api/surveys/{id}"));
    assert_eq!(status, 200);
    assert_eq!(after, before);
}

#[test]
fn a_survey_of_live_mail_on_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dns = TestDns::start(zone());
    let server = Server::start(dns.addr, &["--store", &redis.url()]);
    let id = survey_counts_each_sender_once(&server);
    downloads_page_and_periods(&server, &id);
}
