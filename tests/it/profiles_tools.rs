//! Every shipped tool profile, proven against the real tool: the tool does real work inside the
//! jail and the result is checked, then the tool tries what the profile's header says it may not
//! and fails (with the report saying why where it can). Each case runs as root (the jail then
//! runs as nobody) and as the unprivileged test user, bounded in time. This file: the local
//! tools (shell, shell-rw, python, node, search, jq, build-c, default, base); git in
//! profiles_git.rs; the networked ones (http, pip-install) in profiles_net.rs.
//!
//! The working directory of every run is a fresh 0755 directory under the system temporary
//! directory: readable by the jail's uid, never `/` or HOME (which `${CWD}` profiles refuse).
//! Directories a profile may write are chowned to the jail's uid.
//!
//! Needs the tools installed (tests/setup.sh): python3 nodejs jq ripgrep gcc make.

use crate::support::profiles::{give_to_jail, jail, snapshot, workdir};
use crate::support::{each_identity, tempdir, unique};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// shell, shell-rw

#[test]
fn shell_reads_the_directory_with_sh_bash_and_coreutils() {
    each_identity(|ctx| {
        let dir = workdir(&[("notes.txt", "beta\nalpha\ngamma\n"), ("sub/x.txt", "x\n")]);
        let before = snapshot(dir.path());
        jail(
            ctx,
            dir.path(),
            "shell",
            &[],
            &[
                "bash",
                "-c",
                "sort notes.txt | head -1; wc -l < notes.txt; find . -type f | sort | tr '\\n' ' '; \
                 echo; sh -c 'echo from-sh'; echo tmp > /tmp/t && cat /tmp/t",
            ],
        )
        .expect(0)
        .stdout_has("alpha\n3\n./notes.txt ./sub/x.txt \nfrom-sh\ntmp\n");
        assert_eq!(snapshot(dir.path()), before);
    });
}

#[test]
fn shell_may_not_write_the_directory_or_see_shadow_or_home() {
    each_identity(|ctx| {
        let dir = workdir(&[("notes.txt", "keep\n")]);
        let before = snapshot(dir.path());
        let r = jail(
            ctx,
            dir.path(),
            "shell",
            &[],
            &[
                "sh",
                "-c",
                "echo x > new.txt; echo write=$?; rm notes.txt; echo rm=$?; \
                 cat /etc/shadow; echo shadow=$?; ls /root /home; echo home=$?; exit 3",
            ],
        );
        r.expect(3)
            .report_exit(3)
            .stdout_has("write=2\nrm=1\nshadow=1\nhome=2\n")
            .stderr_has("Read-only file system")
            .stderr_has("/etc/shadow: No such file or directory");
        assert_eq!(snapshot(dir.path()), before);
    });
}

#[test]
fn shell_rw_creates_renames_and_deletes_in_the_directory() {
    each_identity(|ctx| {
        let dir = workdir(&[("old.txt", "old\n"), ("gone.txt", "bye\n")]);
        give_to_jail(ctx, dir.path());
        jail(
            ctx,
            dir.path(),
            "shell-rw",
            &[],
            &[
                "sh",
                "-c",
                "mkdir -p out/deep && echo made > out/deep/new.txt && mv old.txt out/renamed.txt \
                 && rm gone.txt && ln -s renamed.txt out/link && mkfifo out/fifo && rm out/fifo \
                 && truncate -s 2 out/renamed.txt && cat out/link && echo",
            ],
        )
        .expect(0)
        .stdout_has("ol\n");
        let p = dir.path();
        assert_eq!(
            std::fs::read_to_string(p.join("out/deep/new.txt")).unwrap(),
            "made\n"
        );
        assert!(!p.join("old.txt").exists() && !p.join("gone.txt").exists());
        assert_eq!(
            std::fs::read_link(p.join("out/link")).unwrap(),
            Path::new("renamed.txt")
        );
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(p.join("out/deep/new.txt")).unwrap().uid();
        assert_eq!(
            owner,
            ctx.own_uid(),
            "files belong to the directory's owner"
        );
    });
}

