#!/usr/bin/env python3
"""How an agent orchestrator calls tooljail.

Every tool call runs as `tooljail run -p PROFILE ... --report fd:N -- argv...` in a subprocess.
The orchestrator never parses stderr: it reads the JSON report (schema tooljail.report/1,
docs/report.md) and decides from `outcome` and `retryable` whether to retry, give up, or hand
the result to the model.

Call rules across calls live in the profile's [budget] (docs/state.md), e.g.

    extends = ["default"]
    [budget]
    max_identical_calls = 3        # the loop guard: a 4th identical call is refused
    session_cpu = "10m"            # a session's whole CPU budget
    [[budget.rate]]
    per = ["session", "tool"]
    limit = 60
    window = "1m"

A refused call has outcome "refused": a `rate_limit` refusal is retryable after
`stopped_by.retry_after_ms`; `loop_guard` and `budget` are not (change the call, or stop).
`--state URL` points every host of a fleet at one PostgreSQL store.

Run it:  python3 examples/orchestrator.py [--tooljail PATH] [--state URL] -- CMD [ARGS...]
It prints one JSON line: the decision and the fields of the report it was based on.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time


def run_tool_call(
    tooljail, argv, profile="default", timeout="30s", tool=None, session=None, state=None
):
    """Run one tool call in a jail; return (exit status, report or None, stdout, stderr).

    The report travels over a pipe passed as an inherited descriptor (`--report fd:N`), so no
    temporary file is needed. tooljail writes it once, when the run ends.
    """
    read_end, write_end = os.pipe()
    cmd = [tooljail, "run", "-p", profile, "--timeout", timeout, "--report", f"fd:{write_end}"]
    if tool:
        cmd += ["--tool", tool]
    if session:
        cmd += ["--session", session]
    if state:
        cmd += ["--state", state]
    cmd += ["--", *argv]
    report_chunks = []

    def drain_report(f):
        # Read the report pipe at the same time as stdout and stderr: tooljail writes the report
        # before it exits, and a report larger than the pipe buffer (64 KiB on Linux) would
        # block it forever if we only read this pipe after communicate() returned.
        report_chunks.append(f.read())

    with os.fdopen(read_end, "rb") as report_pipe:
        try:
            proc = subprocess.Popen(
                cmd, pass_fds=(write_end,), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        finally:
            # Our copy of the write end must go, or the pipe never reaches end-of-file.
            os.close(write_end)
        reader = threading.Thread(target=drain_report, args=(report_pipe,), daemon=True)
        reader.start()
        try:
            out, err = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        reader.join(timeout=10)
    raw = b"".join(report_chunks)
    report = json.loads(raw) if raw.strip() else None
    return proc.returncode, report, out.decode(errors="replace"), err.decode(errors="replace")


def decide(returncode, report):
    """What an orchestrator does with a finished call."""
    if report is None:
        # No report at all means tooljail could not even start (bad arguments before the report
        # sink opened): a terminal error in the call itself.
        return "give_up"
    if report["outcome"] == "exited":
        return "done"  # the tool ran; its exit code is part of the answer, not a failure of ours
    if report["retryable"]:
        return "retry"  # transient: a rate-limit window, EAGAIN-type setup failure
    return "give_up"  # timeout, limit, violation, bad profile, not found: retrying cannot help


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tooljail", default="tooljail")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--timeout", default="30s")
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("--state", help="the call state store: sqlite:PATH or postgres://...")
    ap.add_argument("argv", nargs="+")
    args = ap.parse_args()

    for attempt in range(1, args.attempts + 1):
        code, report, out, err = run_tool_call(
            args.tooljail,
            args.argv,
            args.profile,
            args.timeout,
            tool=args.argv[0],
            session="example",
            state=args.state,
        )
        decision = decide(code, report)
        if decision != "retry" or attempt == args.attempts:
            break
        stopped = report.get("stopped_by") or {}
        if stopped.get("retry_after_ms") is not None:
            # A rate limit says when a slot frees: wait that long (bounded), not a guess.
            time.sleep(min(stopped["retry_after_ms"], 60_000) / 1000)
        else:
            time.sleep(0.2 * 2 ** attempt)  # back off before retrying a transient failure

    print(json.dumps({
        "decision": decision,
        "attempts": attempt,
        "exit_status": code,
        "outcome": report and report["outcome"],
        "retryable": report and report["retryable"],
        "stopped_by": report and report["stopped_by"],
        "error": report and report["error"],
        "stdout": out,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
