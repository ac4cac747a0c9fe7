//! `[export]` and `--export-to`/`--export` (src/export/): each refusal rule names the file in
//! the report and writes nothing outside `to`; exported files are regular, mode 0644, owned by
//! the caller (or, for root, by the directory's owner); `when`, `strict`, `overwrite`.
//! Every case runs as root and as the unprivileged test user (see tests/it/support/mod.rs).

use crate::support::api::export::{rules, scan};
use crate::support::{
    each_identity, profile_file, reported_with, root_or_skip, run, tempdir, test_user, Ctx, Run,
    Who,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A host layout for one run: `base/to` (the export directory, owned by `owner`) beside
/// `base/outside/victim.txt` (what a symlink in the scratch points at).
struct Host {
    base: tempfile::TempDir,
    to: PathBuf,
    victim: PathBuf,
}

const VICTIM: &str = "the host's own file\n";

impl Host {
    fn new(owner: (u32, u32)) -> Host {
        let base = tempdir(0o755);
        let to = base.path().join("to");
        std::fs::create_dir(&to).unwrap();
        std::os::unix::fs::chown(&to, Some(owner.0), Some(owner.1)).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        let outside = base.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let victim = outside.join("victim.txt");
        std::fs::write(&victim, VICTIM).unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o666)).unwrap();
        Host { base, to, victim }
    }

    /// `tooljail run --report … --export-to TO ARGS… -- sh -c SCRIPT`: the run and its report.
    fn run(&self, ctx: &Ctx, args: &[&str], script: &str) -> (Run, Value) {
        let mut a: Vec<&str> = vec!["--export-to", self.to.to_str().unwrap()];
        a.extend_from_slice(args);
        a.extend(["--", "sh", "-c", script]);
        reported_with(ctx, &a, |_| {})
    }

    /// Every path below `to` (relative) with its contents ("<dir>" for directories).
    fn exported(&self) -> BTreeMap<String, String> {
        listing(&self.to)
    }

    /// Nothing but `to` and the untouched victim exists below `base`.
    fn assert_nothing_outside_to(&self, r: &Run) {
        let all = listing(self.base.path());
        let outside: Vec<&String> = all
            .keys()
            .filter(|k| *k != "to" && !k.starts_with("to/"))
            .collect();
        assert_eq!(
            outside,
            ["outside", "outside/victim.txt"],
            "something was written outside `to`\n{}",
            r.dump()
        );
        assert_eq!(std::fs::read_to_string(&self.victim).unwrap(), VICTIM);
        let dirs = std::fs::read_dir(&self.to).unwrap();
        for e in dirs.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(".tooljail-export"),
                "temporary file left: {name}"
            );
        }
    }
}

fn listing(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                todo.push(p);
                out.insert(rel, "<dir>".into());
            } else if meta.file_type().is_symlink() {
                out.insert(rel, "<symlink>".into());
            } else {
                out.insert(
                    rel,
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into(),
                );
            }
        }
    }
    out
}

/// Who owns what the run exports: the caller, or for root the directory's owner (root here).
fn caller(ctx: &Ctx) -> (u32, u32) {
    match &ctx.who {
        Who::Root => (0, 0),
        Who::User { uid, gid, .. } => (*uid, *gid),
        Who::Current { uid } => (*uid, nix::unistd::getgid().as_raw()),
    }
}

/// The rule the report gives for `path`, if it refused it.
fn refused<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v["export"]["refused"]
        .as_array()?
        .iter()
        .find(|f| f["path"] == path)
        .and_then(|f| f["rule"].as_str())
}

