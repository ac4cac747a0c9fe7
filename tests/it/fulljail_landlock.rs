//! Landlock inside the full jail: `tooljail run` with its namespaces, new root, Landlock and
//! seccomp together. The layer tests (landlock_layer.rs) prove each Landlock right on its
//! own; these prove the rights reach the command through the real launch path, and say which
//! wall stops what. Every case runs as root and as the unprivileged test user.
//!
//! The probe (examples/probe.rs, `probe ops ...`) makes each network/signal operation from the
//! inside and prints the errno, so the assertions are on exact errors, not on a tool's message.

use crate::support::{each_identity, profile_file, run, tempdir, unique, Ctx, Probe, Run, Who};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const FAKE_ABI_ENV: &str = "TOOLJAIL_TEST_FAKE_LANDLOCK_ABI";
fn jail(ctx: &Ctx, args: &[&str]) -> Run {
    let mut a = vec!["run"];
    a.extend_from_slice(args);
    run(ctx.tooljail(a))
}

impl Probe {
    /// `tooljail run [pre...] --ro DIR -- probe ops OPS...`, and the result of each op.
    fn ops(&self, ctx: &Ctx, pre: &[&str], ops: &[&str]) -> (Run, BTreeMap<String, String>) {
        let mut args: Vec<&str> = pre.to_vec();
        args.extend(["--ro", &self.dir, "--", &self.bin, "ops"]);
        args.extend_from_slice(ops);
        let r = jail(ctx, &args);
        r.expect(0);
        let got = parse_ops(&r);
        for op in ops {
            assert!(got.contains_key(*op), "no result for {op}\n{}", r.dump());
        }
        (r, got)
    }
}

/// `{"op":..,"got":..}` lines into op -> got.
fn parse_ops(r: &Run) -> BTreeMap<String, String> {
    crate::support::probe_op_results(&r.stdout)
        .into_iter()
        .collect()
}

#[track_caller]
fn expect_op(got: &BTreeMap<String, String>, op: &str, want: &str, r: &Run) {
    assert_eq!(
        got.get(op).map(String::as_str),
        Some(want),
        "{op}: expected {want}\n{}",
        r.dump()
    );
}

/// A port nothing listens on right now (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Accept everything queued; returns how many connections had arrived.
fn drain(l: &TcpListener) -> usize {
    std::iter::from_fn(|| l.accept().ok()).count()
}

#[test]
fn host_mode_tcp_ports_follow_the_profile() {
    let probe = Probe::new();
    let (allowed, a) = listener();
    let (denied, b) = listener();
    let (_d1, host) = profile_file(&format!(
        "extends = [\"default\"]\n[network]\nmode = \"host\"\ntcp_connect = [{a}]\n"
    ));
    let host = host.to_str().unwrap();
    each_identity(|ctx| {
        let f = free_port();
        let (connect_a, connect_b, bind_f) = (
            format!("connect:{a}"),
            format!("connect:{b}"),
            format!("bind:{f}"),
        );
        let ops = [connect_a.as_str(), &connect_b, &bind_f];
        let (r, got) = probe.ops(ctx, &["-p", host], &ops);
        // The host's network is shared, so only Landlock's port rules stand between the command
        // and these ports: the listed one connects, the others answer EACCES.
        expect_op(&got, &connect_a, "ok", &r);
        expect_op(&got, &connect_b, "EACCES", &r);
        expect_op(&got, &bind_f, "EACCES", &r);
        assert_eq!(drain(&allowed), 1, "{}", r.dump());
        assert_eq!(
            drain(&denied),
            0,
            "a denied port got a connection\n{}",
            r.dump()
        );

        // Control: the same probe can bind that port and reach the other listener when the
        // profile lists them, so the EACCES above is the port rule and nothing else.
        let (_d2, open) = profile_file(&format!(
            "extends = [\"default\"]\n[network]\nmode = \"host\"\n\
             tcp_connect = [{a}, {b}]\ntcp_bind = [{f}]\n"
        ));
        let (r, got) = probe.ops(ctx, &["-p", open.to_str().unwrap()], &ops);
        for op in ops {
            expect_op(&got, op, "ok", &r);
        }
        assert_eq!(drain(&denied), 1, "{}", r.dump());
        drain(&allowed);
    });
}

