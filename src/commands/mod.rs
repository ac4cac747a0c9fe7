//! One function per subcommand. Each returns the exit code on success or an [`Error`] that `main`
//! renders once.

mod audit;
mod check;
mod doctor;
mod explain;
mod learn;
mod man;
mod mcp;
mod profiles;
mod run;
mod shell;
mod state;
mod why;

use crate::cli::{Cli, Command};
use crate::error::{Error, Result};
use shell::RealEnv;

pub fn dispatch(cli: Cli) -> Result<i32> {
    if cli.misplaced_run_options() {
        return Err(
            Error::usage("run options come before the subcommand").with_hint(
                "put them after it, e.g. `tooljail explain -p NAME`, `tooljail run -p NAME -- CMD`",
            ),
        );
    }
    match cli.command {
        Some(Command::Run(args)) => run::run(&args, &cli.global),
        Some(Command::Check(args)) => check::check(&args),
        Some(Command::Explain(args)) => explain::explain(&args),
        Some(Command::Profiles) => profiles::profiles(),
        Some(Command::Doctor(args)) => doctor::doctor(&args),
        Some(Command::Audit(args)) => audit::audit(&args),
        Some(Command::State(args)) => state::state(&args),
        Some(Command::Why(args)) => why::why(&args),
        Some(Command::Man(args)) => man::man(&args),
        Some(Command::Learn(args)) => learn::learn(&args),
        Some(Command::Mcp(args)) => mcp::mcp(&args),
        None if cli.shell.is_some() => {
            shell::shell(cli.shell.unwrap_or_default(), cli.run, &RealEnv)
        }
        None if cli.run.command.is_empty() => Err(Error::usage("no command given").with_hint(
            "put the command after `--`, e.g. `tooljail -- ls /`, or see `tooljail --help`",
        )),
        None => run::run(&cli.run, &cli.global),
    }
}