/// Each rule the issue lists: a scratch made to trip it, the file it must refuse and the rule's
/// name in the report. Every run also writes `ok.txt`, which must arrive (the export ran).
#[test]
fn each_refusal_rule_names_the_file_and_writes_nothing_outside_to() {
    let (_pdir, limits) =
        profile_file("extends = [\"default\"]\n[export]\nmax_bytes = 20\nmax_total_bytes = 40\n");
    let limits = limits.to_str().unwrap().to_string();
    let (_fdir, files) = profile_file("extends = [\"default\"]\n[export]\nmax_files = 1\n");
    let files = files.to_str().unwrap().to_string();
    let cases: &[(&str, &[&str], &str, &str, &str)] = &[
        // (what, extra args, script, refused path, rule)
        (
            "symlink",
            &[],
            "ln -s VICTIM link.txt",
            "link.txt",
            "symlink",
        ),
        (
            "symlink to a dir",
            &[],
            "ln -s /etc etc.txt",
            "etc.txt",
            "symlink",
        ),
        (
            "hard link",
            &[],
            "echo data > a.dat && ln a.dat hard.txt",
            "hard.txt",
            "hard_link",
        ),
        ("fifo", &[], "mkfifo pipe.txt", "pipe.txt", "fifo"),
        (
            "ELF renamed",
            &[],
            "cp /bin/true elf.txt",
            "elf.txt",
            "content",
        ),
        (
            "#! script renamed",
            &[],
            "printf '#!/bin/sh\\necho hi\\n' > run.txt",
            "run.txt",
            "content",
        ),
        (
            "by extension",
            &["--export", "*.sh"],
            "echo 'echo hi' > run.sh",
            "run.sh",
            "forbid",
        ),
        (
            "newline in a name",
            &[],
            "touch \"$(printf 'a\\nb.txt')\"",
            "a\nb.txt",
            "name",
        ),
        (
            "escape in a name",
            &[],
            "touch \"$(printf 'a\\033[2Jb.txt')\"",
            "a\u{1b}[2Jb.txt",
            "name",
        ),
        (
            "dots in a name",
            &[],
            "echo x > a..b.txt",
            "a..b.txt",
            "name",
        ),
        (
            "over max_bytes",
            &["-p", "LIMITS"],
            "head -c 21 /dev/zero > big.txt",
            "big.txt",
            "max_bytes",
        ),
        (
            "over max_total_bytes",
            &["-p", "LIMITS"],
            "head -c 20 /dev/zero > t1.txt && head -c 20 /dev/zero > t2.txt",
            "t2.txt",
            "max_total_bytes",
        ),
        (
            "existing target",
            &[],
            "echo new > exists.txt",
            "exists.txt",
            "exists",
        ),
        (
            "over max_files",
            &["-p", "FILES"],
            "echo y > z.txt",
            "z.txt",
            "max_files",
        ),
        (
            "socket",
            &[],
            "python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"sock.txt\")'",
            "sock.txt",
            "socket",
        ),
    ];
    each_identity(|ctx| {
        for (what, extra, script, path, rule) in cases {
            let host = Host::new(caller(ctx));
            let existing = host.to.join("exists.txt");
            if *rule == "exists" {
                std::fs::write(&existing, "old\n").unwrap();
                let (u, g) = caller(ctx);
                std::os::unix::fs::chown(&existing, Some(u), Some(g)).unwrap();
            }
            let script = format!(
                "echo fine > ok.txt && {}",
                script.replace("VICTIM", host.victim.to_str().unwrap())
            );
            let mut args: Vec<&str> = vec!["--export", "*.txt"];
            args.extend(extra.iter().map(|a| match *a {
                "LIMITS" => limits.as_str(),
                "FILES" => files.as_str(),
                a => a,
            }));
            let (r, v) = host.run(ctx, &args, &script);
            r.expect(0);
            let ctx_dump = || {
                format!(
                    "case {what}\n{}\nreport export: {:#}",
                    r.dump(),
                    v["export"]
                )
            };
            assert_eq!(refused(&v, path), Some(*rule), "{}", ctx_dump());
            assert!(
                r.stderr.contains("refused"),
                "stderr does not say a file was refused\n{}",
                ctx_dump()
            );
            let got = host.exported();
            assert_eq!(
                got.get("ok.txt").map(String::as_str),
                Some("fine\n"),
                "{}",
                ctx_dump()
            );
            let mut want = vec!["ok.txt".to_string()];
            if *rule == "exists" {
                assert_eq!(got["exists.txt"], "old\n", "an existing file was replaced");
                want.push("exists.txt".into());
            }
            if *rule == "max_total_bytes" {
                want.push("t1.txt".into());
            }
            if *rule == "hard_link" {
                // Not named by the pattern, so neither exported nor refused.
                assert_eq!(refused(&v, "a.dat"), None, "{}", ctx_dump());
            }
            want.sort();
            assert_eq!(
                got.keys().cloned().collect::<Vec<_>>(),
                want,
                "{}",
                ctx_dump()
            );
            host.assert_nothing_outside_to(&r);
        }
    });
}

