"""An OpenAI Agents SDK sandbox client whose shell commands run in tooljail jails.

The SDK's `UnixLocalSandboxClient` runs a sandbox agent's commands on the host, with no
confinement on Linux: its session passes each command through one method,
`UnixLocalSandboxSession._confined_exec_command`, which wraps it in `sandbox-exec` on macOS and
returns it unchanged elsewhere. `TooljailSandboxClient` makes sessions whose version of that
method returns `tooljail run [FLAGS] --rw WORKSPACE --cwd WORKSPACE -- COMMAND`: every `exec`
(and PTY session) of the agent runs in a jail in which the session's workspace is the only
writable host directory.

    from agents.sandbox import SandboxAgent, SandboxRunConfig
    from tooljail.openai_agents import TooljailSandboxClient

    client = TooljailSandboxClient(profile="python", timeout=120)
    run_config = RunConfig(sandbox=SandboxRunConfig(client=client))

What it does not cover: the SDK's own file operations (read, write, ls, apply_patch) are done by
the host process in the workspace, guarded by the SDK's path checks, not by a jail. The method
this client overrides is private to the SDK; the extra pins `openai-agents` to the minor
version it was tested with (python/constraints.txt).

Needs `pip install 'tooljail[openai-agents]'`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

from agents.sandbox.session.sandbox_session import SandboxSession
from agents.sandbox.sandboxes.unix_local import (
    UnixLocalSandboxClient,
    UnixLocalSandboxSession,
)

from ._run import build_command

__all__ = ["TooljailSandboxClient", "TooljailSandboxSession"]


class TooljailSandboxSession(UnixLocalSandboxSession):
    """A `UnixLocalSandboxSession` whose commands run in a tooljail jail."""

    tooljail_profile: Union[str, Sequence[str], None] = None
    tooljail_options: Mapping[str, Any] = {}

    def _confined_exec_command(
        self,
        *,
        command_parts: list[str],
        workspace_root: Path,
        env: Mapping[str, str],
    ) -> list[str]:
        # The jail builds its environment from the profile, not from the host's: pass on what
        # the session itself sets (its manifest's variables, HOME = the workspace).
        session_env = {k: v for k, v in env.items() if os.environ.get(k) != v}
        options = dict(self.tooljail_options)
        root = str(workspace_root)
        return build_command(
            command_parts,
            self.tooljail_profile,
            rw=[root, *options.pop("rw", [])],
            cwd=options.pop("cwd", root),
            env={**session_env, **options.pop("env", {})},
            **options,
        )


class TooljailSandboxClient(UnixLocalSandboxClient):
    """`UnixLocalSandboxClient` whose sessions run every command in a tooljail jail.

    Args:
        profile: tooljail profile(s) (default: `default`).
        options: `tooljail.run` options for every command (`net`, `timeout`, `memory`,
            `limits`, `ro`, `exec_paths`, `session`, `agent`, `tool`, `tooljail`...).
        client_options: keyword arguments of `UnixLocalSandboxClient`.
    """

    def __init__(
        self,
        *,
        profile: Union[str, Sequence[str], None] = None,
        client_options: Mapping[str, Any] = {},
        **options: Any,
    ) -> None:
        super().__init__(**client_options)
        options.setdefault("tool", "openai-agents")
        # Fail now, not at the first command, when there is no tooljail to run.
        build_command(["true"], profile, **options)
        self._tooljail_profile = profile
        self._tooljail_options = dict(options)

    def _jailed(self, session: SandboxSession) -> SandboxSession:
        inner = session._inner
        if not isinstance(inner, UnixLocalSandboxSession):
            raise TypeError(f"expected a UnixLocalSandboxSession, got {type(inner).__name__}")
        jailed = TooljailSandboxSession(state=inner.state)
        jailed._host_environment_allowlist = inner._host_environment_allowlist
        jailed.tooljail_profile = self._tooljail_profile
        jailed.tooljail_options = self._tooljail_options
        return self._wrap_session(jailed, instrumentation=self._instrumentation)

    async def create(self, **kwargs: Any) -> SandboxSession:
        return self._jailed(await super().create(**kwargs))

    async def resume(self, state: Any) -> SandboxSession:
        return self._jailed(await super().resume(state))
