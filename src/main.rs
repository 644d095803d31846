//! The `mailscore` command: parse arguments, hand over to the library.

use clap::{Parser, Subcommand};
use mailscore::check::{CheckArgs, check};
use mailscore::config::{Config, ConfigArgs};
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
    Serve(ConfigArgs),
    /// Analyse one message file and print its report.
    Check(CheckArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve(args) => match Config::load(&args) {
            Ok(config) => mailscore::serve::serve(config)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        Command::Check(args) => check(&args)
            .await
            .map(|out| print!("{out}"))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mailscore: {message}");
            ExitCode::from(2)
        }
    }
}
