"""TooljailSandboxClient: an OpenAI Agents SDK sandbox agent whose shell runs in a jail."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest

pytest.importorskip("agents", reason="needs the openai-agents extra")

from agents import RunConfig, Runner, set_tracing_disabled  # noqa: E402
from agents.sandbox import SandboxAgent, SandboxRunConfig  # noqa: E402
from agents.sandbox.capabilities import Shell  # noqa: E402
from agents.testing import ScriptedModel, assistant_message, function_call  # noqa: E402

import tooljail  # noqa: E402
from tooljail.openai_agents import TooljailSandboxClient  # noqa: E402

# No trace export: the tests reach no remote service.
set_tracing_disabled(True)


async def _session(client: TooljailSandboxClient) -> Any:
    session = await client.create()
    await session.start()
    return session


async def test_exec_runs_in_a_jail_and_the_workspace_persists() -> None:
    client = TooljailSandboxClient(timeout=30)
    session = await _session(client)
    try:
        outside = tempfile.mkdtemp(prefix="tooljail-oa-outside-")
        os.chmod(outside, 0o777)
        r = await session.exec(
            f"echo kept > f.txt; hostname; pwd; ls /home; touch /usr/x; touch {outside}/y"
        )
        out = r.stdout.decode()
        assert r.exit_code != 0
        lines = out.splitlines()
        assert lines[0] == "tooljail", out
        workspace = lines[1]
        assert workspace.startswith("/") and os.path.isfile(os.path.join(workspace, "f.txt"))
        assert "Read-only file system" in r.stderr.decode()
        assert os.listdir(outside) == []
        os.rmdir(outside)
        r = await session.exec("cat f.txt")
        assert (r.exit_code, r.stdout) == (0, b"kept\n")
    finally:
        await session.stop()
        await session.shutdown()
        await client.delete(session)


async def test_a_sandbox_agents_shell_tool_runs_in_the_jail() -> None:
    """The whole loop: a scripted model calls the Shell capability's exec_command (PTY path)."""
    model = ScriptedModel(
        [
            [function_call("exec_command", {"cmd": "hostname; echo x > /etc/y"}, call_id="c1")],
            [assistant_message("done")],
        ]
    )
    agent = SandboxAgent(name="jailed", model=model, capabilities=[Shell()])
    client = TooljailSandboxClient(timeout=30, session="oa-test")
    result = await Runner.run(
        agent, "go", run_config=RunConfig(sandbox=SandboxRunConfig(client=client))
    )
    assert result.final_output == "done"
    outputs = [i for i in model.calls[-1].input if isinstance(i, dict) and i.get("type") == "function_call_output"]
    assert len(outputs) == 1
    text = outputs[0]["output"]
    assert "\ntooljail\n" in text, text
    assert "/etc/y" in text and ("Read-only file system" in text or "No such file" in text), text


def test_a_missing_tooljail_fails_when_the_client_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLJAIL_BIN")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(tooljail.TooljailNotFound):
        TooljailSandboxClient()
