//! Root callers (issue 14): each call's jail runs as a transient uid of its own, a `--rw`
//! directory is written as its owner through an idmapped bind, no setuid/setgid file or file
//! capability can be left on the host through it, and a refused exec or executable mapping is
//! reported with the bind and the flag that lifts it. Every case runs as root and as the test
//! user (whose jail runs as itself and writes its own directories, as before).

use crate::support::{each_identity, run, spawn, tempdir, Ctx, Run};
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `tooljail run --report FILE ARGS...` from `cwd`; the run and its report.
fn jail(ctx: &Ctx, cwd: &Path, args: &[&str]) -> (Run, Value) {
    let out = tempdir(0o1777);
    let report = out.path().join("report.json");
    let mut all = vec!["run", "--report", report.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut cmd = ctx.tooljail(all);
    cmd.current_dir(cwd);
    let r = run(cmd);
    let v = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (r, v)
}

/// A project directory of this identity's own (root's for root), holding `files`.
fn project(ctx: &Ctx, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempdir(0o755);
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    crate::support::profiles::give_to_jail(ctx, dir.path());
    dir
}

/// Every file below `dir` (symlinks not followed) whose owner is not `uid`.
fn not_owned_by(dir: &Path, uid: u32) -> Vec<String> {
    let mut stack = vec![dir.to_path_buf()];
    let mut odd = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let md = e.path().symlink_metadata().unwrap();
            if md.uid() != uid {
                odd.push(format!("{} (uid {})", e.path().display(), md.uid()));
            }
            if md.is_dir() {
                stack.push(e.path());
            }
        }
    }
    odd
}

