//! The command line: the one source for `--help`, the man page and the shell completions.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tooljail",
    version,
    about = "Run a command in a jail described by a TOML profile",
    long_about = "Run a command in a jail described by a TOML profile: fresh namespaces, a new root \
built only from the paths the profile names, Landlock, seccomp, rlimits and a size-capped scratch \
tmpfs. With no subcommand, `tooljail [-p PROFILE] -- CMD...` is `tooljail run`.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Shorthand for `run`: `tooljail -p PROFILE -- CMD...`.
    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run CMD in a jail built from the profile(s).
    Run(RunArgs),
    /// Validate profiles (names or paths); exit 0, or 125 with positioned errors.
    Check(CheckArgs),
    /// Print the fully resolved Policy that `run` would enforce.
    Explain(ExplainArgs),
    /// List the profiles found, where each comes from, and what it is for.
    Profiles,
    /// Report what this kernel and host support, and which profiles can be enforced in full.
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,

    /// The command and its arguments, after `--`; passed to execve verbatim, never to a shell.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Which profiles, and the overrides applied on top of them.
#[derive(Debug, Args, Clone, Default)]
pub struct PolicyArgs {
    /// Profile name or path (repeatable; later profiles override earlier ones). Default: `default`.
    #[arg(short, long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,

    /// Bind PATH read-only into the jail (repeatable).
    #[arg(long, value_name = "PATH")]
    pub ro: Vec<PathBuf>,

    /// Bind PATH read-write into the jail (repeatable).
    #[arg(long, value_name = "PATH")]
    pub rw: Vec<PathBuf>,

    /// Network mode.
    #[arg(long, value_enum, value_name = "MODE")]
    pub net: Option<NetArg>,

    /// Wall-clock limit, e.g. `30s`, `5m`.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Memory limit, e.g. `512M`, `2G`.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,

    /// Set KEY=VALUE in the command's environment (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Pass the caller's KEY through to the command (repeatable).
    #[arg(long = "keep-env", value_name = "KEY")]
    pub keep_env: Vec<String>,

    /// Working directory inside the jail.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetArg {
    None,
    Loopback,
    Host,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Profile names or paths to validate.
    #[arg(required = true, value_name = "PROFILE")]
    pub profiles: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Print the Policy as JSON (the same document `run` hashes into the report).
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn shorthand_is_run() {
        let cli =
            Cli::try_parse_from(["tooljail", "-p", "python", "--", "python3", "-c", "1"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.policy.profiles, ["python"]);
        assert_eq!(cli.run.command, ["python3", "-c", "1"]);
    }

    #[test]
    fn command_after_double_dash_is_verbatim() {
        let cli = Cli::try_parse_from([
            "tooljail",
            "run",
            "--",
            "sh",
            "-c",
            "echo $HOME; --ro x",
            "--rw",
        ])
        .unwrap();
        let Some(Command::Run(run)) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.command, ["sh", "-c", "echo $HOME; --ro x", "--rw"]);
        assert!(run.policy.rw.is_empty());
    }
}
