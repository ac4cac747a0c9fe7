//! Profile -> Policy. Resolution reads the host only through [`crate::host::Host`], so unit
//! tests fake it.
//!
//! Input: the merged profile layer ([`crate::profile::merge::Merged`]) and the command-line
//! [`Overrides`]. Output: a [`Policy`] or every error found, each positioned at the value that
//! caused it. Defaults for keys no profile sets are written here once (and in
//! docs/profile-format.md): they are strict, so an incomplete profile never means a weaker jail.

use super::size::{parse_duration, parse_size};
use super::*;
use crate::error::{Error, ErrorKind, Location};
use crate::host::Host;
use crate::profile::merge::Merged;
use crate::profile::schema::{Item, PortEntry, Scalar};
use crate::profile::source::{suggest, Sources};
use crate::profile::vars;
use std::io;
use std::path::{Component, Path, PathBuf};

mod command;
mod egress;
mod export;
mod fs;
mod git;
mod gpu;
mod limits;
mod rules;
mod seccomp;

pub use egress::domain_rule;
pub use gpu::{gpu_nodes, gpu_places};
use limits::CliLimit;
pub use seccomp::{errno_name, parse_action};

/// Check one `--limit KEY=VALUE` (or a tools file's `[tool.limits]` entry) on its own: `Err`
/// holds what is wrong and what to do.
pub fn check_limit(arg: &str) -> Result<(), (String, String)> {
    limits::parse_cli_limit(arg).map(|_| ())
}

/// Command-line overrides, applied on top of the merged profiles.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub ro: Vec<PathBuf>,
    pub rw: Vec<PathBuf>,
    /// `--exec`: paths whose bind becomes executable (or that are bound read-only, executable).
    pub exec: Vec<PathBuf>,
    pub net: Option<NetMode>,
    /// `--allow-domain NAME`, added to `[network] allow_domains`.
    pub allow_domains: Vec<String>,
    /// `--isolation`.
    pub isolation: Option<IsolationMode>,
    pub timeout: Option<String>,
    pub memory: Option<String>,
    /// `KEY=VALUE`.
    pub env: Vec<String>,
    pub keep_env: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// `--limit KEY=VALUE`, in order (a later one wins).
    pub limits: Vec<String>,
    /// `--export-to DIR` (relative to the current directory).
    pub export_to: Option<PathBuf>,
    /// `--export PATTERN`, added to the profile's patterns.
    pub export: Vec<String>,
    pub stdout_max: Option<String>,
    pub stderr_max: Option<String>,
    /// `--gpu`.
    pub gpu: bool,
    /// `run --learning` (what `tooljail learn` runs): every allowed syscall is observed.
    pub learning: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `tooljail check`: validate the profile, but skip the refusal to expose a `${CWD}` that
    /// is `/` or the home directory (a property of where the command runs, not of the file).
    pub check_only: bool,
}

/// Expands syscall groups and names; `Err(name)` = the first unknown one. Each entry must
/// expand on its own (nothing depends on the entries before it): the resolver expands a list
/// in one call, and again entry by entry only to place an error.
pub type Expander<'a> = &'a dyn Fn(&[String]) -> Result<Vec<String>, String>;

/// Default `PATH` when no profile sets one.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
/// The device nodes a profile may ask for: harmless character devices only.
pub const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];
const DEFAULT_SCRATCH: &str = "/scratch";
const DEFAULT_SCRATCH_SIZE: u64 = 256 << 20;
const DEFAULT_WALL: Duration = Duration::from_secs(60);
const DEFAULT_KILL_AFTER: Duration = Duration::from_secs(2);

/// Resolve with the real syscall table.
pub fn resolve(
    host: &dyn Host,
    merged: &Merged,
    ov: &Overrides,
    opts: Options,
) -> Result<Policy, Vec<Error>> {
    resolve_with(host, merged, ov, opts, &super::syscalls::expand)
}

/// Resolve with an injected syscall expander (tests use a fake table).
pub fn resolve_with(
    host: &dyn Host,
    merged: &Merged,
    ov: &Overrides,
    opts: Options,
    expander: Expander,
) -> Result<Policy, Vec<Error>> {
    resolve_after(host, merged, ov, opts, expander, Vec::new())
}

/// [`resolve_with`] after loading already found `prior` errors (the structural errors of the
/// profiles): they come back first, with the ones resolution adds, and checks that would only
/// repeat their consequences (no syscall allowed because the misspelt `extends` was dropped)
/// stay quiet, as they do after any other error.
pub fn resolve_after(
    host: &dyn Host,
    merged: &Merged,
    ov: &Overrides,
    opts: Options,
    expander: Expander,
    prior: Vec<Error>,
) -> Result<Policy, Vec<Error>> {
    let mut r = Resolver {
        host,
        src: &merged.sources,
        errors: prior,
        scratch: None,
        binds_failed: false,
    };
    let policy = r.policy(merged, ov, opts, expander);
    if r.errors.is_empty() {
        Ok(policy)
    } else {
        Err(r.errors)
    }
}