/// The report's `denials` of `kind`, as (path, hint).
fn denials(v: &Value, kind: &str) -> Vec<(String, String)> {
    v["denials"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .filter(|d| d["kind"] == kind)
        .map(|d| {
            (
                d["path"].as_str().unwrap_or_default().to_string(),
                d["hint"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn concurrent_root_calls_run_as_distinct_transient_uids() {
    if !crate::support::root_or_skip("only root's jails take transient uids") {
        return;
    }
    let root = Ctx {
        who: crate::support::Who::Root,
    };
    let children: Vec<_> = (0..3)
        .map(|_| spawn(&mut root.tooljail(["run", "--", "sh", "-c", "id -u; sleep 1"])))
        .collect();
    let uids: Vec<u32> = children
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let r = crate::support::finish(c, Duration::from_secs(30), format!("call {i}"));
            r.expect(0);
            r.stdout.trim().parse().unwrap()
        })
        .collect();
    for uid in &uids {
        assert!(root.is_jail_uid(*uid), "{uids:?}");
        assert_ne!(*uid, 65534, "{uids:?}");
    }
    let mut distinct = uids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        uids.len(),
        "two calls shared a uid: {uids:?}"
    );
    // A range of one uid held by a running call: the next call waits for nobody, it fails
    // closed and says why (retryable).
    let pin = root.pin_jail_uid();
    let mut holder = root.tooljail(["run", "--", "sleep", "3"]);
    pin.apply(&mut holder);
    let holder = spawn(&mut holder);
    std::thread::sleep(Duration::from_millis(500));
    let mut second = root.tooljail(["run", "--", "true"]);
    pin.apply(&mut second);
    let r = run(second);
    r.expect(125);
    r.expect_stderr_contains("held by running calls");
    crate::support::finish(holder, Duration::from_secs(30), "holder".into()).expect(0);
    // Released when the call ended.
    let mut third = root.tooljail(["run", "--", "id", "-u"]);
    pin.apply(&mut third);
    let r = run(third);
    r.expect(0);
    assert_eq!(r.stdout.trim(), pin.uid.to_string());
}

#[test]
fn rw_writes_as_the_directorys_owner_and_others_files_stay_unwritable() {
    each_identity(|ctx| {
        let dir = project(ctx, &[("README", "hi\n")]);
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        let stranger = if nix::unistd::geteuid().is_root() {
            nix::unistd::chown(&theirs, Some(1234.into()), Some(1234.into())).unwrap();
            true
        } else {
            false
        };
        let d = dir.path().to_str().unwrap();
        let script = "echo x > made; mkdir -p deep/er; echo y > deep/er/f; echo more >> README; \
                      (echo z > theirs/f) 2>/dev/null && echo theirs=written || echo theirs=refused";
        let (r, _) = jail(ctx, dir.path(), &["--rw", d, "--", "sh", "-c", script]);
        r.expect(0);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("README")).unwrap(),
            "hi\nmore\n"
        );
        let mut odd = not_owned_by(dir.path(), ctx.own_uid());
        odd.retain(|f| !f.contains("/theirs"));
        assert!(odd.is_empty(), "not the owner's: {odd:?}\n{}", r.dump());
        if stranger {
            assert!(r.stdout.contains("theirs=refused"), "{}", r.dump());
            assert!(!theirs.join("f").exists());
        }
    });
}

#[test]
#[cfg(target_arch = "x86_64")]
fn no_setuid_setgid_file_or_file_capability_can_be_left_through_a_writable_bind() {
    // Every way to give a file (or directory) a mode with 06000, by raw syscall so no libc
    // wrapper can hide one, then a file capability; each must fail, and nothing on the host
    // may carry the bits afterwards. 0755 through the same calls is the control.
    let script = r#"
import ctypes, os, struct
libc = ctypes.CDLL(None, use_errno=True)
def sc(*a):
    r = libc.syscall(*[ctypes.c_long(x) if isinstance(x, int) else x for x in a])
    return r, ctypes.get_errno()
AT = -100
results = {}
open("f", "w").close()
fd = os.open("f", os.O_RDONLY)
for mode in (0o4755, 0o2755, 0o6755, 0o755):
    m = f"{mode:o}"
    p = lambda n: f"{n}-{m}".encode()
    results["chmod " + m] = sc(90, b"f", mode)
    results["fchmod " + m] = sc(91, fd, mode)
    results["fchmodat " + m] = sc(268, AT, b"f", mode)
    results["fchmodat2 " + m] = sc(452, AT, b"f", mode, 0)
    results["open " + m] = sc(2, p("open"), os.O_CREAT | os.O_WRONLY, mode)
    results["openat " + m] = sc(257, AT, p("openat"), os.O_CREAT | os.O_WRONLY, mode)
    results["creat " + m] = sc(85, p("creat"), mode)
    results["mkdir " + m] = sc(83, p("mkdir"), mode)
    results["mkdirat " + m] = sc(258, AT, p("mkdirat"), mode)
    results["mknod " + m] = sc(133, p("mknod"), 0o100000 | mode, 0)
    results["mknodat " + m] = sc(259, AT, p("mknodat"), 0o100000 | mode, 0)
    os.chmod("f", 0o644)
how = struct.pack("QQQ", os.O_CREAT | os.O_WRONLY, 0o4755, 0)
results["openat2"] = sc(437, AT, b"openat2", ctypes.c_char_p(how), 24)
try:
    os.setxattr("f", "security.capability", struct.pack("<IIIII", 0x02000001, 0xffffffff, 0, 0, 0))
    results["setxattr"] = (0, 0)
except OSError as e:
    results["setxattr"] = (-1, e.errno)
for k, (r, e) in sorted(results.items()):
    print(k, "ok" if r >= 0 else f"errno={e}")
"#;
    each_identity(|ctx| {
        let dir = project(ctx, &[]);
        let d = dir.path().to_str().unwrap();
        let (r, v) = jail(
            ctx,
            dir.path(),
            &[
                "-p", "python", "--rw", d, "--cwd", d, "--", "python3", "-c", script,
            ],
        );
        r.expect(0);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines.len(), 46, "{}", r.dump());
        for line in &lines {
            let (call, verdict) = line.rsplit_once(' ').unwrap();
            let expected = if call.ends_with(" 755") {
                "ok"
            } else if call == "openat2" {
                "errno=38" // ENOSYS: libc falls back to openat
            } else {
                "errno=1" // EPERM
            };
            assert_eq!(verdict, expected, "{call}\n{}", r.dump());
        }
        // Nothing below the bind carries a set-id bit or a capability.
        let mut stack = vec![dir.path().to_path_buf()];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                let md = e.path().symlink_metadata().unwrap();
                assert_eq!(
                    md.mode() & 0o6000,
                    0,
                    "{} {:o}",
                    e.path().display(),
                    md.mode()
                );
                let cap = Command::new("python3")
                    .args(["-c", "import os,sys; print(os.getxattr(sys.argv[1], 'security.capability', follow_symlinks=False))"])
                    .arg(e.path())
                    .output()
                    .unwrap();
                assert!(
                    !cap.status.success(),
                    "{} has a capability",
                    e.path().display()
                );
                if md.is_dir() {
                    stack.push(e.path());
                }
            }
        }
        // The refusals are the hardening rule's, named with its key.
        let syscalls: Vec<&str> = v["denials"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"] == "syscall")
            .filter_map(|d| d["syscall"].as_str())
            .collect();
        assert!(syscalls.contains(&"fchmodat2"), "{v:#}");
        assert!(
            r.stderr.contains("setid-bits") || v["denials"].to_string().contains("setid-bits"),
            "{v:#}"
        );
    });
}

