#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus into DIR/<target>/ from what the project ships: the
profiles in profiles/, the TOML examples of README.md and docs/, the golden reports in
tests/fixtures/reports/ (as `--report` writes them and as audit lines), and the sizes,
durations and variables those files use. Usage: fuzz/seeds.py DIR (run from the repository)."""
import glob, hashlib, json, os, re, sys

out = sys.argv[1]

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

def doc_toml_blocks(text):
    """Fenced ```toml blocks, and indented blocks that hold a [section] header."""
    for m in re.finditer(r"```toml\n(.*?)```", text, re.S):
        yield m.group(1)
    block = []
    for line in text.splitlines() + [""]:
        if line.startswith("    ") or (block and not line.strip()):
            block.append(line[4:])
            continue
        body = "\n".join(block).strip("\n") + "\n"
        if re.search(r"^\[[a-z.]+\]$", body, re.M) and "=" in body:
            yield body
        block = []

profiles = {p: open(p).read() for p in sorted(glob.glob("profiles/*.toml"))}
docs = [b for f in ["README.md"] + sorted(glob.glob("docs/*.md")) for b in doc_toml_blocks(open(f).read())]
tomls = list(profiles.values()) + docs

for t in tomls:
    put("profile_load", t)
    # A profile extending another file, and files extending each other (form feeds part them).
    put("extends_merge", t)
    put("extends_merge", 'extends = ["/p/b.toml"]\n\f' + t)
    put("extends_merge", 'extends = ["/p/b.toml", "/p/c.toml"]\n\fextends = ["/p/c.toml"]\n' + "\f" + t)
put("extends_merge", 'extends = ["/p/b.toml"]\n\fextends = ["/p/a.toml"]\n')
put("extends_merge", 'extends = ["/p/b.toml"]\n[filesystem]\nread_only = ["!/usr"]\n\fextends = ["default"]\n')

values = set()
for t in tomls:
    values.update(re.findall(r'"([^"\n]*)"', t))
for v in sorted(values):
    if re.match(r"^\s*\d", v):
        put("size_duration", v)
    if "$" in v:
        put("vars_expand", v)
for v in ["64M", "2 G", "1T", "512B", "64MiB", "30s", "1h 30m", "500ms", "90m", "7days",
          "2026-11-23T08:00:00Z", "2026-11-23T08:00:00+01:00", "18446744073709551615"]:
    put("size_duration", v)
for v in ["${CWD}/x", "$${HOME}", "${HOME", "${PROFILE_DIR}/a", "a$b", "${UID}:${GID}"]:
    put("vars_expand", v)

for pick, fields in enumerate([
    ["r/etc", "w/data", "x/usr/bin/python3", "t30s", "m512M"],
    ["r/data/../etc", "wrelative", "c/home/ann/proj", "lprocesses=8", "eFOO=bar", "kTERM"],
    ["o/out", "p*.txt", "s1M", "lmemory=64Q", "t1"],
    ["w/", "r", "e=x", "c..", "lnosuch=1"],
]):
    put("policy_resolve", bytes([pick]) + "\0".join(fields).encode())

for path in sorted(glob.glob("tests/fixtures/reports/*.json")):
    text = open(path).read()
    put("report_roundtrip", text)
    line = json.dumps(json.loads(text), separators=(",", ":"))
    put("audit_read", line + "\n")
    put("audit_read", line + "\n" + line[: len(line) // 2])
    put("report_roundtrip", "tool --flag\0/home/ann/proj\0a warning\0bad key\0p.toml:3:7")
