"""A small MCP server built with the official Python SDK (MCPServer), for the mcp-python
profile's tests: it keeps notes in $STATE_DIRECTORY, and `try_write` lets the client make the
server itself try to write any path."""
import os
import pathlib

from mcp.server.mcpserver import MCPServer

state = pathlib.Path(os.environ["STATE_DIRECTORY"])
server = MCPServer("notes")


@server.tool()
def add_note(text: str) -> str:
    """Append a note to the notes file in the state directory."""
    with open(state / "notes.txt", "a") as f:
        f.write(text + "\n")
    return "saved"


@server.tool()
def list_notes() -> str:
    """The notes saved so far."""
    p = state / "notes.txt"
    return p.read_text() if p.exists() else ""


@server.tool()
def try_write(path: str) -> str:
    """Try to create `path`; say what happened."""
    try:
        with open(path, "w") as f:
            f.write("x")
        return "written"
    except OSError as e:
        return f"refused: {e.strerror}"


server.run()
