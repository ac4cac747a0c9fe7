"""Run agent tool calls in tooljail jails: `run`/`arun` wrap `tooljail run` and its JSON report.

    import tooljail
    r = tooljail.run(["python3", "-c", "print(6 * 7)"], profile="python", timeout=30)
    r.outcome, r.exit_code, r.stdout, r.report["resources"]

Adapters (optional extras): `tooljail.langchain`, a LangChain Deep Agents sandbox backend
(`pip install 'tooljail[langchain]'`), and `tooljail.openai_agents`, an OpenAI Agents SDK sandbox
client (`pip install 'tooljail[openai-agents]'`). `python3 -m tooljail.codex_hook` is a Codex
PreToolUse hook that rewrites shell commands to run in a jail.
"""

# `X as X`: explicit re-exports, which type checkers take as the package's public names.
from ._run import Result as Result
from ._run import TooljailError as TooljailError
from ._run import TooljailNotFound as TooljailNotFound
from ._run import arun as arun
from ._run import build_command as build_command
from ._run import find_tooljail as find_tooljail
from ._run import run as run

__version__ = "0.1.0"
