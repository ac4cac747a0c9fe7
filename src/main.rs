//! Parse, run, render an error once, exit. This is the only place that picks an exit code.

use clap::Parser;
use std::process::ExitCode;
use tooljail::cli::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not failures; usage errors are tooljail's own (125).
            let code = if e.use_stderr() {
                tooljail::error::exit::FAILED
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let verbose = cli.global.verbose;
    match tooljail::commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("tooljail: {e}");
            if verbose > 0 {
                eprintln!("tooljail: (kind: {:?}, retryable: {})", e.kind, e.retryable);
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
