//! What an operator graphs and alerts on: counters the SMTP listener, the
//! analyzer and the web server bump as they work, rendered on `GET /metrics`
//! in the Prometheus text exposition format (version 0.0.4), and the
//! readiness facts behind `GET /readyz`.
//!
//! Plain atomics, written by hand: the format is a few lines of text, and a
//! metrics crate would bring a registry, labels by string and a lock per
//! update for what is here a fixed set of numbers.
//!
//! DNS is counted at the analysis level: each DNS-backed check of each
//! message counts as one lookup, and as a timeout when its verdict is
//! `temperror` (DNS gave no answer). Which checks those are, and their
//! label, is the checks' business ([`Metrics::new`] is handed the list);
//! the resolver inside `mail-auth` does not expose a per-query hook.

use crate::stage::Stage;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why the SMTP server turned a client or a message away: the label of
/// `mailscore_smtp_refused_total` and the `reason` of the log event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address already had `max_connections_per_ip` open.
    TooManyConnections,
    /// Its message bucket was empty (`450 4.7.1` to MAIL).
    RateLimited,
    /// Declared (MAIL SIZE=) or actual size over the limit.
    MessageTooBig,
    TooManyHeaderLines,
    /// RCPT at a domain that is not ours.
    RelayDenied,
    /// RCPT at our domain whose local part is not a test id.
    NoSuchAddress,
    TooManyRecipients,
    /// The store failed; the client got `451` and keeps the message.
    StorageFailed,
    /// Too little disk left for another message (`452 4.3.1`).
    InsufficientStorage,
    /// Idle too long, or the body took longer than `data_timeout`.
    Timeout,
    /// The session earned `max_errors` error replies.
    TooManyErrors,
    /// The connection outlived `session_lifetime`.
    SessionTooLong,
    /// The connection sent more than `max_commands` commands.
    TooManyCommands,
    /// A PROXY protocol header from an address not in `proxy_trusted`.
    ProxyUntrusted,
    /// A trusted proxy that sent no valid PROXY header.
    ProxyHeaderInvalid,
    /// `max_analysis_backlog` messages await analysis (`451 4.3.2` to MAIL).
    Busy,
}

impl Refusal {
    pub const ALL: [Refusal; 16] = [
        Refusal::TooManyConnections,
        Refusal::RateLimited,
        Refusal::MessageTooBig,
        Refusal::TooManyHeaderLines,
        Refusal::RelayDenied,
        Refusal::NoSuchAddress,
        Refusal::TooManyRecipients,
        Refusal::StorageFailed,
        Refusal::InsufficientStorage,
        Refusal::Timeout,
        Refusal::TooManyErrors,
        Refusal::SessionTooLong,
        Refusal::TooManyCommands,
        Refusal::ProxyUntrusted,
        Refusal::ProxyHeaderInvalid,
        Refusal::Busy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::TooManyConnections => "too_many_connections",
            Refusal::RateLimited => "rate_limited",
            Refusal::MessageTooBig => "message_too_big",
            Refusal::TooManyHeaderLines => "too_many_header_lines",
            Refusal::RelayDenied => "relay_denied",
            Refusal::NoSuchAddress => "no_such_address",
            Refusal::TooManyRecipients => "too_many_recipients",
            Refusal::StorageFailed => "storage_failed",
            Refusal::InsufficientStorage => "insufficient_storage",
            Refusal::Timeout => "timeout",
            Refusal::TooManyErrors => "too_many_errors",
            Refusal::SessionTooLong => "session_too_long",
            Refusal::TooManyCommands => "too_many_commands",
            Refusal::ProxyUntrusted => "proxy_untrusted",
            Refusal::ProxyHeaderInvalid => "proxy_header_invalid",
            Refusal::Busy => "analysis_backlog_full",
        }
    }

    fn index(self) -> usize {
        Refusal::ALL
            .iter()
            .position(|r| *r == self)
            .expect("ALL lists every variant")
    }
}

/// How a report left the web server: the `format` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Html,
}

