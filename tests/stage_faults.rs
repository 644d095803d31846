//! A panic outside the checks' own guards, on a real `mailscore serve`:
//! in assembling the findings, scoring, building the report, counting it
//! in a survey, queueing its webhook or encoding it for the store (each
//! injected for one test id with the debug builds' hook,
//! `MAILSCORE_TEST_FAULT=<stage>:panic:<id>`). The message still gets a
//! report, `"status": "error"` naming the stage, is kept and no longer
//! pending, the metrics count it, the next message is analysed as usual,
//! and a restart does not analyse it again.

mod support;

use mailscore::store::Store;
use serde_json::Value;
use support::dkim::rsa_signed;
use support::dns::{TestDns, Zone};
use support::server::Server;
use support::zones::good_example;

const STAGES: [&str; 6] = ["checks", "score", "report", "survey", "webhook", "store"];

/// One fault a stage, each for the test id `stage-<stage>`.
fn faults() -> String {
    let specs: Vec<String> = STAGES
        .iter()
        .map(|stage| format!("{stage}:panic:stage-{stage}"))
        .collect();
    specs.join(",")
}

fn send(server: &Server, id: &str) -> Value {
    let text = format!(
        "From: alice@good.example\r\nTo: {id}@localhost\r\nSubject: stage faults\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{id}@good.example>\r\n\r\nHello.\r\n"
    );
    server.send_mail_tls(
        "mail.good.example",
        "alice@good.example",
        &[&format!("{id}@localhost")],
        &rsa_signed(&text, "good.example", "sel1"),
    );
    server.wait_for_report(id)
}

fn stage_failures(server: &Server, stage: &str) -> u64 {
    server.metric::<u64>(&format!(
        "mailscore_analysis_stage_failures_total{{stage=\"{stage}\"}}"
    ))
}

#[test]
fn a_panic_outside_the_checks_ends_in_a_report_naming_the_stage() {
    let dns = TestDns::start(good_example(Zone::new()));
    let faults = faults();
    let env = [("MAILSCORE_TEST_FAULT", faults.as_str())];
    let server = Server::start_with_env(dns.addr, &[], &env);

    for stage in STAGES {
        let id = format!("stage-{stage}");
        let report = send(&server, &id);
        assert_eq!(report["status"], "error", "{report:#}");
        assert_eq!(report["failed_stage"]["stage"], stage, "{report:#}");
        let error = report["failed_stage"]["error"].as_str().unwrap();
        assert!(error.starts_with("could not"), "{error}");
        // Nothing scored, every check "could not check", none of them
        // listed as a check of its own that failed.
        assert_eq!(report["score"], 0.0);
        assert_eq!(report["deductions"], serde_json::json!([]));
        let spf = report["checks"]["spf"]["error"].as_str().unwrap();
        assert!(spf.starts_with("could not check"), "{spf}");
        assert!(report["checks"].get("failed").is_none(), "{report:#}");
        // The message is kept, and the metrics count the stage.
        let (status, raw) = server.get(&format!("/tests/{id}/message.eml"));
        assert_eq!(status, 200);
        assert!(raw.contains("Subject: stage faults"), "{raw}");
        assert_eq!(stage_failures(&server, stage), 1, "{stage}");
    }
    let (_, page) = server.get("/tests/stage-score");
    assert!(
        page.contains("The analysis of this message failed")
            && page.contains("could not score the message"),
        "{page}"
    );
    let (_, page) = server.get("/tests/stage-score?lang=ja");
    assert!(page.contains("採点できませんでした"), "{page}");

    // The lanes go on: the next message is analysed as usual.
    let fine = send(&server, "stage-none");
    assert_eq!(fine["status"], "done", "{fine:#}");
    assert!(fine.get("failed_stage").is_none(), "{fine:#}");
    assert_eq!(fine["checks"]["spf"]["result"], "pass");
    assert_eq!(server.metric::<u64>("mailscore_analysis_failures_total"), 0);

    // Each report of a failed analysis was saved as the message's report:
    // none of them is pending, so a start-up has nothing to analyse again.
    let data_dir = server.stop();
    let store = Store::open(&data_dir).unwrap();
    assert_eq!(store.pending_ids().unwrap(), Vec::<String>::new());
    drop(store);
    let server = Server::start_in(data_dir, dns.addr, &[], &env);
    let after = send(&server, "stage-after-restart");
    assert_eq!(after["status"], "done", "{after:#}");
    assert_eq!(server.metric::<u64>("mailscore_analysis_seconds_count"), 1);
    for stage in STAGES {
        assert_eq!(stage_failures(&server, stage), 0, "{stage}");
        let (_, body) = server.get(&format!("/api/tests/stage-{stage}"));
        let kept: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(kept["failed_stage"]["stage"], stage, "{kept:#}");
    }
}
