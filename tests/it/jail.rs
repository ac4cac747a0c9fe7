//! The jail as a whole: exit statuses, what exists inside, what the command inherits.
//! Every case runs as root and as the unprivileged test user (see tests/it/support/mod.rs).

use crate::support::{each_identity, run, tempdir, unique, Ctx};
use std::os::unix::process::CommandExt;

fn jail(ctx: &Ctx, args: &[&str]) -> crate::support::Run {
    let mut a = vec!["run"];
    a.extend_from_slice(args);
    run(ctx.tooljail(a))
}

#[test]
fn exit_statuses_follow_the_command_and_env1() {
    each_identity(|ctx| {
        jail(ctx, &["--", "/bin/true"]).expect(0);
        jail(ctx, &["--", "sh", "-c", "exit 7"]).expect(7);
        // Killed by SIGTERM: 128 + 15.
        jail(ctx, &["--", "sh", "-c", "kill -TERM $$"]).expect(143);
        jail(ctx, &["--", "no-such-command-xyz"])
            .expect(127)
            .expect_stderr_contains("command not found");
        // Found but not executable (a directory).
        jail(ctx, &["--", "/scratch"]).expect(126);
    });
}

#[test]
fn argv_is_passed_verbatim_never_to_a_shell() {
    each_identity(|ctx| {
        jail(ctx, &["--", "printf", "[%s]", "a b", "$HOME", "*", ";"])
            .expect(0)
            .expect_stdout_contains("[a b][$HOME][*][;]");
    });
}

#[test]
fn setup_failure_is_125_and_the_command_never_runs() {
    each_identity(|ctx| {
        let dir = tempdir(0o777);
        let marker = dir.path().join("MARKER");
        let touch = format!("touch {}", marker.display());
        let d = dir.path().to_str().unwrap();
        let r = jail(
            ctx,
            &[
                "--ro",
                "/does/not/exist",
                "--rw",
                d,
                "--",
                "sh",
                "-c",
                &touch,
            ],
        );
        r.expect(125);
        assert!(!marker.exists(), "the command ran\n{}", r.dump());
        // A working directory that will not exist inside is refused the same way (the resolver
        // catches it before the jail is built; in-jail failures are covered by the bind tests).
        let r = jail(
            ctx,
            &["--rw", d, "--cwd", "/nope", "--", "sh", "-c", &touch],
        );
        r.expect(125)
            .expect_stderr_contains("\"/nope\" does not exist inside the jail");
        assert!(!marker.exists(), "the command ran\n{}", r.dump());
        assert_eq!(
            r.stderr.lines().count(),
            1,
            "one actionable line\n{}",
            r.dump()
        );
    });
}

#[test]
fn host_paths_outside_the_policy_do_not_exist() {
    each_identity(|ctx| {
        let dir = tempdir(0o755);
        std::fs::write(dir.path().join("f"), "x").unwrap();
        for path in [
            "/etc/hostname",
            "/root",
            "/home",
            dir.path().to_str().unwrap(),
        ] {
            let r = jail(ctx, &["--", "ls", "-d", path]);
            assert_ne!(r.code(), 0, "{path} exists inside\n{}", r.dump());
            r.expect_stderr_contains("No such file or directory");
            assert!(!r.stderr.contains("Permission denied"), "{}", r.dump());
        }
    });
}

#[test]
fn read_only_refuses_writes_and_read_write_reaches_the_host() {
    each_identity(|ctx| {
        let ro = tempdir(0o777);
        let rw = tempdir(0o777);
        let (ro_p, rw_p) = (ro.path().to_str().unwrap(), rw.path().to_str().unwrap());
        let r = jail(ctx, &["--ro", ro_p, "--", "touch", &format!("{ro_p}/x")]);
        assert_ne!(r.code(), 0, "{}", r.dump());
        r.expect_stderr_contains("Read-only file system");
        assert!(!ro.path().join("x").exists());
        let script = format!("echo written > {rw_p}/out");
        jail(ctx, &["--rw", rw_p, "--", "sh", "-c", &script]).expect(0);
        assert_eq!(
            std::fs::read_to_string(rw.path().join("out")).unwrap(),
            "written\n"
        );
    });
}