/// The exported file's metadata: regular, 0644 whatever the jail set (no setuid, setgid or
/// execute bit), owned by the caller; the report's size and sha256 are the file's.
#[test]
fn exported_files_are_0644_owned_by_the_caller_with_their_sha256() {
    each_identity(|ctx| {
        let host = Host::new(caller(ctx));
        let (r, v) = host.run(
            ctx,
            &["--export", "out/**/*.csv"],
            "mkdir -p out/deep && printf 'a,b\\n1,2\\n' > out/deep/r.csv && chmod 6777 out/deep/r.csv",
        );
        r.expect(0);
        let file = host.to.join("out/deep/r.csv");
        let meta = std::fs::symlink_metadata(&file)
            .unwrap_or_else(|e| panic!("not exported ({e})\n{}\n{:#}", r.dump(), v["export"]));
        assert!(meta.file_type().is_file());
        assert_eq!(meta.mode() & 0o7777, 0o644, "mode {:o}", meta.mode());
        assert_eq!((meta.uid(), meta.gid()), caller(ctx), "owner");
        let e = &v["export"]["exported"][0];
        assert_eq!(e["path"], "out/deep/r.csv");
        assert_eq!(e["size"], 8);
        use sha2::Digest;
        let sum: String = sha2::Sha256::digest(b"a,b\n1,2\n")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(e["sha256"], sum.as_str());
        assert_eq!(v["export"]["bytes"], 8);
        host.assert_nothing_outside_to(&r);
    });
}

/// Root's exports belong to the directory's owner, as `--rw` files do: here the test user.
#[test]
fn root_exports_as_the_directorys_owner() {
    if !root_or_skip("root_exports_as_the_directorys_owner") {
        return;
    }
    let (_, uid, gid) = test_user();
    let root = Ctx { who: Who::Root };
    let host = Host::new((uid, gid));
    let (r, v) = host.run(&root, &["--export", "*.txt"], "echo x > mine.txt");
    r.expect(0);
    let meta = std::fs::metadata(host.to.join("mine.txt"))
        .unwrap_or_else(|e| panic!("not exported ({e})\n{}\n{v:#}", r.dump()));
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    assert_eq!(meta.mode() & 0o7777, 0o644);
}