struct Resolver<'a> {
    host: &'a dyn Host,
    src: &'a Sources,
    errors: Vec<Error>,
    /// The scratch path once resolved (`${SCRATCH}`).
    scratch: Option<String>,
    /// A bind was refused (already reported), so later checks that depend on binds stay quiet.
    binds_failed: bool,
}

impl Resolver<'_> {
    fn err(&mut self, at: Location, message: impl Into<String>, hint: impl Into<String>) {
        self.errors
            .push(Error::profile(at, message).with_hint(hint.into()));
    }

    fn cli_err(&mut self, flag: &str, message: impl Into<String>, hint: impl Into<String>) {
        self.errors
            .push(Error::new(ErrorKind::Usage, flag, message).with_hint(hint.into()));
    }

    fn var(&self, name: &str, src: usize) -> Result<String, String> {
        match name {
            "CWD" => self
                .host
                .cwd()
                .map(|p| p.display().to_string())
                .map_err(|e| format!("cannot read the current directory: {e}")),
            "HOME" => self
                .host
                .home()
                .map(|p| p.display().to_string())
                .ok_or_else(|| "HOME is not set".into()),
            "UID" => Ok(self.host.uid().to_string()),
            "GID" => Ok(self.host.gid().to_string()),
            "USER" => self
                .host
                .env("USER")
                .ok_or_else(|| "USER is not set".into()),
            "PROFILE_DIR" => self.src.files[src]
                .dir
                .as_ref()
                .map(|d| d.display().to_string())
                .ok_or_else(|| "a built-in profile has no directory".into()),
            "SCRATCH" => self
                .scratch
                .clone()
                .ok_or_else(|| "the scratch path cannot refer to itself".into()),
            other => Err(format!("no variable {other}")),
        }
    }

    /// Expand variables in a string value; the names used come back too.
    fn expand(&mut self, item: &Item<String>) -> Option<(String, Vec<&'static str>)> {
        let lookup = |name: &str| self.var(name, item.src);
        match vars::expand(&item.value, &lookup) {
            Ok(v) => Some(v),
            Err(e) => {
                let at = self.src.at_char(item, e.at);
                self.err(at, e.message, e.hint);
                None
            }
        }
    }

    /// Expand and normalise an absolute path value (`what` names it in errors).
    fn path(&mut self, item: &Item<String>, what: &str) -> Option<(PathBuf, Vec<&'static str>)> {
        let (s, used) = self.expand(item)?;
        match normalize(&s) {
            Ok(p) => Some((p, used)),
            Err(why) => {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!("{what} \"{s}\" {why}"),
                    "write an absolute path like \"/usr/share\" or \"${CWD}/data\"",
                );
                None
            }
        }
    }

    fn size(&mut self, item: &Item<Scalar>, unlimited: bool) -> Option<Option<u64>> {
        let at = self.src.at(item);
        match &item.value {
            Scalar::Int(n) if *n >= 0 => Some(Some(n.unsigned_abs())),
            Scalar::Int(n) => {
                self.err(at, format!("invalid size {n}"), "sizes cannot be negative");
                None
            }
            Scalar::Str(s) if unlimited && s == "unlimited" => Some(None),
            Scalar::Str(s) => match parse_size(s) {
                Ok(n) => Some(Some(n)),
                Err(why) => {
                    self.err(at, format!("invalid size \"{s}\""), why);
                    None
                }
            },
        }
    }

    fn count(&mut self, item: &Item<Scalar>) -> Option<Option<u64>> {
        let at = self.src.at(item);
        match &item.value {
            Scalar::Int(n) if *n >= 1 => Some(Some(n.unsigned_abs())),
            Scalar::Str(s) if s == "unlimited" => Some(None),
            Scalar::Int(n) => {
                self.err(
                    at,
                    format!("invalid count {n}"),
                    "use a number of at least 1, or \"unlimited\"",
                );
                None
            }
            Scalar::Str(s) => {
                self.err(
                    at,
                    format!("invalid count \"{s}\""),
                    "use a number of at least 1, or \"unlimited\"",
                );
                None
            }
        }
    }

    fn duration(&mut self, item: &Item<String>, unlimited: bool) -> Option<Option<Duration>> {
        if unlimited && item.value == "unlimited" {
            return Some(None);
        }
        match parse_duration(&item.value) {
            Ok(d) if d.is_zero() => {
                let at = self.src.at(item);
                self.err(
                    at,
                    "a duration of zero leaves no time to run",
                    "use a positive duration like \"30s\"",
                );
                None
            }
            Ok(d) => Some(Some(d)),
            Err(why) => {
                let at = self.src.at(item);
                self.err(at, format!("invalid duration \"{}\"", item.value), why);
                None
            }
        }
    }

    fn policy(&mut self, m: &Merged, ov: &Overrides, opts: Options, expander: Expander) -> Policy {
        let l = &m.layer;
        self.check_cli_limits(ov);
        let scratch = self.scratch(m, ov);
        self.scratch = Some(scratch.path.display().to_string());
        let before = self.errors.len();
        // A server's state directory is one more read-write bind, positioned at its key.
        let with_state;
        let m = match &l.server.state {
            Some(state) => {
                // Optional (`?`): a state directory not made yet is made by `run` (then the
                // Policy is resolved again), not an error.
                let mut m2 = m.clone();
                let mut item = state.clone();
                if !item.value.ends_with('?') {
                    item.value.push('?');
                }
                m2.layer.filesystem.read_write.push(item);
                with_state = m2;
                &with_state
            }
            None => m,
        };
        let l = &m.layer;
        let binds = self.binds(m, ov, opts, &scratch);
        self.binds_failed = self.errors.len() > before;
        let mut devices = self.devices(m);
        let gpu = self.gpu(m, ov, &mut devices);
        let network = self.network(m, ov);
        let mut syscalls = self.syscalls(m, expander);
        syscalls.observe_all = ov.learning;
        let limits = self.limits(m, ov, &scratch);
        let mut env = self.env(m, ov, &scratch);
        if let Some(egress) = &network.egress {
            // The proxy's variables, and each credential's variable (its placeholder is drawn
            // per call, by the egress stage), over whatever the profile kept or set.
            env.extend(proxy_env());
            for c in &egress.credentials {
                env.insert(c.env.clone(), CREDENTIAL_PLACEHOLDER.to_string());
            }
        }
        let cwd = self.cwd(m, ov, &scratch, &binds);
        let hostname = self.hostname(m);
        let isolation = self.isolation(m, ov, &binds);
        let export = self.export(m, ov, &scratch);
        let output = self.output(m, ov);
        let server = self.server(m, &binds, &output, &mut env);
        let budget = self.budget(&l.budget);
        let command = self.command(&l.command);
        let audit = Audit {
            enabled: l.audit.enabled.as_ref().is_some_and(|i| i.value),
            log: l
                .audit
                .log
                .as_ref()
                .and_then(|i| self.path(i, "audit log").map(|p| p.0)),
        };
        Policy {
            profiles: m.profiles.clone(),
            description: m.description.clone(),
            filesystem: Filesystem {
                binds,
                scratch,
                devices,
                gpu,
                observe_writes: l.filesystem.observe_writes.as_ref().is_none_or(|i| i.value),
            },
            network,
            syscalls,
            landlock: Landlock {
                mode: l
                    .landlock
                    .mode
                    .as_ref()
                    .map_or(Compat::Required, |i| i.value),
                scope_abstract_unix: l
                    .landlock
                    .scope_abstract_unix
                    .as_ref()
                    .is_none_or(|i| i.value),
                scope_signals: l.landlock.scope_signals.as_ref().is_none_or(|i| i.value),
            },
            limits,
            env,
            cwd,
            hostname,
            export,
            output,
            budget,
            audit,
            isolation,
            command,
            server,
        }
    }
}

/// Paths tooljail makes itself inside the jail; a bind may not cover them.
fn reserved(p: &Path) -> bool {
    p.starts_with("/proc") || p.starts_with("/dev")
}

fn missing(p: &Path, e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::NotFound {
        format!("path \"{}\" does not exist", p.display())
    } else {
        format!("path \"{}\": {e}", p.display())
    }
}

/// An absolute path without `.` components or trailing slashes; `..` is refused (a profile
/// should say where it means, and a bind's target must not escape upwards).
pub fn normalize(s: &str) -> Result<PathBuf, String> {
    if !s.starts_with('/') {
        return Err("is not absolute".into());
    }
    let mut out = PathBuf::from("/");
    for c in Path::new(s).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return Err("contains \"..\"".into()),
        }
    }
    Ok(out)
}

/// `p` without `.` and `..` components, taken lexically (an absolute path; `..` at the root
/// stays at the root): where a path names before any symbolic link on it is followed.
pub fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn check_env_key(k: &str) -> Result<(), &'static str> {
    if k.is_empty() {
        Err("empty")
    } else if k.contains('=') || k.contains('\0') {
        Err("contains '=' or NUL")
    } else {
        Ok(())
    }
}
