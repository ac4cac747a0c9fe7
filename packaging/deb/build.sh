#!/usr/bin/env bash
# Builds target/debian/tooljail_VERSION-1_ARCH.deb with the standard tools (cargo, dpkg-deb),
# from the committed man pages, completions and profiles. Prints the path of the package.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
bash packaging/build-static.sh >/dev/null

stage=target/debian/stage
rm -rf "$stage"
install -d "$stage/DEBIAN"
install -D -m 0755 target/release/tooljail "$stage/usr/bin/tooljail"
strip --strip-unneeded "$stage/usr/bin/tooljail"

for page in man/*.1 man/*.5; do
    [ -e "$page" ] || continue
    section=${page##*.}
    install -D -m 0644 "$page" "$stage/usr/share/man/man$section/$(basename "$page")"
    gzip -9n "$stage/usr/share/man/man$section/$(basename "$page")"
done
install -D -m 0644 completions/tooljail.bash "$stage/usr/share/bash-completion/completions/tooljail"
install -D -m 0644 completions/_tooljail "$stage/usr/share/zsh/vendor-completions/_tooljail"
install -D -m 0644 completions/tooljail.fish "$stage/usr/share/fish/vendor_completions.d/tooljail.fish"
install -d "$stage/usr/share/tooljail/profiles" "$stage/etc/tooljail/profiles"
install -m 0644 profiles/*.toml "$stage/usr/share/tooljail/profiles/"
install -D -m 0644 packaging/apparmor/tooljail "$stage/etc/apparmor.d/tooljail"
install -d "$stage/usr/share/doc/tooljail"
install -m 0644 README.md "$stage/usr/share/doc/tooljail/"
cp -r docs "$stage/usr/share/doc/tooljail/" 2>/dev/null || true
install -D -m 0644 examples/orchestrator.py "$stage/usr/share/doc/tooljail/examples/orchestrator.py"
cat > "$stage/usr/share/doc/tooljail/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tooljail
License: Apache-2.0
Files: *
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

installed_size=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: tooljail
Version: ${version}-1
Architecture: ${arch}
Maintainer: tooljail developers <dev@tooljail.invalid>
Installed-Size: ${installed_size}
Recommends: apparmor
Section: admin
Priority: optional
Homepage: https://tooljail.invalid
Description: run untrusted tool calls in a jail built from a TOML profile
 tooljail wraps any command in fresh Linux namespaces, a new root built only
 from the paths a profile names, a Landlock ruleset, a seccomp filter,
 rlimits and a size-capped scratch tmpfs, then exits and leaves nothing
 behind. It is built for AI agents' tool calls: a JSON report and an audit
 trail tell the caller exactly what happened.
CONTROL
printf '/etc/apparmor.d/tooljail\n' > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
# Load the AppArmor profile that lets tooljail create user namespaces where AppArmor restricts
# them (Ubuntu 23.10+). Nothing to do where AppArmor is absent or disabled.
if [ "$1" = configure ] && command -v apparmor_parser >/dev/null 2>&1 \
    && [ -d /sys/kernel/security/apparmor ]; then
    apparmor_parser -r -T -W /etc/apparmor.d/tooljail || true
fi
POSTINST
chmod 0755 "$stage/DEBIAN/postinst"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs md5sum) > "$stage/DEBIAN/md5sums"

deb="target/debian/tooljail_${version}-1_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
