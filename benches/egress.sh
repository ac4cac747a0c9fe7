#!/bin/sh
# The egress proxy's cost (docs/network.md): start-up of a call with `--allow-domain` against
# the same call without it, and with a credential that terminates TLS (interleaved rows of
# examples/spawn_timer, `true` as the command, audit off), and throughput through the proxy:
# curl in the jail downloading SIZE_MIB from a server on the host's loopback, plain HTTP and
# through a CONNECT tunnel, against curl on the host fetching the same directly. No outside network: the name is pinned with `[network] hosts`.
#
# Usage: benches/egress.sh [ROUNDS] [SIZE_MIB]      (defaults 100, 1024)
#   TOOLJAIL=path/to/tooljail overrides the binary (default: target/release/tooljail).
set -eu

N=${1:-100}
SIZE=${2:-1024}
cd "$(dirname "$0")/.."
cargo build --release --quiet --example spawn_timer
if [ -z "${TOOLJAIL:-}" ]; then
    cargo build --release --quiet --bin tooljail
    TOOLJAIL=target/release/tooljail
fi
tmp=$(mktemp -d)
srv=
trap '[ -n "$srv" ] && kill "$srv"; rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
cp target/release/examples/spawn_timer "$tmp/spawn_timer"
cp "$TOOLJAIL" "$tmp/tooljail"

# A server that answers every request with SIZE MiB, in 1 MiB writes.
cat > "$tmp/server.py" <<'PY'
import socket, sys, threading
size = int(sys.argv[1]) << 20
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
chunk = b"x" * (1 << 20)
def serve(c):
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(4096)
        if not d:
            return
        head += d
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    for _ in range(size >> 20):
        c.sendall(chunk)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
python3 "$tmp/server.py" "$SIZE" > "$tmp/port" &
srv=$!
while [ ! -s "$tmp/port" ]; do sleep 0.1; done
port=$(cat "$tmp/port")

printf 'description = "bench"\nextends = ["base"]\n[audit]\nenabled = false\n' > "$tmp/plain.toml"
printf 'description = "bench"\nextends = ["base"]\n[audit]\nenabled = false\n[network]\nallow_domains = ["bench.test"]\nallow_ports = [%s]\nhosts = { "bench.test" = "127.0.0.1" }\n' "$port" > "$tmp/egress.toml"
# The same with a credential that terminates TLS: the per-call CA, the host's trust store read
# and the bundle written into the scratch (docs/network.md, "HTTPS credentials").
cp "$tmp/egress.toml" "$tmp/terminate.toml"
printf '[[network.credential]]\nenv = "BENCH_TOKEN"\nhosts = ["bench.test"]\nterminate_tls = true\n' >> "$tmp/terminate.toml"
export BENCH_TOKEN=bench-value
chmod 644 "$tmp"/*.toml

echo "== start-up ($(uname -r), $(nproc) cpus, $N interleaved rounds; microseconds)"
"$tmp/spawn_timer" "$N" \
    "without=$tmp/tooljail run -p $tmp/plain.toml -- /bin/true" \
    "allow_domains=$tmp/tooljail run -p $tmp/egress.toml -- /bin/true" \
    "terminate_tls=$tmp/tooljail run -p $tmp/terminate.toml -- /bin/true"

speed() { # curl's average download speed in MiB/s
    awk '{ printf "%.0f MiB/s\n", $1 / 1048576 }'
}
echo "== throughput ($SIZE MiB per fetch)"
fmt='%{speed_download}'
printf 'direct (host curl, no jail):    '
curl -s -o /dev/null -w "$fmt" "http://127.0.0.1:$port/" | speed
printf 'jail, plain HTTP via the proxy: '
"$tmp/tooljail" run -p "$tmp/egress.toml" -- curl -s -o /dev/null -w "$fmt" "http://bench.test:$port/" | speed
printf 'jail, CONNECT tunnel:           '
"$tmp/tooljail" run -p "$tmp/egress.toml" -- curl -s -p -o /dev/null -w "$fmt" "http://bench.test:$port/" | speed