#[test]
fn abstract_unix_sockets_of_the_host_are_out_of_scope() {
    let probe = Probe::new();
    let name = unique("tooljail-abstract-");
    let l = UnixListener::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
    l.set_nonblocking(true).unwrap();
    let op = format!("abstract:{name}");
    let drain = || std::iter::from_fn(|| l.accept().ok()).count();
    // Abstract names live in the network namespace: `host` mode shares the host's, so the
    // socket is visible and only the Landlock scope can refuse the connection.
    let (_d1, host) = profile_file("extends = [\"default\"]\n[network]\nmode = \"host\"\n");
    let (_d2, unscoped) = profile_file(
        "extends = [\"default\"]\n[network]\nmode = \"host\"\n\
         [landlock]\nscope_abstract_unix = false\n",
    );
    each_identity(|ctx| {
        let (r, got) = probe.ops(ctx, &["-p", host.to_str().unwrap()], &[&op]);
        expect_op(&got, &op, "EPERM", &r);
        assert_eq!(drain(), 0, "the host socket got a connection\n{}", r.dump());

        // The scope turned off: the same connect reaches the host's socket (so the EPERM above
        // is the scope, and this test can fail).
        let (r, got) = probe.ops(ctx, &["-p", unscoped.to_str().unwrap()], &[&op]);
        expect_op(&got, &op, "ok", &r);
        assert_eq!(drain(), 1, "{}", r.dump());

        // In the default private network namespace the name does not even exist.
        let (r, got) = probe.ops(ctx, &[], &[&op]);
        expect_op(&got, &op, "ECONNREFUSED", &r);
        assert_eq!(drain(), 0, "{}", r.dump());
    });
}

/// A host process, killed when dropped (also when an assertion fails).
struct Sleeper(std::process::Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A host process the jail's uid could signal by the rules of kill(2): it runs as that uid.
fn host_sleeper(ctx: &Ctx) -> Sleeper {
    let mut cmd = Command::new("sleep");
    cmd.arg("60").stdin(Stdio::null()).stdout(Stdio::null());
    match &ctx.who {
        // Root's jail runs as a transient uid no host process has: nobody stands in.
        Who::Root => {
            cmd.uid(65534).gid(65534);
        }
        Who::User { uid, gid, .. } => {
            cmd.uid(*uid).gid(*gid);
        }
        Who::Current { .. } => {}
    }
    Sleeper(cmd.spawn().expect("spawn the host sleeper"))
}

#[test]
fn signals_cannot_leave_the_jail() {
    let probe = Probe::new();
    let (_d, unscoped) =
        profile_file("extends = [\"default\"]\n[landlock]\nscope_signals = false\n");
    each_identity(|ctx| {
        let mut sleeper = host_sleeper(ctx);
        let kill_host = format!("kill:{}:15", sleeper.0.id());
        // kill(1, 0) checks permission only: pid 1 is the jail's init.
        let kill_init = "kill:1:0";
        let (r, got) = probe.ops(ctx, &[], &[&kill_host, kill_init]);
        // The host process: the private pid namespace is the wall. Its pid number means nothing
        // inside (the jail has pids 1, 2, ... only), so kill answers ESRCH before any
        // permission check; Landlock's signal scope is never reached. No pidfd or other handle
        // on an outside process is passed in (every fd above 2 is closed), so there is no other
        // way to name it.
        expect_op(&got, &kill_host, "ESRCH", &r);
        assert!(
            sleeper.0.try_wait().unwrap().is_none(),
            "the host process died\n{}",
            r.dump()
        );
        // The one process outside the command's Landlock domain that it CAN name is the jail's
        // own pid 1 (it never called landlock_restrict_self, and it runs as the same uid, so
        // kill(2)'s uid rules allow it): the signal scope is what refuses.
        expect_op(&got, kill_init, "EPERM", &r);
        // With the scope off the same signal is allowed: the EPERM above is Landlock's.
        let (r, got) = probe.ops(ctx, &["-p", unscoped.to_str().unwrap()], &[kill_init]);
        expect_op(&got, kill_init, "ok", &r);
        // Processes the command starts are inside its domain and can be signalled.
        jail(
            ctx,
            &["--", "sh", "-c", "sleep 30 & kill $!; wait $!; echo rc=$?"],
        )
        .expect(0)
        .expect_stdout_contains("rc=143");
    });
}

#[test]
fn required_landlock_the_kernel_lacks_stops_the_run_through_the_cli() {
    if !crate::support::binary_has_test_knobs() {
        // A release build: the knob is compiled out (docs/landlock.md), so setting it changes
        // nothing and the run goes ahead with the real kernel's ABI.
        each_identity(|ctx| {
            let mut cmd = ctx.tooljail(["run", "--", "true"]);
            cmd.env(FAKE_ABI_ENV, "3");
            run(cmd).expect(0);
        });
        return;
    }
    let probe = Probe::new();
    let (_d, best) = profile_file("extends = [\"default\"]\n[landlock]\nmode = \"best-effort\"\n");
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let d = dir.path().to_str().unwrap();
        let marker = dir.path().join("MARKER");
        let touch = format!("touch {}", marker.display());
        let mut cmd = ctx.tooljail(["run", "--rw", d, "--", "sh", "-c", &touch]);
        cmd.env(FAKE_ABI_ENV, "3");
        let r = run(cmd);
        r.expect(125)
            .expect_stderr_contains("needs Landlock ABI 6")
            .expect_stderr_contains("this kernel has ABI 3")
            .expect_stderr_contains("best-effort");
        assert_eq!(r.stderr.lines().count(), 1, "one line\n{}", r.dump());
        assert!(!marker.exists(), "the command ran\n{}", r.dump());

        // Best-effort: it runs, and says what was not enforced, on stderr and in the report
        // (written outside the writable bind: tooljail refuses a record the command could
        // replace).
        let records = crate::support::records_dir();
        let report = records.path().join("report.json");
        let script = format!(
            "{touch}; {} ops kill:1:0; \
             echo 1000 > /proc/self/oom_score_adj && echo PROC-WRITTEN; true",
            probe.bin
        );
        let mut cmd = ctx.tooljail([
            "run",
            "-p",
            best.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--rw",
            d,
            "--ro",
            &probe.dir,
            "--",
            "sh",
            "-c",
            &script,
        ]);
        cmd.env(FAKE_ABI_ENV, "3");
        let r = run(cmd);
        r.expect(0).expect_stderr_contains(
            "tooljail: warning: landlock best-effort: not enforced (kernel Landlock ABI 3, \
             the profile needs ABI 6): ioctl-dev, scope-abstract-unix, scope-signals",
        );
        assert!(marker.exists(), "the command did not run\n{}", r.dump());
        let rep: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        let warnings: Vec<&str> = rep["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w.as_str())
            .collect();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("not enforced") && w.contains("scope-signals")),
            "report warnings {warnings:?}\n{}",
            r.dump()
        );
        // The list is true: what it names is indeed not enforced (pid 1 can be signalled) ...
        expect_op(&parse_ops(&r), "kill:1:0", "ok", &r);
        // ... and what it does not name (filesystem rights, ABI 1) still is.
        assert!(!r.stdout.contains("PROC-WRITTEN"), "{}", r.dump());
        r.expect_stderr_contains("Permission denied");
    });
}