/// Binds side by side in one directory share one open of it while the new root is built
/// (rootfs.rs, `mount_point_held`). Here that directory lies inside a writable bind, listed after
/// them: each read-only bind must land inside the writable one, on top, or its directory would
/// stay writable through it.
#[test]
fn binds_side_by_side_inside_a_writable_bind_land_on_top_of_it() {
    each_identity(|ctx| {
        let top = tempdir(0o777);
        for sub in ["x", "y"] {
            std::fs::create_dir(top.path().join(sub)).unwrap();
            std::fs::write(top.path().join(sub).join("name"), format!("{sub}\n")).unwrap();
        }
        let t = top.path().to_str().unwrap();
        let (x, y) = (format!("{t}/x"), format!("{t}/y"));
        let script = format!(
            "cat {x}/name {y}/name && touch {t}/z && ! touch {x}/new 2>/dev/null \
             && ! touch {y}/new 2>/dev/null"
        );
        jail(
            ctx,
            &["--ro", &x, "--ro", &y, "--rw", t, "--", "sh", "-c", &script],
        )
        .expect(0)
        .expect_stdout_contains("x\ny\n");
        assert!(top.path().join("z").exists());
        assert!(!top.path().join("x/new").exists() && !top.path().join("y/new").exists());
    });
}

#[test]
fn a_writable_bind_runs_nothing_unless_exec_is_asked_for() {
    // The tool copies a real binary into the writable dir and runs it: refused (126) on --rw
    // alone, by the mount's noexec and by Landlock; allowed with --exec on the same dir.
    let copy_and_run = |d: &str| format!("cp /bin/true {d}/t && chmod 755 {d}/t && {d}/t");
    each_identity(|ctx| {
        let rw = tempdir(0o777);
        let d = rw.path().to_str().unwrap();
        let r = jail(ctx, &["--rw", d, "--", "sh", "-c", &copy_and_run(d)]);
        r.expect(126).expect_stderr_contains("Permission denied");
        assert!(rw.path().join("t").exists(), "the copy itself must succeed");
        std::fs::remove_file(rw.path().join("t")).unwrap();
        jail(
            ctx,
            &["--rw", d, "--exec", d, "--", "sh", "-c", &copy_and_run(d)],
        )
        .expect(0);
        // --ro stays executable: nothing below it can be written.
        jail(ctx, &["--ro", d, "--", &format!("{d}/t")]).expect(0);
    });
}

#[test]
fn environment_is_only_what_the_policy_keeps() {
    each_identity(|ctx| {
        let show = ["--", "sh", "-c", "echo \"[$TJ_SECRET][$TJ_SET]\""];
        let mut cmd = ctx.tooljail(["run"].iter().chain(show.iter()));
        cmd.env("TJ_SECRET", "hunter2");
        run(cmd).expect(0).expect_stdout_contains("[][]");
        let mut args = vec!["run", "--keep-env", "TJ_SECRET", "--env", "TJ_SET=v"];
        args.extend_from_slice(&show);
        let mut cmd = ctx.tooljail(args);
        cmd.env("TJ_SECRET", "hunter2");
        run(cmd).expect(0).expect_stdout_contains("[hunter2][v]");
    });
}

#[test]
fn caller_fds_are_not_inherited() {
    each_identity(|ctx| {
        let dir = tempdir(0o755);
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cr3t").unwrap();
        let file = std::fs::File::open(&secret).unwrap();
        let mut cmd = ctx.tooljail([
            "run",
            "--",
            "sh",
            "-c",
            "ls /proc/self/fd; echo; if cat <&7; then echo READ-FD7; fi; echo DONE",
        ]);
        let raw = std::os::fd::AsRawFd::as_raw_fd(&file);
        // SAFETY: dup2 is async-signal-safe; `raw` stays open in the parent until spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw, 7) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let r = run(cmd);
        assert!(
            !r.stdout.contains("READ-FD7"),
            "fd 7 readable\n{}",
            r.dump()
        );
        assert!(!r.stdout.contains("s3cr3t"), "{}", r.dump());
        // The jail ran the whole script (a jail that never started lists no fds at all).
        r.expect(0).expect_stdout_contains("DONE");
        let fds: Vec<&str> = r.stdout.lines().take_while(|l| !l.is_empty()).collect();
        // sh's own 0,1,2 and the fd ls opened to read the directory, nothing else.
        assert_eq!(fds, ["0", "1", "2", "3"], "{}", r.dump());
        r.expect_stderr_contains("7: Bad file descriptor");
    });
}

