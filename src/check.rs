//! `mailscore check`: the whole analysis on one message file, no server.
//! Developers use it in scripts; tests use it for conformance suites.

use crate::checks::CheckId;
use crate::config::{Config, ConfigError, Options, PipelineError};
use crate::report::{Report, Subject};
use crate::smtp::Envelope;
use clap::{Args, ValueEnum};
use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The message (.eml); `-` reads standard input.
    pub file: PathBuf,
    /// The IP address the message came from.
    #[arg(long)]
    pub ip: IpAddr,
    /// The HELO/EHLO name the sender used.
    #[arg(long)]
    pub helo: String,
    /// The envelope sender (MAIL FROM); empty for a null sender.
    #[arg(long, default_value = "")]
    pub mail_from: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The settings `serve` takes (its config file too): `check` uses the
    /// DNS, rule, blocklist, S/MIME, content, spamd and rspamd ones.
    #[command(
        flatten,
        next_help_heading = "Settings, as for serve (check uses those of the analysis)"
    )]
    pub options: Options,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Text,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not an RFC 5322 message: {0}")]
    NotAMessage(&'static str),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// Runs the check and returns the report, rendered as asked.
pub async fn check(args: &CheckArgs) -> Result<String, CheckError> {
    let config = Config::load(&args.options)?;
    let raw = read_message(&args.file)?;
    if let Some(reason) = not_a_message(&raw) {
        return Err(CheckError::NotAMessage(reason));
    }
    let pipeline = config.pipeline()?;
    let envelope = Envelope {
        client_ip: args.ip,
        client_port: 0,
        helo: args.helo.clone(),
        mail_from: args.mail_from.clone(),
        rcpt_to: Vec::new(),
        received_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        tls: None,
    };
    let subject = Subject {
        id: "check",
        address: "",
    };
    let report = pipeline.report(subject, &envelope, &raw).await;
    Ok(match args.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("a report always serialises"),
        Format::Text => text(&report),
    })
}

/// Why `raw` is not a message, if it is not: scoring an empty file or
/// random bytes would print a score for nothing. A message starts with a
/// header field, `name:` (RFC 5322 §2.2: printable ASCII but the colon),
/// after at most one mbox `From ` line.
fn not_a_message(raw: &[u8]) -> Option<&'static str> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Some("the input is empty");
    }
    let mut lines = raw.split(|b| *b == b'\n');
    let mut first = lines.next().unwrap_or_default();
    if first.starts_with(b"From ") {
        first = lines.next().unwrap_or_default();
    }
    let name = first.split(|b| *b == b':').next().unwrap_or_default();
    let is_field =
        name.len() < first.len() && !name.is_empty() && name.iter().all(|b| (33..=126).contains(b));
    (!is_field).then_some("it does not start with a header field (Name: value)")
}

fn read_message(path: &PathBuf) -> Result<Vec<u8>, CheckError> {
    let read_err = |source| CheckError::Read {
        path: path.clone(),
        source,
    };
    if path.as_os_str() == "-" {
        let mut raw = Vec::new();
        std::io::stdin().read_to_end(&mut raw).map_err(read_err)?;
        Ok(raw)
    } else {
        std::fs::read(path).map_err(read_err)
    }
}

/// A terminal summary: the score, each check's line, each deduction.
pub fn text(report: &Report) -> String {
    let mut out = format!("score: {:.1}/{}\n", report.score, report.max_score);
    let grade = &report.grade;
    let items = |items: &[crate::score::mschecker::Item]| {
        items
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    out += &format!("grade: {}", grade.level.as_str());
    if !grade.decided_by.is_empty() {
        out += &format!(" ({})", items(&grade.decided_by));
    } else if !grade.not_checked.is_empty() {
        out += &format!(" (not checked: {})", items(&grade.not_checked));
    }
    let s = &report.setup;
    out += &format!(
        "\nsetup: smime={} spf={} dkim={} dmarc={}\n",
        s.smime.as_str(),
        s.spf.as_str(),
        s.dkim.as_str(),
        s.dmarc.as_str()
    );
    for verdict in &report.readiness {
        out += &format!("ready: {} {}", verdict.key(), verdict.verdict.as_str());
        if !verdict.failing.is_empty() {
            out += &format!(" ({})", verdict.failing.join(", "));
        } else if !verdict.not_checked.is_empty() {
            out += &format!(" (not checked: {})", verdict.not_checked.join(", "));
        }
        out.push('\n');
    }
    for check in CheckId::ALL {
        out += &report.checks.text(check);
    }
    for d in &report.deductions {
        out += &format!("-{:<4} {:<20} {}\n", d.points, d.rule, d.title.en);
    }
    out
}
