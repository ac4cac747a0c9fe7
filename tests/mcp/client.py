"""Drive `tooljail mcp` (or any stdio MCP server) with the official MCP Python SDK.

Usage: client.py SCENARIO COMMAND [ARG...]. Prints one JSON object: what the scenario saw.
Scenarios:
  tools      list the tools; call each named in $CALLS (JSON: [[name, arguments, meta], ...]);
             call $UNLISTED (a name that must be refused); results in call order
  concurrent $N calls of tool $TOOL with {"text": "call-I"} at once, meta {"call": I}
  server     (a jailed MCP server) call each of $CALLS, as `tools`
"""
import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp.types import Implementation


def result_json(r):
    out = {"is_error": bool(r.is_error), "text": [], "structured": r.structured_content}
    for c in r.content:
        out["text"].append(getattr(c, "text", None))
    return out


async def call(session, name, args, meta=None):
    try:
        r = await session.call_tool(name, args, meta=meta)
        return result_json(r)
    except MCPError as e:
        return {"protocol_error": {"code": e.error.code, "message": e.error.message}}


async def main():
    scenario, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    params = StdioServerParameters(command=command, args=args, env=dict(os.environ))
    seen = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, client_info=Implementation(name="tooljail-tests", version="7.1")) as session:
            init = await session.initialize()
            seen["server"] = init.server_info.name
            seen["protocol"] = init.protocol_version
            listed = await session.list_tools()
            seen["tools"] = sorted(t.name for t in listed.tools)
            if scenario in ("tools", "server"):
                calls = json.loads(os.environ.get("CALLS", "[]"))
                seen["calls"] = [await call(session, n, a, m) for n, a, m in calls]
                if os.environ.get("UNLISTED"):
                    seen["unlisted"] = await call(session, os.environ["UNLISTED"], {})
            elif scenario == "concurrent":
                n, tool = int(os.environ["N"]), os.environ["TOOL"]
                results = await asyncio.gather(
                    *(call(session, tool, {"text": f"call-{i}"}, {"call": i}) for i in range(n))
                )
                seen["calls"] = results
            else:
                raise SystemExit(f"unknown scenario {scenario}")
    print(json.dumps(seen))


asyncio.run(main())
