//! tooljail inside a container: under the confinement of a container runtime's default profile
//! (examples/containerize.rs: a seccomp filter refusing unshare, setns, mount and namespace
//! clone flags with EPERM and clone3 with ENOSYS, and Docker's default capabilities), as root and
//! as the unprivileged test user.
//!
//! - The full jail fails closed there, with exit 125 and a line naming the cause (the filter,
//!   never the kernel's version) and `--isolation landlock`; `doctor` tries and says the same.
//! - `--isolation landlock` runs there, says in the report what it lacks, and keeps its walls:
//!   each denial below has a positive control beside it (the same thing allowed by the profile,
//!   or done without tooljail), so a test fails when the wall is removed.
//! - Real tasks work in that mode: make that runs what it built, git commit, pytest in a
//!   read-write directory, pip installing a wheel into a virtualenv.

use crate::support::{each_identity, run_for, tempdir, unique, Ctx, Run};
use serde_json::Value;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// The containerize example, copied into a 0755 directory every identity can execute.
fn containerize() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let built = crate::support::cargo_binary()
            .parent()
            .expect("target dir")
            .join("examples/containerize");
        let dir = tempdir(0o755).keep();
        let bin = dir.join("containerize");
        assert!(
            built.exists(),
            "{}: missing (cargo test builds it)",
            built.display()
        );
        crate::support::copy_executable(&built, &bin, 0o755);
        bin
    })
}

/// `cmd` (as built for an identity: tooljail itself, or setpriv running it) with containerize
/// put right before the program the identity runs.
fn wrap(inner: Command, pre: &[&str]) -> Command {
    let prog = inner.get_program().to_owned();
    let args: Vec<OsString> = inner.get_args().map(|a| a.to_owned()).collect();
    let mut cmd;
    if prog == "setpriv" {
        let dash = args.iter().position(|a| a == "--").expect("setpriv --");
        cmd = Command::new("setpriv");
        cmd.args(&args[..=dash])
            .arg(containerize())
            .args(pre)
            .arg("--");
        cmd.args(&args[dash + 1..]);
    } else {
        cmd = Command::new(containerize());
        cmd.args(pre).arg("--").arg(prog).args(args);
    }
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    if let Some(dir) = inner.get_current_dir() {
        cmd.current_dir(dir);
    }
    cmd
}

/// A command as this identity, inside the container confinement: `argv` run by containerize
/// directly (no tooljail), for positive controls.
fn contained_plain(ctx: &Ctx, pre: &[&str], argv: &[&str]) -> Command {
    // Build it as the identity would run tooljail, then swap tooljail for argv.
    let inner = ctx.tooljail(Vec::<&str>::new());
    let prog = inner.get_program().to_owned();
    let mut cmd;
    if prog == "setpriv" {
        let args: Vec<OsString> = inner.get_args().map(|a| a.to_owned()).collect();
        let dash = args.iter().position(|a| a == "--").expect("setpriv --");
        cmd = Command::new("setpriv");
        cmd.args(&args[..=dash])
            .arg(containerize())
            .args(pre)
            .arg("--");
    } else {
        cmd = Command::new(containerize());
        cmd.args(pre).arg("--");
    }
    cmd.args(argv);
    cmd
}

/// One run with a report.
struct Ran {
    run: Run,
    report: Value,
}

impl Ran {
    fn dump(&self) -> String {
        format!("{}\n--- report\n{:#}", self.run.dump(), self.report)
    }

    #[track_caller]
    fn expect(&self, code: i32) -> &Self {
        assert_eq!(self.run.code(), code, "exit code\n{}", self.dump());
        self
    }
}

/// `tooljail run --report R ARGS` as `ctx`, in the container confinement when `container`.
fn run_tj(ctx: &Ctx, container: bool, cwd: Option<&Path>, args: &[&str]) -> Ran {
    run_tj_pinned(ctx, container, cwd, args, None)
}

/// [`run_tj`] with the jail's uid chosen in advance.
fn run_tj_pinned(
    ctx: &Ctx,
    container: bool,
    cwd: Option<&Path>,
    args: &[&str],
    pin: Option<&crate::support::Pin>,
) -> Ran {
    run_tj_confined(ctx, container.then_some(&[]), cwd, args, pin)
}

