//! `mailscore wait`: the CI side of a test. After a job has sent its message
//! to a test address, this waits for the report on a running `mailscore
//! serve`, prints a short summary and turns the score into an exit code, so
//! a pipeline fails when its mail would land in spam.
//!
//! It long-polls `GET /api/tests/{id}?wait=N`, one request per stretch of up
//! to [`LONG_POLL`]. A server without the long-poll answers `pending` at
//! once; then it polls once every [`POLL_EVERY`] instead.

use crate::report::Band;
use crate::report::diff::ReportDiff;
use crate::test_id;
use clap::Args;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;
use tokio::time::Instant;

/// The longest one long-poll request asks the server to hold (at most 60).
pub const LONG_POLL: Duration = Duration::from_secs(30);
/// Between polls when the server answers `pending` at once.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How much longer than its `wait` a request may take before it is a timeout.
const REQUEST_GRACE: Duration = Duration::from_secs(5);

/// Shown under `mailscore wait --help`.
pub const EXIT_CODES: &str = "\
Exit status:
  0  the report is in, its score is at least --min-score and every
     --require provider says ready
  1  the report is in and its score is below --min-score, or a --require
     provider is not ready (or could not be checked)
  2  no report before --timeout, a --require the report has no verdict
     for, or a usage, network or HTTP error

Example (CI):
  swaks --server mx.example --to ci-$BUILD@test.example --from ci@your.domain
  mailscore wait ci-$BUILD@test.example --server https://mailscore.example --min-score 8";

#[derive(Debug, Clone, Args)]
#[command(after_help = EXIT_CODES)]
pub struct WaitArgs {
    /// The test id, or the whole address (`id@domain`: only the local part
    /// is used, whatever the domain).
    #[arg(value_name = "ADDRESS_OR_ID")]
    pub address: String,
    /// Base URL of the mailscore web server.
    #[arg(
        long,
        value_name = "URL",
        env = "MAILSCORE_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// The lowest score that passes (the score is out of 10).
    #[arg(long, value_name = "SCORE", default_value_t = 8.0)]
    pub min_score: f64,
    /// Seconds to wait for the report.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub timeout: u64,
    /// Fail unless this provider's verdict is "ready": `gmail`, `yahoo`
    /// (all senders), `gmail-bulk`, `yahoo-bulk`, `microsoft-bulk` (bulk
    /// senders). May be given more than once.
    #[arg(long, value_name = "PROVIDER")]
    pub require: Vec<String>,
    /// An API key with the "read" scope, sent as `Authorization: Bearer`:
    /// for a server with --private-reports. Better in the environment than
    /// on the command line, where other users can see it.
    #[arg(
        long,
        value_name = "KEY",
        env = "MAILSCORE_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
}

/// Why `wait` could not give a verdict; all of these exit with 2.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("{0:?} is not a test id or address: the local part must be 3-64 of [a-z0-9-]")]
    BadAddress(String),
    #[error("--min-score must be a number, not {0}")]
    BadMinScore(f64),
    #[error("--server {url:?} is not an http(s) URL: {reason}")]
    BadServer { url: String, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    #[error("cannot reach the mailscore server at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("{url} answered {status}: {message}")]
    Http {
        url: String,
        status: StatusCode,
        message: String,
    },
    #[error("{url} answered something that is not a mailscore status: {reason}")]
    BadAnswer { url: String, reason: String },
    #[error("--require {0:?}: the report has no such verdict (it has: {1})")]
    UnknownRequire(String, String),
    #[error("no report for {address} after {seconds} s{received}")]
    Timeout {
        address: String,
        seconds: u64,
        received: &'static str,
    },
}

/// A finished report, judged against the minimum score.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub passed: bool,
    /// What to print: score, band, failed checks, the report's URL.
    pub summary: String,
}

