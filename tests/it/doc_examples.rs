//! The examples of README.md and docs/*.md, run as written, so they cannot drift from what
//! tooljail does. As root and as the unprivileged test user.
//!
//! - README's "A tour" ([`the_readme_tour_runs_as_written`]): every `$ tooljail ...` line of the
//!   section is taken from the README itself and run, in order, in a small project made for it
//!   (analyze.py and job.py, the tour's mytool.toml, a Makefile whose default target writes into
//!   out/ and whose `check` target builds and runs a C program). Each must exit as the tour
//!   implies (0, or the command's own status), and the output lines the README shows under a
//!   command must appear in what it printed (lines abbreviated with "..." and the audit table's
//!   timestamped row are checked by their words).
//! - Every other example, in README.md outside the tour and in docs/*.md
//!   ([`every_docs_example_runs_as_written`]): a line of an indented code block that runs
//!   `tooljail` (`$ tooljail ...` with the output shown under it, or `tooljail ...` with a
//!   trailing `# comment`), and every ```toml block (a profile). A command runs in a project
//!   directory holding the document's profiles that carry a name; it must exit 0, or, when the
//!   document shows its output, print those lines. A profile must pass `tooljail check`.
//! - Markers, HTML comments on a line of their own before a block (invisible on GitHub and in
//!   the man page built from docs/profile-format.md):
//!   - `<!-- example: file NAME -->`: the ```toml block below is the file NAME the document's
//!     commands use;
//!   - `<!-- example: fragment -->`: the ```toml block below is a section to add to a profile;
//!     it is checked inside one that extends `base`;
//!   - `<!-- example: not run: WHY -->`: the block below cannot run here (a placeholder such as
//!     `TOOL ARGS...`, a host it needs); WHY says where else its case is tested.
//!
//!   Nothing else is skipped: a new example is run by default, and a marker that stands before
//!   no example, or says something else, fails [`every_example_is_run_or_marked`].
//!
//! Runs and audit queries use a log in a temporary directory, not the caller's.

use crate::support::{each_identity, run};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The tour's commands, each with the output lines the README shows under it.
fn tour() -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## A tour\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has an \"A tour\" section");
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in section.lines() {
        if let Some(cmd) = line.strip_prefix("    $ tooljail ") {
            // A trailing `# comment` explains the line to the reader; it is not shell input here.
            let cmd = match cmd.find("  #") {
                Some(i) => &cmd[..i],
                None => cmd,
            };
            out.push((cmd.trim().to_string(), Vec::new()));
        } else if let (Some(shown), Some(last)) = (line.strip_prefix("    "), out.last_mut()) {
            // A line of only a `# comment` continues the comment of the command above it.
            if !shown.starts_with('$')
                && !shown.trim().is_empty()
                && !shown.trim_start().starts_with('#')
            {
                last.1.push(shown.to_string());
            }
        } else if !line.trim().is_empty() {
            // Prose or a code fence ends the output shown under the last command.
            if let Some(last) = out.last_mut() {
                last.1.push(String::from("\0end"));
            }
        }
    }
    for (_, shown) in &mut out {
        if let Some(end) = shown.iter().position(|l| l == "\0end") {
            shown.truncate(end);
        }
    }
    out
}