#[test]
fn common_tools_run_under_the_default_profile() {
    each_identity(|ctx| {
        let script = "ls /; echo b a | tr ' ' '\\n' | sort | head -1; \
                      mkdir -p d/e && echo x > d/e/f && ln -s f d/e/l && mv d/e/f d/g && \
                      cat d/g && rm -r d && mkfifo p && rm p && date +%Y >/dev/null && \
                      cat /etc/passwd >/dev/null && echo tmp > /tmp/t && cat /tmp/t && echo DONE";
        let r = jail(ctx, &["--", "sh", "-c", script]);
        r.expect(0);
        let lines: Vec<&str> = r.stdout.lines().collect();
        for name in ["usr", "scratch", "proc", "dev", "tmp", "etc"] {
            assert!(lines.contains(&name), "ls / lacks {name}\n{}", r.dump());
        }
        for want in ["a", "x", "tmp", "DONE"] {
            assert!(lines.contains(&want), "missing {want}\n{}", r.dump());
        }
        assert!(r.stderr.is_empty(), "{}", r.dump());
    });
    if !crate::support::need_python() {
        return;
    }
    let script = "import os, subprocess, tempfile, threading\n\
        with tempfile.NamedTemporaryFile('w', dir='.', delete=False) as f: f.write('py')\n\
        os.rename(f.name, 'moved'); print(open('moved').read())\n\
        t = threading.Thread(target=print, args=('thread',)); t.start(); t.join()\n\
        print(subprocess.run(['ls', '/'], capture_output=True, text=True).stdout.split())\n";
    each_identity(|ctx| {
        let r = jail(ctx, &["--", "python3", "-c", script]);
        r.expect(0)
            .expect_stdout_contains("py\nthread\n")
            .expect_stdout_contains("'scratch'");
    });
}