#[test]
fn a_file_system_that_cannot_be_idmapped_fails_closed_and_says_which() {
    if !crate::support::root_or_skip("mounting a ramfs needs root") {
        return;
    }
    let root = Ctx {
        who: crate::support::Who::Root,
    };
    let dir = tempdir(0o755);
    let mnt = dir.path().join("ram");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "ramfs", "none"])
        .arg(&mnt)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount ramfs");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&mnt);
    let m = mnt.to_str().unwrap();
    let mark = format!("{m}/ran");
    let (r, v) = jail(&root, dir.path(), &["--rw", m, "--", "touch", &mark]);
    r.expect(125);
    r.expect_stderr_contains("ramfs");
    r.expect_stderr_contains("cannot idmap");
    r.expect_stderr_contains("--user");
    assert!(!Path::new(&mark).exists(), "the command ran");
    assert_eq!(v["outcome"], "setup_error", "{v:#}");
    // The same directory with --user: bound as that user, who simply cannot write a
    // root-owned 0755 ramfs (the control: not an idmap refusal).
    let (r, _) = jail(
        &root,
        dir.path(),
        &["--user", "nobody", "--rw", m, "--", "true"],
    );
    r.expect(0);
}

#[test]
fn landlock_mode_refuses_a_rw_directory_the_transient_uid_cannot_write() {
    if !crate::support::root_or_skip("only root's jails take transient uids") {
        return;
    }
    let root = Ctx {
        who: crate::support::Who::Root,
    };
    let dir = tempdir(0o755);
    let d = dir.path().to_str().unwrap();
    let mark = format!("{d}/ran");
    let (r, _) = jail(
        &root,
        dir.path(),
        &["--isolation", "landlock", "--rw", d, "--", "touch", &mark],
    );
    r.expect(125);
    r.expect_stderr_contains("cannot write it");
    r.expect_stderr_contains("--user NAME");
    assert!(!Path::new(&mark).exists());
}

const MAKEFILE: &str = "all: prog\n\t./prog > out.txt\nprog: main.c\n\t$(CC) -o prog main.c\n";
const MAIN_C: &str = "#include <stdio.h>\nint main(void){ puts(\"built and ran\"); return 0; }\n";

#[test]
fn make_runs_what_it_built_with_exec_and_names_the_flag_without() {
    each_identity(|ctx| {
        let dir = project(ctx, &[("Makefile", MAKEFILE), ("main.c", MAIN_C)]);
        let d = dir.path().to_str().unwrap();
        let (r, v) = jail(ctx, dir.path(), &["-p", "build-c", "--rw", d, "--", "make"]);
        assert_ne!(r.code(), 0, "{}", r.dump());
        let exec = denials(&v, "exec");
        assert!(
            exec.iter()
                .any(|(p, h)| p.ends_with("/prog") && h.contains(&format!("--exec {d}"))),
            "{v:#}"
        );
        r.expect_stderr_contains(&format!("tooljail: denied: exec of {d}/prog"));
        r.expect_stderr_contains(&format!("--exec {d}"));
        let (r, v) = jail(
            ctx,
            dir.path(),
            &["-p", "build-c", "--rw", d, "--exec", d, "--", "make"],
        );
        r.expect(0);
        assert!(denials(&v, "exec").is_empty(), "{v:#}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            "built and ran\n"
        );
        let odd = not_owned_by(dir.path(), ctx.own_uid());
        assert!(odd.is_empty(), "{odd:?}");
    });
}

const SETUP_PY: &str = "from setuptools import setup, Extension\n\
    setup(name='tjext', version='1.0', ext_modules=[Extension('tjext', ['tjext.c'])])\n";
const TJEXT_C: &str = "#include <Python.h>\n\
    static PyObject *answer(PyObject *s, PyObject *a) { return PyLong_FromLong(42); }\n\
    static PyMethodDef m[] = {{\"answer\", answer, METH_NOARGS, \"\"}, {0}};\n\
    static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, \"tjext\", 0, -1, m};\n\
    PyMODINIT_FUNC PyInit_tjext(void) { return PyModule_Create(&d); }\n";

