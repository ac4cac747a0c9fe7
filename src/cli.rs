//! The command line: the one source for `--help`, the man page and the shell completions.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tooljail",
    version,
    long_version = env!("TOOLJAIL_LONG_VERSION"),
    about = "Run a command in a jail described by a TOML profile",
    long_about = "Run a command in a jail described by a TOML profile: fresh namespaces, a new root \
built only from the paths the profile names, Landlock, seccomp, rlimits and a size-capped scratch \
tmpfs. With no subcommand, `tooljail [-p PROFILE] -- CMD...` is `tooljail run`.",
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Shorthand for `run`: `tooljail -p PROFILE -- CMD...`.
    #[command(flatten)]
    pub run: RunArgs,

    /// Run `/bin/sh -c STRING` in the jail (a command prefix for agents: with
    /// `CLAUDE_CODE_SHELL_PREFIX="tooljail -c"`). Settings a prefix cannot pass as flags come
    /// from the environment: TOOLJAIL_PROFILE (names, comma-separated), TOOLJAIL_RO,
    /// TOOLJAIL_RW, TOOLJAIL_EXEC (paths, colon-separated), TOOLJAIL_NET,
    /// TOOLJAIL_ALLOW_DOMAINS (names, comma-separated), TOOLJAIL_TIMEOUT,
    /// TOOLJAIL_REPORT (FILE or fd:N, never stdout), TOOLJAIL_AUDIT_LOG, TOOLJAIL_SESSION,
    /// TOOLJAIL_AGENT, TOOLJAIL_TOOL, TOOLJAIL_STATE and TOOLJAIL_SHELL (default /bin/sh); a
    /// flag given on the command line wins over its variable. tooljail itself writes nothing
    /// to stdout.
    #[arg(short = 'c', value_name = "STRING", conflicts_with = "command")]
    pub shell: Option<String>,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true, value_name = "FORMAT")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per event (for log collectors).
    Json,
}

