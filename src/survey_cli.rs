//! `mailscore survey PATH…`: the survey of an archive. Each message is
//! analysed as `check` would (same settings, same DNS), with the envelope
//! its archive's receiving server recorded; rows are folded per sending
//! address and the tables printed as JSON or CSV.
//!
//! The archive is read on a blocking thread one message at a time and
//! analysed by as many messages at once as [`IN_FLIGHT`] allows (DNS
//! waits dominate, the CPU work spreads over the runtime's threads, one a
//! core), so memory stays bounded by what is in flight, not by the archive.

use crate::analysis::pipeline::Pipeline;
use crate::config::{Config, ConfigError, Options, PipelineError};
use crate::report::Subject;
use crate::survey::archive::{Archive, Entry};
use crate::survey::received;
use crate::survey::sender::{self, SenderRow};
use crate::survey::tables::Tables;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::task::JoinSet;

/// Messages analysed at once: enough to keep both cores busy while most
/// of them wait on DNS.
const IN_FLIGHT: usize = 32;

#[derive(Debug, Clone, Args)]
pub struct SurveyArgs {
    /// mbox files, Maildir folders, directories of `.eml` files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The archive's own receiving server (e.g. `mx.google.com`): the
    /// connecting IP, HELO and TLS come from the `Received:` header it
    /// added. Without it, what depends on the IP is "not checked".
    #[arg(long, value_name = "HOST")]
    pub received_by: Option<String>,
    #[arg(long, value_enum, default_value_t = SurveyFormat::Json)]
    pub format: SurveyFormat,
    /// Write the tables here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// An earlier survey's JSON: every figure is given with its change
    /// (`compare` in the JSON).
    #[arg(long, value_name = "EARLIER.json")]
    pub compare: Option<PathBuf>,
    /// The language of `--format html`: `en` or `ja`.
    #[arg(long, value_name = "LANG", default_value = "en")]
    pub lang: String,
    /// Count the senders outside this domain (`go.jp`).
    #[arg(long, value_name = "DOMAIN")]
    pub expect_domain: Option<String>,
    #[command(
        flatten,
        next_help_heading = "Settings, as for serve (survey uses those of the analysis)"
    )]
    pub options: Options,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SurveyFormat {
    Json,
    Csv,
    /// The tables as one page (its stylesheet inside), for a browser.
    Html,
}

