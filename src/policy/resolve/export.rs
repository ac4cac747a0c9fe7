//! Resolution of what leaves the jail: `[export]` (files copied out of the scratch) and
//! `[output]` (caps on the command's stdout and stderr).

use super::*;

impl Resolver<'_> {
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
