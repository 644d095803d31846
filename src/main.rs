//! The `mailscore` command: parse arguments, hand over to the library.

use clap::{Parser, Subcommand};
use mailscore::check::{CheckArgs, check};
use mailscore::config::{Config, ConfigArgs};
use mailscore::wait::{WaitArgs, wait};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mailscore", version, about = "Self-hostable mail tester")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SMTP listener and the web server.
    Serve(Box<ConfigArgs>),
    /// Analyse one message file and print its report.
    Check(CheckArgs),
    /// Wait for the report of a test address on a running server, print a
    /// summary, and exit 0 when its score is at least --min-score.
    Wait(WaitArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve(args) => match Config::load(&args) {
            Ok(config) => mailscore::serve::serve(config)
                .await
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        Command::Check(args) => check(&args)
            .await
            .map(|out| {
                print!("{out}");
                ExitCode::SUCCESS
            })
            .map_err(|e| e.to_string()),
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
