"""The snippets of docs/integrations.md, run as written: the Python blocks (a scripted model
stands for `model`, so no remote service is called), the Codex hooks.json, and the Claude Code
settings with the command shown under them."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", DOC.read_text(), flags=re.S | re.M)


@pytest.fixture
def in_shared_dir() -> Iterator[Path]:
    """Run in a 0755 directory: root's jail runs as a transient uid."""
    d = Path(tempfile.mkdtemp(prefix="tooljail-docs-"))
    d.chmod(0o755)
    old = os.getcwd()
    os.chdir(d)
    try:
        yield d
    finally:
        os.chdir(old)
        subprocess.run(["rm", "-rf", str(d)], check=False)


def langchain_model() -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    class ScriptedChatModel(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    call = {"name": "execute", "args": {"command": "python3 -c 'print(6 * 7)'"}, "id": "c1",
            "type": "tool_call"}
    return ScriptedChatModel(messages=iter([AIMessage(content="", tool_calls=[call]),
                                            AIMessage(content="6 * 7 = 42")]))


def openai_model() -> Any:
    from agents import set_tracing_disabled
    from agents.testing import ScriptedModel, assistant_message, function_call

    set_tracing_disabled(True)
    return ScriptedModel([[function_call("exec_command", {"cmd": "hostname"}, call_id="c1")],
                          [assistant_message("The hostname is tooljail.")]])


def test_the_doc_has_its_snippets() -> None:
    assert len(blocks("python")) == 4
    assert len(blocks("json")) == 2


@pytest.mark.parametrize("index", range(4))
def test_python_snippet_runs_as_written(index: int, in_shared_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = blocks("python")[index]
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    if "deepagents" in code:
        namespace["model"] = langchain_model()
    elif "agents.sandbox" in code:
        namespace["model"] = openai_model()
    exec(compile(code, f"{DOC}:python block {index + 1}", "exec"), namespace)
    printed = capsys.readouterr().out
    if "deepagents" in code:
        tool_outputs = [m.content for m in namespace["result"]["messages"] if m.type == "tool"]
        assert tool_outputs and tool_outputs[0].startswith("42\n"), tool_outputs
        assert printed == "6 * 7 = 42\n"
    elif "agents.sandbox" in code:
        call = namespace["model"].calls[-1]
        outputs = [i["output"] for i in call.input
                   if isinstance(i, dict) and i.get("type") == "function_call_output"]
        assert len(outputs) == 1 and "\ntooljail\n" in outputs[0], outputs
        assert printed == "The hostname is tooljail.\n"


def test_the_codex_hook_config_rewrites_into_a_jail(in_shared_dir: Path, tooljail_binary: str) -> None:
    (config,) = [json.loads(b) for b in blocks("json") if "PreToolUse" in b]
    (group,) = config["hooks"]["PreToolUse"]
    assert group["matcher"] == "Bash"
    (handler,) = group["hooks"]
    assert handler["type"] == "command"
    # Codex runs the hook command with a shell; python3 is this venv's, which has the package.
    env = dict(os.environ, PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    event = {"hook_event_name": "PreToolUse", "tool_name": "Bash", "cwd": str(in_shared_dir),
             "tool_input": {"command": "echo made > made.txt; hostname; touch /etc/x"}}
    r = subprocess.run(["/bin/sh", "-c", handler["command"]], input=json.dumps(event), env=env,
                       capture_output=True, text=True, timeout=handler["timeout"])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["hookSpecificOutput"]
    assert out["permissionDecision"] == "allow"
    jailed = subprocess.run(["/bin/sh", "-c", out["updatedInput"]["command"]],
                            capture_output=True, text=True, timeout=60)
    assert jailed.stdout == "tooljail\n", jailed.stderr
    assert jailed.returncode == 1 and "/etc/x" in jailed.stderr
    assert (in_shared_dir / "made.txt").read_text() == "made\n"


def test_the_claude_code_prefix_runs_the_command_shown(in_shared_dir: Path, tooljail_binary: str) -> None:
    (settings,) = [json.loads(b) for b in blocks("json") if "CLAUDE_CODE_SHELL_PREFIX" in b]
    env = settings["env"]
    prefix = env["CLAUDE_CODE_SHELL_PREFIX"]
    # Claude Code splits the prefix at its last " -": an executable and one flag.
    exe, flag = prefix[: prefix.rindex(" -")], prefix[prefix.rindex(" -") + 1 :]
    assert (exe, flag) == ("/usr/bin/tooljail", "-c")
    text = DOC.read_text()
    (line,) = re.findall(r"^    \$ (tooljail -c .*)$", text, flags=re.M)
    shown = text.split(line, 1)[1].split("\n\n", 1)[0].strip().removeprefix("$").strip()
    argv = shlex.split(line)
    assert argv[:2] == ["tooljail", "-c"] and len(argv) == 3
    r = subprocess.run([tooljail_binary, flag, argv[2]], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **{k: v for k, v in env.items() if k.startswith("TOOLJAIL_")}))
    plain = subprocess.run(["/bin/sh", "-c", argv[2]], capture_output=True, text=True, timeout=60)
    assert (r.stdout, r.returncode) == (plain.stdout, plain.returncode), r.stderr
    assert r.stdout.strip() == shown