#[test]
fn shell_rw_may_not_execute_from_the_directory_or_write_outside_it() {
    each_identity(|ctx| {
        let parent = tempdir(0o755);
        let dir = parent.path().join("project");
        let sibling = parent.path().join("sibling");
        for d in [&dir, &sibling] {
            std::fs::create_dir(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::write(dir.join("run.sh"), "echo ran\n").unwrap();
        std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        give_to_jail(ctx, &dir);
        let script = format!(
            "./run.sh; echo exec=$?; sh ./run.sh; echo x > {s}/planted; echo sibling=$?; \
             echo x > /usr/planted; echo usr=$?; cat /etc/shadow; echo shadow=$?",
            s = sibling.display()
        );
        jail(ctx, &dir, "shell-rw", &[], &["sh", "-c", &script])
            .expect(0)
            .stdout_has("exec=126\nran\nsibling=2\nusr=2\nshadow=1\n")
            .stderr_has("Permission denied");
        // The sibling exists on the host (and is world-writable), but not in the jail.
        assert_eq!(std::fs::read_dir(&sibling).unwrap().count(), 0);
    });
}

// ---------------------------------------------------------------------------------------------
// python

const PY_JOB: &str = r#"
import hashlib, json, multiprocessing, os, sys
from concurrent.futures import ThreadPoolExecutor
if __name__ != "__main__":
    raise SystemExit("imported")
words = open("input.txt").read().split()
with ThreadPoolExecutor(4) as ex:
    lengths = list(ex.map(len, words))
# Processes and a semaphore in /dev/shm (scratch): what data scripts commonly do.
with multiprocessing.Pool(2) as pool:
    assert pool.map(len, words) == lengths
os.makedirs("/scratch/out", exist_ok=True)
with open("/scratch/out/result.json", "w") as f:
    json.dump({"words": len(words), "letters": sum(lengths)}, f)
with open("/scratch/out/result.json") as f:
    result = json.load(f)
print("result", result["words"], result["letters"], hashlib.sha256(" ".join(words).encode()).hexdigest()[:12])
print("cwd", os.getcwd(), "home", os.environ["HOME"])
"#;

#[test]
fn python_runs_a_script_reading_the_directory_and_writing_scratch() {
    each_identity(|ctx| {
        let dir = workdir(&[("job.py", PY_JOB), ("input.txt", "one two three\nfour\n")]);
        let before = snapshot(dir.path());
        let expect_hash = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(b"one two three four");
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()[..12].to_string()
        };
        let r = jail(ctx, dir.path(), "python", &[], &["python3", "job.py"]);
        r.expect(0)
            .report_exit(0)
            .stdout_has(&format!("result 4 15 {expect_hash}\n"))
            .stdout_has(&format!("cwd {} home /scratch\n", dir.path().display()));
        assert!(r.denied().is_empty(), "{}", r.dump());
        // No __pycache__, nothing else: the directory is untouched.
        assert_eq!(snapshot(dir.path()), before);
    });
}

const PY_ESCAPE: &str = r#"
import ctypes, errno, os, socket
def attempt(label, fn):
    try:
        fn()
        print(label, "ok")
    except OSError as e:
        print(label, errno.errorcode[e.errno])
attempt("write-cwd", lambda: open("out.txt", "w"))
attempt("write-usr", lambda: open("/usr/lib/planted", "w"))
attempt("read-home-ssh", lambda: open(os.path.expanduser("~/.ssh/id_ed25519")))
attempt("read-root-ssh", lambda: os.listdir("/root/.ssh"))
attempt("read-shadow", lambda: open("/etc/shadow"))
attempt("connect", lambda: socket.create_connection(("192.0.2.1", 80), timeout=5))
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.unshare(0x10000000)
print("unshare", rc, errno.errorcode.get(ctypes.get_errno()))
raise SystemExit(4)
"#;

#[test]
fn python_may_not_write_outside_scratch_read_secrets_or_use_the_network() {
    each_identity(|ctx| {
        let dir = workdir(&[("escape.py", PY_ESCAPE)]);
        let before = snapshot(dir.path());
        let r = jail(ctx, dir.path(), "python", &[], &["python3", "escape.py"]);
        r.expect(4)
            .report_exit(4)
            .stdout_has("write-cwd EROFS\n")
            .stdout_has("write-usr EROFS\n")
            .stdout_has("read-home-ssh ENOENT\n")
            .stdout_has("read-root-ssh ENOENT\n")
            .stdout_has("read-shadow ENOENT\n")
            .stdout_has("connect ENETUNREACH\n")
            .stdout_has("unshare -1 EPERM\n");
        // The seccomp denial is in the report, by name.
        assert_eq!(r.denied(), ["unshare"], "{}", r.dump());
        assert_eq!(snapshot(dir.path()), before);
    });
}

// ---------------------------------------------------------------------------------------------
// node

const NODE_JOB: &str = r#"
const fs = require('fs'), os = require('os'), path = require('path');
const { Worker } = require('worker_threads');
const data = JSON.parse(fs.readFileSync('data.json', 'utf8'));
const out = path.join(os.tmpdir(), 'sum.txt');
new Worker('const { parentPort, workerData } = require("worker_threads"); parentPort.postMessage(workerData.reduce((a, b) => a + b, 0));',
           { eval: true, workerData: data.values })
  .on('message', (sum) => {
    fs.writeFileSync(out, String(sum));
    console.log('sum', fs.readFileSync(out, 'utf8'), 'tmp', os.tmpdir(), 'home', os.homedir());
  });
"#;

#[test]
fn node_runs_a_script_reading_the_directory_and_writing_scratch() {
    each_identity(|ctx| {
        let dir = workdir(&[
            ("job.js", NODE_JOB),
            ("data.json", r#"{"values":[4,5,33]}"#),
        ]);
        let before = snapshot(dir.path());
        let r = jail(ctx, dir.path(), "node", &[], &["node", "job.js"]);
        r.expect(0)
            .report_exit(0)
            .stdout_has("sum 42 tmp /tmp home /scratch\n");
        assert!(r.denied().is_empty(), "{}", r.dump());
        assert_eq!(snapshot(dir.path()), before);
    });
}

#[test]
fn node_may_not_write_the_directory_or_reach_a_host_server() {
    // A server on the host's loopback: the jail's `lo` is its own, so it is unreachable.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    each_identity(|ctx| {
        let script = format!(
            r#"
const fs = require('fs'), net = require('net');
try {{ fs.writeFileSync('planted.txt', 'x'); console.log('write ok'); }} catch (e) {{ console.log('write', e.code); }}
try {{ fs.readFileSync('/etc/shadow'); console.log('shadow ok'); }} catch (e) {{ console.log('shadow', e.code); }}
const s = net.connect({{ host: '127.0.0.1', port: {port} }});
s.on('connect', () => {{ console.log('connect ok'); process.exit(0); }});
s.on('error', (e) => {{ console.log('connect', e.code); process.exit(5); }});
"#
        );
        let dir = workdir(&[("escape.js", &script)]);
        let before = snapshot(dir.path());
        jail(ctx, dir.path(), "node", &[], &["node", "escape.js"])
            .expect(5)
            .report_exit(5)
            .stdout_has("write EROFS\nshadow ENOENT\nconnect ECONNREFUSED\n");
        assert_eq!(snapshot(dir.path()), before);
    });
    assert!(
        listener.accept().is_err(),
        "the host server saw a connection from the jail"
    );
}

