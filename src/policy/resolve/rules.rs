//! Resolution of the rules around the command: network, syscalls, limits, environment,
//! hostname, export and budget.

use super::*;

impl Resolver<'_> {
    pub(super) fn network(&mut self, m: &Merged, ov: &Overrides) -> Network {
        let n = &m.layer.network;
        let mode = ov
            .net
            .or(n.mode.as_ref().map(|i| i.value))
            .unwrap_or(NetMode::None);
        let mut ports = |items: &Vec<Item<PortEntry>>, what: &str| -> Vec<u16> {
            if ov.net.is_some_and(|m| m != NetMode::Host) {
                return Vec::new(); // --net none/loopback on the command line drops port rules
            }
            let mut out = Vec::new();
            for i in items {
                let at = self.src.at(i);
                // Removals were applied when the profiles were merged (and one with nothing to
                // remove was reported there).
                let PortEntry::Port(port) = i.value else {
                    continue;
                };
                if port == 0 {
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
                    out.push(port);
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        };
        let tcp_connect = ports(&n.tcp_connect, "tcp_connect");
        let tcp_bind = ports(&n.tcp_bind, "tcp_bind");
        let egress = self.egress(m, ov, mode);
        Network {
            mode,
            tcp_connect,
            tcp_bind,
            egress,
        }
    }

    /// Expand each entry on its own, so an unknown name is reported at the entry that wrote it.
    pub(super) fn expand_syscalls(
        &mut self,
        items: &[Item<String>],
        expander: Expander,
    ) -> Vec<String> {
        // All entries in one expansion (a few hundred names, each once); only when one is
        // unknown are they expanded again one by one, to say which.
        let values: Vec<String> = items.iter().map(|item| item.value.clone()).collect();
        let mut out = match expander(&values) {
            Ok(names) => names,
            Err(_) => self.expand_each(items, expander),
        };
        out.sort();
        out.dedup();
        out
    }

    /// [`Self::expand_syscalls`] entry by entry, with an error at each unknown one.
    fn expand_each(&mut self, items: &[Item<String>], expander: Expander) -> Vec<String> {
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
                    self.err(at, format!("unknown {what} \"{name}\""), "docs/seccomp.md (\"Groups\") lists the group names; syscall names are the x86_64 ones, e.g. \"openat\"");
                }
            }
        }
        out
    }

    /// `[syscalls] unsafe_allow`: each entry is one hardening rule's key (`ptrace`,
    /// `tty-injection`, `memfd-exec`, ...; see `syscalls::HARDENING`). Anything else is an error
    /// at its entry: a name that lifts nothing must not look as if it did, and a group would lift
    /// rules nobody named (`@system-service` holds clone3, and lifting clone3 quietly defeats
    /// `clone-namespaces`).
    fn hardening_keys(&mut self, items: &[Item<String>]) -> Vec<String> {
        use crate::policy::syscalls::{hardening, HARDENING};
        let mut out = Vec::new();
        for item in items {
            let v = &item.value;
            if hardening(v).is_ok() {
                out.push(v.clone());
            } else if v.starts_with('@') {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!("unsafe_allow takes rule names, not groups (\"{v}\")"),
                    "name each always-denied rule to lift (docs/seccomp.md lists them)",
                );
            } else {
                let keys: Vec<&str> = HARDENING.iter().map(|h| h.key).collect();
                let hint = match crate::profile::source::suggest(v, &keys) {
                    Some(k) => format!("did you mean \"{k}\"?"),
                    None => {
                        "unsafe_allow takes the key of an always-denied rule (docs/seccomp.md), \
                             e.g. \"ptrace\" or \"tty-injection\""
                            .to_string()
                    }
                };
                let at = self.src.at(item);
                self.err(at, format!("\"{v}\" is not an always-denied rule"), hint);
            }
        }
        out.sort();
        out.dedup();
        out
    }

    pub(super) fn syscalls(&mut self, m: &Merged, expander: Expander) -> Syscalls {
        let s = &m.layer.syscalls;
        let allow = self.expand_syscalls(&s.allow, expander);
        let deny = self.expand_syscalls(&s.deny, expander);
        let allow: Vec<String> = allow.into_iter().filter(|n| !deny.contains(n)).collect();
        let unsafe_allow = self.hardening_keys(&s.unsafe_allow);
        if allow.is_empty() && self.errors.is_empty() {
            let at = m
                .profiles
                .last()
                .map_or(String::new(), |p| p.origin.clone());
            self.err(
                Location::from(at),
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
            observe_all: false,
        }
    }

    pub(super) fn limits(&mut self, m: &Merged, ov: &Overrides, scratch: &Scratch) -> Limits {
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
        let mut limits = Limits {
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
        };
        // `--limit KEY=VALUE`, over the profile and over --timeout/--memory.
        for key in CLI_LIMIT_KEYS {
            match (key, self.cli_limit(ov, key)) {
                ("wall_time", Some(CliLimit::Time(Some(d)))) => limits.wall_time = d,
                ("kill_after", Some(CliLimit::Time(Some(d)))) => limits.kill_after = d,
                ("cpu_time", Some(CliLimit::Time(t))) => limits.cpu_time = t,
                ("memory", Some(CliLimit::Bytes(b))) => limits.memory = b,
                ("file_size", Some(CliLimit::Bytes(b))) => limits.file_size = b,
                ("processes", Some(CliLimit::Count(n))) => limits.processes = n,
                ("open_files", Some(CliLimit::Count(n))) => limits.open_files = n,
                // `scratch` is applied to the scratch itself (and so to file_size's default).
                _ => {}
            }
        }
        limits
    }

    pub(super) fn env(
        &mut self,
        m: &Merged,
        ov: &Overrides,
        scratch: &Scratch,
    ) -> BTreeMap<String, String> {
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

    /// The isolation mode (the flag wins over the profile) and the profile's requirements. A
    /// mode that lacks a required wall, or that cannot place a bind where the profile says, is
    /// refused here, before anything is built: never a silent fallback.
    pub(super) fn isolation(&mut self, m: &Merged, ov: &Overrides, binds: &[Bind]) -> Isolation {
        let l = &m.layer;
        let mode = ov
            .isolation
            .or(l.isolation.as_ref().map(|i| i.value))
            .unwrap_or_default();
        let asked = if ov.isolation.is_some() {
            "--isolation landlock".to_string()
        } else {
            "isolation = \"landlock\"".to_string()
        };
        let lacking = Wall::lacking(mode);
        let mut requires = Vec::new();
        for item in &l.requires {
            if lacking.contains(&item.value) {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!(
                        "profile \"{}\" requires {}, which {asked} does not give ({})",
                        m.profiles.last().map_or("default", |p| p.name.as_str()),
                        item.value.name(),
                        item.value.without()
                    ),
                    "run it in the full jail (drop --isolation landlock) on a host that allows namespaces; `tooljail doctor` says why this one does not",
                );
            }
            requires.push(item.value);
        }
        if mode == IsolationMode::Landlock {
            // Without a mount namespace a path is where it is on the host: a bind cannot put
            // it anywhere else. A target that already leads to the source on the host (/bin
            // to /usr/bin on a merged-/usr system) is the same path.
            let elsewhere = |b: &&Bind| {
                b.source != b.target
                    && self.host.canonicalize(&b.target).ok().as_ref() != Some(&b.source)
            };
            let moved: Vec<&Bind> = binds.iter().filter(elsewhere).collect();
            for b in moved {
                self.cli_err(
                    "--isolation landlock",
                    format!(
                        "{} would appear at {} inside the jail, which needs a mount namespace",
                        b.source.display(),
                        b.target.display()
                    ),
                    "bind it at its own path, or run in the full jail",
                );
            }
        }
        Isolation { mode, requires }
    }

    pub(super) fn hostname(&mut self, m: &Merged) -> String {
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

    pub(super) fn export(&mut self, m: &Merged, ov: &Overrides, scratch: &Scratch) -> Export {
        let x = &m.layer.export;
        let profile_to = x.to.as_ref().and_then(|item| {
            let (p, _) = self.path(item, "export directory")?;
            let at = self.src.at(item);
            self.export_dir(&p)
                .map_err(|(message, hint)| self.err(at, message, hint))
                .ok()
        });
        let cli_to = ov.export_to.as_ref().and_then(|p| {
            let abs = match self.host.cwd() {
                Ok(cwd) if p.is_relative() => cwd.join(p),
                _ => p.clone(),
            };
            self.export_dir(&abs)
                .map_err(|(message, hint)| self.cli_err("--export-to", message, hint))
                .ok()
        });
        let to_set = x.to.is_some() || ov.export_to.is_some();
        let to = cli_to.or(profile_to);
        let mut patterns = Vec::new();
        let globs = |r: &mut Self, items: &[Item<String>], what: &str| -> Vec<String> {
            let mut out = Vec::new();
            for item in items {
                match check_glob(&item.value) {
                    Ok(()) => out.push(item.value.clone()),
                    Err(why) => {
                        let at = r.src.at(item);
                        r.err(
                            at,
                            format!("export {what} \"{}\" {why}", item.value),
                            "write a relative glob like \"out/*.json\" or \"**/*.csv\"",
                        );
                    }
                }
            }
            out
        };
        patterns.extend(globs(self, &x.patterns, "pattern"));
        let forbid = globs(self, &x.forbid, "forbid pattern");
        let allow = globs(self, &x.allow, "allow pattern");
        for p in &ov.export {
            match check_glob(p) {
                Ok(()) => patterns.push(p.clone()),
                Err(why) => self.cli_err(
                    "--export",
                    format!("export pattern \"{p}\" {why}"),
                    "write a relative glob like \"out/*.json\" or \"**/*.csv\"",
                ),
            }
        }
        let from = match &x.from {
            None => String::new(),
            Some(item) => {
                match check_glob(&item.value) {
                    Ok(()) if !item.value.contains(['*', '?', '[', '{']) => {
                        item.value.trim_matches('/').to_string()
                    }
                    _ => {
                        let at = self.src.at(item);
                        self.err(
                        at,
                        format!("export directory \"{}\" is not a plain path relative to the scratch", item.value),
                        "write a relative directory like \"out\"",
                    );
                        String::new()
                    }
                }
            }
        };
        // A profile may name what it exports and leave the destination to the caller
        // (--export-to); an --export pattern with no destination at all is a mistake.
        if !to_set && !ov.export.is_empty() {
            self.cli_err(
                "--export",
                "export patterns without a destination",
                "pass --export-to DIR too, or use a profile that sets [export] to",
            );
        }
        if to_set && patterns.is_empty() && self.errors.is_empty() {
            let at = x.to.as_ref().map_or(
                Location::Named {
                    what: "--export-to".into(),
                },
                |i| self.src.at(i),
            );
            self.err(
                at,
                "an export destination without patterns exports nothing",
                "set [export] patterns = [\"*.csv\", ...] (or pass --export PATTERN)",
            );
        }
        let size = |r: &mut Self, item: &Option<Item<Scalar>>, default: u64| match item {
            Some(i) => r.size(i, false).flatten().unwrap_or(0),
            None if to_set => default,
            None => 0,
        };
        let max_bytes = size(self, &x.max_bytes, scratch.size);
        let max_total_bytes = size(self, &x.max_total_bytes, scratch.size);
        let max_files = match &x.max_files {
            Some(i) => self.count(i).flatten().unwrap_or(u64::MAX),
            None if to_set => DEFAULT_MAX_FILES,
            None => 0,
        };
        Export {
            to,
            patterns,
            max_bytes,
            from,
            forbid,
            allow,
            max_total_bytes,
            max_files,
            overwrite: x.overwrite.as_ref().is_some_and(|i| i.value),
            when: x.when.as_ref().map_or(ExportWhen::Success, |i| i.value),
            strict: x.strict.as_ref().is_some_and(|i| i.value),
        }
    }

    /// An existing host directory to export to, canonical.
    fn export_dir(&self, p: &Path) -> std::result::Result<PathBuf, (String, String)> {
        match self
            .host
            .canonicalize(p)
            .and_then(|s| Ok((self.host.kind(&s)?, s)))
        {
            Ok((FileKind::Dir, s)) => Ok(s),
            Ok((FileKind::File, _)) => Err((
                format!("export directory \"{}\" is a file", p.display()),
                "name a directory".into(),
            )),
            Err(e) => Err((missing(p, &e), "create the directory first".into())),
        }
    }

    /// `[output]` and `--stdout-max`/`--stderr-max`: a size caps that stream (0 is refused: it
    /// would hide everything; leave the key out for no cap).
    pub(super) fn output(&mut self, m: &Merged, ov: &Overrides) -> Output {
        let o = &m.layer.output;
        let mode = o.mode.as_ref().map_or(OutputMode::Head, |i| i.value);
        let cap = |r: &mut Self, item: &Option<Item<Scalar>>, flag: &str, cli: &Option<String>| {
            let mut max = item.as_ref().and_then(|i| {
                let n = r.size(i, false).flatten()?;
                if let Err(why) = check_cap(n, mode) {
                    let at = r.src.at(i);
                    r.err(at, why.0, why.1);
                    return None;
                }
                Some(n)
            });
            if let Some(s) = cli {
                match parse_size(s).map_err(|why| (format!("invalid size \"{s}\""), why)) {
                    Ok(n) => match check_cap(n, mode) {
                        Ok(()) => max = Some(n),
                        Err((m, h)) => r.cli_err(flag, m, h),
                    },
                    Err((m, h)) => r.cli_err(flag, m, h),
                }
            }
            max.map(|max| OutputCap { max, mode })
        };
        Output {
            stdout: cap(self, &o.stdout_max, "--stdout-max", &ov.stdout_max),
            stderr: cap(self, &o.stderr_max, "--stderr-max", &ov.stderr_max),
        }
    }

    /// `[server]`: the state directory (already bound read-write by `binds`) must be the only
    /// writable host path, and no output cap may stand between the server and its client.
    pub(super) fn server(
        &mut self,
        m: &Merged,
        binds: &[crate::policy::Bind],
        output: &Output,
        env: &mut BTreeMap<String, String>,
    ) -> Option<crate::policy::Server> {
        let item = m.layer.server.state.as_ref()?;
        let at = self.src.at(item);
        let (state, _) = self.path(item, "state directory")?;
        let missing = !binds.iter().any(|b| b.target == state);
        for b in binds {
            if b.access == crate::policy::Access::ReadWrite && b.target != state {
                self.err(
                    at.clone(),
                    format!(
                        "a server profile's only writable host path is its state directory, \
                         but {} is writable too ({})",
                        b.source.display(),
                        b.origin
                    ),
                    "bind it read-only, or keep what the server writes below [server] state",
                );
            }
        }
        if output.stdout.is_some() || output.stderr.is_some() {
            self.err(
                at.clone(),
                "a server's stdio is its protocol and passes straight through: it takes no \
                 output cap",
                "remove [output] stdout_max/stderr_max and --stdout-max/--stderr-max",
            );
        }
        env.insert("STATE_DIRECTORY".into(), state.display().to_string());
        Some(crate::policy::Server { state, missing })
    }

    /// `[budget]`: the call rules, each value checked where it is written.
    pub(super) fn budget(&mut self, b: &crate::profile::schema::BudgetLayer) -> Budget {
        let duration = |r: &mut Self, item: &Option<Item<String>>| {
            item.as_ref().and_then(|i| r.duration(i, true)).flatten()
        };
        let rate = b
            .rate
            .iter()
            .flatten()
            .filter_map(|t| {
                let per = t
                    .per
                    .iter()
                    .filter_map(|l| match Label::ALL.iter().find(|x| x.name() == l.value) {
                        Some(x) => Some(*x),
                        None => {
                            let at = self.src.at(l);
                            self.err(
                                at,
                                format!("unknown label \"{}\"", l.value),
                                "use \"user\", \"agent\", \"session\" or \"tool\"",
                            );
                            None
                        }
                    })
                    .collect();
                let limit = self.budget_count(Some(&t.limit));
                let window = self.duration(&t.window, false).flatten();
                Some(RateRule {
                    per,
                    limit: limit?,
                    window: window?,
                })
            })
            .collect();
        let state = b.state.as_ref().and_then(|i| {
            let v = &i.value;
            if v.starts_with("sqlite:")
                || v.starts_with("postgres://")
                || v.starts_with("postgresql://")
            {
                Some(v.clone())
            } else {
                let at = self.src.at(i);
                self.err(
                    at,
                    format!("invalid state store \"{v}\""),
                    "use \"sqlite:/path/state.db\" or \"postgres://user@host/db\"",
                );
                None
            }
        });
        Budget {
            calls_per_minute: self.budget_count(b.calls_per_minute.as_ref()),
            rate,
            max_identical_calls: self.budget_count(b.max_identical_calls.as_ref()),
            identical_window: duration(self, &b.identical_window)
                .unwrap_or(Budget::IDENTICAL_WINDOW),
            session_calls: self.budget_count(b.session_calls.as_ref()),
            session_cpu: duration(self, &b.session_cpu),
            session_wall: duration(self, &b.session_wall),
            state,
        }
    }

    pub(super) fn budget_count(&mut self, item: Option<&Item<Scalar>>) -> Option<u32> {
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
            "{usage} (errno names: {})",
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

/// The keys `--limit KEY=VALUE` takes.
pub(super) const CLI_LIMIT_KEYS: [&str; 8] = [
    "wall_time",
    "kill_after",
    "cpu_time",
    "memory",
    "file_size",
    "processes",
    "open_files",
    "scratch",
];

/// A `--limit` value, parsed. `None` inside: `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CliLimit {
    Time(Option<Duration>),
    Bytes(Option<u64>),
    Count(Option<u64>),
}

/// Parse `--limit KEY=VALUE`: the key and its value, or (what is wrong, what to do).
pub(super) fn parse_cli_limit(arg: &str) -> Result<(&str, CliLimit), (String, String)> {
    let Some((key, value)) = arg.split_once('=') else {
        return Err((
            format!("\"{arg}\" is not KEY=VALUE"),
            "write it as KEY=VALUE, e.g. --limit processes=64".into(),
        ));
    };
    let (key, value) = (key.trim(), value.trim());
    let unlimited = value == "unlimited";
    let lifts = matches!(
        key,
        "cpu_time" | "memory" | "file_size" | "processes" | "open_files"
    );
    if unlimited && lifts {
        return Ok((
            key,
            match key {
                "cpu_time" => CliLimit::Time(None),
                "processes" | "open_files" => CliLimit::Count(None),
                _ => CliLimit::Bytes(None),
            },
        ));
    }
    let positive = |what: &str| {
        (
            format!("{key} = {value}: {what} of zero leaves no room to run"),
            "give a positive value".to_string(),
        )
    };
    match key {
        "wall_time" | "kill_after" | "cpu_time" => match parse_duration(value) {
            Ok(d) if d.is_zero() => Err(positive("a duration")),
            Ok(d) => Ok((key, CliLimit::Time(Some(d)))),
            Err(why) => Err((
                format!("{key}: invalid duration \"{value}\""),
                why.to_string(),
            )),
        },
        "memory" | "file_size" | "scratch" => match parse_size(value) {
            Ok(0) => Err(positive("a size")),
            Ok(n) => Ok((key, CliLimit::Bytes(Some(n)))),
            Err(why) => Err((format!("{key}: invalid size \"{value}\""), why.to_string())),
        },
        "processes" | "open_files" => match value.parse::<u64>() {
            Ok(0) => Err(positive("a count")),
            Ok(n) => Ok((key, CliLimit::Count(Some(n)))),
            Err(_) => Err((
                format!("{key}: invalid count \"{value}\""),
                "use a number of at least 1, or \"unlimited\"".into(),
            )),
        },
        _ => {
            let hint = match crate::profile::source::suggest(key, &CLI_LIMIT_KEYS) {
                Some(s) => format!(
                    "did you mean \"{s}\"? The keys are {}",
                    CLI_LIMIT_KEYS.join(", ")
                ),
                None => format!("the keys are {}", CLI_LIMIT_KEYS.join(", ")),
            };
            Err((format!("unknown limit \"{key}\""), hint))
        }
    }
}

impl Resolver<'_> {
    /// Report every malformed `--limit` once (each one, in one run).
    pub(super) fn check_cli_limits(&mut self, ov: &Overrides) {
        for arg in &ov.limits {
            if let Err((what, hint)) = parse_cli_limit(arg) {
                self.cli_err("--limit", what, hint);
            }
        }
    }

    /// The last well-formed `--limit` for `key` (malformed ones were reported already).
    pub(super) fn cli_limit(&self, ov: &Overrides, key: &str) -> Option<CliLimit> {
        ov.limits
            .iter()
            .rev()
            .filter_map(|arg| parse_cli_limit(arg).ok())
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// Most files exported when a profile sets no `max_files`.
pub const DEFAULT_MAX_FILES: u64 = 1000;

/// Largest cap in `head+tail` mode: the tail is held in memory until the stream ends.
pub const MAX_TAIL_CAP: u64 = 16 << 20;

/// A cap of 0 would hide everything; a head+tail cap keeps half of it in tooljail's memory.
fn check_cap(n: u64, mode: OutputMode) -> std::result::Result<(), (String, String)> {
    if n == 0 {
        return Err((
            "an output cap of 0 hides the whole stream".into(),
            "give a size like \"64K\", or leave the cap out".into(),
        ));
    }
    if mode == OutputMode::HeadTail && n > MAX_TAIL_CAP {
        return Err((
            format!("a head+tail cap of {n} bytes is above 16M (the tail is kept in memory)"),
            "use mode = \"head\" for a larger cap, or a cap of at most 16M".into(),
        ));
    }
    Ok(())
}

/// A glob relative to the export directory that globset accepts.
fn check_glob(p: &str) -> std::result::Result<(), String> {
    if p.is_empty() {
        return Err("is empty".into());
    }
    if p.starts_with('/') || Path::new(p).components().any(|c| c == Component::ParentDir) {
        return Err("is not relative to the scratch directory".into());
    }
    globset::Glob::new(p)
        .map(|_| ())
        .map_err(|e| format!("is not a valid glob ({})", e.kind()))
}