// Parsed once per process: the size of the largest variant costs nothing.
// Deferred: only the subcommand being run has its arguments built (the rest cost page faults
// and allocations on every call; docs/startup.md).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Run CMD in a jail built from the profile(s).
    ///
    /// The jail has fresh namespaces (user, mount, pid, ipc, uts, cgroup, and net unless the
    /// network mode is `host`), a new root holding only the paths the profile names, a Landlock
    /// ruleset, a seccomp filter, rlimits and a size-capped scratch tmpfs. The command starts in
    /// the directory you are in when --ro/--rw/--exec binds it, else in the scratch. The exit
    /// status is the command's own; 124 timeout, 125 tooljail failed (nothing ran), 126 not
    /// executable, 127 not found, 128+N killed by signal N. `--report` writes the JSON report
    /// (outcome, what stopped the command and the flag that lifts it, denied syscalls,
    /// resources); every run appends an audit record. `tooljail -- CMD` is the same as
    /// `tooljail run -- CMD`.
    Run(RunArgs),
    /// Validate profiles (names or paths); exit 0, or 125 with positioned errors.
    ///
    /// Every error of every profile is printed in one run, one line each, in reading order:
    /// `FILE:LINE:COL: what is wrong; what to do`. Unknown keys get a suggestion; wrong types,
    /// bad sizes and durations, missing paths and unknown syscall names are all reported. Only
    /// the refusal to expose `${CWD}` when it is `/` or your home is left to `run`, since it
    /// depends on where the command runs.
    Check(CheckArgs),
    /// Print the fully resolved Policy that `run` would enforce.
    ///
    /// Every bind with the profile line it comes from, the Landlock rules, the syscalls the
    /// groups expand to, each limit and how it is enforced, and the environment. `--json` prints
    /// the Policy itself, the same data `run` hashes into the report's `policy_sha256`.
    Explain(ExplainArgs),
    /// List the profiles found, where each comes from, and what it is for.
    ///
    /// The search path is `$XDG_CONFIG_HOME/tooljail/profiles`, `/etc/tooljail/profiles`,
    /// `/usr/share/tooljail/profiles`, then the profiles built into the binary. A file that
    /// shadows a profile of the same name further down the path says so.
    Profiles,
    /// Report what this kernel and host support, and which profiles can be enforced in full.
    ///
    /// User namespaces, Landlock (the ABI and what each missing feature would cost), seccomp
    /// user notification, IA32 emulation, io_uring, memfd sealing, cgroup v2 delegation; then,
    /// for each profile, whether this machine enforces it in full.
    Doctor(DoctorArgs),
    /// Query the audit trail: who ran what, as whom, when, and what happened.
    ///
    /// Reads the caller's audit log (or `--log`), one JSON record per run, and filters by user,
    /// time, tool, session and outcome; prints a table, or the records with `--json`. A line
    /// that is not a whole record is reported, not skipped in silence.
    Audit(AuditArgs),
    /// Show call state: each session's calls, CPU and wall time against the [budget] limits.
    ///
    /// Reads the store (`--state`, else the default one) and prints one line per session, or
    /// JSON with `--json`. `tooljail state reset --session ID` forgets a session's calls (its
    /// budgets start again); only root or the user who made all of its calls may.
    State(StateArgs),
    /// Say why a run was denied something: each denial in plain words, with the flag or profile line that allows it.
    ///
    /// Reads a JSON report (`tooljail run --report FILE`), or with `--last` the last record you
    /// made in the audit log (yours, or `--log PATH`). For each refused exec, executable
    /// mapping, write to a read-only place, connect and syscall, and for the limit or rule
    /// that stopped the command: what it tried, which rule refused it and where that rule was
    /// written, and the exact flag or profile line that would allow it (or why nothing can).
    /// `--json` prints the same as one JSON object.
    Why(WhyArgs),
    /// Learn the profile a command needs from a run of it; check or merge learned profiles.
    ///
    /// Runs CMD once in a jail built from BASE (default `learn`: the system's binaries and the
    /// current directory, writable and executable; never your home) and records, with the kernel's help
    /// (seccomp user notification), every syscall, every path opened, executed, created or
    /// written, every connect, and the peak memory, tasks, CPU and wall time. Writes a profile
    /// that extends BASE's parent with exactly that: binds folded into a directory only where
    /// the run needed the directory, read-only unless written, executable only where something
    /// ran, syscalls as groups and names, limits at twice the peak (four times for time), each
    /// line commented with what the run did that needs it. Secret-looking paths (~/.ssh,
    /// ~/.aws, .env, keyrings) are never written; they are listed as a warning. `--check FILE`
    /// runs CMD under FILE instead and says whether it passes, or what was denied (exit 0 or
    /// 1). See docs/writing-profiles.md.
    Learn(LearnArgs),
    /// Serve jailed tools to an MCP client over stdio, one jail per `tools/call`.
    ///
    /// The tools file (TOML, `[[tool]]` tables: name, description, profile, argv, input) names
    /// each tool, the profile it runs under and its JSON Schema. `tools/list` lists exactly the
    /// tools whose profile resolves and can be enforced on this host; `--check FILE` says why
    /// each missing one is missing (exit 1 when one is). Each call runs `tooljail run` with
    /// the tool's profile and the client's identity in its report and audit record; only
    /// JSON-RPC goes to stdout. See docs/mcp.md.
    Mcp(McpArgs),
    /// Show a manual page, built into the binary (so `cargo install` users have them too).
    ///
    /// PAGE is `tooljail` (the default), a subcommand (`run`, `check`, `explain`, `profiles`,
    /// `doctor`, `audit`, `state`, `why`, `learn`, `mcp`, `man`) or `profile` (the profile format, tooljail-profile(5)). The page
    /// is shown through man(1) when it is installed, else printed as roff; `--raw` always prints
    /// the roff source (e.g. to install it: `tooljail man run --raw > tooljail-run.1`).
    Man(ManArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("file").required(true).args(["tools", "check"])))]