#[test]
fn a_c_extension_builds_and_imports_with_exec_and_names_the_flag_without() {
    each_identity(|ctx| {
        let dir = project(ctx, &[("setup.py", SETUP_PY), ("tjext.c", TJEXT_C)]);
        let d = dir.path().to_str().unwrap();
        let script = "python3 setup.py -q build_ext --inplace >/dev/null 2>&1; \
                      python3 -c 'import tjext; print(\"answer\", tjext.answer())'";
        let (r, v) = jail(
            ctx,
            dir.path(),
            &[
                "-p", "python", "--rw", d, "--cwd", d, "--", "sh", "-c", script,
            ],
        );
        assert_ne!(r.code(), 0, "{}", r.dump());
        r.expect_stderr_contains("failed to map segment");
        let mapped = denials(&v, "map_exec");
        assert!(
            mapped
                .iter()
                .any(|(p, h)| p.contains("tjext") && h.contains(&format!("--exec {d}"))),
            "{v:#}"
        );
        let (r, _) = jail(
            ctx,
            dir.path(),
            &[
                "-p", "python", "--rw", d, "--exec", d, "--cwd", d, "--", "sh", "-c", script,
            ],
        );
        r.expect(0);
        r.expect_stdout_contains("answer 42");
        let odd = not_owned_by(dir.path(), ctx.own_uid());
        assert!(odd.is_empty(), "{odd:?}");
    });
}

#[test]
fn pip_installs_into_a_venv_in_the_project_and_names_exec_without_it() {
    each_identity(|ctx| {
        let dir = project(ctx, &[("pkg/setup.py", "from setuptools import setup\nsetup(name='tjpure', version='1.0', py_modules=['tjpure'])\n"), ("pkg/tjpure.py", "VALUE = 7\n")]);
        let d = dir.path().to_str().unwrap();
        let script = "python3 -m venv --system-site-packages v && \
                      v/bin/pip install -q --no-index --no-build-isolation ./pkg && \
                      v/bin/python -c 'import tjpure; print(\"value\", tjpure.VALUE)'";
        let (r, v) = jail(
            ctx,
            dir.path(),
            &[
                "-p", "python", "--rw", d, "--cwd", d, "--", "sh", "-c", script,
            ],
        );
        assert_ne!(r.code(), 0, "{}", r.dump());
        assert!(
            denials(&v, "exec")
                .iter()
                .any(|(p, h)| p.ends_with("/v/bin/pip") && h.contains("--exec")),
            "{v:#}"
        );
        std::fs::remove_dir_all(dir.path().join("v")).unwrap();
        let (r, _) = jail(
            ctx,
            dir.path(),
            &[
                "-p", "python", "--rw", d, "--exec", d, "--cwd", d, "--", "sh", "-c", script,
            ],
        );
        r.expect(0);
        r.expect_stdout_contains("value 7");
        let odd = not_owned_by(dir.path(), ctx.own_uid());
        assert!(odd.is_empty(), "{odd:?}");
    });
}

#[test]
fn git_commits_in_a_root_owned_repository_with_git_rw() {
    use crate::support::profiles::{git_repo_with_a_change, git_subjects, GIT_COMMIT};
    each_identity(|ctx| {
        let dir = project(ctx, &[("README", "hello\n")]);
        let p = dir.path();
        git_repo_with_a_change(p);
        crate::support::profiles::give_to_jail(ctx, p);
        let mut args = vec!["-p", "git-rw"];
        args.extend_from_slice(GIT_COMMIT);
        let (r, _) = jail(ctx, p, &args);
        r.expect(0);
        let log = git_subjects(p);
        assert!(log.starts_with("from the jail\n"), "{log}\n{}", r.dump());
        let odd = not_owned_by(p, ctx.own_uid());
        assert!(odd.is_empty(), "{odd:?}");
    });
}

