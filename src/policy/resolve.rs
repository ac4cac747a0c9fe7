//! Profile -> Policy. Resolution reads the host only through [`Host`], so unit tests fake it.
//!
//! Input: the merged profile layer ([`crate::profile::merge::Merged`]) and the command-line
//! [`Overrides`]. Output: a [`Policy`] or every error found, each positioned at the value that
//! caused it. Defaults for keys no profile sets are written here once (and in
//! docs/profile-format.md): they are strict, so an incomplete profile never means a weaker jail.

use super::size::{parse_duration, parse_size};
use super::*;
use crate::error::{Error, ErrorKind};
use crate::profile::merge::Merged;
use crate::profile::schema::{Item, Scalar};
use crate::profile::source::{suggest, Sources};
use crate::profile::vars;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The host as resolution sees it: the caller's environment, identity and file system.
pub trait Host {
    fn env(&self, key: &str) -> Option<String>;
    fn cwd(&self) -> io::Result<PathBuf>;
    fn uid(&self) -> u32;
    fn gid(&self) -> u32;
    fn home(&self) -> Option<PathBuf>;
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// File or directory (following symlinks).
    fn kind(&self, path: &Path) -> io::Result<FileKind>;
    /// Read a profile file.
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
}

/// The real host.
pub struct RealHost;

