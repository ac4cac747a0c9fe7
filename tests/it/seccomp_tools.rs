//! The default allow-list (`@system-service`) must let ordinary tools do ordinary work: any
//! denial here is a test failure naming the syscalls.

use crate::support::seccomp::{default_policy, run, users, Outcome};
use std::path::Path;

fn assert_clean(o: &Outcome, what: &str) {
    assert!(
        o.denials.is_empty(),
        "{what}: denied {:?}\n{}",
        o.denied_names(),
        o.dump()
    );
    assert!(o.status.success(), "{what}: {}", o.dump());
}

#[test]
fn shell_and_coreutils() {
    for user in users() {
        let o = run(
            &default_policy(),
            user,
            None,
            &[
                "/bin/sh",
                "-c",
                "ls / >/dev/null; cat /etc/hostname; date; echo x | sort | wc -l",
            ],
        );
        assert_clean(&o, "sh");
        assert!(o.stdout.lines().count() >= 3, "{}", o.dump());
    }
}

#[test]
fn python3() {
    let py = "/usr/bin/python3";
    assert!(
        Path::new(py).exists(),
        "install python3 (apt-get install -y python3)"
    );
    let script = "import json, os, subprocess, threading, tempfile, hashlib, socket, \
                  concurrent.futures as cf\n\
                  t = threading.Thread(target=lambda: None); t.start(); t.join()\n\
                  with cf.ThreadPoolExecutor(4) as ex: assert sum(ex.map(abs, [-1, 2])) == 3\n\
                  assert subprocess.run(['true']).returncode == 0\n\
                  with tempfile.TemporaryDirectory() as d: open(os.path.join(d, 'f'), 'w').write('x')\n\
                  socket.socket(socket.AF_INET).close()\n\
                  print(json.dumps({'sha': hashlib.sha256(b'x').hexdigest()[:8]}))";
    for user in users() {
        let o = run(&default_policy(), user, None, &[py, "-c", script]);
        assert_clean(&o, "python3");
        assert!(o.stdout.contains("2d711642"), "{}", o.dump());
    }
}

#[test]
fn git() {
    for user in users() {
        let dir = crate::support::tempdir(0o700);
        if let Some(uid) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid)).unwrap();
        }
        let o = run(&default_policy(), user, None, &["git", "--version"]);
        assert_clean(&o, "git --version");
        let o = run(
            &default_policy(),
            user,
            Some(dir.path()),
            &[
                "/bin/sh",
                "-c",
                "git init -q . && echo hi > f && git add f && \
                 git -c user.name=t -c user.email=t@e commit -qm m && git log --oneline",
            ],
        );
        assert_clean(&o, "git init/commit");
        assert!(o.stdout.contains(" m"), "{}", o.dump());
    }
}

#[test]
fn curl() {
    for user in users() {
        let o = run(&default_policy(), user, None, &["curl", "--version"]);
        assert_clean(&o, "curl --version");
        let o = run(
            &default_policy(),
            user,
            None,
            &["curl", "-s", "file:///etc/hostname"],
        );
        assert_clean(&o, "curl file://");
    }
}

#[test]
fn node() {
    assert!(Path::new("/usr/bin/node").exists(), "install nodejs");
    let script = "const fs = require('fs'), cp = require('child_process'); \
                  const f = require('os').tmpdir() + '/n' + process.pid; fs.writeFileSync(f, 'x'); \
                  const { Worker } = require('worker_threads'); \
                  new Worker('1', { eval: true }).on('exit', () => \
                  console.log(fs.readFileSync(f, 'utf8'), cp.execSync('echo hi').toString().trim(), \
                  require('crypto').randomBytes(4).length));";
    for user in users() {
        let dir = crate::support::tempdir(0o700);
        if let Some(uid) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid)).unwrap();
        }
        let p = dir.path().to_string_lossy().into_owned();
        let o = run(
            &default_policy(),
            user,
            Some(dir.path()),
            &["/usr/bin/env", &format!("TMPDIR={p}"), "node", "-e", script],
        );
        assert_clean(&o, "node");
        assert_eq!(o.stdout.trim(), "x hi 4", "{}", o.dump());
    }
}

#[test]
fn build_tools() {
    for user in users() {
        let dir = crate::support::tempdir(0o700);
        if let Some(uid) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid)).unwrap();
        }
        let o = run(
            &default_policy(),
            user,
            Some(dir.path()),
            &[
                "/bin/sh",
                "-c",
                "printf 'int main(void){return 3;}\\n' > t.c && printf 't: t.c\\n\\tgcc -o t t.c\\n' > Makefile \
                 && make -s -j2 && { ./t; echo rc=$?; } && rg -c main t.c && echo '{\"a\":1}' | jq -c .a",
            ],
        );
        assert_clean(&o, "gcc/make/rg/jq");
        assert_eq!(
            o.stdout.split_whitespace().collect::<Vec<_>>(),
            ["rc=3", "1", "1"],
            "{}",
            o.dump()
        );
    }
}
