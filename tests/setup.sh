#!/usr/bin/env bash
# Prepares a Debian machine for tooljail's test suite: the real tools the integration tests run
# inside the jail, and an unprivileged test user the suite runs the binary as (most integration
# tests run both as root and as this user, see README.md). Idempotent; needs root (sudo otherwise).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    exec sudo -- "$0" "$@"
fi

packages=(openssl python3 python-is-python3 python3-pip python3-pytest python3-dev python3-venv python3-setuptools g++ nodejs git curl wget jq ripgrep gcc make util-linux iproute2 procps man-db bubblewrap postgresql)
missing=()
for p in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "tests/setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# python-is-python3: LangChain's standard sandbox tests run `python -c` in the jail
# (tests/it/python.rs); the Python package's venv itself comes from PyPI when those tests run.

# The unprivileged user the integration tests run tooljail as.
if ! id tooljail-test >/dev/null 2>&1; then
    useradd --system --create-home --home-dir /var/lib/tooljail-test --shell /bin/sh tooljail-test
fi
# A supplementary group of the test user's, in /etc/group: `--user` must give the jail exactly the
# groups the user database lists (tests/it/identity.rs), read without NSS modules.
groupadd -f --system tooljail-test-extra
if ! id -nG tooljail-test | tr ' ' '\n' | grep -qx tooljail-test-extra; then
    usermod -a -G tooljail-test-extra tooljail-test
fi
# A real PostgreSQL for the call-state tests (tests/it/state.rs): Debian's cluster, started, with
# a role and a database that root and the test user reach over loopback with a password. The
# URL is written to /var/lib/tooljail-test/postgres.url, where the tests read it.
pg_url_file=/var/lib/tooljail-test/postgres.url
cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1, $2}')
if [ -z "$cluster" ]; then
    pg_createcluster 15 main >/dev/null
    cluster="15 main"
fi
read -r pg_version pg_name <<<"$cluster"
if ! pg_lsclusters --no-header | awk -v v="$pg_version" -v n="$pg_name" '$1==v && $2==n {print $4}' | grep -q online; then
    pg_ctlcluster "$pg_version" "$pg_name" start
fi
pg_port=$(pg_lsclusters --no-header | awk -v v="$pg_version" -v n="$pg_name" '$1==v && $2==n {print $3}')
psql_do() { runuser -u postgres -- psql -p "$pg_port" -qtAX -v ON_ERROR_STOP=1 "$@"; }
for _ in $(seq 50); do psql_do -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
if [ "$(psql_do -c "SELECT 1 FROM pg_roles WHERE rolname = 'tooljail_test'")" != 1 ]; then
    psql_do -c "CREATE ROLE tooljail_test LOGIN PASSWORD 'tooljail_test'"
fi
# tooljail_test_lock: a database of its own for the test that holds the store's lock.
for db in tooljail_test tooljail_test_lock; do
    if [ "$(psql_do -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
        psql_do -c "CREATE DATABASE $db OWNER tooljail_test"
    fi
done
echo "postgres://tooljail_test:tooljail_test@127.0.0.1:$pg_port/tooljail_test" >"$pg_url_file"
chmod 0644 "$pg_url_file"

# The official MCP Python SDK and an npm MCP server, pinned, for tests/it/mcp.rs and
# mcp_servers.rs (the tests make them too, under a lock, when they are missing).
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$repo/target"
bash "$repo/tests/mcp/make.sh" venv "$repo/target/mcp-venv"
if command -v npm >/dev/null; then
    bash "$repo/tests/mcp/make.sh" node "$repo/target/mcp-node"
fi

echo "tests/setup.sh: ready (test user: tooljail-test, uid $(id -u tooljail-test))"