#[test]
fn proc_shows_only_the_jail_and_pid1_holds_no_secret() {
    each_identity(|ctx| {
        let r = jail(ctx, &["--", "ls", "/proc"]);
        r.expect(0);
        let mut pids: Vec<u32> = r.stdout.lines().filter_map(|l| l.parse().ok()).collect();
        pids.sort();
        assert_eq!(pids, [1, 2], "only pid 1 and the command\n{}", r.dump());

        let secret = unique("SECRETVALUE");
        let script = "cat /proc/1/environ; cat /proc/1/cmdline; echo; echo DONE";
        let mut cmd = ctx.tooljail(["run", "--", "sh", "-c", script, &secret]);
        cmd.env("TJ_SECRET", &secret);
        let r = run(cmd);
        r.expect(0).expect_stdout_contains("DONE");
        assert!(
            !r.stdout.contains(&secret) && !r.stderr.contains(&secret),
            "{}",
            r.dump()
        );
        assert!(!r.stdout.contains("TJ_SECRET"), "{}", r.dump());

        let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
        let r = jail(
            ctx,
            &[
                "--",
                "sh",
                "-c",
                "echo '|/tmp/pwn' > /proc/sys/kernel/core_pattern",
            ],
        );
        assert_ne!(r.code(), 0, "core_pattern writable\n{}", r.dump());
        // Refused by the jail's read-only /proc/sys (EROFS), not merely by the host file's
        // owner (which would be EACCES, and would not hold for a caller the file belongs to).
        r.expect_stderr_contains("Read-only file system");
        assert_eq!(
            std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
            before
        );
    });
}

#[test]
fn no_capabilities_and_no_new_privileges() {
    each_identity(|ctx| {
        let r = jail(ctx, &["--", "cat", "/proc/self/status"]);
        r.expect(0);
        for name in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
            let line = r
                .stdout
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{name} missing\n{}", r.dump()));
            assert!(line.ends_with("0000000000000000"), "{line}\n{}", r.dump());
        }
        assert!(
            r.stdout.lines().any(|l| l == "NoNewPrivs:\t1"),
            "{}",
            r.dump()
        );
    });
}

#[test]
fn setuid_root_binary_does_not_raise_euid() {
    if !crate::support::root_or_skip("creating a setuid-root binary needs root") {
        return;
    }
    let dir = tempdir(0o755);
    let id = dir.path().join("id");
    crate::support::copy_executable(std::path::Path::new("/usr/bin/id"), &id, 0o4755);
    // Control: outside the jail the copy does raise the test user's euid to 0, so the fixture
    // is a working setuid-root binary. Inside, three walls each stop it: its owner (host root)
    // is not mapped in the jail's user namespaces, no_new_privs is set
    // (no_capabilities_and_no_new_privileges) and every bind is nosuid
    // (binds_are_nosuid_nodev_and_writable_ones_noexec).
    let (_, uid, gid) = crate::support::test_user();
    let mut control = std::process::Command::new("setpriv");
    control
        .args([format!("--reuid={uid}"), format!("--regid={gid}")])
        .args(["--clear-groups", "--"])
        .arg(&id)
        .arg("-u");
    let r = crate::support::run(control);
    r.expect(0);
    assert_eq!(
        r.stdout.trim(),
        "0",
        "the setuid fixture does not work\n{}",
        r.dump()
    );
    each_identity(|ctx| {
        let d = dir.path().to_str().unwrap();
        let r = jail(ctx, &["--ro", d, "--", id.to_str().unwrap(), "-u"]);
        r.expect(0);
        let uid: u32 = r.stdout.trim().parse().unwrap();
        assert!(ctx.is_jail_uid(uid), "{}", r.dump());
    });
}