impl Outcome {
    pub fn exit_code(&self) -> ExitCode {
        if self.passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

/// The parts of the report the summary needs; anything else the server
/// sends is ignored, so a newer server's report still reads.
#[derive(Debug, Deserialize)]
struct Status {
    status: String,
    address: String,
    #[serde(default)]
    message_received: bool,
    #[serde(default)]
    score: f64,
    #[serde(default)]
    max_score: f64,
    #[serde(default)]
    deductions: Vec<Deduction>,
    /// The MSchecker grade, from servers that write one.
    #[serde(default)]
    grade: Option<GradeSummary>,
    /// The providers' verdicts, from servers that write them.
    #[serde(default)]
    readiness: Vec<ReadinessSummary>,
    #[serde(default)]
    checks: CheckSummary,
    /// The stage an analysis failed in, from servers that say.
    #[serde(default)]
    failed_stage: Option<FailedStage>,
}

#[derive(Debug, Deserialize)]
struct FailedStage {
    error: String,
}

/// Of the report's checks, those that could not be done.
#[derive(Debug, Default, Deserialize)]
struct CheckSummary {
    #[serde(default)]
    failed: Vec<FailedCheck>,
}

#[derive(Debug, Deserialize)]
struct FailedCheck {
    check: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
struct ReadinessSummary {
    provider: String,
    audience: String,
    verdict: String,
    #[serde(default)]
    failing: Vec<String>,
    #[serde(default)]
    not_checked: Vec<String>,
}

impl ReadinessSummary {
    /// `gmail`, `gmail-bulk`: what `--require` names.
    fn key(&self) -> String {
        if self.audience == "all" {
            self.provider.clone()
        } else {
            format!("{}-{}", self.provider, self.audience)
        }
    }

    fn line(&self) -> String {
        let word = self.verdict.replace('_', " ");
        match (self.failing.is_empty(), self.not_checked.is_empty()) {
            (false, _) => format!("{}: {word} ({})", self.key(), self.failing.join(", ")),
            (true, false) => format!(
                "{}: {word} (not checked: {})",
                self.key(),
                self.not_checked.join(", ")
            ),
            (true, true) => format!("{}: {word}", self.key()),
        }
    }
}

#[derive(Debug, Deserialize)]
struct GradeSummary {
    level: String,
    #[serde(default)]
    decided_by: Vec<String>,
    #[serde(default)]
    not_checked: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Deduction {
    rule: String,
    check: String,
    points: f64,
}

/// Waits for the report of `args.address` and judges it.
pub async fn wait(args: &WaitArgs) -> Result<Outcome, WaitError> {
    let id = test_id_of(&args.address)?;
    if !args.min_score.is_finite() {
        return Err(WaitError::BadMinScore(args.min_score));
    }
    let server = server_url(&args.server)?;
    // rustls is built with ring only; reqwest must be told which provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .user_agent(concat!("mailscore-wait/", env!("CARGO_PKG_VERSION")))
        .default_headers(authorization(args.api_key.as_deref())?)
        .build()
        .map_err(|e| WaitError::Client(root_cause(&e)))?;
    let status_url = endpoint(&server, &["api", "tests", &id]);
    let timeout = Duration::from_secs(args.timeout);
    let deadline = Instant::now() + timeout;
    let mut address = format!("{id}@…");
    let mut received = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let hold = LONG_POLL.min(left);
        let mut url = status_url.clone();
        url.query_pairs_mut()
            .append_pair("wait", &hold.as_secs().to_string());
        let asked = Instant::now();
        let status = match fetch(&client, &url, &server, left + REQUEST_GRACE).await {
            Ok(status) => status,
            Err(Fetch::TimedOut) if Instant::now() >= deadline => break,
            Err(Fetch::TimedOut) => continue,
            Err(Fetch::Failed(e)) => return Err(e),
        };
        // "error": done, with checks that could not be done (judged below).
        if status.status == "done" || status.status == "error" {
            let report_url = endpoint(&server, &["tests", &id]);
            let mut outcome = judge(&status, args.min_score, &args.require, &report_url)?;
            if let Some(diff) = previous_send_diff(&client, &server, &id).await {
                outcome.summary.push_str(&diff.text(crate::i18n::Lang::En));
            }
            return Ok(outcome);
        }
        if status.status != "pending" {
            return Err(WaitError::BadAnswer {
                url: url.to_string(),
                reason: format!("unknown status {:?}", status.status),
            });
        }
        address = status.address;
        received |= status.message_received;
        if Instant::now() >= deadline {
            break;
        }
        // Answered at once: the server did not hold the request.
        if asked.elapsed() < POLL_EVERY {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(POLL_EVERY.min(left)).await;
        }
    }
    Err(WaitError::Timeout {
        address,
        seconds: args.timeout,
        received: if received {
            " (a message arrived and is still being analysed)"
        } else {
            " (no message arrived)"
        },
    })
}

/// What changed since the send before this one, when the address had
/// one: `GET /api/tests/{id}/diff`. Anything else (a first send, a server
/// older than the history, an error) leaves the summary as it was; the
/// verdict never depends on it.
async fn previous_send_diff(
    client: &reqwest::Client,
    server: &Url,
    id: &str,
) -> Option<ReportDiff> {
    let url = endpoint(server, &["api", "tests", id, "diff"]);
    let response = client.get(url).timeout(REQUEST_GRACE).send().await.ok()?;
    if response.status() != StatusCode::OK {
        return None;
    }
    serde_json::from_slice(&response.bytes().await.ok()?).ok()
}

/// `id` or `id@domain` → the id, as the SMTP server stores it (lower-case).
fn test_id_of(address: &str) -> Result<String, WaitError> {
    let local = address
        .trim()
        .split_once('@')
        .map_or(address.trim(), |(local, _)| local);
    let id = local.to_ascii_lowercase();
    if test_id::is_valid(&id) {
        Ok(id)
    } else {
        Err(WaitError::BadAddress(address.to_string()))
    }
}

fn server_url(text: &str) -> Result<Url, WaitError> {
    let bad = |reason: String| WaitError::BadServer {
        url: text.to_string(),
        reason,
    };
    let url = Url::parse(text.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("use http://host:port or https://host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("give the base URL only, without ? or #".into()));
    }
    Ok(url)
}

/// `server` with `segments` appended to its path (a server under a prefix,
/// `https://example.com/mailscore/`, keeps it).
fn endpoint(server: &Url, segments: &[&str]) -> Url {
    let mut url = server.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

enum Fetch {
    TimedOut,
    Failed(WaitError),
}

async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    server: &Url,
    timeout: Duration,
) -> Result<Status, Fetch> {
    let failed = |e: reqwest::Error| {
        if e.is_timeout() {
            Fetch::TimedOut
        } else {
            Fetch::Failed(WaitError::Unreachable {
                server: server.to_string(),
                reason: root_cause(&e),
            })
        }
    };
    let response = client
        .get(url.clone())
        .timeout(timeout)
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    let body = response.bytes().await.map_err(failed)?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| json["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| match status {
                StatusCode::NOT_FOUND => "not found: is this a mailscore server?".to_string(),
                _ => String::from_utf8_lossy(&body).chars().take(200).collect(),
            });
        return Err(Fetch::Failed(WaitError::Http {
            url: url.to_string(),
            status,
            message,
        }));
    }
    serde_json::from_slice(&body).map_err(|e| {
        Fetch::Failed(WaitError::BadAnswer {
            url: url.to_string(),
            reason: e.to_string(),
        })
    })
}

/// `Authorization: Bearer <key>` when a key is given, marked sensitive
/// (kept out of reqwest's debug output).
fn authorization(key: Option<&str>) -> Result<reqwest::header::HeaderMap, WaitError> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = key {
        let mut value =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.trim()))
                .map_err(|_| WaitError::Client("the API key is not a valid header value".into()))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(headers)
}

