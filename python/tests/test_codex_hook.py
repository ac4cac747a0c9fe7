"""python3 -m tooljail.codex_hook: the PreToolUse answer, and the rewritten command run by a
shell as Codex runs it, inside a jail, with the same output and status as unjailed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

COMMANDS = [
    "echo hello",
    "echo 'single quotes' \"double $((1 + 2))\"",
    "printf '%s\\n' a b c | sort -r | head -n 2",
    "echo $(echo nested $(echo deeper))",
    "cat <<'EOF'\nheredoc $HOME stays\nEOF",
    "false || echo recovered && exit 3",
    "x=1; if [ \"$x\" = 1 ]; then echo one; fi; exit 0",
    "echo it\\'s; echo \"back\\\\slash\"",
]


def hook(event: object, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tooljail.codex_hook", *flags],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=30,
    )


def event(command: str) -> dict[str, object]:
    return {
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "cwd": os.getcwd(),
        "tool_input": {"command": command, "description": "test"},
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_the_rewritten_command_runs_jailed_with_the_same_output(command: str, tooljail_binary: str) -> None:
    r = hook(event(command), "--profile", "default", "--timeout", "30s")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse"
    assert out["permissionDecision"] == "allow"
    assert out["updatedInput"]["description"] == "test"
    rewritten = out["updatedInput"]["command"]
    assert rewritten.startswith(os.path.abspath(tooljail_binary) + " run --profile default")
    plain = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=30)
    jailed = subprocess.run(["/bin/sh", "-c", rewritten], capture_output=True, text=True, timeout=60)
    assert (jailed.stdout, jailed.returncode) == (plain.stdout, plain.returncode), jailed.stderr


def test_the_rewritten_command_is_in_the_jail(tooljail_binary: str) -> None:
    r = hook(event("hostname; ls /home"))
    rewritten = json.loads(r.stdout)["hookSpecificOutput"]["updatedInput"]["command"]
    jailed = subprocess.run(["/bin/sh", "-c", rewritten], capture_output=True, text=True, timeout=60)
    assert jailed.stdout == "tooljail\n"
    assert "No such file" in jailed.stderr


def test_other_tools_and_jailed_commands_pass_unchanged(tooljail_binary: str) -> None:
    r = hook({"tool_name": "mcp__x__y", "tool_input": {"query": "q"}})
    assert (r.returncode, r.stdout) == (0, "")
    jailed = f"{os.path.abspath(tooljail_binary)} run -- sh -c 'echo x'"
    r = hook(event(jailed))
    assert (r.returncode, r.stdout) == (0, "")


def test_unreadable_input_or_no_tooljail_blocks_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    r = subprocess.run([sys.executable, "-m", "tooljail.codex_hook"], input="not json",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == "" and "tooljail.codex_hook:" in r.stderr
    env = {k: v for k, v in os.environ.items() if k != "TOOLJAIL_BIN"}
    env["PATH"] = "/nonexistent"
    r = subprocess.run([sys.executable, "-m", "tooljail.codex_hook"], input=json.dumps(event("id")),
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 2 and r.stdout == "" and "not found" in r.stderr
