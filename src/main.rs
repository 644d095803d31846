//! The `mailscore` command: parse arguments, hand over to the library.

// As in lib.rs: warp's route tree, monomorphised here, nests deeper than
// the default 128 in the optimised build.
#![recursion_limit = "256"]

use clap::{Parser, Subcommand};
use mailscore::check::{CheckArgs, Format, check};
use mailscore::config::{Config, Options};
use mailscore::config_check::config_check;
use mailscore::survey_cli::{SurveyArgs, survey};
use mailscore::wait::{WaitArgs, wait};
use std::process::ExitCode;

/// mimalloc, not glibc's malloc: per-message buffers are allocated and freed
/// on different threads, which glibc pays for in arena locks and page faults.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "mailscore", version, about = "Self-hostable mail tester")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SMTP listener and the web server.
    Serve(Box<Options>),
    /// Analyse one message file and print its report.
    Check(Box<CheckArgs>),
    /// Wait for the report of a test address on a running server, print a
    /// summary, and exit 0 when its score is at least --min-score.
    Wait(WaitArgs),
    /// Survey an archive (mbox, Maildir, .eml directories): per sending
    /// address the S/MIME, SPF, DKIM and DMARC states, and the JIPDEC and
    /// MSchecker tables, as JSON or CSV.
    Survey(Box<SurveyArgs>),
    /// Print the OpenAPI 3.1 document that `GET /api/openapi.json` serves.
    Openapi,
    /// Work with the configuration without starting the server.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Copy the sled database in the data dir (an earlier release's
    /// default store) into SQLite, keeping sled's files aside; serve does
    /// the same on its first start. Same flags as serve.
    MigrateStore(Box<Options>),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load and validate the configuration and the rule table (same flags
    /// as serve); exit 0 with a summary, or 2 naming the file and problem.
    Check(Box<Options>),
}

fn main() -> ExitCode {
    match runtime() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("mailscore: cannot start the tokio runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Tokio's workers: one fewer than the cores (at least one), since the
/// store writer and the background analysis have threads of their own.
/// With one per core they woke each other: on 2 cores, 20 smtp-source
/// sessions measured 0.24 ms of CPU per message with one worker against
/// 0.31 with two (6 alternating rounds), and a report 19.8 ms after its
/// 250 at p99 beside the flood, not 27 (the JSON report served 33k
/// requests/s, not 37–45k). `TOKIO_WORKER_THREADS` still decides when set.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        builder.worker_threads(cores.saturating_sub(1).max(1));
    }
    builder.enable_all().build()
}

async fn run() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve(args) => serve(&args).await,
        Command::Check(args) => match check(&args).await {
            Ok(out) => {
                print!("{out}");
                Ok(ExitCode::SUCCESS)
            }
            // A script reading JSON gets JSON, whatever went wrong.
            Err(e) if args.format == Format::Json => {
                println!("{}", serde_json::json!({ "error": e.to_string() }));
                Err(e.to_string())
            }
            Err(e) => Err(e.to_string()),
        },
        Command::Survey(args) => survey(&args)
            .await
            .map(|out| {
                if args.out.is_none() {
                    print!("{out}");
                }
                ExitCode::SUCCESS
            })
            .map_err(|e| e.to_string()),
        Command::Openapi => {
            print!("{}", mailscore::web::openapi::DOCUMENT);
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Check(args)) => config_check(&args)
            .map(|summary| {
                print!("{summary}");
                ExitCode::SUCCESS
            })
            .map_err(|e| format!("config check failed: {e}")),
        Command::MigrateStore(args) => migrate_store(&args),
        Command::Wait(args) => wait(&args)
            .await
            .map(|outcome| {
                print!("{}", outcome.summary);
                outcome.exit_code()
            })
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("mailscore: {message}");
            ExitCode::from(2)
        }
    }
}

/// `serve`: once the config is loaded, errors go to the configured log
/// (one JSON line with `--log-format json`), not as a bare line.
async fn serve(args: &Options) -> Result<ExitCode, String> {
    let config = Config::load(args).map_err(|e| e.to_string())?;
    mailscore::logs::init(config.log_format);
    match mailscore::serve::serve(config).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            tracing::error!(error = %e, "mailscore serve failed");
            Ok(ExitCode::from(2))
        }
    }
}

/// `migrate-store`: what serve would do first, on its own, with a summary.
fn migrate_store(args: &Options) -> Result<ExitCode, String> {
    use mailscore::store::migrate;
    let config = Config::load(args).map_err(|e| e.to_string())?;
    let dir = &config.data_dir;
    match migrate::sled_to_sqlite(dir, config.store_cache).map_err(|e| e.to_string())? {
        Some(copied) => println!(
            "copied {} into SQLite: {copied}\nsled's files are kept in {}",
            dir.display(),
            dir.join(migrate::SLED_ASIDE).display()
        ),
        None => println!("{} holds no sled database to copy", dir.display()),
    }
    Ok(ExitCode::SUCCESS)
}
