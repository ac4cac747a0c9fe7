//! Resolution of `[limits]` and of `--limit KEY=VALUE`.

use super::*;

impl Resolver<'_> {
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
