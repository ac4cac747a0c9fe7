//! Resolution of what exists inside the jail: the scratch tmpfs, binds, devices, the working
//! directory.

use super::*;

/// The flags that bind a path from the command line; a bind's `origin` is its flag.
const CLI_FLAGS: [&str; 3] = ["--ro", "--rw", "--exec"];

/// Whether a bind was made by a command-line flag (`--rw`, or `--rw + --exec` when `--exec`
/// made it executable too), not by a profile (whose origin is `file:line:col`).
fn from_cli(b: &Bind) -> bool {
    let first = b.origin.split(" + ").next().unwrap_or_default();
    CLI_FLAGS.contains(&first)
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
    pub(super) fn scratch(&mut self, m: &Merged, ov: &Overrides) -> Scratch {
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
        let size = match self.cli_limit(ov, "scratch") {
            Some(CliLimit::Bytes(Some(n))) => n,
            _ => size,
        };
        Scratch {
            path,
            size,
            exec: s.exec.as_ref().is_some_and(|i| i.value),
            tmp: s.tmp.as_ref().is_none_or(|i| i.value),
            shm: s.shm.as_ref().is_none_or(|i| i.value),
        }
    }

    pub(super) fn binds(
        &mut self,
        m: &Merged,
        ov: &Overrides,
        opts: Options,
        scratch: &Scratch,
    ) -> Vec<Bind> {
        let wants = self.wants(&m.layer.filesystem);
        let mut binds = self.profile_binds(wants, ov, opts);
        self.cli_binds(ov, &mut binds);
        self.git_binds(&m.layer.filesystem.git, &mut binds);
        binds.sort_by(|a, b| a.target.cmp(&b.target));
        self.check_targets(&binds, scratch);
        binds
    }

    /// The profile's `read_only`, `read_write` and `executable` entries, one per target: an
    /// entry for a target already listed widens it (writable, executable, not optional).
    fn wants<'m>(&mut self, fs: &'m crate::profile::schema::FilesystemLayer) -> Vec<Want<'m>> {
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
                        if access == Access::ReadWrite && w.access != Access::ReadWrite {
                            // The entry that made it writable is the one `explain` names.
                            w.access = Access::ReadWrite;
                            w.item = item;
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
        wants
    }

    /// Each wanted target looked up on the host: its source (links resolved) and kind. A
    /// missing optional target is skipped; a `${CWD}` that is `/` or holds the caller's home is
    /// refused, unless the command line binds it.
    fn profile_binds(&mut self, wants: Vec<Want>, ov: &Overrides, opts: Options) -> Vec<Bind> {
        // Both the home the user database names and $HOME: the environment is the caller's to
        // set, so it may add a home to protect but never take the real one away.
        let homes: Vec<PathBuf> = [self.host.account_home(), self.host.home()]
            .into_iter()
            .flatten()
            .filter_map(|h| self.host.canonicalize(&h).ok())
            .collect();
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
                } else if homes.iter().any(|h| h.starts_with(&source)) {
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
                origin: at.to_string(),
            });
        }
        binds
    }

    /// The command line's binds, over the profile's.
    ///
    /// --ro binds are executable (nothing below them can be written); --rw binds are not: a
    /// writable, executable directory is what noexec scratch exists to prevent, so it takes an
    /// explicit --exec. --exec makes an existing bind of the same target executable, and
    /// otherwise binds the path executable with the access of the bind it lies in (so `--exec
    /// build` inside a writable project stays writable), read-only outside any.
    fn cli_binds(&mut self, ov: &Overrides, binds: &mut Vec<Bind>) {
        for (paths, access, flag) in [
            (&ov.ro, Access::ReadOnly, CLI_FLAGS[0]),
            (&ov.rw, Access::ReadWrite, CLI_FLAGS[1]),
            (&ov.exec, Access::ReadOnly, CLI_FLAGS[2]),
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
                let mut access = access;
                if flag == "--exec" {
                    if let Some(b) = binds.iter_mut().find(|b| b.target == target) {
                        b.exec = true;
                        b.origin = format!("{} + --exec", b.origin);
                        continue;
                    }
                    if let Some(outer) = binds
                        .iter()
                        .filter(|b| target.starts_with(&b.target))
                        .max_by_key(|b| b.target.components().count())
                    {
                        access = outer.access;
                    }
                }
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
                    exec: flag != "--rw",
                    kind,
                    origin: flag.into(),
                });
            }
        }
    }

    /// No bind may cover what the jail makes itself: /proc, /dev, the scratch.
    fn check_targets(&mut self, binds: &[Bind], scratch: &Scratch) {
        for b in binds {
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
    }

    /// The caller's directory as the jail sees it, when a directory bound on the command line
    /// (`--ro`, `--rw`, `--exec`) holds it: the bind's inside path plus the rest of the way.
    /// Binds from profiles do not count: a profile that wants the caller's directory says
    /// `cwd = "${CWD}"`, and a person in /usr must not find the command started there just
    /// because the default profile shows /usr.
    fn caller_dir_inside(&self, binds: &[Bind]) -> Option<PathBuf> {
        let here = self.host.cwd().ok()?;
        binds
            .iter()
            .filter(|b| b.kind == FileKind::Dir && from_cli(b))
            .filter_map(|b| {
                let rest = here
                    .strip_prefix(&b.source)
                    .or_else(|_| here.strip_prefix(&b.target))
                    .ok()?;
                Some((b.target.components().count(), b.target.join(rest)))
            })
            .max_by_key(|(depth, _)| *depth)
            .map(|(_, inside)| inside)
    }

    /// A command-line path made absolute against the current directory, normalised.
    pub(super) fn cli_abs(&self, p: &Path) -> Option<PathBuf> {
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.host.cwd().ok()?.join(p)
        };
        normalize(&abs.to_string_lossy()).ok()
    }

    pub(super) fn devices(&mut self, m: &Merged) -> Vec<PathBuf> {
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

    pub(super) fn cwd(
        &mut self,
        m: &Merged,
        ov: &Overrides,
        scratch: &Scratch,
        binds: &[Bind],
    ) -> PathBuf {
        let (cwd, at) = if let Some(p) = &ov.cwd {
            // A relative --cwd is taken from the caller's directory, like --ro and --rw: bound
            // directories keep their host path inside the jail.
            let abs = if p.is_relative() {
                self.cli_abs(p)
                    .ok_or_else(|| "contains \"..\" or cannot be made absolute".into())
            } else {
                normalize(&p.to_string_lossy())
            };
            match abs {
                Ok(c) => (c, Location::from("--cwd")),
                Err(why) => {
                    self.cli_err(
                        "--cwd",
                        format!("\"{}\" {why}", p.display()),
                        "give a directory inside the jail, without \"..\"",
                    );
                    return scratch.path.clone();
                }
            }
        } else if let Some(item) = &m.layer.cwd {
            match self.path(item, "cwd") {
                Some((c, _)) => (c, self.src.at(item)),
                None => return scratch.path.clone(),
            }
        } else if let Some(c) = self.caller_dir_inside(binds) {
            // The caller bound the directory they are in (or one above it) with --ro, --rw or
            // --exec: the command starts there, as it would without tooljail.
            (c, Location::None)
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
                if at == Location::from("--cwd") {
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
}