/// The tour's example profile (its ```toml block).
fn tour_profile() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme.split("\n## A tour\n").nth(1).expect("tour");
    section
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the tour has a ```toml profile")
        .to_string()
}

/// Split a command line as sh would for these lines: words, and '...' quoting.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {line:?}");
    if any {
        out.push(cur);
    }
    out
}

/// Keep a command's audit records in `log`, not the caller's: `--audit-log` after `run` (or
/// before the top-level form's flags), `--log` for the `audit` query.
fn with_audit_log(args: &mut Vec<String>, log: &str) {
    let at = match args.first().map(String::as_str) {
        Some("run") => Some((1, "--audit-log")),
        Some(a) if a.starts_with('-') => Some((0, "--audit-log")),
        Some("audit") => Some((1, "--log")),
        _ => None,
    };
    if let Some((i, flag)) = at {
        args.splice(i..i, [flag.to_string(), log.to_string()]);
    }
}

/// Whether `printed` shows a line a document shows: the line itself, or, for an abbreviated
/// line ("...") or the audit table's row (its time differs), its words, less times, numbers
/// and the user names (which depend on who runs it).
fn shows(printed: &str, line: &str) -> bool {
    if line.contains("...") || line.starts_with("20") {
        line.split(|c: char| !c.is_alphanumeric() && c != '_')
            .filter(|w| w.len() > 3 && w.chars().all(|c| c.is_alphabetic() || c == '_'))
            .filter(|w| !["root", "nobody"].contains(w))
            .all(|w| printed.contains(w))
    } else {
        printed.contains(line)
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
}

#[test]
fn the_readme_tour_runs_as_written() {
    let cmds = tour();
    // The jail examples, the three flag examples, the profile commands, the report and audit.
    assert!(cmds.len() >= 10, "the tour lost its examples: {cmds:#?}");
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let p = dir.path();
        // The project is a linked worktree of a repository elsewhere (its .git is a file), as
        // the tour's git lines say; the repository names who commits.
        let repo = crate::support::tempdir(0o755);
        let git = |cwd: &Path, args: &[&str]| {
            let mut c = std::process::Command::new("git");
            c.current_dir(cwd)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", cwd)
                .args(args);
            let r = run(c);
            r.expect(0);
        };
        git(repo.path(), &["init", "-q", "-b", "main", "."]);
        git(repo.path(), &["config", "user.name", "Tour"]);
        git(
            repo.path(),
            &["config", "user.email", "tour@example.invalid"],
        );
        git(
            repo.path(),
            &["commit", "-q", "--allow-empty", "-m", "start"],
        );
        git(
            repo.path(),
            &["worktree", "add", "-q", "--detach", p.to_str().unwrap()],
        );
        let ok = std::process::Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(repo.path())
            .status()
            .unwrap();
        assert!(ok.success());
        crate::support::profiles::give_to_jail(ctx, repo.path());
        crate::support::profiles::give_to_jail(ctx, p);
        write(
            p,
            "analyze.py",
            "import os\nprint('analyzed', sum(range(10)))\n\
             if 'OUT' in os.environ:\n    os.makedirs(os.environ['OUT'], exist_ok=True)\n\
             \x20   open(os.path.join(os.environ['OUT'], 'sum.csv'), 'w').write('n,sum\\n10,45\\n')\n",
        );
        write(p, "job.py", "print('job done')\n");
        write(p, "mytool.toml", &tour_profile());
        write(p, "data.txt", "rows\n");
        write(
            p,
            "prog.c",
            "#include <stdio.h>\nint main(void) { puts(\"checked\"); return 0; }\n",
        );
        write(
            p,
            "Makefile",
            "out/result.txt: data.txt\n\tcp data.txt out/result.txt\n\ncheck: prog\n\t./prog\n\nprog: prog.c\n\tcc -o prog prog.c\n",
        );
        for d in ["out", "results"] {
            std::fs::create_dir(p.join(d)).unwrap();
            std::fs::set_permissions(p.join(d), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        // Outside the project: the tour binds it writable, and tooljail refuses a record the
        // command could replace.
        let records = crate::support::records_dir();
        let log = records.path().join("audit.jsonl").display().to_string();
        for (cmd, shown) in &cmds {
            let mut args = words(cmd);
            with_audit_log(&mut args, &log);
            let mut c = ctx.tooljail(&args);
            c.current_dir(p);
            let r = run(c);
            let printed = format!("{}{}", r.stdout, r.stderr);
            let status = if cmd.contains("exit 3") {
                3
            } else if cmd.starts_with("-- sh -c 'cat ~/.ssh") {
                // The last of its three commands (curl) fails, as the README shows.
                6
            } else {
                0
            };
            r.expect(status);
            for line in shown {
                assert!(
                    shows(&printed, line),
                    "`tooljail {cmd}` as {:?} did not print {line:?}\n{}",
                    ctx.who,
                    r.dump()
                );
            }
            if cmd.contains("make") && !cmd.contains("check") {
                assert_eq!(
                    std::fs::read_to_string(p.join("out/result.txt"))
                        .ok()
                        .as_deref(),
                    Some("rows\n"),
                    "{}",
                    r.dump()
                );
            }
            if cmd.contains("make check") {
                r.expect_stdout_contains("checked");
            }
            if cmd.contains("analyze.py") {
                r.expect_stdout_contains("analyzed 45");
            }
            if cmd.contains("--export-to results") {
                assert_eq!(
                    std::fs::read_to_string(p.join("results/sum.csv"))
                        .ok()
                        .as_deref(),
                    Some("n,sum\n10,45\n"),
                    "{}",
                    r.dump()
                );
            }
            if cmd.contains("--export '*.json'") {
                assert_eq!(
                    std::fs::read_to_string(p.join("out/r.json"))
                        .ok()
                        .as_deref(),
                    Some("{}\n"),
                    "{}",
                    r.dump()
                );
            }
            if cmd.contains("job.py") {
                r.expect_stdout_contains("job done");
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Every other example: README outside the tour, and docs/*.md

/// What an example is.
#[derive(Debug, Clone)]
enum Kind {
    /// A `tooljail` command line, with the output lines the document shows under it.
    Command { cmd: String, shown: Vec<String> },
    /// A ```toml block: a profile, named (`<!-- example: file NAME -->`) when commands of the
    /// document use it.
    Profile { name: Option<String>, text: String },
}