/// [`run_tj_pinned`] in the container confinement with containerize's options `confinement`
/// (`None`: no confinement).
fn run_tj_confined(
    ctx: &Ctx,
    confinement: Option<&[&str]>,
    cwd: Option<&Path>,
    args: &[&str],
    pin: Option<&crate::support::Pin>,
) -> Ran {
    let out = tempdir(0o1777);
    let report = out.path().join("report.json");
    let audit = out.path().join("audit.jsonl");
    let mut all: Vec<String> = vec![
        "run".into(),
        "--report".into(),
        report.display().to_string(),
        "--audit-log".into(),
        audit.display().to_string(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    let mut cmd = ctx.tooljail(&all);
    if let Some(pin) = pin {
        pin.apply(&mut cmd);
    }
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let cmd = match confinement {
        Some(pre) => wrap(cmd, pre),
        None => cmd,
    };
    let run = run_for(cmd, LIMIT);
    let report = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    Ran { run, report }
}

/// A directory every identity can read, holding `files`.
fn readable_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempdir(0o755);
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    dir
}

/// Let the jail write `dir` in landlock mode, which has no mount namespace and so no idmapped
/// bind: root's transient jail uid is known only once it runs, so the tree becomes writable by
/// all; another user's jail gets it as its own.
fn give(ctx: &Ctx, dir: &Path) {
    let (tool, arg) = match &ctx.who {
        crate::support::Who::Root => ("chmod", "a+rwX".to_string()),
        _ if nix::unistd::geteuid().as_raw() == ctx.own_uid() => return,
        _ => ("chown", format!("{0}:{0}", ctx.own_uid())),
    };
    let ok = Command::new(tool)
        .arg("-R")
        .arg(arg)
        .arg(dir)
        .status()
        .expect("chown")
        .success();
    assert!(ok);
}

// ---------------------------------------------------------------------------------------------
// The full jail in a container: refused, with the cause and the way out

#[test]
fn the_full_jail_in_a_container_fails_closed_naming_the_filter_and_the_way_out() {
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let mark = dir.path().join("ran");
        let script = format!("touch {}", mark.display());
        let rw = dir.path().display().to_string();
        let r = run_tj(ctx, true, None, &["--rw", &rw, "--", "sh", "-c", &script]);
        r.expect(125);
        let err = &r.run.stderr;
        assert!(err.contains("seccomp filter"), "{}", r.dump());
        assert!(err.contains("--isolation landlock"), "{}", r.dump());
        assert!(
            !err.contains("Linux 5.3"),
            "a kernel-version hint\n{}",
            r.dump()
        );
        assert_eq!(err.lines().count(), 1, "one line\n{}", r.dump());
        assert!(!mark.exists(), "the command ran");
        assert_eq!(r.report["outcome"], "setup_error", "{}", r.dump());
        // Positive control: the same call outside the container confinement runs.
        run_tj(ctx, false, None, &["--rw", &rw, "--", "sh", "-c", &script]).expect(0);
        assert!(mark.exists());
    });
}

#[test]
fn doctor_tries_the_namespaces_and_names_the_filter_in_a_container() {
    each_identity(|ctx| {
        let doctor = |container: bool| {
            let cmd = ctx.tooljail(["doctor", "--json"]);
            let cmd = if container { wrap(cmd, &[]) } else { cmd };
            let r = run_for(cmd, LIMIT);
            let v: Value = serde_json::from_str(&r.stdout)
                .unwrap_or_else(|e| panic!("doctor --json: {e}\n{}", r.dump()));
            (r, v)
        };
        let (r, v) = doctor(true);
        assert_eq!(r.code(), 1, "{}", r.dump());
        let ns = &v["namespaces"];
        assert_eq!(ns["usable"], false, "{ns:#}");
        assert_eq!(ns["cause"], "seccomp-filter", "{ns:#}");
        assert_eq!(ns["tried"]["clone3"], libc::ENOSYS, "{ns:#}");
        assert!(ns["facts"]["seccomp_filters"].as_u64().unwrap_or(0) >= 2);
        assert_eq!(ns["facts"]["cap_sys_admin"], false, "{ns:#}");
        let check = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "user namespaces")
            .expect("a namespaces check");
        let detail = check["detail"].as_str().unwrap();
        assert!(detail.contains("--isolation landlock"), "{detail}");
        assert!(!detail.contains("Linux 5.3"), "{detail}");
        // Positive control: on this host, tried outside the confinement, they work.
        let (_, v) = doctor(false);
        assert_eq!(v["namespaces"]["usable"], true, "{:#}", v["namespaces"]);
    });
}

