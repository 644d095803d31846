//! The score page as a reader meets it, in the real Chromium driven by
//! `tests/browser/audit.mjs` (puppeteer-core, axe-core injected into the
//! page): a good, a bad, a pending report and one sent twice (leading with
//! what changed) in English and Japanese, each
//! at 1280 px and at a phone's 390 px.
//!
//! - axe-core finds no serious or critical violation on any of them;
//! - nothing is wider than the page's column, nor the page than the screen
//!   (no sideways scroll at 390 px);
//! - for the bad report, the score and the "fix these first" list with its
//!   two biggest deductions sit in the first 900 px at both widths, biggest
//!   first, as the report's own deductions order them;
//! - printing opens every fold and puts the reader's folds back after;
//! - the language is a link parameter: no cookie is set;
//! - a pending page left open turns into its report when the mail arrives
//!   (its long-poll script, not a `<meta refresh>`).
//!
//! Screenshots of the bad report go to `target/browser-artifacts/`, and with
//! `SNAPSHOTS=update` to `tests/snapshots/` (committed, looked at by people;
//! fonts differ between machines, so pixels are not compared).
//!
//! Needs node, `npm ci --prefix tests/browser` and Chromium (`.ci/run` does
//! both): without them the test fails when `CI` is set and skips otherwise.

mod support;

use serde_json::Value;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::dkim::rsa_signed;
use support::dns::{TestDns, Zone};
use support::server::{Server, send_mail};
use support::zones::good_example;

/// The height of the first screen the fix list must fit in.
const FIRST_SCREEN: i64 = 900;

#[test]
fn score_pages_are_accessible_fit_a_phone_and_lead_with_the_fixes() {
    let Some(node) = audit_tool() else {
        return;
    };
    let zone = good_example(Zone::new()).txt("bad.example", &["v=spf1 ~all"]);
    let dns = TestDns::start(zone);
    let server = Server::start(dns.addr, &[]);
    let base = format!("http://{}", server.http);

    let good = deliver_good(&server, "audit-good");
    let bad = deliver_bad(&server, "audit-bad");
    // A second send to one address: its page leads with what changed.
    deliver_bad(&server, "audit-changed");
    deliver_good(&server, "audit-changed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server
        .get("/api/tests/audit-changed/history")
        .1
        .matches("\"n\":")
        .count()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "no second send");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(good["score"], 10.0, "{good:#}");
    assert!(bad["score"].as_f64().unwrap() < 5.0, "{bad:#}");

    let artifacts = artifacts_dir();
    let mut jobs = Vec::new();
    for (name, id) in [
        ("good", "audit-good"),
        ("bad", "audit-bad"),
        ("changed", "audit-changed"),
        ("pending", "audit-pending"),
    ] {
        for lang in ["en", "ja"] {
            for width in [1280, 390] {
                let shot = (name == "bad" || name == "changed")
                    .then(|| artifacts.join(format!("report-{name}-{lang}-{width}.png")));
                jobs.push(serde_json::json!({
                    "name": format!("{name} {lang} {width}px"),
                    "url": format!("{base}/tests/{id}?lang={lang}"),
                    "width": width,
                    "height": if width == 390 { 844 } else { FIRST_SCREEN },
                    "screenshot": shot,
                }));
            }
        }
    }
    let results = node.run(&jobs);
    assert_eq!(results.len(), jobs.len());

    let mut problems = Vec::new();
    for (job, page) in jobs.iter().zip(&results) {
        let name = job["name"].as_str().unwrap();
        problems.extend(check_every_page(name, page, job["url"].as_str().unwrap()));
        if name.starts_with("bad") {
            problems.extend(check_fixes_lead(name, page, &bad));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));

    if std::env::var("SNAPSHOTS").as_deref() == Ok("update") {
        let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
        std::fs::create_dir_all(&snapshots).unwrap();
        for width in [1280, 390] {
            let file = format!("report-bad-en-{width}.png");
            std::fs::copy(artifacts.join(&file), snapshots.join(&file)).unwrap();
        }
    }
}

