"""tooljail.run and tooljail.arun against the real binary."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

import tooljail


def test_output_exit_code_and_report() -> None:
    r = tooljail.run(["sh", "-c", "echo out; echo err >&2; exit 3"], tool="t1", session="s1")
    assert (r.exit_code, r.outcome, r.retryable) == (3, "exited", False)
    assert (r.stdout, r.stderr) == ("out\n", "err\n")
    assert r.report["schema"] == "tooljail.report/1"
    assert r.report["argv"] == ["sh", "-c", "echo out; echo err >&2; exit 3"]
    assert r.report["identity"]["tool"] == "t1"
    assert r.report["identity"]["session"] == "s1"
    assert len(r.run_id) == 32
    assert not r.ok


def test_the_report_cannot_be_faked_by_the_command() -> None:
    fake = json.dumps({"schema": "tooljail.report/1", "outcome": "exited", "exit_code": 0})
    r = tooljail.run(["sh", "-c", f"echo '{fake}'; echo '{fake}' >&2; exit 7"])
    assert r.outcome == "exited" and r.exit_code == 7
    assert r.report["exit_code"] == 7
    assert r.report["argv"][0] == "sh"


def test_timeout_is_an_outcome_not_an_exception() -> None:
    start = time.monotonic()
    r = tooljail.run(["sleep", "30"], timeout=0.5)
    assert time.monotonic() - start < 15
    assert (r.outcome, r.exit_code, r.retryable) == ("timeout", 124, False)
    assert r.stopped_by is not None and r.stopped_by["name"] == "wall_time"


def test_not_found_is_127_with_the_error_in_the_report() -> None:
    r = tooljail.run(["no-such-command-xyz"])
    assert (r.outcome, r.exit_code) == ("setup_error", 127)
    assert r.report["error"]["kind"] == "not_found"


def test_exit_125_raises_with_tooljails_one_line() -> None:
    with pytest.raises(tooljail.TooljailError) as e:
        tooljail.run(["true"], profile="no-such-profile-xyz")
    err = e.value
    assert err.exit_status == 125
    assert err.kind == "profile"
    assert err.message.startswith("tooljail: -p no-such-profile-xyz: profile \"no-such-profile-xyz\" not found")
    assert "\n" not in err.message
    assert err.message in err.stderr
    assert err.retryable is False


def test_the_commands_own_125_is_a_result() -> None:
    r = tooljail.run(["sh", "-c", "exit 125"])
    assert (r.outcome, r.exit_code) == ("exited", 125)


def test_a_command_line_tooljail_rejects_raises_without_a_report() -> None:
    with pytest.raises(tooljail.TooljailError) as e:
        tooljail.run(["true"], net="carrier-pigeon")
    assert e.value.report is None
    assert e.value.exit_status != 0
    assert "carrier-pigeon" in e.value.message


def test_stdin_input_env_and_cwd() -> None:
    r = tooljail.run(["sh", "-c", "cat; echo \"$GREETING\"; pwd"], input="from stdin\n",
                     env={"GREETING": "hello"}, cwd="/tmp")
    assert r.stdout == "from stdin\nhello\n/tmp\n", r.stderr


@pytest.fixture
def shared_dir() -> "Iterator[Path]":
    """A 0755 directory: root's jail runs as a transient uid, which reads what others may."""
    d = Path(tempfile.mkdtemp(prefix="tooljail-py-"))
    d.chmod(0o755)
    yield d
    subprocess.run(["rm", "-rf", str(d)], check=False)


def test_rw_and_ro_paths(shared_dir: Path) -> None:
    rw = shared_dir / "rw"
    ro = shared_dir / "ro"
    rw.mkdir(mode=0o700)
    ro.mkdir()
    (ro / "in.txt").write_text("data\n")
    r = tooljail.run(
        ["sh", "-c", f"cat {ro}/in.txt > {rw}/out.txt && echo x > {ro}/no.txt"],
        ro=[ro], rw=[rw],
    )
    assert r.exit_code != 0
    assert "Read-only file system" in r.stderr or "Permission denied" in r.stderr, r.stderr
    assert (rw / "out.txt").read_text() == "data\n"
    assert not (ro / "no.txt").exists()


def test_what_is_not_bound_is_absent(shared_dir: Path) -> None:
    secret = shared_dir / "secret.txt"
    secret.write_text("s3cret")
    r = tooljail.run(["cat", str(secret)])
    assert r.exit_code == 1 and "No such file" in r.stderr
    assert "s3cret" not in r.stdout