// ---------------------------------------------------------------------------------------------
// search

#[test]
fn search_finds_with_rg_grep_and_find() {
    each_identity(|ctx| {
        let dir = workdir(&[
            ("a.rs", "// needle in a\n"),
            ("deep/er/b.md", "text\nneedle in b\n"),
            ("c.txt", "nothing\n"),
        ]);
        jail(
            ctx,
            dir.path(),
            "search",
            &[],
            &[
                "sh",
                "-c",
                "rg -n --sort path needle && grep -rl needle . | sort && find . -name '*.md'",
            ],
        )
        .expect(0)
        .stdout_has("a.rs:1:// needle in a\ndeep/er/b.md:2:needle in b\n")
        .stdout_has("./a.rs\n./deep/er/b.md\n./deep/er/b.md\n");
    });
}

#[test]
fn search_may_not_leave_the_directory() {
    each_identity(|ctx| {
        let parent = tempdir(0o755);
        let dir = parent.path().join("tree");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let secret = parent.path().join("secret.txt");
        std::fs::write(&secret, "needle outside\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&secret, dir.join("link.txt")).unwrap();
        std::fs::write(dir.join("in.txt"), "needle inside\n").unwrap();
        let r = jail(
            ctx,
            &dir,
            "search",
            &[],
            &[
                "sh",
                "-c",
                "rg -L --no-messages needle .; echo rg=$?; grep -r needle /etc /root 2>&1 | grep -c outside; \
                 cat link.txt; echo link=$?",
            ],
        );
        r.expect(0)
            .stdout_has("needle inside\n")
            .stdout_has("link=1\n")
            .stderr_has("link.txt: No such file or directory");
        assert!(!r.run.stdout.contains("needle outside"), "{}", r.dump());
    });
}

// ---------------------------------------------------------------------------------------------
// jq

#[test]
fn jq_transforms_a_file_in_the_directory() {
    each_identity(|ctx| {
        let dir = workdir(&[(
            "data.json",
            r#"{"items":[{"name":"a","n":2},{"name":"b","n":40}]}"#,
        )]);
        jail(
            ctx,
            dir.path(),
            "jq",
            &[],
            &[
                "jq",
                "-c",
                "{total: ([.items[].n] | add), names: [.items[].name]}",
                "data.json",
            ],
        )
        .expect(0)
        .report_exit(0)
        .stdout_has("{\"total\":42,\"names\":[\"a\",\"b\"]}\n");
    });
}

#[test]
fn jq_may_not_read_outside_the_directory() {
    each_identity(|ctx| {
        let parent = tempdir(0o755);
        let dir = parent.path().join("json");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let outside = parent.path().join("outside.json");
        std::fs::write(&outside, "{\"secret\":1}").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = outside.display().to_string();
        jail(ctx, &dir, "jq", &[], &["jq", ".secret", &o])
            .expect(2)
            .report_exit(2)
            .stderr_has("No such file or directory");
    });
}

// ---------------------------------------------------------------------------------------------
// build-c

const MAKEFILE: &str = "\
CFLAGS = -O2 -Wall -Werror
prog: main.o sq.o
\t$(CC) -o $@ main.o sq.o
check: prog
\t./prog 7 > out.txt
\tgrep -qx 49 out.txt
escape: prog
\techo x > ../escaped.txt
";

#[test]
fn build_c_compiles_links_and_runs_make_check() {
    each_identity(|ctx| {
        let dir = workdir(&[
            ("Makefile", MAKEFILE),
            (
                "main.c",
                "#include <stdio.h>\n#include <stdlib.h>\nint sq(int);\n\
                 int main(int c, char **v){ printf(\"%d\\n\", sq(c > 1 ? atoi(v[1]) : 0)); return 0; }\n",
            ),
            ("sq.c", "int sq(int x) { return x * x; }\n"),
        ]);
        give_to_jail(ctx, dir.path());
        let r = jail(ctx, dir.path(), "build-c", &[], &["make", "-j2", "check"]);
        r.expect(0).report_exit(0);
        assert!(r.denied().is_empty(), "{}", r.dump());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            "49\n"
        );
        for f in ["main.o", "sq.o", "prog"] {
            assert!(dir.path().join(f).exists(), "{f} missing\n{}", r.dump());
        }
    });
}