impl Host for RealHost {
    fn env(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
    fn cwd(&self) -> io::Result<PathBuf> {
        std::env::current_dir()
    }
    fn uid(&self) -> u32 {
        nix::unistd::getuid().as_raw()
    }
    fn gid(&self) -> u32 {
        nix::unistd::getgid().as_raw()
    }
    fn home(&self) -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
    fn kind(&self, path: &Path) -> io::Result<FileKind> {
        let md = std::fs::metadata(path)?;
        Ok(if md.is_dir() {
            FileKind::Dir
        } else {
            FileKind::File
        })
    }
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Command-line overrides, applied on top of the merged profiles.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub ro: Vec<PathBuf>,
    pub rw: Vec<PathBuf>,
    pub net: Option<NetMode>,
    pub timeout: Option<String>,
    pub memory: Option<String>,
    /// `KEY=VALUE`.
    pub env: Vec<String>,
    pub keep_env: Vec<String>,
    pub cwd: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `tooljail check`: validate the profile, but skip the refusal to expose a `${CWD}` that
    /// is `/` or the home directory (a property of where the command runs, not of the file).
    pub check_only: bool,
}

/// Expands syscall groups and names; `Err(name)` = the first unknown one.
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
    let mut r = Resolver {
        host,
        src: &merged.sources,
        errors: Vec::new(),
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

/// One bind the profile asks for, before it is looked up on the host.
struct Want<'m> {
    target: PathBuf,
    access: Access,
    exec: bool,
    optional: bool,
    item: &'m Item<String>,
    uses_cwd: bool,
}

impl Resolver<'_> {
    fn err(&mut self, at: String, message: impl Into<String>, hint: impl Into<String>) {
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
            Scalar::Int(n) if *n >= 0 => Some(Some(*n as u64)),
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
            Scalar::Int(n) if *n >= 1 => Some(Some(*n as u64)),
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
        let scratch = self.scratch(m);
        self.scratch = Some(scratch.path.display().to_string());
        let before = self.errors.len();
        let binds = self.binds(m, ov, opts, &scratch);
        self.binds_failed = self.errors.len() > before;
        let devices = self.devices(m);
        let network = self.network(m, ov);
        let syscalls = self.syscalls(m, expander);
        let limits = self.limits(m, ov, &scratch);
        let env = self.env(m, ov, &scratch);
        let cwd = self.cwd(m, ov, &scratch, &binds);
        let hostname = self.hostname(m);
        let export = self.export(m, &scratch);
        let budget = Budget {
            calls_per_minute: self.budget_count(l.budget.calls_per_minute.as_ref()),
            max_identical_calls: self.budget_count(l.budget.max_identical_calls.as_ref()),
        };
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
                    .map_or(true, |i| i.value),
                scope_signals: l.landlock.scope_signals.as_ref().map_or(true, |i| i.value),
            },
            limits,
            env,
            cwd,
            hostname,
            export,
            budget,
            audit,
        }
    }

    fn scratch(&mut self, m: &Merged) -> Scratch {
        let s = &m.layer.filesystem.scratch;
        let path = match &s.path {
            Some(item) => match self.path(item, "scratch path") {
                Some((p, _)) if p == Path::new("/") || reserved(&p) => {
                    let at = self.src.at(item);
                    self.err(
                        at,
                        format!("scratch path \"{}\" is reserved", p.display()),
                        "use a fresh directory such as \"/scratch\"",
                    );
                    DEFAULT_SCRATCH.into()
                }
                Some((p, _)) => p,
                None => DEFAULT_SCRATCH.into(),
            },
            None => DEFAULT_SCRATCH.into(),
        };
        let size = match &s.size {
            Some(item) => match self.size(item, false) {
                Some(Some(0)) => {
                    let at = self.src.at(item);
                    self.err(
                        at,
                        "scratch size 0 leaves no room for the working directory",
                        "use a size like \"256M\"",
                    );
                    DEFAULT_SCRATCH_SIZE
                }
                Some(Some(n)) => n,
                _ => DEFAULT_SCRATCH_SIZE,
            },
            None => DEFAULT_SCRATCH_SIZE,
        };
        Scratch {
            path,
            size,
            exec: s.exec.as_ref().is_some_and(|i| i.value),
            tmp: s.tmp.as_ref().map_or(true, |i| i.value),
            shm: s.shm.as_ref().map_or(true, |i| i.value),
        }
    }

    fn binds(&mut self, m: &Merged, ov: &Overrides, opts: Options, scratch: &Scratch) -> Vec<Bind> {
        let fs = &m.layer.filesystem;
        let mut wants: Vec<Want> = Vec::new();
        let lists = [
            (&fs.read_only, Access::ReadOnly, false),
            (&fs.read_write, Access::ReadWrite, false),
            (&fs.executable, Access::ReadOnly, true),
        ];
        for (items, access, exec) in lists {
            for item in items {
                let (raw, optional) = match item.value.strip_suffix('?') {
                    Some(r) => (r, true),
                    None => (item.value.as_str(), false),
                };
                let stripped = Item {
                    value: raw.to_string(),
                    src: item.src,
                    span: item.span.clone(),
                };
                let Some((target, used)) = self.path(&stripped, "path") else {
                    continue;
                };
                let uses_cwd = used.contains(&"CWD");
                match wants.iter_mut().find(|w| w.target == target) {
                    Some(w) => {
                        if access == Access::ReadWrite {
                            w.access = Access::ReadWrite;
                        }
                        w.exec |= exec;
                        w.optional &= optional;
                        w.uses_cwd |= uses_cwd;
                    }
                    None => wants.push(Want {
                        target,
                        access,
                        exec,
                        optional,
                        item,
                        uses_cwd,
                    }),
                }
            }
        }
        let home = self
            .host
            .home()
            .and_then(|h| self.host.canonicalize(&h).ok());
        let cli_targets: Vec<PathBuf> = ov
            .ro
            .iter()
            .chain(&ov.rw)
            .filter_map(|p| self.cli_abs(p))
            .collect();
        let mut binds = Vec::new();
        for w in wants {
            let at = self.src.at(w.item);
            let source = match self.host.canonicalize(&w.target) {
                Ok(s) => s,
                Err(_) if w.optional => continue,
                Err(e) => {
                    self.err(at, missing(&w.target, &e), "create it, remove it from the profile, or mark it optional with a trailing \"?\"");
                    continue;
                }
            };
            if w.uses_cwd && !opts.check_only && !cli_targets.contains(&w.target) {
                let exposes = if source == Path::new("/") {
                    Some("the whole file system")
                } else if home.as_ref().is_some_and(|h| h.starts_with(&source)) {
                    Some("your home directory")
                } else {
                    None
                };
                if let Some(what) = exposes {
                    self.err(at, format!("${{CWD}} is {}, which would expose {what}", source.display()), "cd into the project directory and run again, or name the path explicitly with --ro/--rw");
                    continue;
                }
            }
            let kind = match self.host.kind(&source) {
                Ok(k) => k,
                Err(e) => {
                    self.err(at, missing(&w.target, &e), "check the path");
                    continue;
                }
            };
            binds.push(Bind {
                source,
                target: w.target,
                access: w.access,
                exec: w.exec,
                kind,
                origin: at,
            });
        }
        for (paths, access, flag) in [
            (&ov.ro, Access::ReadOnly, "--ro"),
            (&ov.rw, Access::ReadWrite, "--rw"),
        ] {
            for p in paths {
                let Some(target) = self.cli_abs(p) else {
                    self.cli_err(
                        flag,
                        format!(
                            "path \"{}\" contains \"..\" or cannot be made absolute",
                            p.display()
                        ),
                        "give the path without \"..\"",
                    );
                    continue;
                };
                let found = self
                    .host
                    .canonicalize(&target)
                    .and_then(|s| Ok((self.host.kind(&s)?, s)));
                let (kind, source) = match found {
                    Ok(v) => v,
                    Err(e) => {
                        self.cli_err(
                            flag,
                            missing(&target, &e),
                            format!("create it or fix the {flag} argument"),
                        );
                        continue;
                    }
                };
                binds.retain(|b| b.target != target);
                binds.push(Bind {
                    source,
                    target,
                    access,
                    exec: true,
                    kind,
                    origin: flag.into(),
                });
            }
        }
        binds.sort_by(|a, b| a.target.cmp(&b.target));
        for b in &binds {
            if reserved(&b.target) || b.target.starts_with(&scratch.path) {
                let e = Error::profile(
                    b.origin.clone(),
                    format!(
                        "cannot bind over \"{}\": tooljail builds it itself",
                        b.target.display()
                    ),
                )
                .with_hint(
                    "remove this path; /proc, /dev and the scratch directory are made by the jail",
                );
                self.errors.push(e);
            }
        }
        binds
    }

    /// A command-line path made absolute against the current directory, normalised.
    fn cli_abs(&self, p: &Path) -> Option<PathBuf> {
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.host.cwd().ok()?.join(p)
        };
        normalize(&abs.to_string_lossy()).ok()
    }

    fn devices(&mut self, m: &Merged) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for item in &m.layer.filesystem.devices {
            if DEVICES.contains(&item.value.as_str()) {
                if !out.iter().any(|d| d == Path::new(&item.value)) {
                    out.push(item.value.clone().into());
                }
            } else {
                let short: Vec<&str> = DEVICES
                    .iter()
                    .map(|d| d.trim_start_matches("/dev/"))
                    .collect();
                let hint = match suggest(item.value.trim_start_matches("/dev/"), &short) {
                    Some(s) => format!("did you mean \"/dev/{s}\"?"),
                    None => format!("allowed devices: {}", DEVICES.join(", ")),
                };
                let at = self.src.at(item);
                self.err(
                    at,
                    format!("device \"{}\" is not allowed", item.value),
                    hint,
                );
            }
        }
        out
    }

    fn network(&mut self, m: &Merged, ov: &Overrides) -> Network {
        let n = &m.layer.network;
        let mode = ov
            .net
            .or(n.mode.as_ref().map(|i| i.value))
            .unwrap_or(NetMode::None);
        let mut ports = |items: &Vec<Item<u16>>, what: &str| -> Vec<u16> {
            if ov.net.is_some_and(|m| m != NetMode::Host) {
                return Vec::new(); // --net none/loopback on the command line drops port rules
            }
            let mut out = Vec::new();
            for i in items {
                let at = self.src.at(i);
                if i.value == 0 {
                    self.err(
                        at,
                        format!("port 0 in {what}"),
                        "use a port between 1 and 65535",
                    );
                } else if mode != NetMode::Host {
                    self.err(
                        at,
                        format!("{what} has no effect unless mode = \"host\""),
                        "set [network] mode = \"host\", or remove the ports",
                    );
                    break;
                } else {
                    out.push(i.value);
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        };
        let tcp_connect = ports(&n.tcp_connect, "tcp_connect");
        let tcp_bind = ports(&n.tcp_bind, "tcp_bind");
        Network {
            mode,
            tcp_connect,
            tcp_bind,
        }
    }

    /// Expand each entry on its own, so an unknown name is reported at the entry that wrote it.
    fn expand_syscalls(&mut self, items: &[Item<String>], expander: Expander) -> Vec<String> {
        let mut out = Vec::new();
        for item in items {
            match expander(std::slice::from_ref(&item.value)) {
                Ok(names) => out.extend(names),
                Err(name) => {
                    let at = self.src.at(item);
                    let what = if name.starts_with('@') {
                        "syscall group"
                    } else {
                        "syscall"
                    };
                    self.err(at, format!("unknown {what} \"{name}\""), "see docs/profile-format.md for the group names; syscall names are the x86_64 ones, e.g. \"openat\"");
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn syscalls(&mut self, m: &Merged, expander: Expander) -> Syscalls {
        let s = &m.layer.syscalls;
        let allow = self.expand_syscalls(&s.allow, expander);
        let deny = self.expand_syscalls(&s.deny, expander);
        let allow: Vec<String> = allow.into_iter().filter(|n| !deny.contains(n)).collect();
        let unsafe_allow = self.expand_syscalls(&s.unsafe_allow, expander);
        if allow.is_empty() && self.errors.is_empty() {
            let at = m
                .profiles
                .last()
                .map_or(String::new(), |p| p.origin.clone());
            self.err(
                at,
                "no syscall is allowed, so no command could start",
                "add allow = [\"@system-service\"] to [syscalls], or extend \"base\"",
            );
        }
        let action = match &s.action {
            Some(item) => match parse_action(&item.value) {
                Ok(a) => a,
                Err(why) => {
                    let at = self.src.at(item);
                    self.err(at, format!("invalid action \"{}\"", item.value), why);
                    SeccompAction::Errno(libc::EPERM)
                }
            },
            None => SeccompAction::Errno(libc::EPERM),
        };
        Syscalls {
            allow,
            action,
            unsafe_allow,
        }
    }

    fn limits(&mut self, m: &Merged, ov: &Overrides, scratch: &Scratch) -> Limits {
        let l = &m.layer.limits;
        let mut wall_time = l
            .wall_time
            .as_ref()
            .and_then(|i| self.duration(i, false))
            .flatten()
            .unwrap_or(DEFAULT_WALL);
        if let Some(t) = &ov.timeout {
            match parse_duration(t) {
                Ok(d) if !d.is_zero() => wall_time = d,
                Ok(_) => self.cli_err(
                    "--timeout",
                    "a timeout of zero leaves no time to run",
                    "use a positive duration like \"30s\"",
                ),
                Err(why) => self.cli_err("--timeout", format!("invalid duration \"{t}\""), why),
            }
        }
        let mut memory = l.memory.as_ref().and_then(|i| self.size(i, true)).flatten();
        if let Some(s) = &ov.memory {
            match parse_size(s) {
                Ok(n) if n > 0 => memory = Some(n),
                Ok(_) => self.cli_err(
                    "--memory",
                    "a memory limit of 0 leaves no room to run",
                    "use a size like \"512M\"",
                ),
                Err(why) => self.cli_err("--memory", format!("invalid size \"{s}\""), why),
            }
        }
        Limits {
            wall_time,
            kill_after: l
                .kill_after
                .as_ref()
                .and_then(|i| self.duration(i, false))
                .flatten()
                .unwrap_or(DEFAULT_KILL_AFTER),
            cpu_time: l
                .cpu_time
                .as_ref()
                .and_then(|i| self.duration(i, true))
                .flatten(),
            memory,
            processes: l.processes.as_ref().and_then(|i| self.count(i)).flatten(),
            open_files: l.open_files.as_ref().and_then(|i| self.count(i)).flatten(),
            file_size: match &l.file_size {
                Some(i) => self.size(i, true).flatten(),
                None => Some(scratch.size),
            },
            require_cgroup: l.require_cgroup.as_ref().is_some_and(|i| i.value),
        }
    }

    fn env(&mut self, m: &Merged, ov: &Overrides, scratch: &Scratch) -> BTreeMap<String, String> {
        let e = &m.layer.env;
        let mut env = BTreeMap::new();
        for (k, item) in &e.set {
            if let Err(why) = check_env_key(k) {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!("invalid variable name \"{k}\" in [env] set: {why}"),
                    "use a name like \"LANG\"",
                );
            } else if let Some((v, _)) = self.expand(item) {
                env.insert(k.clone(), v);
            }
        }
        for item in &e.keep {
            if let Err(why) = check_env_key(&item.value) {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!(
                        "invalid variable name \"{}\" in [env] keep: {why}",
                        item.value
                    ),
                    "use a name like \"TERM\"",
                );
            } else if let Some(v) = self.host.env(&item.value) {
                env.insert(item.value.clone(), v);
            }
        }
        for k in &ov.keep_env {
            if let Err(why) = check_env_key(k) {
                self.cli_err(
                    "--keep-env",
                    format!("invalid variable name \"{k}\": {why}"),
                    "use a name like \"TERM\"",
                );
            } else if let Some(v) = self.host.env(k) {
                env.insert(k.clone(), v);
            }
        }
        for kv in &ov.env {
            match kv.split_once('=') {
                Some((k, v)) if check_env_key(k).is_ok() => {
                    env.insert(k.into(), v.into());
                }
                _ => self.cli_err(
                    "--env",
                    format!("\"{kv}\" is not KEY=VALUE"),
                    "write it as --env KEY=VALUE",
                ),
            }
        }
        env.entry("HOME".into())
            .or_insert_with(|| scratch.path.display().to_string());
        env.entry("PATH".into())
            .or_insert_with(|| DEFAULT_PATH.into());
        env
    }

    fn cwd(&mut self, m: &Merged, ov: &Overrides, scratch: &Scratch, binds: &[Bind]) -> PathBuf {
        let (cwd, at) = if let Some(p) = &ov.cwd {
            match normalize(&p.to_string_lossy()) {
                Ok(c) => (c, "--cwd".to_string()),
                Err(why) => {
                    self.cli_err(
                        "--cwd",
                        format!("\"{}\" {why}", p.display()),
                        "give an absolute directory inside the jail",
                    );
                    return scratch.path.clone();
                }
            }
        } else if let Some(item) = &m.layer.cwd {
            match self.path(item, "cwd") {
                Some((c, _)) => (c, self.src.at(item)),
                None => return scratch.path.clone(),
            }
        } else {
            return scratch.path.clone();
        };
        let inside = cwd.starts_with(&scratch.path)
            || (scratch.tmp && cwd.starts_with("/tmp"))
            || binds
                .iter()
                .any(|b| b.kind == FileKind::Dir && cwd.starts_with(&b.target));
        // Skip when a bind was already refused: the cwd would be "missing" only because of it.
        if !inside && !self.binds_failed {
            let e = Error::new(
                if at == "--cwd" {
                    ErrorKind::Usage
                } else {
                    ErrorKind::Profile
                },
                at,
                format!(
                    "working directory \"{}\" does not exist inside the jail",
                    cwd.display()
                ),
            )
            .with_hint("use a directory under the scratch path or under a bound directory");
            self.errors.push(e);
        }
        cwd
    }

    fn hostname(&mut self, m: &Merged) -> String {
        let Some(item) = &m.layer.hostname else {
            return "tooljail".into();
        };
        let h = &item.value;
        let ok = !h.is_empty()
            && h.len() <= 64
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            let at = self.src.at(item);
            self.err(
                at,
                format!("invalid hostname \"{h}\""),
                "use 1 to 64 letters, digits, '-' or '.'",
            );
        }
        h.clone()
    }

    fn export(&mut self, m: &Merged, scratch: &Scratch) -> Export {
        let x = &m.layer.export;
        let to = x.to.as_ref().and_then(|item| {
            let (p, _) = self.path(item, "export directory")?;
            let at = self.src.at(item);
            match self
                .host
                .canonicalize(&p)
                .and_then(|s| Ok((self.host.kind(&s)?, s)))
            {
                Ok((FileKind::Dir, s)) => Some(s),
                Ok((FileKind::File, _)) => {
                    self.err(
                        at,
                        format!("export directory \"{}\" is a file", p.display()),
                        "name a directory",
                    );
                    None
                }
                Err(e) => {
                    self.err(at, missing(&p, &e), "create the directory first");
                    None
                }
            }
        });
        let mut patterns = Vec::new();
        for item in &x.patterns {
            let p = &item.value;
            let bad = p.is_empty()
                || p.starts_with('/')
                || Path::new(p).components().any(|c| c == Component::ParentDir);
            if bad {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!("export pattern \"{p}\" is not relative to the scratch directory"),
                    "write a relative glob like \"out/*.json\"",
                );
            } else {
                patterns.push(p.clone());
            }
        }
        if x.to.is_none() {
            if let Some(item) = x.patterns.first() {
                let at = self.src.at(item);
                self.err(
                    at,
                    "export patterns without a destination",
                    "set [export] to = \"/some/dir\", or remove the patterns",
                );
            }
        }
        let max_bytes = match &x.max_bytes {
            Some(i) => self.size(i, false).flatten().unwrap_or(0),
            None if x.to.is_some() => scratch.size,
            None => 0,
        };
        Export {
            to,
            patterns,
            max_bytes,
        }
    }

    fn budget_count(&mut self, item: Option<&Item<Scalar>>) -> Option<u32> {
        let n = self.count(item?).flatten()?;
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                let at = self.src.at(item?);
                self.err(
                    at,
                    format!("{n} is too large"),
                    "use a number below 4294967296, or \"unlimited\"",
                );
                None
            }
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

fn check_env_key(k: &str) -> Result<(), &'static str> {
    if k.is_empty() {
        Err("empty")
    } else if k.contains('=') || k.contains('\0') {
        Err("contains '=' or NUL")
    } else {
        Ok(())
    }
}

/// The errno names a profile may use in `action = "errno:NAME"`.
const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EIO", libc::EIO),
    ("EAGAIN", libc::EAGAIN),
    ("EACCES", libc::EACCES),
    ("EINVAL", libc::EINVAL),
    ("ENOSYS", libc::ENOSYS),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
];

/// `"errno:EPERM"`, `"errno:38"`, `"kill"` or `"log"`.
pub fn parse_action(s: &str) -> Result<SeccompAction, String> {
    match s {
        "kill" => return Ok(SeccompAction::Kill),
        "log" => return Ok(SeccompAction::Log),
        _ => {}
    }
    let usage = "use \"errno:EPERM\", \"errno:N\" (1-4095), \"kill\" or \"log\"";
    let Some(e) = s.strip_prefix("errno:") else {
        return Err(usage.into());
    };
    if let Some((_, n)) = ERRNOS.iter().find(|(name, _)| *name == e) {
        return Ok(SeccompAction::Errno(*n));
    }
    match e.parse::<i32>() {
        Ok(n) if (1..=4095).contains(&n) => Ok(SeccompAction::Errno(n)),
        _ => Err(format!(
            "{usage}; known errno names: {}",
            ERRNOS.iter().map(|e| e.0).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The name of an errno for display ("EPERM"), or its number.
pub fn errno_name(n: i32) -> String {
    ERRNOS
        .iter()
        .find(|(_, v)| *v == n)
        .map_or_else(|| n.to_string(), |(name, _)| name.to_string())
}