/// One example of a Markdown file.
#[derive(Debug, Clone)]
struct Example {
    /// `docs/limits.md:114`.
    at: String,
    kind: Kind,
    /// The reason of a `<!-- example: not run: WHY -->` marker above its block.
    not_run: Option<String>,
    /// In README's tour (run by the tour test).
    in_tour: bool,
}

const MARKER: &str = "<!-- example:";

/// The Markdown files whose examples are run: README.md and docs/*.md.
fn documents() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs: Vec<String> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    docs.insert(0, "README.md".into());
    docs
}

/// The examples of `file` (relative to the crate), and the markers that stand before no
/// example (as `file:line`).
fn scan(file: &str) -> (Vec<Example>, Vec<String>) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut stray = Vec::new();
    // The markers above the next block: (line, directive).
    let mut marks: Vec<(usize, String)> = Vec::new();
    let mut in_tour = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if file == "README.md" && line.starts_with("## ") {
            in_tour = line == "## A tour";
        }
        if let Some(rest) = line.trim().strip_prefix(MARKER) {
            marks.push((i + 1, rest.trim_end_matches("-->").trim().to_string()));
            i += 1;
            continue;
        }
        let before = out.len();
        let start = i;
        if let Some(info) = line.strip_prefix("```") {
            // A fenced block: up to its closing fence.
            let info = info.trim();
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].starts_with("```") {
                body.push(lines[i]);
                i += 1;
            }
            if info == "toml" {
                out.push(Example {
                    at: format!("{file}:{}", start + 1),
                    kind: Kind::Profile {
                        name: None,
                        text: format!("{}\n", body.join("\n")),
                    },
                    not_run: None,
                    in_tour,
                });
            }
            i += 1;
        } else if line.starts_with("    ") && (i == 0 || lines[i - 1].trim().is_empty()) {
            // An indented code block: up to the first line that is neither indented nor blank.
            while i < lines.len() && (lines[i].starts_with("    ") || lines[i].trim().is_empty()) {
                let l = &lines[i][lines[i].len().min(4)..];
                let cmd = l.strip_prefix("$ ").unwrap_or(l);
                if cmd.starts_with("tooljail ") {
                    let cmd = match cmd.find("  #") {
                        Some(c) => &cmd[..c],
                        None => cmd,
                    };
                    out.push(Example {
                        at: format!("{file}:{}", i + 1),
                        kind: Kind::Command {
                            cmd: cmd.trim().to_string(),
                            shown: Vec::new(),
                        },
                        not_run: None,
                        in_tour,
                    });
                } else if l.starts_with("$ ")
                    || l.trim().is_empty()
                    || l.trim_start().starts_with('#')
                {
                    // Another program's command, or a gap: the output shown above has ended.
                    if let Some(Example {
                        kind: Kind::Command { shown, .. },
                        ..
                    }) = out[before..].last_mut()
                    {
                        shown.push("\0end".into());
                    }
                } else if let Some(Example {
                    kind: Kind::Command { shown, .. },
                    ..
                }) = out[before..].last_mut()
                {
                    if lines[start..=i].iter().any(|x| x.starts_with("    $ ")) {
                        shown.push(l.to_string());
                    }
                }
                i += 1;
            }
        } else {
            if !line.trim().is_empty() {
                stray.extend(marks.drain(..).map(|(at, _)| format!("{file}:{at}")));
            }
            i += 1;
            continue;
        }
        for e in &mut out[before..] {
            if let Kind::Command { shown, .. } = &mut e.kind {
                if let Some(end) = shown.iter().position(|l| l == "\0end") {
                    shown.truncate(end);
                }
            }
        }
        for (at, directive) in marks.drain(..) {
            if !apply(&directive, &mut out[before..]) {
                stray.push(format!("{file}:{at}"));
            }
        }
    }
    stray.extend(marks.into_iter().map(|(at, _)| format!("{file}:{at}")));
    (out, stray)
}

