#!/usr/bin/env bash
# Prepares a Debian machine for tooljail's test suite: the real tools the integration tests run
# inside the jail, and an unprivileged test user the suite runs the binary as (most integration
# tests run both as root and as this user, see README.md). Idempotent; needs root (sudo otherwise).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    exec sudo -- "$0" "$@"
fi

packages=(python3 python3-pip python3-pytest python3-dev python3-venv python3-setuptools g++ nodejs git curl wget jq ripgrep gcc make util-linux iproute2 procps man-db bubblewrap)
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

# The unprivileged user the integration tests run tooljail as.
if ! id tooljail-test >/dev/null 2>&1; then
    useradd --system --create-home --home-dir /var/lib/tooljail-test --shell /bin/sh tooljail-test
fi
echo "tests/setup.sh: ready (test user: tooljail-test, uid $(id -u tooljail-test))"