/// The innermost error: "Connection refused (os error 111)" rather than
/// "error sending request for url (...)".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

fn judge(
    report: &Status,
    min_score: f64,
    require: &[String],
    report_url: &Url,
) -> Result<Outcome, WaitError> {
    // A score without some checks says too little to pass on.
    let mut passed = report.score >= min_score
        && report.checks.failed.is_empty()
        && report.failed_stage.is_none();
    for wanted in require {
        let Some(verdict) = report.readiness.iter().find(|r| r.key() == *wanted) else {
            let known: Vec<String> = report.readiness.iter().map(|r| r.key()).collect();
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            return Err(WaitError::UnknownRequire(wanted.clone(), known));
        };
        passed &= verdict.verdict == "ready";
    }
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "{}: {}/{} ({}), {} the minimum {}",
        report.address,
        number(report.score),
        number(report.max_score),
        Band::of(report.score).as_str(),
        if passed { "at least" } else { "below" },
        number(min_score),
    );
    if let Some(grade) = &report.grade {
        let because = match (grade.decided_by.is_empty(), grade.not_checked.is_empty()) {
            (false, _) => format!(" ({})", grade.decided_by.join(", ")),
            (true, false) => format!(" (not checked: {})", grade.not_checked.join(", ")),
            (true, true) => String::new(),
        };
        let _ = writeln!(summary, "mail server grade: {}{because}", grade.level);
    }
    for verdict in &report.readiness {
        let required = if require.contains(&verdict.key()) {
            " [required]"
        } else {
            ""
        };
        let _ = writeln!(summary, "{}{required}", verdict.line());
    }
    // Checks in the order their first deduction appears (the rule table's).
    let mut failed: Vec<(&str, Vec<String>)> = Vec::new();
    for deduction in report.deductions.iter().filter(|d| d.points > 0.0) {
        let rule = format!("{} (-{})", deduction.rule, number(deduction.points));
        match failed
            .iter_mut()
            .find(|(check, _)| *check == deduction.check)
        {
            Some((_, rules)) => rules.push(rule),
            None => failed.push((&deduction.check, vec![rule])),
        }
    }
    if !failed.is_empty() {
        let _ = writeln!(summary, "failed checks:");
        for (check, rules) in failed {
            let _ = writeln!(summary, "  {check}: {}", rules.join(", "));
        }
    }
    if !report.checks.failed.is_empty() {
        let names: Vec<String> = report
            .checks
            .failed
            .iter()
            .map(|f| format!("{} ({})", f.check, f.reason))
            .collect();
        let _ = writeln!(
            summary,
            "could not check: {}; the score leaves them out",
            names.join(", ")
        );
    }
    if let Some(failed) = &report.failed_stage {
        let _ = writeln!(summary, "the analysis failed: {}", failed.error);
    }
    let _ = writeln!(summary, "report: {report_url}");
    Ok(Outcome { passed, summary })
}

