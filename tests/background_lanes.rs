//! Why each analysis lane has its own resolver (src/serve.rs): hickory runs
//! a DNS connection's driver task on the runtime that opened it, and reuses
//! the connection. A background thread that gets no CPU (a flood) must not
//! hold up the DNS of analyses on the normal lane.

mod support;

use mailscore::analysis::background::Background;
use mailscore::checks::Verdict;
use mailscore::report::Subject;
use std::sync::Arc;
use std::time::Duration;
use support::dns::{TestDns, Zone};
use support::pipeline::{envelope, pipeline};

const MESSAGE: &[u8] = b"From: <news@a.example>\r\nSubject: hi\r\n\r\nhello\r\n";

async fn spf_of(pipeline: &mailscore::analysis::pipeline::Pipeline, domain: &str) -> Verdict {
    let subject = Subject {
        id: "box",
        address: "box@localhost",
    };
    let envelope = envelope("192.0.2.25", "mail.a.example", &format!("news@{domain}"));
    let report = pipeline.report(subject, &envelope, MESSAGE).await;
    report.checks.spf.result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_background_lane_does_not_hold_up_the_normal_lanes_dns() {
    let pass = ["v=spf1 ip4:192.0.2.25 -all"];
    let dns = TestDns::start(
        Zone::new()
            .txt("a.example", &pass)
            .txt("b.example", &pass)
            .txt("c.example", &pass),
    );
    let background = Background::spawn("test-lanes-dns").unwrap();
    let on_background = Arc::new(pipeline(&dns));
    let on_normal = pipeline(&dns);

    // The background lane's resolver opens its connection on its runtime.
    let first = Arc::clone(&on_background);
    let verdict = background
        .handle()
        .spawn(async move { spf_of(&first, "a.example").await })
        .await
        .unwrap();
    assert_eq!(verdict, Verdict::Pass);

    // Its thread now stalls, as a starved one would.
    let (release, stalled) = std::sync::mpsc::channel::<()>();
    background.handle().spawn(async move {
        let _ = stalled.recv_timeout(Duration::from_secs(30));
    });

    // The normal lane, with a resolver of its own, still gets its answers.
    let verdict = tokio::time::timeout(Duration::from_secs(10), spf_of(&on_normal, "b.example"))
        .await
        .expect("the normal lane's analysis ends");
    assert_eq!(verdict, Verdict::Pass);

    // Sharing the background's resolver is what this guards against: its
    // queries wait on the stalled thread, past hickory's own 1 s timeout
    // (which runs there too).
    let shared =
        tokio::time::timeout(Duration::from_secs(3), spf_of(&on_background, "c.example")).await;
    assert_ne!(shared.ok(), Some(Verdict::Pass), "the hazard reproduces");

    release.send(()).unwrap();
}