/// A survey's page (two senders, one good and one bad) meets the same
/// bar: accessible, no sideways scroll at 390 px, language by link.
/// Screenshots at both widths, committed with `SNAPSHOTS=update`.
#[test]
fn a_survey_page_is_accessible_and_fits_a_phone() {
    let Some(node) = audit_tool() else {
        return;
    };
    let zone = good_example(Zone::new()).txt("bad.example", &["v=spf1 ~all"]);
    let dns = TestDns::start(zone);
    let server = Server::start(dns.addr, &[]);
    let (status, body) = server.post_json(
        "/api/surveys",
        r#"{"name": "Mail magazines 2026", "expect_domain": "good.example"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let survey: Value = serde_json::from_str(&body).unwrap();
    let id = survey["id"].as_str().unwrap();
    deliver_good(&server, &format!("{id}.weekly"));
    deliver_bad(&server, &format!("{id}.offers"));

    let artifacts = artifacts_dir();
    let mut jobs = Vec::new();
    for lang in ["en", "ja"] {
        for width in [1280, 390] {
            jobs.push(serde_json::json!({
                "name": format!("survey {lang} {width}px"),
                "url": format!("http://{}/surveys/{id}?lang={lang}", server.http),
                "width": width,
                "height": if width == 390 { 844 } else { FIRST_SCREEN },
                "screenshot": artifacts.join(format!("survey-{lang}-{width}.png")),
            }));
        }
    }
    let results = node.run(&jobs);
    let mut problems = Vec::new();
    for (job, page) in jobs.iter().zip(&results) {
        let name = job["name"].as_str().unwrap();
        problems.extend(check_every_page(name, page, job["url"].as_str().unwrap()));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    if std::env::var("SNAPSHOTS").as_deref() == Ok("update") {
        let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
        for file in ["survey-en-1280.png", "survey-ja-390.png"] {
            std::fs::copy(artifacts.join(file), snapshots.join(file)).unwrap();
        }
    }
}

#[test]
fn a_pending_page_left_open_shows_its_report_when_the_mail_arrives() {
    let Some(node) = audit_tool() else {
        return;
    };
    let dns = TestDns::start(good_example(Zone::new()));
    let server = Server::start(dns.addr, &[]);
    let signal = artifacts_dir().join("pending-showing");
    let _ = std::fs::remove_file(&signal);
    let job = serde_json::json!({
        "name": "pending left open",
        "url": format!("http://{}/tests/audit-good?lang=en", server.http),
        "width": 1280,
        "signal": signal,
        "wait_for": ".score .big",
    });
    let browser = std::thread::spawn(move || node.run(&[job]));

    // The mail goes only once the browser shows the pending page.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !signal.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the browser never showed the page"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let report = deliver_good(&server, "audit-good");
    let results = browser.join().unwrap();
    let page = &results[0];
    let waited = &page["waited"];
    assert_eq!(page["status"], 200);
    assert_eq!(
        waited["found"], true,
        "the page never showed the report: {page:#}"
    );
    let text = waited["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("{:.1}", report["score"].as_f64().unwrap())),
        "no score on the reloaded page: {text}"
    );
}

/// What every page must be: accessible, no wider than the screen, printable
/// whole, in its language, without a cookie.
fn check_every_page(name: &str, page: &Value, url: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if page["status"] != 200 {
        problems.push(format!("{name}: HTTP {}", page["status"]));
    }
    for violation in page["axe"].as_array().unwrap() {
        if ["serious", "critical"].contains(&violation["impact"].as_str().unwrap_or("")) {
            problems.push(format!("{name}: axe {violation}"));
        }
    }
    if page["scroll_width"].as_i64() > page["client_width"].as_i64() {
        problems.push(format!(
            "{name}: {} px wide on a {} px screen; wider: {}",
            page["scroll_width"], page["client_width"], page["wider"]
        ));
    }
    if page["wider"] != serde_json::json!([]) {
        problems.push(format!("{name}: wider than the page: {}", page["wider"]));
    }
    let lang = url.rsplit('=').next().unwrap();
    if page["lang"] != lang {
        problems.push(format!("{name}: <html lang={}>", page["lang"]));
    }
    if page["cookies"] != 0 {
        problems.push(format!("{name}: {} cookies set", page["cookies"]));
    }
    let print = &page["print"];
    if print["closed_during"] != 0 {
        problems.push(format!("{name}: folds stay closed in print: {print}"));
    }
    if print["closed_after"] != print["closed_before"] {
        problems.push(format!("{name}: folds not put back after print: {print}"));
    }
    if print["hidden"].as_array().unwrap().len() != 3 {
        problems.push(format!("{name}: print shows navigation: {print}"));
    }
    problems
}

/// The bad report: the score and the two biggest deductions, biggest first,
/// in the first screen; the list in the order of the report's points.
fn check_fixes_lead(name: &str, page: &Value, report: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let fixes = page["fixes"].as_array().unwrap();
    let mut points: Vec<f64> = report["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["points"].as_f64().unwrap())
        .filter(|p| *p > 0.0)
        .collect();
    points.sort_by(|a, b| b.total_cmp(a));
    points.truncate(5);
    let shown: Vec<f64> = fixes.iter().map(|f| leading_points(&f["text"])).collect();
    if shown != points {
        problems.push(format!(
            "{name}: fix list points {shown:?}, report's biggest {points:?}"
        ));
    }
    let lang = if name.contains(" ja ") { "ja" } else { "en" };
    for (i, fix) in fixes.iter().take(2).enumerate() {
        let text = fix["text"].as_str().unwrap();
        let titled = report["deductions"].as_array().unwrap().iter().any(|d| {
            d["points"].as_f64() == Some(points[i])
                && text.contains(d["title"][lang].as_str().unwrap())
        });
        if !titled {
            problems.push(format!(
                "{name}: fix {i} is not a −{} deduction: {text}",
                points[i]
            ));
        }
        if fix["bottom"].as_i64().unwrap() > FIRST_SCREEN {
            problems.push(format!(
                "{name}: fix {i} ends at {} px: {text}",
                fix["bottom"]
            ));
        }
    }
    if page["score"]["bottom"].as_i64().unwrap() > FIRST_SCREEN {
        problems.push(format!(
            "{name}: the score ends at {} px",
            page["score"]["bottom"]
        ));
    }
    problems
}

/// "−4 Executable attachment…" → 4.0.
fn leading_points(text: &Value) -> f64 {
    let text = text.as_str().unwrap().trim_start();
    let number: String = text
        .trim_start_matches('−')
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse().unwrap_or(f64::NAN)
}

/// A message that earns 10: DKIM-signed, SPF pass, DMARC p=reject, STARTTLS.
fn deliver_good(server: &Server, id: &str) -> Value {
    let raw = format!(
        "From: Alice <alice@good.example>\r\nTo: {id}@localhost\r\nSubject: Quarterly report\r\n\
         Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{}@good.example>\r\n\r\nHello.\r\n",
        mailscore::test_id::generate()
    );
    let signed = rsa_signed(&raw, "good.example", "sel1");
    let rcpt = format!("{id}@localhost");
    server.send_mail_tls("mail.good.example", "alice@good.example", &[&rcpt], &signed);
    server.wait_for_report(id)
}

/// The issue's bad message: no DKIM, SPF softfail, an executable attached.
fn deliver_bad(server: &Server, id: &str) -> Value {
    let raw = "From: a@bad.example\r\nTo: box@localhost\r\nSubject: invoice\r\n\
               Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <b@bad.example>\r\n\
               MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
               --b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
               --b\r\nContent-Type: application/octet-stream\r\n\
               Content-Disposition: attachment; filename=\"invoice.exe\"\r\n\
               Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b--\r\n";
    send_mail(
        server.smtp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "mail.bad.example",
        "a@bad.example",
        &[&format!("{id}@localhost")],
        raw.as_bytes(),
    );
    server.wait_for_report(id)
}

/// node with `tests/browser/node_modules` installed, and Chromium.
struct AuditTool {
    dir: PathBuf,
}

fn audit_tool() -> Option<AuditTool> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let node = Command::new("node").arg("--version").output().is_ok();
    let modules = dir.join("node_modules/axe-core").is_dir()
        && dir.join("node_modules/puppeteer-core").is_dir();
    let chromium = Path::new(&chromium()).is_file();
    if node && modules && chromium {
        return Some(AuditTool { dir });
    }
    let why = format!(
        "node: {node}, tests/browser/node_modules: {modules}, chromium: {chromium} \
         (npm ci --prefix tests/browser; apt-get install chromium)"
    );
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("the page audit must run in CI: {why}");
    }
    eprintln!("SKIPPED page audit: {why}");
    None
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

impl AuditTool {
    fn run(&self, jobs: &[Value]) -> Vec<Value> {
        let mut child = Command::new("node")
            .arg(self.dir.join("audit.mjs"))
            .env("CHROMIUM", chromium())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(serde_json::to_string(jobs).unwrap().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "audit.mjs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("audit.mjs writes JSON")
    }
}

fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
