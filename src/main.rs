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

#[tokio::main]
async fn main() -> ExitCode {
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
