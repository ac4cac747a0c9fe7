#!/bin/sh
# The cost of serving a tool over MCP: the round trip of one `tools/call` to `tooljail mcp`
# (JSON-RPC over stdio, the arguments checked, a tooljail process started for the call, its
# report read back into the result) against the same command as `tooljail run` started by the
# caller itself (the caller waits for the process, then reads the report). Both run `true`
# under the default profile with a report; N calls each, one at a time, after 5 warm-up calls;
# prints the median and 90th percentile of each and the median difference (the overhead).
#
# Usage: benches/mcp.sh [N]      (default N=100)
#   TOOLJAIL=path/to/tooljail overrides the binary (default: target/release/tooljail, rebuilt
#   when the sources changed).
set -eu

N=${1:-100}
cd "$(dirname "$0")/.."
if [ -z "${TOOLJAIL:-}" ]; then
    cargo build --release --quiet --bin tooljail
    TOOLJAIL=target/release/tooljail
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/tools.toml" <<'TOML'
[[tool]]
name = "true"
description = "true(1)"
profile = "default"
argv = ["true"]
TOML

python3 - "$TOOLJAIL" "$dir" "$N" <<'PY'
import json, os, statistics, subprocess, sys, time

bin, dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
audit = os.path.join(dir, "audit.log")

def run_once():
    t = time.perf_counter()
    subprocess.run([bin, "run", "--report", os.path.join(dir, "r.json"), "--audit-log", audit,
                    "--tool", "true", "--", "true"], check=True)
    json.load(open(os.path.join(dir, "r.json")))
    return time.perf_counter() - t

srv = subprocess.Popen([bin, "mcp", "--tools", os.path.join(dir, "tools.toml"),
                        "--audit-log", audit], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def rpc(i, method, params):
    srv.stdin.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": method,
                                 "params": params}) + "\n").encode())
    srv.stdin.flush()
    return json.loads(srv.stdout.readline())
rpc(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                      "clientInfo": {"name": "bench", "version": "1"}})
def call_once(i):
    t = time.perf_counter()
    r = rpc(i, "tools/call", {"name": "true", "arguments": {}})
    assert r["result"]["structuredContent"]["outcome"] == "exited", r
    return time.perf_counter() - t

for i in range(5):
    run_once(); call_once(1000 + i)
runs, calls = [], []
for i in range(n):  # interleaved, so both see the same host load
    runs.append(run_once())
    calls.append(call_once(i + 1))
srv.stdin.close(); srv.wait()

def show(name, xs):
    xs = sorted(x * 1000 for x in xs)
    print(f"{name:34s} median {statistics.median(xs):7.2f} ms   p90 {xs[int(len(xs) * 0.9) - 1]:7.2f} ms")
print(f"{n} calls of `true`, default profile, with a report ({bin})")
show("tooljail run (caller spawns)", runs)
show("tools/call over tooljail mcp", calls)
print(f"{'overhead of tools/call (median)':34s} {1000 * (statistics.median(calls) - statistics.median(runs)):+7.2f} ms")
PY