#[test]
fn npm_installs_a_native_module_into_the_project() {
    if Command::new("npm").arg("--version").output().is_err() {
        crate::support::skip(
            "npm",
            "npm is not installed (nodejs from Debian ships without it)",
        );
        return;
    }
    each_identity(|ctx| {
        let dir = project(
            ctx,
            &[
                (
                    "addon/package.json",
                    "{\"name\":\"tjaddon\",\"version\":\"1.0.0\",\"main\":\"index.js\",\
                     \"scripts\":{\"install\":\"node-gyp rebuild\"},\"gypfile\":true}\n",
                ),
                (
                    "addon/binding.gyp",
                    "{\"targets\":[{\"target_name\":\"tjaddon\",\"sources\":[\"addon.c\"]}]}\n",
                ),
                (
                    "addon/addon.c",
                    "#include <node_api.h>\n\
                     static napi_value Answer(napi_env env, napi_callback_info info) {\n\
                     napi_value v; napi_create_int32(env, 42, &v); return v; }\n\
                     NAPI_MODULE_INIT() { napi_value fn;\n\
                     napi_create_function(env, \"answer\", NAPI_AUTO_LENGTH, Answer, NULL, &fn);\n\
                     napi_set_named_property(env, exports, \"answer\", fn); return exports; }\n",
                ),
                (
                    "addon/index.js",
                    "module.exports = require('./build/Release/tjaddon.node');\n",
                ),
                (
                    "app/package.json",
                    "{\"name\":\"app\",\"version\":\"1.0.0\"}\n",
                ),
            ],
        );
        let ok = Command::new("tar")
            .current_dir(dir.path())
            .args([
                "czf",
                "tjaddon.tgz",
                "--transform",
                "s,^addon,package,",
                "addon",
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        crate::support::profiles::give_to_jail(ctx, dir.path());
        let d = dir.path().to_str().unwrap();
        let app = format!("{d}/app");
        let script = "npm install --offline --no-audit --no-fund ../tjaddon.tgz >/dev/null 2>&1; \
                      node -e 'console.log(\"answer\", require(\"tjaddon\").answer())'";
        let args = |exec: bool| {
            let mut a = vec!["--rw", d, "--cwd", &app, "--timeout", "120s"];
            if exec {
                a.extend(["--exec", d]);
            }
            a.extend([
                "--env",
                "npm_config_nodedir=/usr",
                "--env",
                "HOME=/tmp",
                "--",
                "sh",
                "-c",
                script,
            ]);
            a
        };
        let (r, v) = jail(ctx, dir.path(), &args(false));
        assert_ne!(r.code(), 0, "{}", r.dump());
        assert!(
            denials(&v, "map_exec")
                .iter()
                .any(|(p, h)| p.ends_with("tjaddon.node") && h.contains("--exec")),
            "{v:#}"
        );
        let (r, _) = jail(ctx, dir.path(), &args(true));
        r.expect(0);
        r.expect_stdout_contains("answer 42");
        let odd = not_owned_by(dir.path(), ctx.own_uid());
        assert!(odd.is_empty(), "{odd:?}");
    });
}

#[test]
fn a_refused_connect_names_the_network_rule_and_its_fix() {
    let script = "import socket, sys\n\
                  s = socket.socket(); s.settimeout(5)\n\
                  try:\n    s.connect((sys.argv[1], int(sys.argv[2]))); print('connected')\n\
                  except OSError as e:\n    print('refused', e.errno)\n\
                  u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  u.connect(('127.0.0.1', 9)); print('udp connected')\n";
    each_identity(|ctx| {
        let cwd = tempdir(0o755);
        // No route out (the default profile's network is lo only).
        let (r, v) = jail(
            ctx,
            cwd.path(),
            &["--", "python3", "-c", script, "192.0.2.1", "80"],
        );
        r.expect(0);
        r.expect_stdout_contains("refused");
        let d = &v["denials"].as_array().unwrap()[0];
        assert_eq!(d["kind"], "connect", "{v:#}");
        assert_eq!(d["address"], "192.0.2.1:80", "{v:#}");
        assert!(
            d["rule"]
                .as_str()
                .unwrap()
                .contains("network mode \"none\""),
            "{v:#}"
        );
        assert!(
            d["hint"].as_str().unwrap().contains("mode = \"host\""),
            "{v:#}"
        );
        r.expect_stderr_contains("tooljail: denied: connect to 192.0.2.1:80");
        // The host's network with Landlock's port rules (http: 80 and 443 only): a TCP
        // connect to another port is refused and named; the UDP connect is not Landlock's.
        let (r, v) = jail(
            ctx,
            cwd.path(),
            &[
                "-p",
                "http",
                "--",
                "python3",
                "-c",
                script,
                "127.0.0.1",
                "8089",
            ],
        );
        r.expect(0);
        r.expect_stdout_contains("refused 13");
        r.expect_stdout_contains("udp connected");
        let all = v["denials"].as_array().unwrap();
        assert_eq!(all.len(), 1, "{v:#}");
        assert_eq!(all[0]["address"], "127.0.0.1:8089", "{v:#}");
        assert!(
            all[0]["hint"]
                .as_str()
                .unwrap()
                .contains("add 8089 to [network] tcp_connect"),
            "{v:#}"
        );
    });
}
