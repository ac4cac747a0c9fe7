#!/usr/bin/env bash
# Builds the shipped binary, target/release/tooljail, linked statically (static-pie: the address
# space is still randomized), and prints its path. A static tooljail starts about 0.7 ms faster
# per call than a dynamic one (docs/startup.md): no dynamic loader, no shared libraries to map
# and relocate. tooljail reads the user database without NSS modules (src/host/userdb.rs), which
# a static binary could not load.
#
# The flag goes to the final link only (`cargo rustc`): in RUSTFLAGS or .cargo/config.toml it
# would reach the proc-macro crates too, which cannot be built static. A later plain
# `cargo build --release` relinks the same path dynamically.
#
# The functions a call runs are laid out first and together in .text
# (packaging/symbol-order.txt, made by packaging/symbol-order.py): each process of a call then
# faults in about half as many pages of code (docs/startup.md, "Code layout"). That needs lld,
# rustc's own linker on x86_64 Linux since Rust 1.90; elsewhere the layout is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
order=$PWD/packaging/symbol-order.txt
layout=()
# Output is captured before it is searched: under pipefail, `cmd | grep -q` fails whenever grep
# exits on its match while cmd is still writing.
rustc_version=$(rustc -vV)
if grep -qx 'host: x86_64-unknown-linux-gnu' <<<"$rustc_version" &&
    [ "$(sed -n 's/^release: 1\.\([0-9]*\).*/\1/p' <<<"$rustc_version")" -ge 90 ]; then
    # Named by its content: cargo relinks when the arguments change, not when a file they name does.
    copy=$PWD/target/symbol-order-$(sha256sum "$order" | cut -c1-16).txt
    mkdir -p target
    cp "$order" "$copy"
    layout=(-C "link-arg=-Wl,--symbol-ordering-file=$copy" -C link-arg=-Wl,--no-warn-symbol-ordering)
else
    echo "packaging/build-static.sh: the linker is not lld; the code is not laid out by packaging/symbol-order.txt" >&2
fi
# Relative relocations packed (DT_RELR) where the C library's static start-up applies them
# (glibc 2.36 on): the 11,000 entries of .rela.dyn (264 KB read at every start) become a 3 KB
# bitmap, and the binary 260 KB smaller. An older glibc would start such a binary unrelocated.
relr=()
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null || true)
if [[ $glibc =~ ^glibc\ 2\.([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 36 ]; then
    relr=(-C link-arg=-Wl,-z,pack-relative-relocs)
fi
cargo rustc --release --locked --bin tooljail -- -C target-feature=+crt-static "${layout[@]}" "${relr[@]}" >&2
bin=target/release/tooljail
# It starts: a start-up the C library could not relocate would crash here, not in a user's call.
if ! "$bin" --version >/dev/null; then
    echo "packaging/build-static.sh: $bin does not start (see above)" >&2
    exit 1
fi
headers=$(readelf -lW "$bin")
if grep -q 'Requesting program interpreter' <<<"$headers"; then
    echo "packaging/build-static.sh: $bin is not static (it names a program interpreter)" >&2
    exit 1
fi
if [ ${#layout[@]} -gt 0 ]; then
    # A name the linker does not find is skipped: a toolchain update renames them all.
    listed=$(grep -cv '^#' "$order")
    addrs=$(nm "$bin" | awk 'NR == FNR { want[$1] = 1; next } ($3 in want) { print $1 }' \
        <(grep -v '^#' "$order") -)
    found=$(grep -c . <<<"$addrs" || true)
    if [ $((found * 10)) -lt $((listed * 9)) ]; then
        echo "packaging/build-static.sh: only $found of the $listed functions of packaging/symbol-order.txt are in $bin; regenerate it: python3 packaging/symbol-order.py --user <an unprivileged user>" >&2
    else
        # And the linker laid them out: most of them in the first quarter of .text, not
        # spread over all of it.
        read -r text_start text_size < <(readelf -SW "$bin" | sed 's/^ *\[ *[0-9]*\] *//' |
            awk '$1 == ".text" { print $3, $5 }')
        near=0
        while read -r a; do
            if [ $((16#$a - 16#$text_start)) -lt $((16#$text_size / 4)) ]; then
                near=$((near + 1))
            fi
        done <<<"$addrs"
        if [ $((near * 10)) -lt $((found * 8)) ]; then
            echo "packaging/build-static.sh: the linker did not lay out $bin by packaging/symbol-order.txt ($near of $found functions in the first quarter of .text)" >&2
            exit 1
        fi
    fi
fi
echo "$bin"
