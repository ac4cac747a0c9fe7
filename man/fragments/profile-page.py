#!/usr/bin/env python3
"""Builds man/tooljail-profile.5 from docs/profile-format.md (the one source), with pandoc.

Markdown tables become lists (man pages render wide tables badly at 80 columns). Run from the
repository root after editing docs/profile-format.md:  python3 man/fragments/profile-page.py
"""
import re
import subprocess
import sys

version = re.search(r'^version = "(.*)"$', open("Cargo.toml").read(), re.M).group(1)
src = open("docs/profile-format.md").read().splitlines()
out = [
    "---",
    "title: TOOLJAIL-PROFILE",
    "section: 5",
    "header: File Formats Manual",
    f"footer: tooljail {version}",
    "---",
    "",
    "# NAME",
    "",
    "tooljail-profile - the TOML profile format of tooljail(1)",
    "",
    "# DESCRIPTION",
]
header = None
for line in src[1:]:
    if line.startswith("|"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        if all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue
        rest = "; ".join(
            f"{h}: {c}" for h, c in zip(header[1:], cells[1:]) if c and c != "—"
        )
        out.append(f"- {cells[0]} — {rest}" if rest else f"- {cells[0]}")
        continue
    header = None
    out.append(re.sub(r"^## ", "# ", line))
out += ["", "# SEE ALSO", "",
        "**tooljail**(1), **tooljail-explain**(1), **tooljail-check**(1), **landlock**(7), "
        "**seccomp**(2)", ""]
subprocess.run(["pandoc", "-s", "-t", "man", "-o", "man/tooljail-profile.5"],
               input="\n".join(out), text=True, check=True)
print("wrote man/tooljail-profile.5", file=sys.stderr)