// ---------------------------------------------------------------------------------------------
// --isolation landlock: runs, and says what it lacks

#[test]
fn landlock_mode_runs_in_a_container_and_the_report_says_what_it_lacks() {
    each_identity(|ctx| {
        let r = run_tj(
            ctx,
            true,
            None,
            &[
                "--isolation",
                "landlock",
                "--",
                "sh",
                "-c",
                "echo in; id -u",
            ],
        );
        r.expect(0);
        assert!(r.run.stdout.contains("in"), "{}", r.dump());
        let uid = r.run.stdout.lines().nth(1).and_then(|u| u.parse().ok());
        assert!(uid.is_some_and(|u| ctx.is_jail_uid(u)), "{}", r.dump());
        let iso = &r.report["isolation"];
        assert_eq!(iso["mode"], "landlock", "{iso:#}");
        assert_eq!(iso["namespaces"], serde_json::json!([]), "{iso:#}");
        let lacks: Vec<&str> = iso["lacks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["wall"].as_str().unwrap())
            .collect();
        for wall in [
            "mount-namespace",
            "pid-namespace",
            "network-namespace",
            "ipc-namespace",
            "uts-namespace",
            "scratch-tmpfs",
        ] {
            assert!(lacks.contains(&wall), "{wall} missing: {iso:#}");
        }
        assert_eq!(r.report["outcome"], "exited");
        // The full jail says so too, and lacks nothing.
        let full = run_tj(ctx, false, None, &["--", "true"]);
        full.expect(0);
        assert_eq!(full.report["isolation"]["mode"], "full");
        assert_eq!(full.report["isolation"]["lacks"], serde_json::json!([]));
    });
}

/// Where a filter around tooljail refuses process_vm_readv (systemd's `@system-service`, older
/// container profiles without CAP_SYS_PTRACE), the supervisor still reads what an observed call
/// names, through /proc/PID/mem: a refused write is named all the same.
#[test]
fn without_process_vm_readv_a_refused_write_is_still_named() {
    each_identity(|ctx| {
        // The confinement does refuse it (a count of 0 iovecs reads nothing, and succeeds
        // where the call is allowed).
        let probe = "import ctypes, os\n\
                     nr = {'x86_64': 310, 'aarch64': 270}[os.uname().machine]\n\
                     libc = ctypes.CDLL(None, use_errno=True)\n\
                     r = libc.syscall(nr, os.getpid(), None, 0, None, 0, 0)\n\
                     print(r, ctypes.get_errno())";
        let pre = ["--no-process-vm-readv"];
        let plain = run_for(contained_plain(ctx, &pre, &["python3", "-c", probe]), LIMIT);
        assert_eq!(
            plain.stdout.trim(),
            format!("-1 {}", libc::EPERM),
            "{}",
            plain.dump()
        );
        let dir = readable_dir(&[]);
        let d = dir.path().display().to_string();
        let script = format!("echo x > {d}/new.txt");
        let args = [
            "--isolation",
            "landlock",
            "--ro",
            &d,
            "--",
            "sh",
            "-c",
            &script,
        ];
        let r = run_tj_confined(ctx, Some(&pre), None, &args, None);
        assert_ne!(r.run.code(), 0, "{}", r.dump());
        let named = format!("tooljail: denied: write to {d}/new.txt");
        assert!(r.run.stderr.contains(&named), "{}", r.dump());
        assert!(!dir.path().join("new.txt").exists());
    });
}

#[test]
fn landlock_mode_denies_host_paths_the_profile_does_not_name() {
    each_identity(|ctx| {
        let dir = readable_dir(&[("secret.txt", "s3cret\n")]);
        let secret = dir.path().join("secret.txt").display().to_string();
        let d = dir.path().display().to_string();
        let r = run_tj(
            ctx,
            true,
            None,
            &["--isolation", "landlock", "--", "cat", &secret],
        );
        assert_ne!(r.run.code(), 0, "{}", r.dump());
        assert!(!r.run.stdout.contains("s3cret"), "{}", r.dump());
        assert!(r.run.stderr.contains("Permission denied"), "{}", r.dump());
        // Positive controls: named with --ro it is read; without tooljail the user reads it.
        let r = run_tj(
            ctx,
            true,
            None,
            &["--isolation", "landlock", "--ro", &d, "--", "cat", &secret],
        );
        r.expect(0);
        assert!(r.run.stdout.contains("s3cret"), "{}", r.dump());
        let plain = run_for(contained_plain(ctx, &[], &["cat", &secret]), LIMIT);
        assert_eq!(plain.code(), 0, "{}", plain.dump());
        // The caller's home and /etc/shadow-like files likewise: /root is not named.
        let r = run_tj(
            ctx,
            true,
            None,
            &["--isolation", "landlock", "--", "ls", "/root"],
        );
        assert_ne!(r.run.code(), 0, "{}", r.dump());
    });
}

#[test]
fn landlock_mode_writes_only_where_the_profile_says() {
    each_identity(|ctx| {
        let dir = tempdir(0o755);
        give(ctx, dir.path());
        let d = dir.path().display().to_string();
        let target = dir.path().join("out.txt");
        let script = format!("echo w > {}", target.display());
        let r = run_tj(
            ctx,
            true,
            None,
            &[
                "--isolation",
                "landlock",
                "--ro",
                &d,
                "--",
                "sh",
                "-c",
                &script,
            ],
        );
        assert_ne!(r.run.code(), 0, "{}", r.dump());
        assert!(!target.exists(), "written through a read-only path");
        // Positive control: --rw lets it write.
        run_tj(
            ctx,
            true,
            None,
            &[
                "--isolation",
                "landlock",
                "--rw",
                &d,
                "--",
                "sh",
                "-c",
                &script,
            ],
        )
        .expect(0);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "w\n");
    });
}