/// Every mount of the jail as (mount point, options, filesystem type), from mountinfo.
fn mounts_of(mountinfo: &str) -> Vec<(String, Vec<String>, String)> {
    mountinfo
        .lines()
        .map(|l| {
            let (left, right) = l.split_once(" - ").expect("mountinfo separator");
            let f: Vec<&str> = left.split(' ').collect();
            let opts = f[5].split(',').map(str::to_owned).collect();
            let fstype = right.split(' ').next().unwrap().to_owned();
            (f[4].to_owned(), opts, fstype)
        })
        .collect()
}

#[test]
fn binds_are_nosuid_nodev_and_writable_ones_noexec() {
    let ro = tempdir(0o755);
    let rw = tempdir(0o777);
    each_identity(|ctx| {
        let (ro, rw) = (ro.path().to_str().unwrap(), rw.path().to_str().unwrap());
        let r = jail(
            ctx,
            &["--ro", ro, "--rw", rw, "--", "cat", "/proc/self/mountinfo"],
        );
        r.expect(0);
        let mounts = mounts_of(&r.stdout);
        let find = |point: &str| {
            mounts
                .iter()
                .find(|(p, ..)| p == point)
                .unwrap_or_else(|| panic!("no mount at {point}\n{}", r.dump()))
        };
        let has = |point: &str, flag: &str| find(point).1.iter().any(|o| o == flag);
        for (point, opts, fstype) in &mounts {
            let has = |flag: &str| opts.iter().any(|o| o == flag);
            // No setuid or file capability takes effect anywhere in the jail.
            assert!(has("nosuid"), "{point} lacks nosuid\n{}", r.dump());
            // Device nodes only where the jail puts its own: the nodes bound from devtmpfs
            // (also as masks over /proc files), devpts, and /dev, the read-only tmpfs they are
            // bound onto.
            if !matches!(fstype.as_str(), "devtmpfs" | "devpts") && point != "/dev" {
                assert!(has("nodev"), "{point} ({fstype}) lacks nodev\n{}", r.dump());
            }
            // Nothing writable is executable (unless --exec asks for it).
            if has("rw") {
                assert!(
                    has("noexec"),
                    "{point} is writable and executable\n{}",
                    r.dump()
                );
            }
        }
        // The caller's binds as asked: --ro read-only and executable, --rw writable, noexec.
        assert!(has(ro, "ro") && !has(ro, "noexec"), "{}", r.dump());
        assert!(has(rw, "rw") && has(rw, "noexec"), "{}", r.dump());
        // The root, /usr and /dev are read-only.
        assert!(
            has("/", "ro") && has("/usr", "ro") && has("/dev", "ro"),
            "{}",
            r.dump()
        );
        assert!(
            has("/scratch", "rw") && has("/scratch", "noexec"),
            "{}",
            r.dump()
        );
    });
}

#[test]
fn started_as_root_the_jail_runs_as_nobody() {
    each_identity(|ctx| {
        let r = jail(ctx, &["--", "sh", "-c", "id -u; id -G"]);
        r.expect(0);
        let uid: u32 = r.stdout.lines().next().unwrap().parse().unwrap();
        assert!(ctx.is_jail_uid(uid), "{}", r.dump());
        assert_ne!(uid, 65534, "{}", r.dump());
        assert!(
            !r.stdout.split_whitespace().any(|g| g == "0"),
            "{}",
            r.dump()
        );
    });
}