#[test]
fn build_c_may_not_write_outside_its_directory_or_run_from_scratch() {
    each_identity(|ctx| {
        let parent = tempdir(0o777);
        let dir = parent.path().join("proj");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("Makefile"), MAKEFILE).unwrap();
        std::fs::write(dir.join("main.c"), "int main(void) { return 0; }\n").unwrap();
        std::fs::write(dir.join("sq.c"), "int sq(int x) { return x; }\n").unwrap();
        give_to_jail(ctx, &dir);
        let marker = unique("escape");
        let script = format!(
            "make -s escape; echo escape=$?; echo x > /usr/include/{marker}.h; echo usr=$?; \
             cp prog /tmp/prog && /tmp/prog; echo scratch-exec=$?; exit 9"
        );
        let r = jail(ctx, &dir, "build-c", &[], &["sh", "-c", &script]);
        // `../escaped.txt` lands in the jail's own tmpfs (the parent of the directory is not
        // the host's); /usr is read-only; scratch is noexec.
        r.expect(9)
            .report_exit(9)
            .stdout_has("escape=0\nusr=2\nscratch-exec=126\n");
        assert!(
            !parent.path().join("escaped.txt").exists(),
            "the build wrote outside its directory on the host"
        );
        assert!(!Path::new(&format!("/usr/include/{marker}.h")).exists());
    });
}

// ---------------------------------------------------------------------------------------------
// default, base

#[test]
fn default_and_base_work_in_scratch_and_see_none_of_the_callers_files() {
    each_identity(|ctx| {
        let dir = workdir(&[("mine.txt", "the caller's file\n")]);
        let mine = dir.path().join("mine.txt").display().to_string();
        for profile in ["default", "base"] {
            let script = format!(
                "pwd; printf 'b\\na\\n' > list && sort list | tr '\\n' ' ' && echo; \
                 cat {mine}; echo mine=$?; ls /root /home; echo home=$?; \
                 cat /etc/shadow; echo shadow=$?; exit 6"
            );
            jail(ctx, dir.path(), profile, &[], &["sh", "-c", &script])
                .expect(6)
                .report_exit(6)
                .stdout_has("/scratch\na b \nmine=1\nhome=2\nshadow=1\n");
        }
    });
}