/// `when = "success"` (the default) exports nothing after a failed command; `always` does;
/// `strict = true` fails the call on a refusal and exports nothing; `overwrite = true` replaces.
#[test]
fn when_strict_and_overwrite() {
    let (_d1, always) = profile_file("extends = [\"default\"]\n[export]\nwhen = \"always\"\n");
    let (_d2, strict) = profile_file("extends = [\"default\"]\n[export]\nstrict = true\n");
    let (_d3, overwrite) = profile_file("extends = [\"default\"]\n[export]\noverwrite = true\n");
    each_identity(|ctx| {
        let host = Host::new(caller(ctx));
        let (r, v) = host.run(ctx, &["--export", "*.txt"], "echo x > a.txt; exit 3");
        r.expect(3);
        assert!(host.exported().is_empty(), "{}", r.dump());
        assert!(
            v["export"]["skipped"].as_str().unwrap().contains("exit 0"),
            "{v:#}"
        );

        let (r, _) = host.run(
            ctx,
            &["-p", always.to_str().unwrap(), "--export", "*.txt"],
            "echo x > a.txt; exit 3",
        );
        r.expect(3);
        assert_eq!(
            host.exported().keys().collect::<Vec<_>>(),
            ["a.txt"],
            "{}",
            r.dump()
        );

        // A timeout kills pid 1 first: the scratch was handed over before the command started,
        // so `always` still exports.
        let (r, _) = host.run(
            ctx,
            &[
                "-p",
                always.to_str().unwrap(),
                "--timeout",
                "1s",
                "--export",
                "*.txt",
            ],
            "echo late > late.txt; sleep 30",
        );
        r.expect(124);
        assert_eq!(
            host.exported().get("late.txt").map(String::as_str),
            Some("late\n"),
            "{}",
            r.dump()
        );

        let (r, v) = host.run(
            ctx,
            &["-p", strict.to_str().unwrap(), "--export", "*.txt"],
            "echo y > b.txt; ln -s /etc/passwd c.txt",
        );
        r.expect(125).expect_stderr_contains("strict");
        assert_eq!(refused(&v, "c.txt"), Some("symlink"));
        assert_eq!(v["error"]["kind"], "export", "{v:#}");
        assert_eq!(
            v["exit_code"], 0,
            "the command's own status stays in the report"
        );
        assert!(
            !host.to.join("b.txt").exists(),
            "strict exported part of the results"
        );

        let (r, v) = host.run(
            ctx,
            &["-p", overwrite.to_str().unwrap(), "--export", "*.txt"],
            "echo new > a.txt",
        );
        r.expect(0);
        assert_eq!(host.exported()["a.txt"], "new\n", "{}\n{v:#}", r.dump());
        host.assert_nothing_outside_to(&r);
    });
}

/// A jail cannot make a device node in its scratch (no CAP_MKNOD over the host's devices), so
/// the device rule is tested on the stage's own pieces: the walk sees /dev/null as a device,
/// and the rule refuses it.
#[test]
fn device_nodes_are_refused() {
    each_identity(|ctx| {
        let host = Host::new(caller(ctx));
        let (r, _) = host.run(
            ctx,
            &["--export", "*"],
            "mknod dev c 1 3 || echo refused-by-kernel",
        );
        r.expect(0).expect_stdout_contains("refused-by-kernel");
        assert!(host.exported().is_empty());
    });
    let x = crate::support::api::policy::Export {
        patterns: vec!["null".into(), "zero".into()],
        ..Default::default()
    };
    let rules = rules::Rules::new(&x).unwrap();
    let dev = std::fs::File::open("/dev").unwrap();
    use std::os::fd::AsFd;
    let (found, _) = scan::walk(dev.as_fd(), &rules).unwrap();
    let names: Vec<&str> = found.iter().map(|f| f.rel.as_str()).collect();
    assert_eq!(names, ["null", "zero"]);
    for f in &found {
        assert_eq!(f.kind, scan::Kind::Device);
        assert_eq!(
            rules::by_type(f.kind, f.nlink).map(|r| r.rule),
            Some("device")
        );
    }
}

/// Mistakes on the command line stop the call before anything runs.
#[test]
fn export_flags_without_a_destination_or_with_a_bad_pattern_fail_closed() {
    each_identity(|ctx| {
        let r = run(ctx.tooljail(["run", "--export", "*.txt", "--", "true"]));
        r.expect(125)
            .expect_stderr_contains("--export: export patterns without a destination");
        let dir = tempdir(0o777);
        let r = run(ctx.tooljail([
            "run",
            "--export-to",
            dir.path().to_str().unwrap(),
            "--export",
            "../*.txt",
            "--",
            "true",
        ]));
        r.expect(125)
            .expect_stderr_contains("not relative to the scratch");
        let r = run(ctx.tooljail([
            "run",
            "--export-to",
            "/nonexistent-dir",
            "--export",
            "*",
            "--",
            "true",
        ]));
        r.expect(125).expect_stderr_contains("does not exist");
    });
}

