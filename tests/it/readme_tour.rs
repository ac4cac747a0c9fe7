//! README.md's tour, run as written: every `$ tooljail ...` line of the "A tour" section is
//! taken from the README itself (so the two cannot drift apart) and run, in order, in a small
//! project made for it (analyze.py and job.py, the tour's mytool.toml, a Makefile whose default
//! target writes into out/ and whose `check` target builds and runs a C program). Each must
//! exit as the tour implies (0, or the command's own status), and the output lines the README
//! shows under a command must appear in what it printed (lines abbreviated with "..." and the
//! audit table's timestamped row are checked by their words). Runs and audit queries use a log
//! in the project, not the caller's. As root and as the unprivileged test user.

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
        write(p, "analyze.py", "print('analyzed', sum(range(10)))\n");
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
        std::fs::create_dir(p.join("out")).unwrap();
        std::fs::set_permissions(p.join("out"), std::fs::Permissions::from_mode(0o777)).unwrap();
        // Outside the project: the tour binds it writable, and tooljail refuses a record the
        // command could replace.
        let records = crate::support::records_dir();
        let log = records.path().join("audit.jsonl").display().to_string();
        for (cmd, shown) in &cmds {
            let mut args = words(cmd);
            // Keep the audit records in the project: after `run` (or before the top-level
            // form's flags), and `--log` for the query.
            let at = match args[0].as_str() {
                "run" => Some((1, "--audit-log")),
                a if a.starts_with("--") => Some((0, "--audit-log")),
                "audit" => Some((1, "--log")),
                _ => None,
            };
            if let Some((i, flag)) = at {
                args.splice(i..i, [flag.to_string(), log.clone()]);
            }
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
                // An abbreviated line, or the audit table's row (its time differs): its words.
                let words_only = line.contains("...") || line.starts_with("20");
                let ok = if words_only {
                    // Its words, less times, numbers and the user names (which depend on who
                    // runs the tour).
                    line.split(|c: char| !c.is_alphanumeric() && c != '_')
                        .filter(|w| w.len() > 3 && w.chars().all(|c| c.is_alphabetic() || c == '_'))
                        .filter(|w| !["root", "nobody"].contains(w))
                        .all(|w| printed.contains(w))
                } else {
                    printed.contains(line.as_str())
                };
                assert!(
                    ok,
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
            if cmd.contains("job.py") {
                r.expect_stdout_contains("job done");
            }
        }
    });
}