#[test]
fn landlock_mode_denies_tcp_to_ports_the_profile_does_not_list() {
    each_identity(|ctx| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = format!(
            "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n    print('connected')\nexcept OSError as e:\n    print('refused', e.errno)\n"
        );
        let host_profile = |ports: &str| {
            crate::support::profile_file(&format!(
                "description = \"ports\"\nextends = [\"default\"]\n[network]\nmode = \"host\"\ntcp_connect = [{ports}]\n"
            ))
        };
        // Host mode listing another port: Landlock refuses this one (EACCES).
        let other = if port == 65535 { port - 1 } else { port + 1 };
        let (_d1, wrong) = host_profile(&other.to_string());
        let w = wrong.display().to_string();
        let r = run_tj(
            ctx,
            true,
            None,
            &[
                "-p",
                &w,
                "--isolation",
                "landlock",
                "--",
                "python3",
                "-c",
                &script,
            ],
        );
        r.expect(0);
        assert!(
            r.run.stdout.contains(&format!("refused {}", libc::EACCES)),
            "{}",
            r.dump()
        );
        // Positive control: a profile that lists the port reaches it.
        let (_d2, right) = host_profile(&port.to_string());
        let p = right.display().to_string();
        let r = run_tj(
            ctx,
            true,
            None,
            &[
                "-p",
                &p,
                "--isolation",
                "landlock",
                "--",
                "python3",
                "-c",
                &script,
            ],
        );
        r.expect(0);
        assert!(r.run.stdout.contains("connected"), "{}", r.dump());
        drop(listener);
    });
}

