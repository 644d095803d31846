//! `mailscore check`: the whole analysis on one message file, no server.
//! Developers use it in scripts; tests use it for conformance suites.

use crate::checks::Analyzer;
use crate::checks::smime::SmimeError;
use crate::checks::spamd::{SpamdFinding, SpamdStatus};
use crate::config::{FileLists, ListArgs, parse_dns_server};
use crate::dns::{DnsSetupError, resolver};
use crate::pipeline::Pipeline;
use crate::report::{Report, Subject};
use crate::score::RulesError;
use crate::serve::load_rules;
use crate::smtp::Envelope;
use clap::{Args, ValueEnum};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// DNS server to ask, HOST:PORT or an IP [default: system resolver]
    #[arg(long, env = "MAILSCORE_DNS", value_parser = parse_dns_server)]
    pub dns: Option<SocketAddr>,
    /// Seconds before a DNS query counts as a temperror.
    #[arg(long, default_value_t = 3)]
    pub dns_timeout: u64,
    /// Directory of rule tables [default: the embedded table]
    #[arg(long, env = "MAILSCORE_RULES")]
    pub rules: Option<PathBuf>,
    /// Our host name, for SPF's %{r} macro.
    #[arg(long, default_value = "localhost")]
    pub hostname: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub lists: ListArgs,
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
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Dns(#[from] DnsSetupError),
    #[error(transparent)]
    Smime(#[from] SmimeError),
}

/// Runs the check and returns the report, rendered as asked.
pub async fn check(args: &CheckArgs) -> Result<String, CheckError> {
    let raw = read_message(&args.file)?;
    let dns = resolver(args.dns, Duration::from_secs(args.dns_timeout.max(1)))?;
    let lists = args.lists.resolve(FileLists::default());
    let pipeline = Pipeline {
        analyzer: Analyzer::with_lists(dns, &args.hostname, &lists)?,
        rules: load_rules(args.rules.as_deref())?.into(),
    };
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

/// A terminal summary: the score, each check, each deduction.
pub fn text(report: &Report) -> String {
    let checks = &report.checks;
    let mut out = format!("score: {:.1}/{}\n", report.score, report.max_score);
    let line = |name: &str, result: &str, setup: &str, detail: &str| {
        format!("{name:<9} {result:<10} {setup:<14} {detail}\n")
    };
    out += &line(
        "spf",
        checks.spf.result.as_str(),
        checks.spf.setup.as_str(),
        &checks.spf.domain,
    );
    out += &line(
        "spf-helo",
        checks.spf_helo.result.as_str(),
        checks.spf_helo.setup.as_str(),
        &checks.spf_helo.domain,
    );
    if checks.dkim.is_empty() {
        out += &line("dkim", "none", "missing", "no signature");
    }
    for sig in &checks.dkim {
        let detail = format!("d={} s={} a={}", sig.domain, sig.selector, sig.algorithm);
        out += &line("dkim", sig.result.as_str(), sig.setup.as_str(), &detail);
    }
    let dmarc = &checks.dmarc;
    let detail = format!(
        "{} p={}",
        dmarc.from_domain,
        dmarc.policy.as_deref().unwrap_or("-")
    );
    out += &line(
        "dmarc",
        dmarc.result.as_str(),
        dmarc.setup.as_str(),
        &detail,
    );
    let arc = &checks.arc;
    let detail = if arc.instances == 0 {
        "no ARC headers".to_string()
    } else {
        let sets = if arc.instances == 1 { "set" } else { "sets" };
        format!("{} {sets}: {}", arc.instances, arc.sealers.join(", "))
    };
    out += &line(
        "arc",
        arc.result.as_str(),
        arc.result.setup().as_str(),
        &detail,
    );
    let iprev = &checks.iprev;
    let detail = format!("{} -> {}", iprev.ip, iprev.ptr.join(", "));
    out += &line(
        "iprev",
        iprev.result.as_str(),
        iprev.setup.as_str(),
        &detail,
    );
    out += &spamassassin_lines(&checks.spamassassin);
    for d in &report.deductions {
        out += &format!("-{:<4} {:<20} {}\n", d.points, d.rule, d.title.en);
    }
    out
}

/// SpamAssassin's verdict and each rule it hit, when spamd was asked.
fn spamassassin_lines(sa: &SpamdFinding) -> String {
    match sa.status {
        SpamdStatus::NotConfigured => String::new(),
        SpamdStatus::NotChecked => format!(
            "{:<9} {:<10} {}\n",
            "spamassn",
            "unchecked",
            sa.error.as_deref().unwrap_or("no answer")
        ),
        SpamdStatus::Checked => {
            let mut out = format!(
                "{:<9} {:<10} score {} / threshold {}\n",
                "spamassn",
                if sa.spam == Some(true) { "spam" } else { "ham" },
                sa.score.map_or("-".to_string(), |s| format!("{s:.1}")),
                sa.threshold.map_or("-".to_string(), |t| format!("{t:.1}")),
            );
            for rule in &sa.rules {
                out += &format!(
                    "          {:>5.1} {:<24} {}\n",
                    rule.points, rule.name, rule.description
                );
            }
            out
        }
    }
}