#[test]
fn proc_is_masked_and_its_sysctls_read_only() {
    each_identity(|ctx| {
        let r = jail(ctx, &["--", "cat", "/proc/self/mountinfo"]);
        r.expect(0);
        let mounted: Vec<&str> = r
            .stdout
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .collect();
        for name in [
            "kcore",
            "keys",
            "timer_list",
            "sched_debug",
            "sysrq-trigger",
            "acpi",
            "scsi",
        ] {
            let host = format!("/proc/{name}");
            if std::path::Path::new(&host).exists() {
                assert!(
                    mounted.contains(&host.as_str()),
                    "{host} not masked\n{}",
                    r.dump()
                );
            }
        }
        // Every file mask is a read-only, nosuid, noexec /dev/null: the first one bound, the
        // others clones of that mount, which must keep its flags.
        let mut masks = 0;
        for name in [
            "kcore",
            "keys",
            "latency_stats",
            "timer_list",
            "timer_stats",
            "sched_debug",
            "sysrq-trigger",
            "cmdline",
            "sys/kernel/random/boot_id",
        ] {
            let host = format!("/proc/{name}");
            if !std::path::Path::new(&host).exists() {
                continue;
            }
            let line = r
                .stdout
                .lines()
                .find(|l| l.split(' ').nth(4) == Some(host.as_str()))
                .unwrap_or_else(|| panic!("{host} not masked\n{}", r.dump()));
            let flags: Vec<&str> = line.split(' ').nth(5).unwrap_or("").split(',').collect();
            for want in ["ro", "nosuid", "noexec"] {
                assert!(flags.contains(&want), "{host}'s mask is not {want}: {line}");
            }
            masks += 1;
        }
        assert!(
            masks >= 2,
            "fewer than two file masks to compare\n{}",
            r.dump()
        );
        let sys = r
            .stdout
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/proc/sys"))
            .unwrap_or_else(|| panic!("/proc/sys not remounted\n{}", r.dump()));
        assert!(sys.split(' ').nth(5).unwrap().starts_with("ro,"), "{sys}");
        jail(
            ctx,
            &["--", "sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"],
        )
        .expect_stderr_contains("Read-only file system");
        // The machine's fingerprint is unreadable inside: /proc/cmdline reads empty, boot_id
        // (under the nodev /proc/sys) cannot be opened. The control: the host has both.
        for (file, status) in [("/proc/cmdline", 0), ("/proc/sys/kernel/random/boot_id", 1)] {
            assert!(
                !std::fs::read_to_string(file).unwrap().trim().is_empty(),
                "{file} empty on the host"
            );
            let r = jail(ctx, &["--", "cat", file]);
            r.expect(status);
            assert_eq!(r.stdout, "", "{file} readable in the jail\n{}", r.dump());
        }
    });
}

#[test]
fn hostname_is_the_policys() {
    each_identity(|ctx| {
        let r = jail(ctx, &["--", "hostname"]);
        r.expect(0);
        assert_eq!(r.stdout.trim(), "tooljail", "{}", r.dump());
    });
}

#[test]
fn a_bind_source_the_jail_user_cannot_read_fails_setup_with_the_uid() {
    if !crate::support::root_or_skip("needs a directory the test user cannot read, made by root") {
        return;
    }
    // Root-owned and 0700: root could read it, but tooljail started by root runs as a transient uid.
    let dir = tempdir(0o700);
    let inner = dir.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    each_identity(|ctx| {
        let r = jail(ctx, &["--ro", inner.to_str().unwrap(), "--", "true"]);
        r.expect(125).expect_stderr_contains("Permission denied");
        if ctx.is_root() {
            // Root itself resolved the path; the jail's setup step names who could not (a
            // transient uid: 2130706432 and up).
            r.expect_stderr_contains("uid 21");
        }
    });
}

#[test]
fn pid1_is_locked_down_too() {
    each_identity(|ctx| {
        // Pid 1 drops its capabilities right after forking the command: wait (bounded) until
        // it has, then show its status; a pid 1 that never drops them fails below.
        let script = "for i in $(seq 200); do \
                        grep -q '^CapEff:.0000000000000000$' /proc/1/status && break; sleep 0.05; \
                      done; cat /proc/1/status";
        let r = jail(ctx, &["--", "sh", "-c", script]);
        r.expect(0);
        for name in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
            let line = r
                .stdout
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{name} missing\n{}", r.dump()));
            assert!(
                line.ends_with("0000000000000000"),
                "pid 1 {line}\n{}",
                r.dump()
            );
        }
        assert!(
            r.stdout.lines().any(|l| l == "NoNewPrivs:\t1"),
            "{}",
            r.dump()
        );
        // Its memory and environment are closed to the command (a process of another user
        // namespace, holding none of pid 1's capabilities). That pid 1 is also non-dumpable,
        // closed to the host's processes of the jail's uid, is proven from the host side
        // (supervisor_hardening.rs).
        let r = jail(
            ctx,
            &[
                "--",
                "sh",
                "-c",
                "head -c1 /proc/1/mem; cat /proc/1/environ",
            ],
        );
        assert_eq!(
            r.stderr.matches("Permission denied").count(),
            2,
            "{}",
            r.dump()
        );
    });
}