#[test]
fn writes_outside_the_policy_fail() {
    each_identity(|ctx| {
        let ro = tempdir(0o777);
        std::fs::write(ro.path().join("f"), "host").unwrap();
        std::fs::set_permissions(ro.path().join("f"), std::fs::Permissions::from_mode(0o666))
            .unwrap();
        let d = ro.path().to_str().unwrap();
        // Inside a read-only bind: the read-only mount refuses first (EROFS; dash says 2 for a
        // failed redirection), Landlock (read
        // rights only) would refuse too. DAC allows both writes (0777 dir, 0666 file).
        let script = format!("echo jail > {d}/f; echo rc=$?; touch {d}/new; echo rc=$?; cat {d}/f");
        let r = jail(ctx, &["--ro", d, "--", "sh", "-c", &script]);
        r.expect(0).expect_stdout_contains("rc=2\nrc=1\nhost");
        assert_eq!(
            std::fs::read_to_string(ro.path().join("f")).unwrap(),
            "host"
        );
        assert!(!ro.path().join("new").exists(), "{}", r.dump());

        // Where the mount and the file's owner both allow a write, Landlock alone refuses it:
        // /proc is a read-write proc mount and /proc/self/oom_score_adj belongs to the command
        // (raising it needs no privilege), so `test -w` (access(2), which neither the mount nor
        // DAC refuse and Landlock does not check) says yes, and the write is still denied.
        let script = "test -w /proc/self/oom_score_adj && echo WRITABLE-BY-DAC; \
                      echo 1000 > /proc/self/oom_score_adj && echo PROC-WRITTEN; \
                      cat /proc/self/oom_score_adj";
        let r = jail(ctx, &["--", "sh", "-c", script]);
        r.expect(0)
            .expect_stdout_contains("WRITABLE-BY-DAC")
            .expect_stderr_contains("Permission denied");
        assert!(!r.stdout.contains("PROC-WRITTEN"), "{}", r.dump());
        assert!(!r.stdout.contains("1000"), "{}", r.dump());
    });
}

#[test]
fn a_binary_written_to_scratch_cannot_be_executed() {
    let (_d, exec) = profile_file("extends = [\"default\"]\n[filesystem.scratch]\nexec = true\n");
    let write_and_run = "cp /usr/bin/true /scratch/t && chmod 755 /scratch/t && exec /scratch/t";
    let loader = ld_so();
    let via_loader = format!(
        "cp /usr/bin/true /scratch/t && {} /scratch/t && echo LOADED",
        loader.display()
    );
    each_identity(|ctx| {
        // Two walls, here together through the real launch path; each is proven alone
        // elsewhere: scratch is mounted noexec (jail::binds_are_nosuid_nodev_and_writable_ones_noexec
        // reads it from mountinfo) and Landlock alone denies `w_exec` there
        // (landlock_layer::policy_holds_*).
        jail(ctx, &["--", "sh", "-c", write_and_run])
            .expect(126)
            .expect_stderr_contains("Permission denied");
        // Through the dynamic loader (mmap PROT_EXEC, which Landlock does not check): the
        // noexec mount refuses the mapping.
        let r = jail(ctx, &["--", "sh", "-c", &via_loader]);
        assert_ne!(r.code(), 0, "{}", r.dump());
        assert!(!r.stdout.contains("LOADED"), "{}", r.dump());
        // With scratch.exec the same commands run: what refused above was the jail's rule.
        let p = exec.to_str().unwrap();
        jail(ctx, &["-p", p, "--", "sh", "-c", write_and_run]).expect(0);
        jail(ctx, &["-p", p, "--", "sh", "-c", &via_loader])
            .expect(0)
            .expect_stdout_contains("LOADED");
    });
}

/// The x86_64 (or other) dynamic loader, as the jail sees it (under /usr or a /lib* link).
fn ld_so() -> PathBuf {
    [
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/ld-linux-aarch64.so.1",
        "/usr/lib64/ld-linux-x86-64.so.2",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("a dynamic loader")
}

/// The fake-ABI knob is in debug builds and compiled out of release builds: the binary cargo
/// built for these tests holds it exactly when the tests are a debug build, and a binary given
/// by `TOOLJAIL_TEST_BIN` (the release build CI packages) never does.
#[test]
fn the_fake_abi_knob_exists_only_in_debug_builds() {
    let built = std::fs::read(env!("CARGO_BIN_EXE_tooljail")).unwrap();
    let has = |bin: &[u8]| {
        bin.windows(FAKE_ABI_ENV.len())
            .any(|w| w == FAKE_ABI_ENV.as_bytes())
    };
    assert_eq!(has(&built), cfg!(debug_assertions));
    if std::env::var_os("TOOLJAIL_TEST_BIN").is_some() {
        let bin = std::fs::read(crate::support::binary()).unwrap();
        assert!(
            !has(&bin),
            "the release binary under test reads {FAKE_ABI_ENV}"
        );
    }
}
