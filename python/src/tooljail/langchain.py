"""A LangChain Deep Agents sandbox backend whose every command and file operation is a jail.

    from deepagents import create_deep_agent
    from tooljail.langchain import TooljailSandbox

    with TooljailSandbox(profile="python", timeout=120) as sandbox:
        agent = create_deep_agent(model=..., backend=sandbox)

The sandbox is a private host directory (the workspace, made by `tempfile.mkdtemp` unless one
is given), bound read-write into each jail at its own path; commands start in it. Only the
workspace persists from one call to the next: each command gets a fresh scratch (`/tmp`,
`$HOME`), no network unless the profile gives one, and sees the host only as the profile shows
it. File uploads, downloads and the agent's file tools (read, write, edit, ls, grep, glob) run
inside a jail too, so a symbolic link the agent planted in the workspace cannot make the host
process read or write outside it. Uploads outside the workspace are refused
(`permission_denied`): in a jail they would land in a scratch that vanishes.

Needs `pip install 'tooljail[langchain]'` (deepagents).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from typing import Any, Optional, Sequence, Union, cast

from deepagents.backends.protocol import (
    EditResult,
    ExecuteResponse,
    FileDownloadResponse,
    FileOperationError,
    FileUploadResponse,
)
from deepagents.backends.sandbox import BaseSandbox

from ._run import Result, TooljailError, run

__all__ = ["TooljailSandbox"]

_SHELL = "/bin/sh"


class TooljailSandbox(BaseSandbox):
    """`SandboxBackendProtocol` on tooljail: `execute()` runs `sh -c COMMAND` in a jail.

    Args:
        workspace: host directory to work in (created 0700 in $TMPDIR when omitted, and then
            removed by `close()`).
        profile: tooljail profile(s) (default: `default`).
        timeout: default seconds per command (`execute(timeout=...)` overrides).
        max_output: bytes of stdout and of stderr passed back per command; the rest is dropped
            by tooljail and the response says `truncated` (None: no cap).
        exec_workspace: let files in the workspace be executed (`--exec`), e.g. to run what
            the agent builds. Off by default: scripts still run as `sh x.sh`, `python3 x.py`.
        options: other `tooljail.run` options (`net`, `memory`, `limits`, `env`, `ro`,
            `session`, `agent`, `tool`, `tooljail`...).
    """

    def __init__(
        self,
        workspace: Union[str, "os.PathLike[str]", None] = None,
        *,
        profile: Union[str, Sequence[str], None] = None,
        timeout: float = 300,
        max_output: Optional[int] = None,
        exec_workspace: bool = False,
        **options: Any,
    ) -> None:
        self._owned = workspace is None
        path = tempfile.mkdtemp(prefix="tooljail-sandbox-") if workspace is None else workspace
        self.workspace = os.path.realpath(os.fspath(path))
        if not os.path.isdir(self.workspace):
            raise NotADirectoryError(f"tooljail sandbox workspace {self.workspace} is not a directory")
        self._profile = profile
        self._timeout = timeout
        self._max_output = max_output
        self._options = dict(options)
        self._options.setdefault("tool", "deepagents")
        self._exec = [self.workspace] if exec_workspace else []

    # -- the jail ---------------------------------------------------------------------------

    def _jail(
        self,
        argv: Sequence[str],
        *,
        input: Optional[bytes] = None,
        timeout: Optional[float] = None,
        cap: bool = False,
    ) -> Result:
        options = dict(self._options)
        if cap and self._max_output is not None:
            options.update(stdout_max=self._max_output, stderr_max=self._max_output)
        return run(
            argv,
            self._profile,
            input=input,
            rw=[self.workspace, *options.pop("rw", [])],
            exec_paths=[*self._exec, *options.pop("exec_paths", [])],
            cwd=self.workspace,
            timeout=timeout if timeout else self._timeout,
            **options,
        )

    @property
    def id(self) -> str:
        return f"tooljail:{self.workspace}"

    def execute(self, command: str, *, timeout: Optional[int] = None) -> ExecuteResponse:
        """Run `sh -c COMMAND` in a jail; stdout then stderr, and the exit status (124 on
        timeout, 128+N when killed by signal N: the report's `outcome` tells which)."""
        try:
            r = self._jail([_SHELL, "-c", command], timeout=timeout, cap=True)
        except TooljailError as e:
            # tooljail refused the call (a [budget] rule, a profile this host cannot enforce):
            # the model reads tooljail's line, as a shell user would.
            return ExecuteResponse(output=e.message, exit_code=e.exit_status, truncated=False)
        output = r.stdout
        if r.stderr:
            output = f"{output}\n{r.stderr}" if output and not output.endswith("\n") else output + r.stderr
        if r.outcome not in ("exited", "signaled"):
            stopped = r.stopped_by or {}
            why = stopped.get("name") or r.outcome
            if stopped.get("remedy"):
                why += f"; to lift it: {stopped['remedy']}"
            output += f"\n[tooljail: {r.outcome}: {why}]"
        dropped = any(
            (s or {}).get("dropped", 0) > 0 for s in (r.report.get("output") or {}).values()
        )
        return ExecuteResponse(output=output, exit_code=r.exit_code, truncated=dropped)

    # -- files, each moved through a jail ---------------------------------------------------

    def _inside(self, path: str) -> bool:
        return path == self.workspace or path.startswith(self.workspace.rstrip("/") + "/")

    def _upload(self, path: str, content: bytes) -> FileUploadResponse:
        if not path.startswith("/"):
            return FileUploadResponse(path=path, error="invalid_path")
        if ".." in path.split("/") or not self._inside(os.path.normpath(path)):
            return FileUploadResponse(path=path, error="permission_denied")
        script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"'
        try:
            r = self._jail([_SHELL, "-c", script, "sh", path], input=content)
        except TooljailError as e:
            return FileUploadResponse(path=path, error=cast(FileOperationError, e.message))
        if r.exit_code == 0:
            return FileUploadResponse(path=path, error=None)
        return FileUploadResponse(path=path, error=_file_error(r.stderr))

    def _download(self, path: str) -> FileDownloadResponse:
        if not path.startswith("/"):
            return FileDownloadResponse(path=path, content=None, error="invalid_path")
        script = 'if [ -d "$1" ]; then echo "$1: Is a directory" >&2; exit 1; fi; exec cat -- "$1"'
        try:
            r = self._jail([_SHELL, "-c", script, "sh", path])
        except TooljailError as e:
            return FileDownloadResponse(path=path, content=None, error=cast(FileOperationError, e.message))
        if r.exit_code == 0:
            return FileDownloadResponse(path=path, content=r.stdout_bytes, error=None)
        return FileDownloadResponse(path=path, content=None, error=_file_error(r.stderr))

    def upload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        return [self._upload(path, content) for path, content in files]

    def download_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        return [self._download(path) for path in paths]

    def _edit_via_upload(
        self, file_path: str, old_string: str, new_string: str, replace_all: bool
    ) -> EditResult:
        """A large edit (BaseSandbox stages its strings in /tmp, which a jail does not keep):
        the file is read through a jail, replaced here, and written back through a jail."""
        (down,) = self.download_files([file_path])
        if down.error or down.content is None:
            if down.error == "file_not_found":
                return EditResult(error=f"Error: File '{file_path}' not found")
            return EditResult(error=f"Error editing file '{file_path}': {down.error}")
        try:
            text = down.content.decode("utf-8")
        except UnicodeDecodeError:
            return EditResult(error=f"Error: File '{file_path}' is not a text file")
        count = text.count(old_string)
        if count == 0:
            return EditResult(error=f"Error: String not found in file: '{old_string}'")
        if count > 1 and not replace_all:
            return EditResult(
                error=f"Error: String '{old_string}' appears multiple times. "
                "Use replace_all=True to replace all occurrences."
            )
        text = text.replace(old_string, new_string) if replace_all else text.replace(old_string, new_string, 1)
        (up,) = self.upload_files([(file_path, text.encode("utf-8"))])
        if up.error:
            return EditResult(error=f"Error editing file '{file_path}': {up.error}")
        return EditResult(path=file_path, occurrences=count if replace_all else 1)

    async def _aedit_via_upload(
        self, file_path: str, old_string: str, new_string: str, replace_all: bool
    ) -> EditResult:
        return await asyncio.to_thread(
            self._edit_via_upload, file_path, old_string, new_string, replace_all
        )

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the workspace if this sandbox made it."""
        if self._owned:
            shutil.rmtree(self.workspace, ignore_errors=True)

    def __enter__(self) -> "TooljailSandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _file_error(stderr: str) -> FileOperationError:
    """The protocol's error for what the jailed `cat` said; another failure's last line (newer
    deepagents type the field as a literal or free text; every version stores the string)."""
    text = stderr.lower()
    if "no such file" in text:
        return "file_not_found"
    if "is a directory" in text:
        return "is_directory"
    if "permission denied" in text or "read-only file system" in text:
        return "permission_denied"
    return cast(FileOperationError, stderr.strip().splitlines()[-1] if stderr.strip() else "error")
