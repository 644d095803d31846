//! Where `mailscore serve` logs go: `tracing` events on standard error, as
//! text for a terminal or as one JSON object per line for a log shipper
//! (`--log-format json`). Standard output keeps only the start-up line that
//! scripts and tests read the bound addresses from.
//!
//! Level `info` and up: one event per SMTP transaction (test id, client IP,
//! outcome and reason), start-up, reloads, shutdown, and every error.

use crate::config::LogFormat;
use tracing::level_filters::LevelFilter;

/// Installs the process-wide subscriber; later calls do nothing.
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(LevelFilter::INFO)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
