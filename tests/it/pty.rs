//! Pseudo-terminals work inside the jail: /dev/ptmx resolves to the jail's private devpts
//! instance, and Landlock grants opening it, its terminals and the terminal ioctls on them.

use crate::support::{each_identity, run, tempdir};

/// `tooljail --audit-log LOG -- ARGS` as `ctx`.
fn jail(ctx: &crate::support::Ctx, args: &[&str]) -> crate::support::Run {
    let dir = tempdir(0o1777);
    let log = dir.path().join("audit.jsonl");
    let mut all = vec!["--audit-log", log.to_str().unwrap(), "--"];
    all.extend_from_slice(args);
    run(ctx.tooljail(all))
}

#[test]
fn python_pty_fork_runs_a_child_on_a_fresh_terminal() {
    each_identity(|ctx| {
        let script = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    print('child on', os.ttyname(0), os.isatty(1))
    sys.stdout.flush()
    os._exit(7)
out = b''
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
print(out.decode().strip(), 'exit', os.waitstatus_to_exitcode(status))
"#;
        let r = jail(ctx, &["python3", "-c", script]);
        r.expect(0)
            .expect_stdout_contains("child on /dev/pts/0 True exit 7");
        assert_eq!(r.stderr, "", "{}", r.dump());
    });
}

#[test]
fn script_runs_a_command_on_a_pty_and_ptmx_is_the_private_one() {
    each_identity(|ctx| {
        let r = jail(
            ctx,
            &[
                "sh",
                "-c",
                "readlink /dev/ptmx; script -qc tty /dev/null; echo rc=$?",
            ],
        );
        r.expect(0);
        let lines: Vec<&str> = r.stdout.lines().map(str::trim_end).collect();
        assert_eq!(lines, ["pts/ptmx", "/dev/pts/0", "rc=0"], "{}", r.dump());
    });
}