/// The shipped `python-report` profile, with the real python3: results written to $OUT leave
/// the jail; code does not, even renamed.
#[test]
fn python_report_exports_what_python_writes() {
    if !crate::support::need_python() {
        return;
    }
    let script = r#"
import os
out = os.environ["OUT"]
os.makedirs(os.path.join(out, "plots"), exist_ok=True)
with open(os.path.join(out, "table.csv"), "w") as f:
    f.write("x,y\n1,2\n")
with open(os.path.join(out, "plots", "p.png"), "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + bytes(100))
with open(os.path.join(out, "tool.py"), "w") as f:
    f.write("print('run me')\n")
with open("/bin/true", "rb") as src, open(os.path.join(out, "sneaky.csv"), "wb") as f:
    f.write(src.read())
print("wrote results")
"#;
    each_identity(|ctx| {
        let host = Host::new(caller(ctx));
        let (r, v) = host.run(
            ctx,
            &["-p", "python-report"],
            &format!("python3 -c '{}'", script.replace('\'', "'\\''")),
        );
        r.expect(0).expect_stdout_contains("wrote results");
        let got = host.exported();
        assert_eq!(
            got.keys().cloned().collect::<Vec<_>>(),
            ["plots", "plots/p.png", "table.csv"],
            "{}\n{:#}",
            r.dump(),
            v["export"]
        );
        assert_eq!(got["table.csv"], "x,y\n1,2\n");
        assert_eq!(refused(&v, "sneaky.csv"), Some("content"));
        assert_eq!(
            refused(&v, "tool.py"),
            None,
            "not named by the profile's patterns"
        );
        host.assert_nothing_outside_to(&r);
    });
}

/// `from` that the command replaced with a symlink (to the jail's root, or anywhere) is not
/// followed: nothing is exported, and the report says why.
#[test]
fn a_from_directory_swapped_for_a_symlink_is_not_followed() {
    let (_d, profile) =
        profile_file("extends = [\"default\"]\n[export]\nfrom = \"out\"\npatterns = [\"**\"]\n");
    each_identity(|ctx| {
        let host = Host::new(caller(ctx));
        let (r, v) = host.run(
            ctx,
            &["-p", profile.to_str().unwrap()],
            "echo data > /tmp/x.csv; ln -s /tmp out",
        );
        r.expect(0);
        assert!(host.exported().is_empty(), "{}\n{v:#}", r.dump());
        let why = v["export"]["skipped"].as_str().unwrap_or_default();
        assert!(why.contains("\"out\""), "{v:#}");
        host.assert_nothing_outside_to(&r);
    });
}

/// The destination side: a jail that can write into `to` (bound read-write) plants a symlink
/// where a directory of the export will go. It is not followed (openat2 RESOLVE_NO_SYMLINKS on
/// the host side too): the file is refused, nothing lands where the link points.
#[test]
fn a_symlink_planted_in_the_destination_is_not_followed() {
    each_identity(|ctx| {
        let host = Host::new(caller(ctx));
        std::fs::set_permissions(&host.to, std::fs::Permissions::from_mode(0o777)).unwrap();
        let outside = host.victim.parent().unwrap();
        let script = format!(
            "ln -s {} {}/plots && mkdir plots && echo 1,2 > plots/p.csv && echo ok > top.csv",
            outside.display(),
            host.to.display()
        );
        let (r, v) = host.run(
            ctx,
            &["--rw", host.to.to_str().unwrap(), "--export", "**/*.csv"],
            &script,
        );
        r.expect(0);
        assert_eq!(
            refused(&v, "plots/p.csv"),
            Some("error"),
            "{}\n{v:#}",
            r.dump()
        );
        assert_eq!(
            host.exported().get("top.csv").map(String::as_str),
            Some("ok\n")
        );
        host.assert_nothing_outside_to(&r);
    });
}