/// `10`, `9.5`: scores without a trailing `.0`.
fn number(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_the_local_part_lower_cased() {
        assert_eq!(test_id_of("ci-build-42").unwrap(), "ci-build-42");
        assert_eq!(
            test_id_of("CI-Build-42@Other.Example").unwrap(),
            "ci-build-42"
        );
        assert!(matches!(test_id_of("a@b"), Err(WaitError::BadAddress(_))));
        assert!(matches!(
            test_id_of("no_underscores"),
            Err(WaitError::BadAddress(_))
        ));
    }

    #[test]
    fn server_urls_keep_their_prefix() {
        let server = server_url("https://example.com/mailscore/").unwrap();
        assert_eq!(
            endpoint(&server, &["api", "tests", "abc"]).as_str(),
            "https://example.com/mailscore/api/tests/abc"
        );
        let server = server_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            endpoint(&server, &["tests", "abc"]).as_str(),
            "http://127.0.0.1:8080/tests/abc"
        );
        assert!(server_url("localhost:8080").is_err());
        assert!(server_url("ftp://example.com").is_err());
        assert!(server_url("nonsense").is_err());
    }

    #[test]
    fn summary_groups_rules_by_check_and_skips_zero_points() {
        let report = Status {
            status: "done".into(),
            address: "x@localhost".into(),
            message_received: true,
            score: 4.5,
            max_score: 10.0,
            checks: CheckSummary::default(),
            failed_stage: None,
            grade: Some(GradeSummary {
                level: "improve".into(),
                decided_by: vec!["mx_no_starttls".into()],
                not_checked: Vec::new(),
            }),
            readiness: vec![
                ReadinessSummary {
                    provider: "gmail".into(),
                    audience: "all".into(),
                    verdict: "ready".into(),
                    failing: Vec::new(),
                    not_checked: Vec::new(),
                },
                ReadinessSummary {
                    provider: "gmail".into(),
                    audience: "bulk".into(),
                    verdict: "not_ready".into(),
                    failing: vec!["SPF_AND_DKIM".into()],
                    not_checked: Vec::new(),
                },
            ],
            deductions: vec![
                Deduction {
                    rule: "SPF_FAIL".into(),
                    check: "spf".into(),
                    points: 2.0,
                },
                Deduction {
                    rule: "DMARC_FAIL".into(),
                    check: "dmarc".into(),
                    points: 3.0,
                },
                Deduction {
                    rule: "DNSSEC_NONE".into(),
                    check: "posture".into(),
                    points: 0.0,
                },
                Deduction {
                    rule: "DMARC_FAIL_ENFORCED".into(),
                    check: "dmarc".into(),
                    points: 0.5,
                },
            ],
        };
        let url = Url::parse("http://h/tests/x").unwrap();
        let outcome = judge(&report, 8.0, &[], &url).unwrap();
        assert!(!outcome.passed);
        assert_eq!(
            outcome.summary,
            "x@localhost: 4.5/10 (poor), below the minimum 8\n\
             mail server grade: improve (mx_no_starttls)\n\
             gmail: ready\n\
             gmail-bulk: not ready (SPF_AND_DKIM)\n\
             failed checks:\n  \
             spf: SPF_FAIL (-2)\n  \
             dmarc: DMARC_FAIL (-3), DMARC_FAIL_ENFORCED (-0.5)\n\
             report: http://h/tests/x\n"
        );
        assert!(judge(&report, 4.5, &[], &url).unwrap().passed);
        let gmail = ["gmail".to_string()];
        assert!(judge(&report, 4.5, &gmail, &url).unwrap().passed);
        let bulk = ["gmail-bulk".to_string()];
        let outcome = judge(&report, 4.5, &bulk, &url).unwrap();
        assert!(!outcome.passed);
        assert!(
            outcome
                .summary
                .contains("gmail-bulk: not ready (SPF_AND_DKIM) [required]")
        );
        let unknown = ["hotmail".to_string()];
        let err = judge(&report, 4.5, &unknown, &url).unwrap_err().to_string();
        assert!(
            err.contains("hotmail") && err.contains("gmail, gmail-bulk"),
            "{err}"
        );
        // An analysis that failed passes nothing, whatever the score.
        let failed = Status {
            failed_stage: Some(FailedStage {
                error: "could not score the message (a bug in mailscore, logged)".into(),
            }),
            ..report
        };
        let outcome = judge(&failed, 0.0, &[], &url).unwrap();
        assert!(!outcome.passed);
        assert!(
            outcome
                .summary
                .contains("the analysis failed: could not score the message"),
            "{}",
            outcome.summary
        );
    }
}
