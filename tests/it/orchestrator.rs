//! examples/orchestrator.py, run as an orchestrator would (python3 from /usr/bin, tooljail in a
//! subprocess, the report over an inherited pipe): its decision for a success, a timeout and a
//! command that does not exist, and a report larger than a pipe buffer (which deadlocked an
//! earlier version that read the report only after the process ended).

use crate::support::{each_identity, run_for, tempdir, Ctx};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const PYTHON: &str = "/usr/bin/python3";

/// `python3 orchestrator.py --tooljail BIN ARGS…` as this identity, with the same `setpriv`
/// prefix and environment the harness uses for tooljail itself.
fn orchestrator(ctx: &Ctx, script: &Path, args: &[&str]) -> Value {
    let base = ctx.tooljail(Vec::<&str>::new());
    let mut prefix: Vec<std::ffi::OsString> = base.get_args().map(|a| a.to_owned()).collect();
    let (mut cmd, bin) = if base.get_program() == "setpriv" {
        // setpriv OPTS -- BIN: keep OPTS --, run python3 instead, hand it BIN.
        let bin = prefix.pop().unwrap();
        let mut c = Command::new("setpriv");
        c.args(prefix).arg(PYTHON);
        (c, bin)
    } else {
        (Command::new(PYTHON), base.get_program().to_owned())
    };
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.arg(script).arg("--tooljail").arg(bin).args(args);
    let r = run_for(cmd, Duration::from_secs(60));
    r.expect(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON decision line\n{}", r.dump());
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}\n{}", r.dump()))
}

#[test]
fn the_example_orchestrator_decides_from_the_report() {
    // A copy every identity can read and execute.
    let dir = tempdir(0o755);
    let script = dir.path().join("orchestrator.py");
    crate::support::copy_executable(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/orchestrator.py"),
        &script,
        0o755,
    );

    each_identity(|ctx| {
        let v = orchestrator(ctx, &script, &["--", "echo", "hello"]);
        assert_eq!(v["decision"], "done", "{v:#}");
        assert_eq!(v["outcome"], "exited");
        assert_eq!(v["exit_status"], 0);
        assert_eq!(v["attempts"], 1);
        assert_eq!(v["stdout"], "hello\n");

        let v = orchestrator(ctx, &script, &["--timeout", "1s", "--", "sleep", "30"]);
        assert_eq!(v["decision"], "give_up", "{v:#}");
        assert_eq!(v["outcome"], "timeout");
        assert_eq!(v["exit_status"], 124);
        assert_eq!(v["retryable"], false);
        assert_eq!(v["stopped_by"]["name"], "wall_time");
        assert_eq!(v["attempts"], 1, "a timeout is not retried");

        let v = orchestrator(ctx, &script, &["--", "no-such-command-xyz"]);
        assert_eq!(v["decision"], "give_up", "{v:#}");
        assert_eq!(v["outcome"], "setup_error");
        assert_eq!(v["exit_status"], 127);
        assert_eq!(v["error"]["kind"], "not_found");
        assert_eq!(v["attempts"], 1);

        // The report holds argv: 180 KB of it (two arguments, each under the kernel's 128 KiB
        // limit for one) is far more than a pipe buffer.
        let big = "a".repeat(90_000);
        let v = orchestrator(ctx, &script, &["--", "echo", &big, &big]);
        assert_eq!(v["decision"], "done", "{v:#}");
        assert_eq!(v["stdout"].as_str().unwrap().len(), 2 * big.len() + 2);
    });
}
