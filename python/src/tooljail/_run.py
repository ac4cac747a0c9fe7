"""One tool call in a jail: `tooljail run ... --report fd:N -- argv`, its output and its report.

The report travels over a pipe that tooljail inherits (`--report fd:N`): nothing is written to
the file system, and nothing the command prints can pass for it (docs/report.md, "Trusting the
report"). The pipe is read while the command runs, so a report larger than a pipe buffer never
blocks tooljail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

__all__ = [
    "Result",
    "TooljailError",
    "TooljailNotFound",
    "arun",
    "build_command",
    "find_tooljail",
    "run",
]

PathLike = Union[str, "os.PathLike[str]"]
Duration = Union[int, float, str]
Size = Union[int, str]

# tooljail's own failure: nothing ran (docs/report.md, "Outcomes and exit statuses").
EXIT_TOOLJAIL_FAILED = 125


class TooljailNotFound(FileNotFoundError):
    """No tooljail binary: not given, not in $TOOLJAIL_BIN, not on PATH."""


class TooljailError(Exception):
    """tooljail itself failed or refused the call (exit status 125): the command did not run,
    or (an `[export] strict` refusal) ran and left files that were refused.

    `message` is tooljail's one line (`tooljail: WHERE: WHAT; HINT`), `report` the parsed JSON
    report when tooljail wrote one (an unusable command line has none), `retryable` whether the
    same call may succeed if tried again (a rate limit, a transient setup failure).
    """

    def __init__(
        self,
        message: str,
        *,
        exit_status: int,
        report: Optional[dict[str, Any]],
        stderr: str,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_status = exit_status
        self.report = report
        self.stderr = stderr

    @property
    def retryable(self) -> bool:
        return bool(self.report and self.report.get("retryable"))

    @property
    def kind(self) -> Optional[str]:
        """The report's `error.kind` (`profile`, `usage`, `preflight`, `setup`, `refused`...)."""
        err = (self.report or {}).get("error") or {}
        kind = err.get("kind")
        return kind if isinstance(kind, str) else None


@dataclass(frozen=True)
class Result:
    """How one call ended. Decide on `outcome` (the report's), not on `exit_code`: the command
    can itself exit 124-127 or kill itself with the signals tooljail's limits use."""

    argv: list[str]
    exit_code: int
    """tooljail's exit status: the command's own, 124 timeout, 126/127 not executable/found,
    128+N killed by signal N."""
    outcome: str
    """`exited`, `signaled`, `cancelled`, `timeout`, `limit`, `violation`, `setup_error`..."""
    retryable: bool
    stdout_bytes: bytes
    stderr_bytes: bytes
    report: dict[str, Any] = field(repr=False)
    """The parsed JSON report (schema `tooljail.report/1`, docs/report.md)."""

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", errors="replace")

    @property
    def ok(self) -> bool:
        """The command ran and exited 0."""
        return self.outcome == "exited" and self.exit_code == 0

    @property
    def stopped_by(self) -> Optional[dict[str, Any]]:
        """Which limit or rule stopped the command, with the flag or key that lifts it."""
        value = self.report.get("stopped_by")
        return value if isinstance(value, dict) else None

    @property
    def run_id(self) -> str:
        return str(self.report.get("run_id", ""))


def find_tooljail(tooljail: Optional[PathLike] = None) -> str:
    """The binary to run: `tooljail` when given, else $TOOLJAIL_BIN, else `tooljail` on PATH."""
    if tooljail is not None:
        return os.fspath(tooljail)
    env = os.environ.get("TOOLJAIL_BIN")
    if env:
        return env
    found = shutil.which("tooljail")
    if found is None:
        raise TooljailNotFound(
            "tooljail: not found on PATH; install it, or pass tooljail=PATH or set TOOLJAIL_BIN"
        )
    return found


