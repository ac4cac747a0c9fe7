"""A Codex PreToolUse hook that rewrites every shell command to run in a tooljail jail.

Codex runs the hook for each Bash-like tool call with the call as JSON on stdin
(`tool_input.command` is the command string) and, when the hook answers
`permissionDecision: "allow"` with `updatedInput`, runs the rewritten command instead. This hook
answers with `tooljail run [FLAGS] -- /bin/sh -c 'COMMAND'`, the command quoted as one argument,
so the shell that interprets it runs inside the jail.

    python3 -m tooljail.codex_hook --profile shell-rw --rw .

Flags given after the module name are passed to `tooljail run` (`-p/--profile`, `--rw`, `--ro`,
`--exec`, `--net`, `--timeout`, `--report`, `--session`...). The tooljail binary is
`--tooljail PATH`, else $TOOLJAIL_BIN, else `tooljail` on PATH; it is written into the rewritten
command by its absolute path. A command that already starts with that binary is left alone.
Input that is not a shell tool call passes through unchanged (no output, exit 0); input the hook
cannot read is refused (exit 2, the reason on stderr), so a broken hook never lets a command
run unjailed.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from typing import Any, Optional, Sequence

from ._run import TooljailNotFound, find_tooljail

__all__ = ["rewrite", "main"]

_SHELL = "/bin/sh"


def rewrite(command: str, tooljail: str, flags: Sequence[str] = ()) -> str:
    """The shell command line that runs `command` with `/bin/sh -c` inside a jail."""
    argv = [tooljail, "run", *flags, "--", _SHELL, "-c", command]
    return " ".join(shlex.quote(a) for a in argv)


def _is_jailed(command: str, tooljail: str) -> bool:
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return bool(words) and words[0] == tooljail


def answer(event: Any, tooljail: str, flags: Sequence[str]) -> Optional[dict[str, Any]]:
    """The hook's JSON answer to one PreToolUse event, or None to leave the call as it is."""
    if not isinstance(event, dict):
        raise ValueError("the hook input is not a JSON object")
    tool_input = event.get("tool_input")
    if not isinstance(tool_input, dict) or not isinstance(tool_input.get("command"), str):
        return None
    command = tool_input["command"]
    if _is_jailed(command, tooljail):
        return None
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": "runs in a tooljail jail",
            "updatedInput": {**tool_input, "command": rewrite(command, tooljail, flags)},
        }
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    binary: Optional[str] = None
    if "--tooljail" in args:
        i = args.index("--tooljail")
        if i + 1 >= len(args):
            print("tooljail.codex_hook: --tooljail needs a path", file=sys.stderr)
            return 2
        binary = args[i + 1]
        del args[i : i + 2]
    try:
        tooljail = os.path.abspath(find_tooljail(binary))
        event = json.load(sys.stdin)
        out = answer(event, tooljail, args)
    except (TooljailNotFound, ValueError) as e:
        # Exit 2 blocks the call: a command is never run unjailed because the hook failed.
        print(f"tooljail.codex_hook: {e}", file=sys.stderr)
        return 2
    if out is not None:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