/// Upper bounds (seconds) of the analysis time histogram: most messages
/// finish in well under a second; DNS timeouts push them to seconds.
const ANALYSIS_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Queued messages with no analysis started or finished for this long mean
/// the analyzer is stuck: `/readyz` says so.
pub const ANALYZER_STUCK_AFTER: Duration = Duration::from_secs(120);

/// The counters of one `mailscore serve` process, shared behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    messages_received: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
    smtp_connections_open: AtomicU64,
    /// Per bucket (not cumulative; summed when rendered), then +Inf.
    analysis_buckets: [AtomicU64; ANALYSIS_BUCKETS.len() + 1],
    analysis_micros: AtomicU64,
    analysis_failures: AtomicU64,
    /// Checks reported "could not check": [panicked, timed out].
    check_failures: [AtomicU64; 2],
    /// By stage, in `Stage::ALL`'s order.
    stage_failures: [AtomicU64; Stage::ALL.len()],
    /// Analyses the background thread had no slot for in time.
    analysis_promoted: AtomicU64,
    /// One per DNS-backed check, in the order [`Metrics::new`] was given.
    dns: Vec<DnsCounters>,
    reports_json: AtomicU64,
    reports_html: AtomicU64,
    rule_reloads: AtomicU64,
    rule_reload_failures: AtomicU64,
    /// Readiness: the SMTP socket is bound and accepting.
    smtp_listening: AtomicBool,
    /// Messages handed to the analyzer and not yet started.
    analysis_queued: AtomicU64,
    /// Accepted messages whose analysis has not ended: queued or running.
    /// What `max_analysis_backlog` bounds.
    unanalysed: AtomicU64,
    /// Unix seconds of the analyzer's last start or finish of a message.
    analysis_progress_at: AtomicU64,
}

/// The lookups and timeouts of one DNS-backed check.
#[derive(Debug)]
struct DnsCounters {
    check: &'static str,
    lookups: AtomicU64,
    timeouts: AtomicU64,
}

impl Metrics {
    /// Counters for a process whose DNS-backed checks are `dns_checks`
    /// (their labels): each is rendered from the start, at 0.
    pub fn new(dns_checks: impl IntoIterator<Item = &'static str>) -> Metrics {
        let dns = dns_checks
            .into_iter()
            .map(|check| DnsCounters {
                check,
                lookups: AtomicU64::new(0),
                timeouts: AtomicU64::new(0),
            })
            .collect();
        Metrics {
            messages_received: AtomicU64::new(0),
            refused: Default::default(),
            smtp_connections_open: AtomicU64::new(0),
            analysis_buckets: Default::default(),
            analysis_micros: AtomicU64::new(0),
            analysis_failures: AtomicU64::new(0),
            check_failures: Default::default(),
            stage_failures: Default::default(),
            analysis_promoted: AtomicU64::new(0),
            dns,
            reports_json: AtomicU64::new(0),
            reports_html: AtomicU64::new(0),
            rule_reloads: AtomicU64::new(0),
            rule_reload_failures: AtomicU64::new(0),
            smtp_listening: AtomicBool::new(false),
            analysis_queued: AtomicU64::new(0),
            unanalysed: AtomicU64::new(0),
            analysis_progress_at: AtomicU64::new(unix_now()),
        }
    }
}

/// Counters that count no DNS-backed check: for an SMTP listener or
/// session on its own (benchmarks, tests).
impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new([])
    }
}