def _duration(value: Duration) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value <= 0:
        raise ValueError(f"a duration must be positive seconds or a string like '30s', not {value!r}")
    millis = round(value * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def _size(value: Size) -> str:
    return value if isinstance(value, str) else str(int(value))


def _paths(flag: str, paths: Optional[Sequence[PathLike]]) -> list[str]:
    if isinstance(paths, (str, bytes)):
        raise TypeError(f"{flag} takes a list of paths, not one string")
    out: list[str] = []
    for p in paths or ():
        out += [flag, os.fspath(p)]
    return out


def build_command(
    argv: Sequence[str],
    profile: Union[str, Sequence[str], None] = None,
    *,
    tooljail: Optional[PathLike] = None,
    report_fd: Optional[int] = None,
    ro: Optional[Sequence[PathLike]] = None,
    rw: Optional[Sequence[PathLike]] = None,
    exec_paths: Optional[Sequence[PathLike]] = None,
    net: Optional[str] = None,
    isolation: Optional[str] = None,
    timeout: Optional[Duration] = None,
    memory: Optional[Size] = None,
    limits: Optional[Mapping[str, Union[str, int]]] = None,
    env: Optional[Mapping[str, str]] = None,
    keep_env: Optional[Sequence[str]] = None,
    cwd: Optional[PathLike] = None,
    export_to: Optional[PathLike] = None,
    export: Optional[Sequence[str]] = None,
    stdout_max: Optional[Size] = None,
    stderr_max: Optional[Size] = None,
    session: Optional[str] = None,
    agent: Optional[str] = None,
    tool: Optional[str] = None,
    user: Optional[Union[str, int]] = None,
    state: Optional[str] = None,
    audit_log: Optional[PathLike] = None,
) -> list[str]:
    """The `tooljail run` command line for these options, each a flag of `tooljail run --help`."""
    if isinstance(argv, (str, bytes)) or not argv:
        raise TypeError("argv is a non-empty list of strings (it is never given to a shell)")
    cmd = [find_tooljail(tooljail), "run"]
    profiles = [profile] if isinstance(profile, str) else list(profile or ())
    for p in profiles:
        cmd += ["-p", p]
    cmd += _paths("--ro", ro) + _paths("--rw", rw) + _paths("--exec", exec_paths)
    if net is not None:
        cmd += ["--net", net]
    if isolation is not None:
        cmd += ["--isolation", isolation]
    if timeout is not None:
        cmd += ["--timeout", _duration(timeout)]
    if memory is not None:
        cmd += ["--memory", _size(memory)]
    for key, value in (limits or {}).items():
        cmd += ["--limit", f"{key}={value}"]
    for key, value in (env or {}).items():
        if "=" in key or not key:
            raise ValueError(f"environment variable name {key!r} is empty or holds '='")
        cmd += ["--env", f"{key}={value}"]
    for key in keep_env or ():
        cmd += ["--keep-env", key]
    if cwd is not None:
        cmd += ["--cwd", os.fspath(cwd)]
    if export_to is not None:
        cmd += ["--export-to", os.fspath(export_to)]
    for pattern in export or ():
        cmd += ["--export", pattern]
    if stdout_max is not None:
        cmd += ["--stdout-max", _size(stdout_max)]
    if stderr_max is not None:
        cmd += ["--stderr-max", _size(stderr_max)]
    for flag, label in (("--session", session), ("--agent", agent), ("--tool", tool)):
        if label is not None:
            cmd += [flag, label]
    if user is not None:
        cmd += ["--user", str(user)]
    if state is not None:
        cmd += ["--state", state]
    if audit_log is not None:
        cmd += ["--audit-log", os.fspath(audit_log)]
    if report_fd is not None:
        cmd += ["--report", f"fd:{report_fd}"]
    cmd += ["--", *argv]
    return cmd


def _message(report: Optional[dict[str, Any]], stderr: str) -> str:
    """tooljail's one line: rebuilt from the report's `error` (the same WHERE: WHAT; HINT it
    printed), else the last `tooljail:` line of stderr (a command line tooljail could not parse
    has no report), else the last line."""
    err = (report or {}).get("error")
    if isinstance(err, dict) and err.get("message"):
        line = "tooljail: "
        if err.get("where"):
            line += f"{err['where']}: "
        line += str(err["message"])
        if err.get("hint"):
            line += f"; {err['hint']}"
        return line
    lines = [l for l in stderr.splitlines() if l.strip()]
    own = [l for l in lines if l.startswith("tooljail: ") or l.startswith("error: ")]
    if own:
        return own[-1] if own[-1].startswith("tooljail: ") else f"tooljail: {own[-1]}"
    return lines[-1] if lines else "tooljail: failed with no message"


def _finish(
    argv: Sequence[str], status: int, raw_report: bytes, out: bytes, err: bytes
) -> Result:
    stderr = err.decode("utf-8", errors="replace")
    report: Optional[dict[str, Any]] = None
    if raw_report.strip():
        try:
            parsed = json.loads(raw_report)
        except ValueError as e:
            raise TooljailError(
                f"tooljail: the report is not JSON ({e}); is {argv!r} run by a tooljail binary?",
                exit_status=status,
                report=None,
                stderr=stderr,
            ) from None
        report = parsed if isinstance(parsed, dict) else None
    if report is None or (status == EXIT_TOOLJAIL_FAILED and report.get("error")):
        raise TooljailError(
            _message(report, stderr), exit_status=status, report=report, stderr=stderr
        )
    return Result(
        argv=list(argv),
        exit_code=status,
        outcome=str(report.get("outcome", "")),
        retryable=bool(report.get("retryable")),
        stdout_bytes=out,
        stderr_bytes=err,
        report=report,
    )


def _input_bytes(input: Union[bytes, str, None]) -> Optional[bytes]:
    return input.encode("utf-8") if isinstance(input, str) else input


@contextlib.contextmanager
def _report_pipe() -> Iterator[tuple[int, int]]:
    """The report pipe, for the time tooljail is started: our copy of the write end is closed
    afterwards (or the pipe never reaches end-of-file), the read end too if starting failed."""
    read_end, write_end = os.pipe()
    try:
        yield read_end, write_end
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)