def test_limits_and_output_caps() -> None:
    r = tooljail.run(["sh", "-c", "yes | head -c 100000"], stdout_max="1K")
    assert r.report["output"]["stdout"]["dropped"] > 0
    assert "bytes of stdout not shown" in r.stdout
    r = tooljail.run(["grep", "Max processes", "/proc/self/limits"], limits={"processes": 32})
    assert r.stdout.split()[2:4] == ["32", "32"], r.stdout


def test_binary_from_parameter_env_and_path(monkeypatch: pytest.MonkeyPatch, tooljail_binary: str) -> None:
    monkeypatch.delenv("TOOLJAIL_BIN")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(tooljail.TooljailNotFound):
        tooljail.run(["true"])
    assert tooljail.run(["true"], tooljail=tooljail_binary).ok
    monkeypatch.setenv("PATH", os.path.dirname(tooljail_binary))
    if os.path.basename(tooljail_binary) == "tooljail":
        assert tooljail.find_tooljail() == tooljail_binary
        assert tooljail.run(["true"]).ok
    monkeypatch.setenv("TOOLJAIL_BIN", tooljail_binary)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert tooljail.run(["true"]).ok


def test_argv_is_never_a_shell_string() -> None:
    with pytest.raises(TypeError):
        tooljail.run("echo hi")
    r = tooljail.run(["echo", "$(id)", ";", "rm -rf /"])
    assert r.stdout == "$(id) ; rm -rf /\n"


def test_a_large_report_does_not_block() -> None:
    big = "a" * 100_000
    r = tooljail.run(["echo", big, big])
    assert r.ok and len(r.stdout) == 2 * len(big) + 2
    assert r.report["argv"][1] == big


async def test_arun_runs_calls_concurrently() -> None:
    start = time.monotonic()
    results = await asyncio.gather(
        *(tooljail.arun(["sh", "-c", f"sleep 1; echo {i}"], tool=f"c{i}") for i in range(4))
    )
    elapsed = time.monotonic() - start
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(4)]
    assert len({r.run_id for r in results}) == 4
    # Four one-second sleeps, concurrently (generous for a loaded 2-core machine).
    assert elapsed < 3.9, elapsed


async def test_arun_input_and_error() -> None:
    r = await tooljail.arun(["wc", "-c"], input=b"x" * 300_000)
    assert r.stdout.strip() == "300000"
    with pytest.raises(tooljail.TooljailError) as e:
        await tooljail.arun(["true"], profile="no-such-profile-xyz")
    assert e.value.kind == "profile"


async def test_cancelling_arun_ends_the_jail() -> None:
    marker = f"{os.getpid()}{time.monotonic_ns()}"
    task = asyncio.create_task(tooljail.arun(["sh", "-c", f"sleep 30 # {marker}"]))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The jailed sleep is gone, not orphaned.
    for _ in range(50):
        ps = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
        if ps.returncode == 1:
            break
        await asyncio.sleep(0.1)
    assert ps.returncode == 1, ps.stdout


def test_options_map_to_real_flags(tooljail_binary: str) -> None:
    cmd = tooljail.build_command(
        ["x"], ["python", "./p.toml"], tooljail=tooljail_binary, ro=["/a"], rw=["/b"],
        exec_paths=["/c"], net="host", isolation="full", timeout=1.5, memory="512M",
        limits={"processes": 64}, env={"K": "V"}, keep_env=["TERM"], cwd="/a",
        export_to="/d", export=["*.csv"], stdout_max="64K", stderr_max=1024,
        session="s", agent="a", tool="t", user="nobody", state="sqlite:/s.db",
        audit_log="/l", report_fd=9,
    )
    assert cmd == [
        tooljail_binary, "run", "-p", "python", "-p", "./p.toml", "--ro", "/a", "--rw", "/b",
        "--exec", "/c", "--net", "host", "--isolation", "full", "--timeout", "1500ms",
        "--memory", "512M", "--limit", "processes=64", "--env", "K=V", "--keep-env", "TERM",
        "--cwd", "/a", "--export-to", "/d", "--export", "*.csv", "--stdout-max", "64K",
        "--stderr-max", "1024", "--session", "s", "--agent", "a", "--tool", "t",
        "--user", "nobody", "--state", "sqlite:/s.db", "--audit-log", "/l",
        "--report", "fd:9", "--", "x",
    ]
    # Every flag is one tooljail accepts: `--help` names each.
    help_text = subprocess.run([tooljail_binary, "run", "--help"], capture_output=True,
                               text=True, check=True).stdout
    for flag in (a for a in cmd if a.startswith("--") and a != "--"):
        assert flag in help_text, flag
