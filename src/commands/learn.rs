//! `tooljail learn [-p BASE] [--out FILE] [--merge FILE] -- CMD...`: one learning run of CMD
//! (this binary re-run as `tooljail run --learning`, so the jail is built, run and recorded
//! exactly as every run is), then [`crate::learn`] turns its report into a profile, which is
//! checked as `tooljail check` would before it is written. `--check FILE` runs CMD under FILE
//! and says pass, or what was denied, in `tooljail why`'s words.

use crate::cli::{LearnArgs, PolicyArgs};
use crate::error::{Error, Result};
use crate::host::RealHost;
use crate::learn::{self, render, Context, Learned};
use crate::report::Report;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn learn(args: &LearnArgs) -> Result<i32> {
    crate::pipeline::refuse_setid()?;
    let dir = Scratch::new()?;
    let report_path = dir.0.join("report.json");
    if let Some(profile) = &args.check {
        return check(args, profile, &report_path);
    }
    // Read what a merge needs before the run: a bad file fails before anything runs.
    let earlier = match &args.merge {
        Some(f) => Some(read_learned(f)?),
        None => None,
    };
    let cx_parts = context(&args.base)?;
    let mut run: Vec<OsString> = vec!["run".into(), "--learning".into()];
    run.extend(["-p".into(), OsString::from(&args.base)]);
    let code = jail(args, run, &report_path)?;
    let Some(report) = read_report(&report_path) else {
        return Ok(code); // tooljail run said why on stderr; nothing was learned
    };
    let cx = Context {
        cwd: &std::env::current_dir()
            .map_err(|e| Error::usage(format!("the current directory: {e}")))?,
        parent: &cx_parts.0,
        extends: cx_parts.1.clone(),
        parent_allow: cx_parts.2.clone(),
        roots: cx_parts.3.clone(),
        base_network: cx_parts.4,
    };
    let Some(learned) = learn::learn(&RealHost, &report, &cx) else {
        // The command never started (the run said why), or no call reached the filter.
        if report.error.is_none() {
            crate::shown::say("the learning run recorded nothing; no profile written");
        }
        return Ok(if code == 0 { 125 } else { code });
    };
    let learned = match earlier {
        Some(e) => e.merge(learned),
        None => learned,
    };
    let text = render::render(&learned);
    // The profile must be one `tooljail check` accepts; written where the run's report was
    // first, so a profile that would not load is never written where the caller asked.
    let trial = dir.0.join("learned.toml");
    write_profile(&trial, &text)?;
    if let Err(errors) = crate::profile::check(&RealHost, &trial.to_string_lossy()) {
        let first = errors
            .into_iter()
            .next()
            .map(|e| e.message)
            .unwrap_or_default();
        return Err(Error::setup(
            "check the learned profile",
            format!("it does not load: {first}"),
        )
        .with_hint("this is a tooljail bug; `tooljail learn` writes only profiles `tooljail check` accepts"));
    }
    let out = args.out.as_ref().or(args.merge.as_ref());
    match out {
        Some(path) => write_profile(path, &text)?,
        None => print!("{text}"),
    }
    for s in &learned.secrets {
        crate::shown::say(&format!(
            "warning: left out a secret-looking path the run used: {s}"
        ));
    }
    for t in &learned.tried {
        crate::shown::say(&format!(
            "warning: not learned: a connect to {t} (the learning base's network mode \
             refused it); learn with a base that allows it, e.g. `-p http`, if the tool needs it"
        ));
    }
    crate::shown::say(&summary(&learned, out));
    if code != 0 {
        crate::shown::say(&format!(
            "warning: the command exited {code} while learning; the profile lets it do \
             exactly what it did, failure included"
        ));
    }
    Ok(code)
}

/// One line: what was learned and where it went.
fn summary(l: &Learned, out: Option<&PathBuf>) -> String {
    let mut names: Vec<String> = l.groups.keys().cloned().collect();
    names.extend(l.syscalls.keys().cloned());
    let syscalls = crate::policy::syscalls::expand(&names).map_or(0, |v| v.len());
    let writable = l.paths.values().filter(|r| r.write).count();
    let to = out.map_or("stdout".to_string(), |p| p.display().to_string());
    format!(
        "learned {} bind(s) ({writable} writable), {syscalls} syscalls, limits at {}x the peak; \
         wrote {to}; check it with `tooljail learn --check FILE -- CMD...`",
        l.paths.len(),
        learn::HEADROOM
    )
}

/// `--check FILE`: run CMD under FILE; 0 when it exited 0 with nothing denied, else 1 (125
/// when it could not run at all).
fn check(args: &LearnArgs, profile: &Path, report_path: &Path) -> Result<i32> {
    let run: Vec<OsString> = vec!["run".into(), "-p".into(), profile.as_os_str().to_owned()];
    let code = jail(args, run, report_path)?;
    let Some(report) = read_report(report_path) else {
        return Ok(code);
    };
    if report.error.is_some() {
        return Ok(code); // nothing ran (a bad profile, a missing path): said on stderr
    }
    let refused_by_proxy = report.network.as_ref().map_or(0, |n| n.refused);
    let denied =
        !report.denials.is_empty() || !report.denied_syscalls.is_empty() || refused_by_proxy > 0;
    if code == 0 && !denied {
        crate::shown::say(&format!(
            "check passed: the command exited 0 under {} with nothing denied",
            profile.display()
        ));
        return Ok(0);
    }
    let how = match (report.exit_code, &report.signal) {
        (Some(c), _) => format!("exited {c}"),
        (None, Some(s)) => format!("was killed by {s}"),
        (None, None) => format!("ended ({:?})", report.outcome),
    };
    crate::shown::say(&format!(
        "check failed: the command {how} under {}{}",
        profile.display(),
        if denied {
            "; denied:"
        } else {
            " (nothing denied by name: a path it needs may be absent; learn again with this run's mode and --merge)"
        }
    ));
    if denied {
        eprint!("{}", crate::why::render(&crate::why::explain(&report)));
    }
    if refused_by_proxy > 0 {
        crate::shown::say(&format!(
            "the egress proxy refused {refused_by_proxy} connection(s) (the report's \
             `network` section names them)"
        ));
    }
    Ok(1)
}

