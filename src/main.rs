use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = baton::cli::Cli::parse();
    match baton::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