#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    #[error("cannot read the archive: {0}")]
    Archive(std::io::Error),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("cannot read the earlier survey {}: {reason}", path.display())]
    Earlier { path: PathBuf, reason: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Surveys the archive and returns the tables, rendered as asked (and
/// written to `--out` when given).
pub async fn survey(args: &SurveyArgs) -> Result<String, SurveyError> {
    let config = Config::load(&args.options)?;
    let earlier = args.compare.as_deref().map(earlier).transpose()?;
    let archive =
        Archive::open(&args.paths, config.max_message_size).map_err(SurveyError::Archive)?;
    let pipeline = Arc::new(config.pipeline()?);
    let (rows, skipped) = analyse(archive, pipeline, args.received_by.clone()).await;
    let tables = Tables::of(rows, skipped, args.expect_domain.as_deref());
    let out = match args.format {
        SurveyFormat::Json => {
            let mut json = serde_json::to_value(&tables).expect("tables serialise");
            if let Some(earlier) = &earlier {
                let changes = crate::survey::compare::compare(&json, earlier);
                json["compare"] = serde_json::to_value(changes).expect("changes serialise");
            }
            serde_json::to_string_pretty(&json).expect("a value serialises") + "\n"
        }
        SurveyFormat::Csv => crate::survey::csv::rows(&tables.rows),
        SurveyFormat::Html => standalone(&crate::web::render_survey_page(&tables, &args.lang)),
    };
    if let Some(path) = &args.out {
        std::fs::write(path, &out).map_err(|source| SurveyError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(out)
}

/// A served page links its stylesheet; a page saved as a file carries it.
fn standalone(page: &str) -> String {
    let Some(start) = page.find("<link rel=\"stylesheet\"") else {
        return page.to_string();
    };
    let end = page[start..]
        .find('>')
        .map_or(page.len(), |e| start + e + 1);
    let style = format!("<style>{}</style>", crate::web::stylesheet());
    format!("{}{style}{}", &page[..start], &page[end..])
}

fn earlier(path: &std::path::Path) -> Result<serde_json::Value, SurveyError> {
    let fail = |reason: String| SurveyError::Earlier {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let json: serde_json::Value = serde_json::from_slice(&text).map_err(|e| fail(e.to_string()))?;
    if json.get("senders").is_none() {
        return Err(fail("not a survey's JSON (no \"senders\")".into()));
    }
    Ok(json)
}

/// Analyses every message and folds the rows per sender, in archive
/// order (the latest message of a sender is the last one in the archive).
async fn analyse(
    archive: Archive,
    pipeline: Arc<Pipeline>,
    received_by: Option<String>,
) -> (Vec<SenderRow>, usize) {
    let progress = progress_bar();
    let (entries, mut incoming) = tokio::sync::mpsc::channel::<(usize, Entry)>(IN_FLIGHT);
    // The archive is files and lines: read it off the runtime.
    tokio::task::spawn_blocking(move || {
        for (index, entry) in archive.enumerate() {
            if entries.blocking_send((index, entry)).is_err() {
                break;
            }
        }
    });
    let received_by = Arc::new(received_by);
    let mut found: BTreeMap<usize, SenderRow> = BTreeMap::new();
    let mut skipped = 0;
    let mut running = JoinSet::new();
    loop {
        let next = if running.len() < IN_FLIGHT {
            incoming.recv().await
        } else {
            None
        };
        match next {
            Some((index, Ok(message))) => {
                let (pipeline, received_by) = (pipeline.clone(), received_by.clone());
                running.spawn(async move {
                    let row = analyse_one(&pipeline, received_by.as_deref(), &message.raw).await;
                    (index, message.source, row)
                });
                continue;
            }
            Some((_, Err(skip))) => {
                skipped += 1;
                progress.suspend(|| eprintln!("skipped {}: {}", skip.source, skip.reason));
                continue;
            }
            None => {}
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        progress.inc(1);
        match done {
            Ok((index, _, Ok(row))) => {
                found.insert(index, row);
            }
            Ok((_, source, Err(reason))) => {
                skipped += 1;
                progress.suspend(|| eprintln!("skipped {source}: {reason}"));
            }
            Err(e) => {
                skipped += 1;
                progress.suspend(|| eprintln!("skipped a message: the analysis failed: {e}"));
            }
        }
    }
    progress.finish_and_clear();
    (sender::fold(found.into_values()), skipped)
}

/// One message's row, or why it is not a message.
async fn analyse_one(
    pipeline: &Pipeline,
    received_by: Option<&str>,
    raw: &[u8],
) -> Result<SenderRow, String> {
    let headers = received::header_fields(raw);
    if headers.is_empty() {
        return Err("not a message: no header fields".into());
    }
    let hop = received_by.and_then(|host| received::hop(&headers, host));
    let when = received_at(&headers);
    let envelope = received::envelope(hop.as_ref(), received::return_path(&headers), when);
    let subject = Subject {
        id: "survey",
        address: "",
    };
    let report = pipeline.report(subject, &envelope, raw).await;
    if report.message.from_address.is_none() {
        return Err("no From address".into());
    }
    Ok(SenderRow::of(&report, hop.is_some()))
}

/// When the message arrived: the date of its topmost `Received:` field,
/// else its `Date:`, else 0.
fn received_at(headers: &[(String, String)]) -> u64 {
    let date = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.rsplit(';').next().unwrap_or(v).trim().to_string())
    };
    [date("received"), date("date")]
        .into_iter()
        .flatten()
        .find_map(|text| mail_parser::DateTime::parse_rfc822(&text))
        .map_or(0, |d| u64::try_from(d.to_timestamp()).unwrap_or(0))
}

/// A spinner with counts on a terminal's stderr; nothing when piped.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} messages analysed, {rate} ({elapsed})")
            .map(|style| {
                // indicatif's own {per_sec} prints four decimals.
                style.with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}/s", state.per_sec());
                    },
                )
            })
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