/// Run this binary with `run` (the learning or the checking run) and the caller's stdio;
/// its exit status.
fn jail(args: &LearnArgs, mut run: Vec<OsString>, report: &Path) -> Result<i32> {
    run.extend(["--report".into(), report.as_os_str().to_owned()]);
    for e in &args.env {
        run.extend(["--env".into(), OsString::from(e)]);
    }
    run.push("--".into());
    run.extend(args.command.iter().cloned());
    let exe = std::env::current_exe().map_err(|e| {
        Error::setup(
            "find the tooljail binary",
            e.raw_os_error().unwrap_or(libc::ENOENT),
        )
    })?;
    let status = Command::new(exe)
        .args(run)
        .status()
        .map_err(|e| Error::setup("start tooljail run", e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    }))
}

fn read_report(path: &Path) -> Option<Report> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// What the learned profile builds on: the learning base's parent, resolved; its names as
/// `extends` writes them; its `[syscalls] allow` entries as written; and the learning base's
/// own binds (what the run could see).
fn context(base: &str) -> Result<Parts> {
    let found =
        crate::profile::search::find(&RealHost, base, None, &crate::error::Location::from("-p"))?;
    let extends: Vec<String> = toml::from_str::<toml::Table>(&found.text)
        .ok()
        .and_then(|t| t.get("extends").cloned())
        .and_then(|e| e.as_array().cloned())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // A parent named by a relative path is relative to BASE's file (BASE itself, when it
    // extends nothing, to the current directory); the learned profile lives elsewhere, so it
    // names a file parent by its absolute path.
    let absolute = |e: String, dir: Option<&Path>| {
        let relative = crate::profile::search::is_path(&e) && !Path::new(&e).is_absolute();
        match (dir, relative) {
            (Some(dir), true) => crate::policy::resolve::lexical(&dir.join(&e))
                .to_string_lossy()
                .into_owned(),
            _ => e,
        }
    };
    let extends: Vec<String> = if extends.is_empty() {
        let cwd = std::env::current_dir().ok();
        vec![absolute(base.to_string(), cwd.as_deref())]
    } else {
        extends
            .into_iter()
            .map(|e| absolute(e, found.dir.as_deref()))
            .collect()
    };
    let parent = crate::profile::policy_from_args(&PolicyArgs {
        profiles: extends.clone(),
        ..PolicyArgs::default()
    })?;
    let merged =
        crate::profile::merge::load(&RealHost, &extends).map_err(|mut e| e.swap_remove(0))?;
    let allow = merged
        .layer
        .syscalls
        .allow
        .iter()
        .map(|i| i.value.clone())
        .collect();
    let learning = crate::profile::policy_from_args(&PolicyArgs {
        profiles: vec![base.to_string()],
        ..PolicyArgs::default()
    })?;
    let roots = learning
        .filesystem
        .binds
        .iter()
        .map(|b| b.target.clone())
        .collect();
    Ok((parent, extends, allow, roots, learning.network.mode))
}

/// [`context`]'s answer: the parent Policy, `extends`, the parent's allow entries, the
/// learning base's binds and network mode.
type Parts = (
    crate::policy::Policy,
    Vec<String>,
    Vec<String>,
    Vec<PathBuf>,
    crate::policy::NetMode,
);

fn read_learned(path: &Path) -> Result<Learned> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!("--merge {}: {e}", path.display()))
            .with_hint("name a profile `tooljail learn --out FILE` wrote")
    })?;
    render::parse(&text).map_err(|why| {
        Error::usage(format!("--merge {}: {why}", path.display()))
            .with_hint("name a profile `tooljail learn --out FILE` wrote")
    })
}

/// Write the profile through the sink rules (no symbolic link, no directory others can
/// write), replacing FILE whole.
fn write_profile(path: &Path, text: &str) -> Result<()> {
    let at = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::usage(format!("the current directory: {e}")))?
            .join(path)
    };
    let (Some(parent), Some(name)) = (at.parent(), at.file_name()) else {
        return Err(Error::usage(format!(
            "--out {}: not a file name",
            path.display()
        )));
    };
    let hint = "write the profile into a directory of yours";
    let dir = crate::sink::open_dir(parent).map_err(|e| e.into_error("--out", &at, hint))?;
    let file = dir
        .replacement(name)
        .map_err(|e| e.into_error("--out", &at, hint))?;
    file.commit(text.as_bytes(), None)
        .map_err(|e| Error::usage(format!("--out {}: {e}", path.display())).with_hint(hint))
}

/// A private directory (0700) for the runs' reports, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let dir = nix::unistd::mkdtemp(&base.join("tooljail-learn-XXXXXX"))
            .map_err(|e| Error::setup("make a private directory for the reports", e as i32))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
