#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus into DIR/<target>/ from what the project ships: the
profiles in profiles/, the TOML examples of README.md and docs/, the golden reports in
tests/fixtures/reports/ (as `--report` writes them and as audit lines), and the sizes,
durations and variables those files use; and what a jailed command sends the egress proxy:
request heads, TLS ClientHellos and DNS queries. Usage: fuzz/seeds.py DIR (run from the repository)."""
import glob, hashlib, json, os, re, struct, sys

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

# What a jailed command sends the egress proxy: request heads (CONNECT, absolute URLs, the
# headers the proxy drops or checks), ClientHellos (a name, none, two, an encrypted one) and
# DNS queries (A, AAAA, another type, the root, a compressed name).
for head in [
    "CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\n\r\n",
    "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n",
    "GET http://Example.COM./a/b?c=d HTTP/1.1\r\nHost: example.com\r\nProxy-Authorization: Basic eA==\r\n"
    "Connection: keep-alive\r\nUser-Agent: curl/8\r\n\r\n",
    "POST http://10.0.0.1:8080?x HTTP/1.0\r\nContent-Length: 3\r\n\r\n",
    "GET http://h.test HTTP/1.1\r\nHost: h.test:80\r\nX: a\tb\r\n\r\n",
    "GET /origin-form HTTP/1.1\r\nHost: a\r\n\r\n",
]:
    put("egress_head", head)

def client_hello(names=(), ech=False):
    exts = b""
    for n in names:
        n = n.encode()
        entry = b"\0" + struct.pack(">H", len(n)) + n
        lst = struct.pack(">H", len(entry)) + entry
        exts += struct.pack(">HH", 0, len(lst)) + lst
    if ech:
        exts += struct.pack(">HH", 0xfe0d, 4) + b"\0\1\2\3"
    body = b"\3\3" + bytes(32) + b"\0" + struct.pack(">H", 2) + b"\x13\x01" + b"\1\0"
    body += struct.pack(">H", len(exts)) + exts
    hs = b"\1" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\3\1" + struct.pack(">H", len(hs)) + hs

for hello in [client_hello(["pypi.org"]), client_hello([]), client_hello(["a.test", "b.test"]),
              client_hello(["front.test"], ech=True), client_hello(["PyPI.org"]) + b"after"]:
    put("egress_hello", hello)

def dns_query(labels, qtype=1, flags=0x0100):
    name = b"".join(bytes([len(l)]) + l for l in labels) + b"\0"
    return struct.pack(">HHHHHH", 0x1234, flags, 1, 0, 0, 0) + name + struct.pack(">HH", qtype, 1)

for q in [dns_query([b"pypi", b"org"]), dns_query([b"files", b"pythonhosted", b"org"], 28),
          dns_query([b"a", b"test"], 16), dns_query([]), dns_query([b"x"], 1, 0x8100),
          struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1"]:
    put("egress_dns", q)