/// Apply a marker's directive to the examples of the block below it; false when it does not
/// apply (no example there, a profile directive above commands, an unknown directive).
fn apply(directive: &str, block: &mut [Example]) -> bool {
    if block.is_empty() {
        return false;
    }
    if let Some(why) = directive.strip_prefix("not run:") {
        let why = why.trim();
        for e in block.iter_mut() {
            e.not_run = Some(why.to_string());
        }
        return !why.is_empty();
    }
    let [Example {
        kind: Kind::Profile { name, text },
        ..
    }] = block
    else {
        return false;
    };
    if let Some(n) = directive.strip_prefix("file ") {
        *name = Some(n.trim().to_string());
        true
    } else if directive == "fragment" {
        *text = format!("extends = [\"base\"]\n{text}");
        true
    } else {
        false
    }
}

/// Every example outside README's tour, with the markers that stand before none.
fn all_examples() -> (Vec<Example>, Vec<String>) {
    let mut all = Vec::new();
    let mut stray = Vec::new();
    for doc in documents() {
        let (e, s) = scan(&doc);
        all.extend(e);
        stray.extend(s);
    }
    (all, stray)
}

#[test]
fn every_example_is_run_or_marked() {
    let (all, stray) = all_examples();
    assert!(stray.is_empty(), "markers before no example: {stray:?}");
    // The scanner still finds what the documents hold (a broken scanner finds nothing and
    // would pass everything): the tour's, the profiles of docs/, the commands of docs/.
    let count = |f: &dyn Fn(&Example) -> bool| all.iter().filter(|e| f(e)).count();
    assert!(count(&|e| e.in_tour) >= 10, "{all:#?}");
    assert!(
        count(&|e| matches!(e.kind, Kind::Profile { .. }) && e.at.starts_with("docs/")) >= 5,
        "{all:#?}"
    );
    assert!(
        count(&|e| matches!(e.kind, Kind::Command { .. })
            && e.at.starts_with("docs/")
            && e.not_run.is_none())
            >= 5,
        "{all:#?}"
    );
    // Every example is the tour test's, the docs test's, or marked with a reason; the markers
    // name where else their case is tested or why it cannot be.
    for e in &all {
        if let Some(why) = &e.not_run {
            assert!(why.len() > 10, "{}: marker reason too short: {why:?}", e.at);
        }
    }
}

#[test]
fn every_docs_example_runs_as_written() {
    let (all, _) = all_examples();
    let todo: Vec<&Example> = all
        .iter()
        .filter(|e| !e.in_tour && e.not_run.is_none())
        .collect();
    each_identity(|ctx| {
        for file in documents() {
            let mine: Vec<&&Example> = todo
                .iter()
                .filter(|e| e.at.starts_with(&format!("{file}:")))
                .collect();
            if mine.is_empty() {
                continue;
            }
            // The document's project: its named profiles, and an audit log with one record.
            let dir = crate::support::records_dir();
            let p = dir.path();
            for e in all.iter().filter(|e| e.at.starts_with(&format!("{file}:"))) {
                if let Kind::Profile {
                    name: Some(n),
                    text,
                } = &e.kind
                {
                    write(p, n, text);
                }
            }
            let records = crate::support::records_dir();
            let log = records.path().join("audit.jsonl").display().to_string();
            let mut c = ctx.tooljail(["run", "--audit-log", &log, "--tool", "git", "--", "true"]);
            c.current_dir(p);
            run(c).expect(0);
            for e in mine {
                let r = match &e.kind {
                    Kind::Profile { name, text } => {
                        let f = match name {
                            Some(n) => n.clone(),
                            None => format!("example-{}.toml", e.at.rsplit(':').next().unwrap()),
                        };
                        write(p, &f, text);
                        let mut c = ctx.tooljail(["check", f.as_str()]);
                        c.current_dir(p);
                        let r = run(c);
                        assert_eq!(
                            r.code(),
                            0,
                            "{}: the profile does not pass check, as {:?}\n{}",
                            e.at,
                            ctx.who,
                            r.dump()
                        );
                        continue;
                    }
                    Kind::Command { cmd, shown } => {
                        let mut args = words(cmd);
                        args.remove(0);
                        with_audit_log(&mut args, &log);
                        let mut c = ctx.tooljail(&args);
                        c.current_dir(p);
                        (run(c), shown)
                    }
                };
                let (r, shown) = r;
                let printed = format!("{}{}", r.stdout, r.stderr);
                if shown.is_empty() {
                    assert_eq!(
                        r.code(),
                        0,
                        "{}: `{}` failed as {:?}\n{}",
                        e.at,
                        match &e.kind {
                            Kind::Command { cmd, .. } => cmd.as_str(),
                            Kind::Profile { .. } => "",
                        },
                        ctx.who,
                        r.dump()
                    );
                }
                for line in shown {
                    assert!(
                        shows(&printed, line),
                        "{}: did not print {line:?} as {:?}\n{}",
                        e.at,
                        ctx.who,
                        r.dump()
                    );
                }
            }
        }
    });
}