#[test]
fn landlock_mode_without_network_refuses_inet_sockets_so_udp_reaches_nothing() {
    each_identity(|ctx| {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let port = rx.local_addr().unwrap().port();
        let script = format!(
            "import socket\ntry:\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    s.sendto(b'leak', ('127.0.0.1', {port}))\n    print('sent')\nexcept OSError as e:\n    print('refused', e.errno)\n"
        );
        let r = run_tj(
            ctx,
            true,
            None,
            &["--isolation", "landlock", "--", "python3", "-c", &script],
        );
        r.expect(0);
        assert!(
            r.run
                .stdout
                .contains(&format!("refused {}", libc::EAFNOSUPPORT)),
            "{}",
            r.dump()
        );
        let mut buf = [0u8; 16];
        assert!(rx.recv(&mut buf).is_err(), "a datagram arrived");
        let denied: Vec<&str> = r.report["denied_syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["name"].as_str())
            .collect();
        assert!(denied.contains(&"socket"), "{}", r.dump());
        // Positive control (and the documented gap): in host mode the datagram arrives.
        let r = run_tj(
            ctx,
            true,
            None,
            &[
                "--isolation",
                "landlock",
                "--net",
                "host",
                "--",
                "python3",
                "-c",
                &script,
            ],
        );
        r.expect(0);
        assert!(r.run.stdout.contains("sent"), "{}", r.dump());
        let n = rx.recv(&mut buf).expect("the host-mode datagram");
        assert_eq!(&buf[..n], b"leak");
    });
}

#[test]
fn landlock_mode_keeps_the_seccomp_filter_and_names_what_it_denied() {
    each_identity(|ctx| {
        // ptrace(PTRACE_TRACEME): always denied by tooljail, allowed by the container's filter.
        let script = "import ctypes; print('ret', ctypes.CDLL(None).ptrace(0, 0, 0, 0))";
        let r = run_tj(
            ctx,
            true,
            None,
            &["--isolation", "landlock", "--", "python3", "-c", script],
        );
        r.expect(0);
        assert!(r.run.stdout.contains("ret -1"), "{}", r.dump());
        let denied: Vec<&str> = r.report["denied_syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["name"].as_str())
            .collect();
        assert!(denied.contains(&"ptrace"), "{}", r.dump());
        // Positive control: in the container without tooljail, it succeeds.
        let plain = run_for(contained_plain(ctx, &[], &["python3", "-c", script]), LIMIT);
        assert!(plain.stdout.contains("ret 0"), "{}", plain.dump());
    });
}

#[test]
fn landlock_mode_kills_what_the_command_leaves_and_removes_its_scratch() {
    each_identity(|ctx| {
        let marker = unique("9");
        // The sleep lets go of the output pipe, so a control that leaves it does not hold the run.
        let script = format!("sleep {marker} >/dev/null 2>&1 & echo \"$HOME\"");
        let r = run_tj(
            ctx,
            true,
            None,
            &["--isolation", "landlock", "--", "sh", "-c", &script],
        );
        r.expect(0);
        let scratch = r.run.stdout.trim().to_string();
        assert!(scratch.contains("tooljail-scratch-"), "{}", r.dump());
        assert!(!Path::new(&scratch).exists(), "scratch left: {scratch}");
        assert!(
            crate::support::host_pids_running("sleep", &marker).is_empty(),
            "a process outlived the command\n{}",
            r.dump()
        );
        // Positive control: the same command without tooljail leaves the sleep behind.
        let plain = run_for(contained_plain(ctx, &[], &["sh", "-c", &script]), LIMIT);
        assert_eq!(plain.code(), 0);
        let left = crate::support::host_pids_running("sleep", &marker);
        assert!(!left.is_empty(), "the control left nothing to kill");
        for pid in left {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    });
}

#[test]
fn a_profile_that_requires_a_namespace_refuses_landlock_mode() {
    each_identity(|ctx| {
        let (_pdir, profile) = crate::support::profile_file(
            "description = \"needs its mount namespace\"\nextends = [\"default\"]\nrequires = [\"mount-namespace\"]\n",
        );
        let p = profile.display().to_string();
        let r = run_tj(
            ctx,
            true,
            None,
            &["-p", &p, "--isolation", "landlock", "--", "true"],
        );
        r.expect(125);
        let err = &r.run.stderr;
        assert!(err.contains("test-profile.toml:3:"), "{}", r.dump());
        assert!(err.contains("requires mount-namespace"), "{}", r.dump());
        // Positive controls: in the full jail it runs; without the requirement, landlock runs.
        run_tj(ctx, false, None, &["-p", &p, "--", "true"]).expect(0);
        run_tj(ctx, true, None, &["--isolation", "landlock", "--", "true"]).expect(0);
    });
}

// ---------------------------------------------------------------------------------------------
// Real tasks in landlock mode, in a container

const MAKEFILE: &str = "\
prog: main.o sq.o
\t$(CC) -o $@ main.o sq.o
check: prog
\t./prog 7 > out.txt
\tgrep -qx 49 out.txt
";

#[test]
fn make_builds_and_runs_what_it_built_in_landlock_mode() {
    each_identity(|ctx| {
        let dir = readable_dir(&[
            ("Makefile", MAKEFILE),
            (
                "main.c",
                "#include <stdio.h>\n#include <stdlib.h>\nint sq(int);\n\
                 int main(int c, char **v){ printf(\"%d\\n\", sq(c > 1 ? atoi(v[1]) : 0)); return 0; }\n",
            ),
            ("sq.c", "int sq(int x) { return x * x; }\n"),
        ]);
        give(ctx, dir.path());
        let r = run_tj(
            ctx,
            true,
            Some(dir.path()),
            &[
                "-p",
                "build-c",
                "--isolation",
                "landlock",
                "--",
                "make",
                "-j2",
                "check",
            ],
        );
        r.expect(0);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            "49\n"
        );
    });
}

#[test]
fn git_commits_with_git_rw_in_landlock_mode() {
    use crate::support::profiles::{git_repo_with_a_change, git_subjects, GIT_COMMIT};
    each_identity(|ctx| {
        let dir = readable_dir(&[("README", "hello\n")]);
        let p = dir.path();
        git_repo_with_a_change(p);
        give(ctx, p);
        let mut args = vec!["-p", "git-rw", "--isolation", "landlock"];
        args.extend_from_slice(GIT_COMMIT);
        let r = run_tj(ctx, true, Some(p), &args);
        r.expect(0);
        let log = git_subjects(p);
        assert!(log.starts_with("from the jail\n"), "{log}\n{}", r.dump());
    });
}

#[test]
fn python_tests_run_in_a_rw_directory_in_landlock_mode() {
    each_identity(|ctx| {
        let dir = readable_dir(&[(
            "test_sq.py",
            "def test_sq(tmp_path):\n\
             \x20   (tmp_path / 'scratch').write_text('x')\n\
             \x20   assert 7 * 7 == 49\n\
             \x20   open('done', 'w').write('x')\n",
        )]);
        give(ctx, dir.path());
        let d = dir.path().display().to_string();
        let r = run_tj(
            ctx,
            true,
            Some(dir.path()),
            &[
                "-p",
                "python",
                "--isolation",
                "landlock",
                "--rw",
                &d,
                "--cwd",
                &d,
                "--",
                "python3",
                "-m",
                "pytest",
                "-q",
                "test_sq.py",
            ],
        );
        r.expect(0);
        assert!(r.run.stdout.contains("1 passed"), "{}", r.dump());
        assert!(dir.path().join("done").exists(), "{}", r.dump());
    });
}

#[test]
fn pip_installs_a_wheel_into_a_virtualenv_in_landlock_mode() {
    each_identity(|ctx| {
        let dir = tempdir(0o755);
        let wheel = dir.path().join("tjwheel-1.0-py3-none-any.whl");
        let make_wheel = r#"
import base64, hashlib, sys, zipfile
files = {
    "tjwheel/__init__.py": "VALUE = 42\n",
    "tjwheel-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tjwheel\nVersion: 1.0\n",
    "tjwheel-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
rec = []
for p, c in files.items():
    d = base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b"=").decode()
    rec.append(f"{p},sha256={d},{len(c)}")
rec.append("tjwheel-1.0.dist-info/RECORD,,")
files["tjwheel-1.0.dist-info/RECORD"] = "\n".join(rec) + "\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for p, c in files.items():
        z.writestr(p, c)
"#;
        let ok = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(make_wheel)
            .arg(&wheel)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        give(ctx, dir.path());
        let d = dir.path().display().to_string();
        // Without a mount namespace, files the profile does not name exist and are denied
        // (EACCES): pip's distro probe and mimetypes stop at EACCES where they skip ENOENT, so
        // they are named here (docs/containers.md lists this cost).
        let script =
            "python3 -m venv v && v/bin/pip install -q --no-index ./tjwheel-1.0-py3-none-any.whl; \
                      v/bin/python -c 'import tjwheel; print(\"value\", tjwheel.VALUE)'";
        let r = run_tj(
            ctx,
            true,
            Some(dir.path()),
            &[
                "-p",
                "python",
                "--isolation",
                "landlock",
                "--rw",
                &d,
                "--exec",
                &d,
                "--cwd",
                &d,
                "--ro",
                "/etc/debian_version",
                "--ro",
                "/etc/mime.types",
                "--",
                "sh",
                "-c",
                script,
            ],
        );
        r.expect(0);
        assert!(r.run.stdout.contains("value 42"), "{}", r.dump());
    });
}

// ---------------------------------------------------------------------------------------------
// The full jail where openat2 answers ENOSYS: the component walk keeps its guarantees

#[test]
fn without_openat2_the_full_jail_builds_and_still_refuses_a_symlinked_mount_point() {
    each_identity(|ctx| {
        // The helper really refuses openat2 (437 on x86_64 and aarch64) with ENOSYS.
        let probe = "import ctypes, os; r = ctypes.CDLL(None, use_errno=True).syscall(437, -100, b'/', 0, 0); print(r, ctypes.get_errno())";
        let plain = run_for(
            contained_plain(ctx, &["--only-openat2"], &["python3", "-c", probe]),
            LIMIT,
        );
        assert_eq!(
            plain.stdout.trim(),
            format!("-1 {}", libc::ENOSYS),
            "{}",
            plain.dump()
        );

        let dir = tempdir(0o777);
        let outside = tempdir(0o755);
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::fs::set_permissions(
            dir.path().join("real"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let d = dir.path().to_str().unwrap();
        let jail = |target: &str| {
            let cmd = ctx.tooljail(["run", "--rw", d, "--ro", target, "--", "true"]);
            run_for(wrap(cmd, &["--only-openat2"]), LIMIT)
        };
        // Positive control: the jail builds (every mount point opened by the walk).
        let ok = jail(&format!("{d}/real"));
        assert_eq!(ok.code(), 0, "{}", ok.dump());
        // The wall: a mount point that is a symlink in a read-write bind is refused.
        let r = jail(&format!("{d}/link"));
        assert_eq!(r.code(), 125, "{}", r.dump());
        assert!(r.stderr.contains("symlink"), "{}", r.dump());
    });
}

// ---------------------------------------------------------------------------------------------
// More of what the landlock mode keeps, and what it refuses

#[test]
fn landlock_mode_cannot_signal_host_processes_of_its_own_uid() {
    each_identity(|ctx| {
        // A host process of the jail's uid, which DAC would let the command signal.
        let pin = ctx.pin_jail_uid();
        let uid = pin.uid.to_string();
        let mut victim = if nix::unistd::geteuid().as_raw() == pin.uid {
            Command::new("sleep")
        } else {
            let mut c = Command::new("setpriv");
            c.args([
                format!("--reuid={uid}"),
                format!("--regid={uid}"),
                "--clear-groups".into(),
            ])
            .args(["--", "sleep"]);
            c
        };
        let mut victim = victim.arg("30").spawn().unwrap();
        let pid = victim.id().to_string();
        let r = run_tj_pinned(
            ctx,
            true,
            None,
            &[
                "--isolation",
                "landlock",
                "--",
                "sh",
                "-c",
                &format!("kill -0 {pid}; echo kill=$?"),
            ],
            Some(&pin),
        );
        r.expect(0);
        assert!(r.run.stdout.contains("kill=1"), "{}", r.dump());
        // The wall is Landlock's signal scope: a profile that turns it off can signal it.
        let (_pdir, profile) = crate::support::profile_file(
            "description = \"no signal scope\"\nextends = [\"default\"]\n[landlock]\nscope_signals = false\n",
        );
        let p = profile.display().to_string();
        let r = run_tj_pinned(
            ctx,
            true,
            None,
            &[
                "-p",
                &p,
                "--isolation",
                "landlock",
                "--",
                "sh",
                "-c",
                &format!("kill -0 {pid}; echo kill=$?"),
            ],
            Some(&pin),
        );
        assert!(r.run.stdout.contains("kill=0"), "{}", r.dump());
        // Positive control: the same uid outside tooljail may signal it.
        let mut c = Command::new("setpriv");
        c.args([
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".into(),
        ])
        .args(["--", "sh", "-c", &format!("kill -0 {pid}; echo kill=$?")]);
        let plain = run_for(c, LIMIT);
        assert!(plain.stdout.contains("kill=0"), "{}", plain.dump());
        let _ = victim.kill();
        let _ = victim.wait();
    });
}

#[test]
fn landlock_mode_keeps_the_wall_clock_limit() {
    each_identity(|ctx| {
        let marker = unique("7");
        let script = format!("sleep {marker} >/dev/null 2>&1 & sleep 30");
        let r = run_tj(
            ctx,
            true,
            None,
            &[
                "--isolation",
                "landlock",
                "--timeout",
                "1s",
                "--",
                "sh",
                "-c",
                &script,
            ],
        );
        r.expect(124);
        assert_eq!(r.report["outcome"], "timeout", "{}", r.dump());
        assert!(r.run.elapsed < Duration::from_secs(20), "{}", r.dump());
        assert!(
            crate::support::host_pids_running("sleep", &marker).is_empty(),
            "a process outlived the timeout\n{}",
            r.dump()
        );
    });
}

#[test]
fn explain_says_what_landlock_mode_lacks() {
    let out = Command::new(crate::support::binary())
        .args(["explain", "--isolation", "landlock"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("isolation: landlock"), "{text}");
    for wall in [
        "mount-namespace",
        "pid-namespace",
        "network-namespace",
        "scratch-tmpfs",
    ] {
        assert!(text.contains(&format!("- {wall}: ")), "{wall}\n{text}");
    }
    // The full jail says it is the full jail.
    let out = Command::new(crate::support::binary())
        .arg("explain")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("isolation: full"), "{text}");
    assert!(!text.contains("- mount-namespace"), "{text}");
}

/// Without namespaces Landlock is the only wall: best-effort Landlock does not apply. Uses the
/// debug build's fake-ABI knob to pretend the kernel has ABI 3 (no scopes, no TCP rules).
#[test]
fn landlock_mode_refuses_best_effort_landlock_on_a_kernel_that_lacks_features() {
    if !crate::support::binary_has_test_knobs() {
        // The release binary has no fake-ABI knob (fulljail_landlock proves it ignores it);
        // this check runs in CI's debug pass, against the binary that has it.
        return;
    }
    each_identity(|ctx| {
        let (_pdir, profile) = crate::support::profile_file(
            "description = \"best effort\"\nextends = [\"default\"]\n[landlock]\nmode = \"best-effort\"\n",
        );
        let p = profile.display().to_string();
        let with_fake = |isolation: &[&str]| {
            let mut args = vec!["run", "-p", &p];
            args.extend_from_slice(isolation);
            args.extend_from_slice(&["--", "true"]);
            let mut cmd = ctx.tooljail(&args);
            cmd.env("TOOLJAIL_TEST_FAKE_LANDLOCK_ABI", "3");
            run_for(cmd, LIMIT)
        };
        let r = with_fake(&["--isolation", "landlock"]);
        assert_eq!(r.code(), 125, "{}", r.dump());
        assert!(
            r.stderr.contains("relies on Landlock alone"),
            "{}",
            r.dump()
        );
        // Positive control: the full jail runs best-effort there (the namespaces still wall).
        let r = with_fake(&[]);
        assert_eq!(r.code(), 0, "{}", r.dump());
    });
}

#[test]
fn landlock_mode_command_dies_when_tooljail_is_sigkilled() {
    each_identity(|ctx| {
        let marker = unique("8");
        let cmd = ctx.tooljail(["run", "--isolation", "landlock", "--", "sleep", &marker]);
        let mut child = crate::support::spawn(&mut wrap(cmd, &[]));
        assert!(
            crate::support::wait_until(Duration::from_secs(10), || {
                !crate::support::host_pids_running("sleep", &marker).is_empty()
            }),
            "the command never started"
        );
        // The process group holds containerize's exec of tooljail (or setpriv's).
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        let _ = child.wait();
        // PR_SET_PDEATHSIG: the command goes with its supervisor. (Processes the command itself
        // started would not: docs/containers.md, pid-namespace.)
        let gone = crate::support::wait_until(Duration::from_secs(10), || {
            crate::support::host_pids_running("sleep", &marker).is_empty()
        });
        // What a SIGKILLed supervisor cannot do: remove its scratch (documented). Clean it up.
        let scratch: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("tooljail-scratch-{}-", child.id())))
            })
            .collect();
        assert_eq!(scratch.len(), 1, "{scratch:?}");
        std::fs::remove_dir_all(&scratch[0]).unwrap();
        for left in crate::support::host_pids_running("sleep", &marker) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(left),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        assert!(gone, "the command outlived a SIGKILLed tooljail");
    });
}
