//! The faceoff binary: parses the command line, hands it to [`faceoff::commands`], and turns
//! an error into one line and an exit code CI can act on (0 ok, 1 failure, 2 usage or could
//! not tell, 130 interrupted).

use std::process::ExitCode;

use clap::Parser;

use faceoff::cli::{Cli, Command};
use faceoff::commands::{self, EXIT_ERROR};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let error_code = match cli.command {
        Command::Compare(_) | Command::Audit(_) => ExitCode::from(EXIT_ERROR),
        _ => ExitCode::FAILURE,
    };
    match commands::dispatch(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", commands::error_line(&err));
            // A results file that cannot be judged is "could not tell" in every command.
            if err.downcast_ref::<faceoff::results::Unusable>().is_some()
                || commands::is_engine_unavailable(&err)
            {
                ExitCode::from(EXIT_ERROR)
            } else {
                error_code
            }
        }
    }
}