def _stdio(data: Optional[bytes], report_fd: int) -> dict[str, Any]:
    return {
        "stdin": subprocess.PIPE if data is not None else subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "pass_fds": (report_fd,),
    }


def run(
    argv: Sequence[str],
    profile: Union[str, Sequence[str], None] = None,
    *,
    input: Union[bytes, str, None] = None,
    tooljail: Optional[PathLike] = None,
    **options: Any,
) -> Result:
    """Run `argv` in a jail built from `profile` (a name, a path, or a list of them; default
    `default`) and wait for it.

    `input` is the command's stdin (none: /dev/null). `options` are `tooljail run` flags by
    name: `ro`, `rw`, `exec_paths` (lists of paths), `net`, `isolation`, `timeout` (seconds or
    `"30s"`), `memory`, `limits` (`{"processes": 64}`), `env` (a mapping), `keep_env`, `cwd`,
    `export_to`, `export`, `stdout_max`, `stderr_max`, `session`, `agent`, `tool`, `user`,
    `state`, `audit_log` (see `build_command`).

    Raises `TooljailError` when tooljail itself failed (exit 125), with its one-line message.
    A command that fails, times out or is stopped by a limit is a `Result`, not an exception.
    Interrupted (KeyboardInterrupt), it sends tooljail SIGTERM, which ends the jail.
    """
    data = _input_bytes(input)
    with _report_pipe() as (read_end, write_end):
        cmd = build_command(argv, profile, tooljail=tooljail, report_fd=write_end, **options)
        proc = subprocess.Popen(cmd, **_stdio(data, write_end))
    chunks: list[bytes] = []
    with os.fdopen(read_end, "rb") as report_pipe:
        reader = threading.Thread(target=lambda: chunks.append(report_pipe.read()), daemon=True)
        reader.start()
        try:
            out, err = proc.communicate(data)
        except BaseException:
            _stop(proc)
            raise
        reader.join()
    return _finish(argv, proc.returncode, b"".join(chunks), out, err)


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    """End a call the caller gave up on: SIGTERM to tooljail, which passes it on to the jail
    and reports `cancelled`; the jail dies with tooljail in any case."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def arun(
    argv: Sequence[str],
    profile: Union[str, Sequence[str], None] = None,
    *,
    input: Union[bytes, str, None] = None,
    tooljail: Optional[PathLike] = None,
    **options: Any,
) -> Result:
    """`run` for asyncio: many calls can be awaited at once. Cancelling the task sends tooljail
    SIGTERM (the report's outcome is then `cancelled`) and waits for the jail to end."""
    data = _input_bytes(input)
    with _report_pipe() as (read_end, write_end):
        cmd = build_command(argv, profile, tooljail=tooljail, report_fd=write_end, **options)
        proc = await asyncio.create_subprocess_exec(*cmd, **_stdio(data, write_end))
    loop = asyncio.get_running_loop()
    report_reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(report_reader), os.fdopen(read_end, "rb")
    )
    try:
        try:
            (out, err), raw = await asyncio.gather(proc.communicate(data), report_reader.read())
        except BaseException:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.shield(asyncio.wait_for(proc.wait(), 10))
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    proc.kill()
            raise
    finally:
        transport.close()
    assert proc.returncode is not None
    return _finish(argv, proc.returncode, raw, out, err)