/// Keeps `mailscore_smtp_connections_open` up while it lives.
pub struct OpenConnection<'a>(&'a Metrics);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.smtp_connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn message_received(&self) {
        self.messages_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, reason: Refusal) {
        self.refused[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one SMTP connection as open until the guard is dropped.
    pub fn connection_opened(&self) -> OpenConnection<'_> {
        self.smtp_connections_open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self)
    }

    pub fn smtp_listening(&self, listening: bool) {
        self.smtp_listening.store(listening, Ordering::Relaxed);
    }

    /// A message went into the analysis queue.
    pub fn analysis_queued(&self) {
        self.analysis_queued.fetch_add(1, Ordering::Relaxed);
        self.unanalysed.fetch_add(1, Ordering::Relaxed);
    }

    /// A message's analysis ended, with a report or without (error, panic,
    /// or it was never started because the analyzer stopped).
    pub fn analysis_ended(&self) {
        let _ = self
            .unanalysed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    /// Accepted messages still waiting for, or in, analysis.
    pub fn unanalysed(&self) -> u64 {
        self.unanalysed.load(Ordering::Relaxed)
    }

    /// The analyzer took a message off the queue.
    pub fn analysis_started(&self) {
        // Saturating: never below zero, whatever the order of updates.
        let _ = self
            .analysis_queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
        self.analysis_progress_at
            .store(unix_now(), Ordering::Relaxed);
    }

    /// One analysis done: its time, and its DNS-backed checks as the
    /// checks tally them: (check, verdicts, of which DNS timeouts). A check
    /// [`Metrics::new`] was not given is not counted.
    pub fn analysis_finished(
        &self,
        took: Duration,
        tallies: impl IntoIterator<Item = (&'static str, u64, u64)>,
    ) {
        let seconds = took.as_secs_f64();
        let bucket = ANALYSIS_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(ANALYSIS_BUCKETS.len());
        self.analysis_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.analysis_micros.fetch_add(micros, Ordering::Relaxed);
        for (check, verdicts, timeouts) in tallies {
            if let Some(counters) = self.dns.iter().find(|c| c.check == check) {
                counters.lookups.fetch_add(verdicts, Ordering::Relaxed);
                counters.timeouts.fetch_add(timeouts, Ordering::Relaxed);
            }
        }
        self.analysis_progress_at
            .store(unix_now(), Ordering::Relaxed);
    }

    /// An analysis that runs at normal priority: the background was busy
    /// (see `background::Lanes`).
    pub fn analysis_promoted(&self) {
        self.analysis_promoted.fetch_add(1, Ordering::Relaxed);
    }

    /// An analysis that ended without a report (the store failed, or the
    /// report of a failed analysis failed too): the message stays pending.
    pub fn analysis_failed(&self) {
        self.analysis_failures.fetch_add(1, Ordering::Relaxed);
        self.analysis_progress_at
            .store(unix_now(), Ordering::Relaxed);
    }

    /// A check that could not be done: it panicked, or (`timed_out`) it
    /// missed the analysis deadline.
    pub fn check_failed(&self, timed_out: bool) {
        self.check_failures[usize::from(timed_out)].fetch_add(1, Ordering::Relaxed);
    }

    /// A stage of an analysis that panicked: the message got the report
    /// of a failed analysis.
    pub fn analysis_stage_failed(&self, stage: Stage) {
        self.stage_failures[stage.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn report_served(&self, format: ReportFormat) {
        let counter = match format {
            ReportFormat::Json => &self.reports_json,
            ReportFormat::Html => &self.reports_html,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A SIGHUP reload of the rule table, taken or refused.
    pub fn rules_reloaded(&self, ok: bool) {
        let counter = match ok {
            true => &self.rule_reloads,
            false => &self.rule_reload_failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Why the process is not ready (the listener, the analyzer), if it
    /// is not; the store is probed by the caller.
    pub fn not_ready(&self) -> Option<&'static str> {
        if !self.smtp_listening.load(Ordering::Relaxed) {
            return Some("SMTP listener not bound");
        }
        let queued = self.analysis_queued.load(Ordering::Relaxed);
        let progress_at = self.analysis_progress_at.load(Ordering::Relaxed);
        analyzer_stuck(queued, progress_at, unix_now()).then_some("analyzer queue stuck")
    }

    /// Every metric in the Prometheus text format; `store_bytes` is the
    /// store's size (`Store::size_bytes`), when it can be read.
    pub fn render(&self, store_bytes: Option<u64>) -> String {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::new();
        family(
            &mut out,
            "mailscore_messages_received_total",
            "counter",
            "Messages accepted with 250 after DATA.",
        );
        sample(
            &mut out,
            "mailscore_messages_received_total",
            "",
            load(&self.messages_received),
        );
        family(
            &mut out,
            "mailscore_smtp_refused_total",
            "counter",
            "Clients, commands and messages the SMTP server turned away, by reason.",
        );
        for reason in Refusal::ALL {
            let labels = format!("reason=\"{}\"", reason.as_str());
            sample(
                &mut out,
                "mailscore_smtp_refused_total",
                &labels,
                load(&self.refused[reason.index()]),
            );
        }
        family(
            &mut out,
            "mailscore_smtp_connections_open",
            "gauge",
            "SMTP connections being served now.",
        );
        sample(
            &mut out,
            "mailscore_smtp_connections_open",
            "",
            load(&self.smtp_connections_open),
        );
        self.render_analysis(&mut out);
        family(
            &mut out,
            "mailscore_dns_lookups_total",
            "counter",
            "DNS-backed checks run, by check (one per check per message).",
        );
        for counters in &self.dns {
            sample(
                &mut out,
                "mailscore_dns_lookups_total",
                &format!("check=\"{}\"", counters.check),
                load(&counters.lookups),
            );
        }
        family(
            &mut out,
            "mailscore_dns_timeouts_total",
            "counter",
            "DNS-backed checks that ended in temperror (no DNS answer), by check.",
        );
        for counters in &self.dns {
            sample(
                &mut out,
                "mailscore_dns_timeouts_total",
                &format!("check=\"{}\"", counters.check),
                load(&counters.timeouts),
            );
        }
        family(
            &mut out,
            "mailscore_reports_served_total",
            "counter",
            "Finished reports sent to a client, by format.",
        );
        sample(
            &mut out,
            "mailscore_reports_served_total",
            "format=\"json\"",
            load(&self.reports_json),
        );
        sample(
            &mut out,
            "mailscore_reports_served_total",
            "format=\"html\"",
            load(&self.reports_html),
        );
        family(
            &mut out,
            "mailscore_rule_reloads_total",
            "counter",
            "Rule table reloads on SIGHUP, by result.",
        );
        sample(
            &mut out,
            "mailscore_rule_reloads_total",
            "result=\"ok\"",
            load(&self.rule_reloads),
        );
        sample(
            &mut out,
            "mailscore_rule_reloads_total",
            "result=\"refused\"",
            load(&self.rule_reload_failures),
        );
        if let Some(bytes) = store_bytes {
            family(
                &mut out,
                "mailscore_store_bytes",
                "gauge",
                "Size of the store: sled's files on disk, or the Redis server's used_memory.",
            );
            sample(&mut out, "mailscore_store_bytes", "", bytes);
        }
        out
    }

    fn render_analysis(&self, out: &mut String) {
        let name = "mailscore_analysis_seconds";
        family(
            out,
            name,
            "histogram",
            "Time to analyse and score one message.",
        );
        let mut cumulative = 0;
        for (i, bound) in ANALYSIS_BUCKETS.iter().enumerate() {
            cumulative += self.analysis_buckets[i].load(Ordering::Relaxed);
            sample(
                out,
                &format!("{name}_bucket"),
                &format!("le=\"{bound}\""),
                cumulative,
            );
        }
        cumulative += self.analysis_buckets[ANALYSIS_BUCKETS.len()].load(Ordering::Relaxed);
        sample(out, &format!("{name}_bucket"), "le=\"+Inf\"", cumulative);
        let seconds = self.analysis_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {seconds}");
        sample(out, &format!("{name}_count"), "", cumulative);
        family(
            out,
            "mailscore_analysis_failures_total",
            "counter",
            "Analyses that could not store their report.",
        );
        sample(
            out,
            "mailscore_analysis_failures_total",
            "",
            self.analysis_failures.load(Ordering::Relaxed),
        );
        family(
            out,
            "mailscore_check_failures_total",
            "counter",
            "Checks reported as could not check, by reason.",
        );
        for (reason, counter) in ["panicked", "timed_out"].iter().zip(&self.check_failures) {
            sample(
                out,
                "mailscore_check_failures_total",
                &format!("reason=\"{reason}\""),
                counter.load(Ordering::Relaxed),
            );
        }
        family(
            out,
            "mailscore_analysis_stage_failures_total",
            "counter",
            "Analyses that failed in a stage outside the checks (a bug), by stage; each got a report saying so.",
        );
        for (stage, counter) in Stage::ALL.iter().zip(&self.stage_failures) {
            sample(
                out,
                "mailscore_analysis_stage_failures_total",
                &format!("stage=\"{}\"", stage.as_str()),
                counter.load(Ordering::Relaxed),
            );
        }
        family(
            out,
            "mailscore_analysis_promoted_total",
            "counter",
            "Analyses run at normal CPU priority: someone waited for the report, the backlog was at three quarters of its limit, or the background thread had no free slot in time.",
        );
        sample(
            out,
            "mailscore_analysis_promoted_total",
            "",
            self.analysis_promoted.load(Ordering::Relaxed),
        );
        family(
            out,
            "mailscore_analysis_queued",
            "gauge",
            "Messages waiting for the analyzer.",
        );
        sample(
            out,
            "mailscore_analysis_queued",
            "",
            self.analysis_queued.load(Ordering::Relaxed),
        );
        family(
            out,
            "mailscore_analysis_unfinished",
            "gauge",
            "Accepted messages whose analysis has not ended (queued or running).",
        );
        sample(out, "mailscore_analysis_unfinished", "", self.unanalysed());
    }
}

/// Work is waiting and nothing has moved for [`ANALYZER_STUCK_AFTER`].
fn analyzer_stuck(queued: u64, progress_at: u64, now: u64) -> bool {
    queued > 0 && now.saturating_sub(progress_at) > ANALYZER_STUCK_AFTER.as_secs()
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: u64) {
    let _ = match labels {
        "" => writeln!(out, "{name} {value}"),
        labels => writeln!(out, "{name}{{{labels}}} {value}"),
    };
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labels the checks hand over in `serve`.
    fn metrics() -> Metrics {
        Metrics::new(["spf", "spf_helo", "dkim", "dmarc", "arc", "iprev"])
    }

    #[test]
    fn analyzer_is_stuck_only_with_work_waiting_and_no_progress() {
        let limit = ANALYZER_STUCK_AFTER.as_secs();
        assert!(!analyzer_stuck(0, 0, 10 * limit), "idle is not stuck");
        assert!(!analyzer_stuck(3, 1000, 1000 + limit), "recent progress");
        assert!(analyzer_stuck(3, 1000, 1001 + limit));
    }

    #[test]
    fn not_ready_until_the_listener_is_bound() {
        let metrics = metrics();
        assert_eq!(metrics.not_ready(), Some("SMTP listener not bound"));
        metrics.smtp_listening(true);
        assert_eq!(metrics.not_ready(), None);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_the_count() {
        let metrics = metrics();
        // Two DKIM signatures, one timed out; iprev timed out.
        let tallies = [
            ("spf", 1, 0),
            ("spf_helo", 1, 0),
            ("dkim", 2, 1),
            ("dmarc", 1, 0),
            ("arc", 1, 0),
            ("iprev", 1, 1),
        ];
        metrics.analysis_finished(Duration::from_millis(30), tallies);
        metrics.analysis_finished(Duration::from_secs(60), tallies);
        let text = metrics.render(Some(4096));
        assert!(
            text.contains("mailscore_analysis_seconds_bucket{le=\"0.01\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("mailscore_analysis_seconds_bucket{le=\"0.05\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("mailscore_analysis_seconds_bucket{le=\"30\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("mailscore_analysis_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("mailscore_analysis_seconds_count 2\n"),
            "{text}"
        );
        assert!(
            text.contains("mailscore_analysis_seconds_sum 60.03\n"),
            "{text}"
        );
        assert!(
            text.contains("mailscore_dns_lookups_total{check=\"spf\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("mailscore_dns_lookups_total{check=\"dkim\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("mailscore_dns_timeouts_total{check=\"dkim\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("mailscore_dns_timeouts_total{check=\"spf\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("mailscore_dns_timeouts_total{check=\"iprev\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("mailscore_store_bytes 4096\n"), "{text}");
    }

    #[test]
    fn open_connections_go_down_when_the_guard_drops() {
        let metrics = metrics();
        let first = metrics.connection_opened();
        let second = metrics.connection_opened();
        drop(first);
        assert!(
            metrics
                .render(None)
                .contains("mailscore_smtp_connections_open 1\n")
        );
        drop(second);
        assert!(
            metrics
                .render(None)
                .contains("mailscore_smtp_connections_open 0\n")
        );
    }
}