pub struct McpArgs {
    /// Serve the tools of FILE over stdio (JSON-RPC 2.0, newline-delimited).
    #[arg(long, value_name = "FILE")]
    pub tools: Option<PathBuf>,
    /// Check FILE instead: list each tool as served or missing, and why (exit 0 when every
    /// tool can be served, 1 when one cannot, 125 when the file is wrong).
    #[arg(long, value_name = "FILE", conflicts_with = "tools")]
    pub check: Option<PathBuf>,
    /// Session label of every call (default: one generated per server process).
    #[arg(long, env = "TOOLJAIL_SESSION", value_name = "ID")]
    pub session: Option<String>,
    /// Agent label of every call (default: the client's name from `initialize`).
    #[arg(long, env = "TOOLJAIL_AGENT", value_name = "NAME")]
    pub agent: Option<String>,
    /// Calls run at once; more wait for a free slot.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub max_calls: u16,
    /// Append every call's audit record to PATH (as `run --audit-log`).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// The call state store for the profiles' `[budget]` rules (as `run --state`).
    #[arg(long, env = "TOOLJAIL_STATE", value_name = "URL")]
    pub state: Option<String>,
}

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// The learning base: the profile the learning run uses.
    #[arg(
        short = 'p',
        long = "profile",
        value_name = "BASE",
        default_value = "learn"
    )]
    pub base: String,
    /// Write the learned profile to FILE (default: stdout; with --merge, the merged file).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Add this run to FILE, a profile learned before, so one profile covers the tool's modes.
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub merge: Option<PathBuf>,
    /// Do not learn: run CMD under the profile FILE and say whether it passes (exit 0) or what
    /// was denied (exit 1).
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// Set KEY=VALUE in the command's environment, in the learning or checking run
    /// (repeatable; not written into the profile).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD", required = true)]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The page: `tooljail`, a subcommand, or `profile`.
    #[arg(value_name = "PAGE", default_value = "tooljail")]
    pub page: String,
    /// Print the roff source instead of showing it through man(1).
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The JSON report of the run (written by `tooljail run --report FILE`).
    #[arg(
        value_name = "REPORT",
        required_unless_present = "last",
        conflicts_with = "last"
    )]
    pub report: Option<PathBuf>,
    /// Explain your last run recorded in the audit log instead of a report file.
    #[arg(long)]
    pub last: bool,
    /// The audit log `--last` reads (default: your default audit log).
    #[arg(
        long,
        visible_alias = "audit-log",
        value_name = "PATH",
        requires = "last"
    )]
    pub log: Option<PathBuf>,
    /// Print the explanation as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The audit log to read (default: the invoking user's default log).
    #[arg(
        long,
        visible_alias = "audit-log",
        value_name = "PATH",
        conflicts_with = "state"
    )]
    pub log: Option<PathBuf>,
    /// Read the audit records of a state store instead (`sqlite:PATH` or `postgres://...`):
    /// a fleet's records in one place.
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
    /// Check the log's hash chain instead of listing records: name the first record that was
    /// removed, changed or inserted (exit 1), or say it is whole (exit 0).
    #[arg(long, conflicts_with_all = ["user", "since", "until", "tool", "session", "outcome", "json", "state"])]
    pub verify: bool,
    /// Only runs by this user (name or uid, invoking or effective).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Only runs started at or after T (RFC 3339, or a duration ago such as `2h`).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only runs started before T (RFC 3339, or a duration ago).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Only runs labelled with this tool.
    #[arg(long, value_name = "TOOL")]
    pub tool: Option<String>,
    /// Only runs labelled with this session.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Only runs with this outcome.
    #[arg(long, value_enum, value_name = "OUTCOME")]
    pub outcome: Option<crate::report::Outcome>,
    /// Print matching records as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub action: Option<StateAction>,
    /// The store: `sqlite:PATH` or `postgres://...` (default: the caller's SQLite store).
    #[arg(long, env = "TOOLJAIL_STATE", value_name = "URL", global = true)]
    pub state: Option<String>,
    /// Only this session.
    #[arg(long, value_name = "ID", global = true)]
    pub session: Option<String>,
    /// Show the session limits of this profile's `[budget]` beside the use (repeatable, as
    /// `run -p`; its `[budget] state` is the store when `--state` is not given).
    #[arg(short, long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum StateAction {
    /// Forget the calls of `--session ID` (root, or the user who made them).
    Reset,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Cli {
    /// Run options given before a subcommand (`tooljail -p x explain`) are a mistake: they
    /// belong after it. (clap's own conflict check would also reject global flags such as
    /// `tooljail -v run`, which are fine.) Labels that clap may fill from the environment
    /// (`TOOLJAIL_SESSION`, …) do not count.
    pub fn misplaced_run_options(&self) -> bool {
        let r = &self.run;
        let p = &r.policy;
        self.command.is_some()
            && (self.shell.is_some()
                || !r.command.is_empty()
                || !p.profiles.is_empty()
                || !p.ro.is_empty()
                || !p.rw.is_empty()
                || !p.exec.is_empty()
                || p.net.is_some()
                || p.isolation.is_some()
                || p.timeout.is_some()
                || p.memory.is_some()
                || !p.limit.is_empty()
                || !p.env.is_empty()
                || !p.keep_env.is_empty()
                || p.cwd.is_some()
                || p.export_to.is_some()
                || !p.export.is_empty()
                || p.stdout_max.is_some()
                || p.stderr_max.is_some()
                || r.report.is_some()
                || r.audit_log.is_some()
                || r.user.is_some())
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Write the JSON run report to FILE, `-` (stdout) or `fd:N` (an inherited descriptor).
    #[arg(long, value_name = "FILE|-|fd:N")]
    pub report: Option<String>,

    /// Append the audit record to PATH instead of the profile's or the default log.
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,

    /// Session label for the report and audit record.
    #[arg(long, env = "TOOLJAIL_SESSION", value_name = "ID")]
    pub session: Option<String>,

    /// Agent label for the report and audit record.
    #[arg(long, env = "TOOLJAIL_AGENT", value_name = "NAME")]
    pub agent: Option<String>,

    /// Tool label for the report and audit record.
    #[arg(long, env = "TOOLJAIL_TOOL", value_name = "NAME")]
    pub tool: Option<String>,

    /// Run the jail as this user (name or uid); only when tooljail is started as root.
    #[arg(long, value_name = "NAME|UID")]
    pub user: Option<String>,

    /// The call state store for `[budget]` rules: `sqlite:PATH` or `postgres://...` (default:
    /// the profile's `[budget] state`, else `$XDG_STATE_HOME/tooljail/state.db`, for root
    /// `/var/lib/tooljail/state.db`). Opened only when the profile has a call rule.
    #[arg(long, env = "TOOLJAIL_STATE", value_name = "URL")]
    pub state: Option<String>,

    /// The MCP client this call serves, for the report and audit record: a JSON object
    /// (`name`, `version`, `meta`); `tooljail mcp` sets it from the client's `initialize` and
    /// the request's `_meta`.
    #[arg(long, value_name = "JSON")]
    pub client: Option<String>,

    /// The command and its arguments, after `--`; passed to execve verbatim, never to a shell.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

// Which profiles, and the overrides applied on top of them. A plain comment: with deferred
// subcommands a doc comment here would become the about of every subcommand that flattens it.
#[derive(Debug, Args, Clone, Default)]
pub struct PolicyArgs {
    /// Profile name or path (repeatable; later profiles override earlier ones). Default: `default`.
    #[arg(short, long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,

    /// Bind PATH read-only into the jail, files below it executable (repeatable).
    #[arg(long, value_name = "PATH")]
    pub ro: Vec<PathBuf>,

    /// Bind PATH read-write into the jail, not executable unless also given to --exec
    /// (repeatable).
    #[arg(long, value_name = "PATH")]
    pub rw: Vec<PathBuf>,

    /// Let files below PATH be executed: makes the bind of PATH (from --rw or the profile)
    /// executable, or binds PATH read-only and executable (repeatable).
    #[arg(long, value_name = "PATH")]
    pub exec: Vec<PathBuf>,

    /// Network mode.
    #[arg(long, value_enum, value_name = "MODE")]
    pub net: Option<NetArg>,

    /// Let the command reach NAME (`pypi.org`, `*.example.com`) through the call's egress
    /// proxy, and nothing else (repeatable; adds to the profile's `[network] allow_domains`;
    /// docs/network.md).
    #[arg(long, value_name = "NAME")]
    pub allow_domain: Vec<String>,

    /// Give the command this host's GPUs: the NVIDIA and DRM render device nodes that exist
    /// (/dev/nvidia*, /dev/dri/renderD*), with ioctl on exactly those; exit 125 when there are
    /// none.
    #[arg(long)]
    pub gpu: bool,

    /// A learning run (what `tooljail learn` starts): every syscall the filter allows is shown
    /// to the supervisor and recorded in the report's `observed` section.
    #[arg(long, hide = true)]
    pub learning: bool,

    /// Isolation mode: `full` (namespaces, the default) or `landlock` (no namespaces, for
    /// containers that forbid them; lacks what docs/containers.md lists, and the report says).
    #[arg(long, value_enum, value_name = "MODE")]
    pub isolation: Option<IsolationArg>,

    /// Wall-clock limit, e.g. `30s`, `5m`.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Memory limit, e.g. `512M`, `2G`.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,

    /// Set one limit for this call, over the profile's (repeatable): `wall_time`,
    /// `kill_after`, `cpu_time`, `memory`, `processes`, `open_files`, `file_size` or `scratch`
    /// (the scratch tmpfs size), e.g. `--limit processes=64 --limit cpu_time=2m`. `unlimited`
    /// lifts `cpu_time`, `memory`, `processes`, `open_files` and `file_size`.
    #[arg(long = "limit", value_name = "KEY=VALUE")]
    pub limit: Vec<String>,

    /// Set KEY=VALUE in the command's environment (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Pass the caller's KEY through to the command (repeatable).
    #[arg(long = "keep-env", value_name = "KEY")]
    pub keep_env: Vec<String>,

    /// Working directory inside the jail; a relative DIR is taken from the current directory.
    /// Without it (and without a profile `cwd`), the command starts in the current directory
    /// when --ro/--rw/--exec binds it, else in the scratch.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,

    /// Copy the files that match the export patterns out of the scratch into DIR (an existing
    /// host directory) when the command ends; see `[export]` in tooljail-profile(5).
    #[arg(long, value_name = "DIR")]
    pub export_to: Option<PathBuf>,

    /// Export the scratch files matching PATTERN (a glob relative to the scratch, or to the
    /// profile's `[export] from`: `*.csv`, `out/*.csv`, `**/*.png`; repeatable); needs a
    /// destination (--export-to or `[export] to`).
    #[arg(long = "export", value_name = "PATTERN")]
    pub export: Vec<String>,

    /// Pass at most SIZE bytes of the command's stdout to the caller (e.g. `64K`, `1M`); the
    /// rest is read and dropped, and one marker line says how many bytes were not shown.
    #[arg(long, value_name = "SIZE")]
    pub stdout_max: Option<String>,

    /// As --stdout-max, for stderr.
    #[arg(long, value_name = "SIZE")]
    pub stderr_max: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IsolationArg {
    /// The full jail: namespaces, a new root, Landlock, seccomp, rlimits, a scratch tmpfs.
    Full,
    /// No namespaces: Landlock, seccomp, rlimits, no capabilities, no_new_privs only.
    Landlock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetArg {
    /// A private network namespace with only `lo`: nothing outside is reachable.
    None,
    /// The same private namespace, for tools that talk to servers they start themselves.
    Loopback,
    /// The host's network, with TCP ports limited to the profile's list by Landlock.
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
    fn global_flags_go_before_or_after_a_subcommand() {
        for argv in [
            &["tooljail", "-v", "run", "--", "true"][..],
            &["tooljail", "run", "-v", "--", "true"],
            &["tooljail", "--log-format", "json", "profiles"],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap();
            assert!(
                cli.command.is_some() && !cli.misplaced_run_options(),
                "{argv:?}"
            );
        }
        let cli = Cli::try_parse_from(["tooljail", "-p", "x", "explain"]).unwrap();
        assert!(cli.misplaced_run_options());
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
