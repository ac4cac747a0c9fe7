#!/bin/bash
# Cost of a learning run (`tooljail learn`; not a test, run by hand): six tools, each N times
# under its shipped profile, under the `learn` base, under the `learn` base with every call
# observed (`run --learning`), and through the whole `tooljail learn`; medians in ms, and the
# number of syscalls the learning run saw. Prints the table of docs/writing-profiles.md.
# Usage: benches/learn.sh [N]   (TOOLJAIL=path/to/tooljail to skip the release build)
set -eu
cd "$(dirname "$0")/.."
if [ -z "${TOOLJAIL:-}" ]; then
    cargo build --release --quiet --bin tooljail
    TOOLJAIL="$PWD/target/release/tooljail"
fi
N="${1:-10}"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
# Readable by the jail's user: root's jail runs as a transient uid, and the shipped profiles
# bind the working directory (mktemp makes it 0700: every shipped run would fail at once).
chmod 755 "$W"
mkdir "$W/p" && cd "$W/p"
printf 'import json\nprint(sum(json.load(open("d.json"))["items"]))\n' > job.py
echo '{"items":[1,2,3]}' > d.json
printf '#include <stdio.h>\nint main(void){puts("x");return 0;}\n' > h.c
printf 'h: h.c\n\tcc -O0 -o h h.c\n' > Makefile
echo 'console.log(1)' > m.js
git init -q -b main . && git -c user.name=T -c user.email=t@x add -A \
    && git -c user.name=T -c user.email=t@x commit -qm one
ENV=(--env GIT_CONFIG_COUNT=1 --env GIT_CONFIG_KEY_0=safe.directory --env GIT_CONFIG_VALUE_0=*)
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
ms() { local s; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; echo $(( ($(date +%s%N) - s) / 1000000 )); }
times() { for _ in $(seq "$N"); do ms "$@"; done | median; }
echo "| tool and work | syscalls seen | run -p SHIPPED | run -p learn | run --learning -p learn | tooljail learn |"
case_() {
    local name=$1 shipped=$2; shift 2
    local a b c d n
    a=$(times "$TOOLJAIL" run -p "$shipped" "${ENV[@]}" -- "$@")
    b=$(times "$TOOLJAIL" run -p learn "${ENV[@]}" -- "$@")
    c=$(times "$TOOLJAIL" run --learning -p learn "${ENV[@]}" -- "$@")
    d=$(times "$TOOLJAIL" learn "${ENV[@]}" --out "$W/out.toml" -- "$@")
    "$TOOLJAIL" run --learning -p learn --report "$W/r.json" "${ENV[@]}" -- "$@" >/dev/null 2>&1 || true
    n=$(python3 -c "import json,sys; o=json.load(open(sys.argv[1]))['observed']; print(sum(sum(v.values()) for v in o['syscalls'].values()))" "$W/r.json")
    echo "| \`$name\` | $n | $a ms | $b ms | $c ms | $d ms |"
}
case_ "python3 job.py" python python3 job.py
case_ "git status" git git status --short
case_ "make (cc, one file)" build-c make -B
case_ "jq .items d.json" jq jq .items d.json
case_ "rg -n items" search rg -n items
case_ "node m.js" node node m.js
