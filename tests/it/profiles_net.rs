//! The networked profiles against servers the test runs on loopback: `http` (curl and wget;
//! only TCP 80 and 443, refused elsewhere by Landlock with EACCES) and `pip-install` (a PEP 503
//! index serving a wheel and a source-only package). As root and as the unprivileged test user,
//! bounded in time. Needs curl, wget, python3 and python3-pip (tests/setup.sh).

use crate::support::profiles::{give_to_jail, http_server, jail, jail_env, serve, workdir};
use crate::support::{each_identity, run_for, tempdir};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// http

#[test]
fn http_fetches_from_an_allowed_port_with_curl_and_wget() {
    // The shipped ports are 80 and 443; a test may not bind those unless root, so this case uses
    // a profile that extends `http` and allows the test server's port as well.
    let (port, hits) = http_server(0, "payload-from-host\n").unwrap();
    let (_pdir, profile) = crate::support::profile_file(&format!(
        "description = \"http plus a test port\"\nextends = [\"http\"]\n[network]\ntcp_connect = [{port}]\n"
    ));
    let profile = profile.display().to_string();
    each_identity(|ctx| {
        let dir = workdir(&[]);
        let script = format!(
            "curl -fsS -o page.txt http://127.0.0.1:{port}/a && cat page.txt && \
             wget -q -O - http://localhost:{port}/b"
        );
        let r = jail(ctx, dir.path(), &profile, &[], &["sh", "-c", &script]);
        r.expect(0)
            .report_exit(0)
            .stdout_has("payload-from-host\npayload-from-host\n");
        assert!(r.denied().is_empty(), "{}", r.dump());
    });
    // One request per fetch above (two), per identity: none retried, none elsewhere.
    let runs = crate::support::identities().len() as u32;
    assert_eq!(hits.load(Ordering::SeqCst), 2 * runs);
}

#[test]
fn http_fetches_from_port_80_as_shipped() {
    if !crate::support::root_or_skip("binding 127.0.0.1:80 needs root") {
        return;
    }
    // Another test process on this machine may hold the port for a moment: wait for it.
    let mut bound = http_server(80, "port-80-payload\n");
    for _ in 0..100 {
        match &bound {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                std::thread::sleep(Duration::from_millis(200));
                bound = http_server(80, "port-80-payload\n");
            }
            _ => break,
        }
    }
    let (_, hits) = bound
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:80 for the test ({e}); free the port"));
    each_identity(|ctx| {
        let dir = workdir(&[]);
        jail(
            ctx,
            dir.path(),
            "http",
            &[],
            &[
                "sh",
                "-c",
                "curl -fsS http://127.0.0.1/ && curl -fsS http://localhost:80/x",
            ],
        )
        .expect(0)
        .stdout_has("port-80-payload\nport-80-payload\n");
    });
    // One request per fetch above (two), per identity: none retried, none elsewhere.
    let runs = crate::support::identities().len() as u32;
    assert_eq!(hits.load(Ordering::SeqCst), 2 * runs);
}

#[test]
fn http_may_not_connect_to_other_ports_or_read_keys() {
    let (port, hits) = http_server(0, "must-not-arrive\n").unwrap();
    each_identity(|ctx| {
        let dir = workdir(&[]);
        let script = format!(
            "curl -sS http://127.0.0.1:{port}/; echo curl=$?; \
             python3 -c 'import socket,errno\n\
try:\n    socket.create_connection((\"127.0.0.1\", {port}), timeout=5)\n    print(\"py ok\")\n\
except OSError as e:\n    print(\"py\", errno.errorcode[e.errno])'; \
             ls /etc/ssl/private ~/.netrc; echo keys=$?; exit 7"
        );
        jail(ctx, dir.path(), "http", &[], &["sh", "-c", &script])
            .expect(7)
            .report_exit(7)
            // Landlock refuses connect(2) with EACCES; curl reports "Couldn't connect" (7).
            .stdout_has("curl=7\npy EACCES\nkeys=2\n");
    });
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a connection reached the server"
    );
}

// ---------------------------------------------------------------------------------------------
// pip-install, against a package index on loopback

/// A PEP 503 "simple" index in a directory: `tjwheel` as a wheel, `tjsdist` only as a source
/// archive whose setup.py would leave a mark in `mark_dir` if it ever ran. Built with the host's
/// python3 (zipfile, tarfile). Returns the index directory.
fn package_index(mark_dir: &Path) -> tempfile::TempDir {
    let dir = tempdir(0o755);
    let script = r#"
import base64, hashlib, io, os, sys, tarfile, zipfile
root, mark = sys.argv[1], sys.argv[2]
def index(name, fname, data):
    d = os.path.join(root, "simple", name)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, fname), "wb").write(data)
    h = hashlib.sha256(data).hexdigest()
    open(os.path.join(d, "index.html"), "w").write(
        f'<html><body><a href="{fname}#sha256={h}">{fname}</a></body></html>')
files = {
    "tjwheel/__init__.py": "VALUE = 42\n",
    "tjwheel-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tjwheel\nVersion: 1.0\n",
    "tjwheel-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for p, c in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{p},sha256={digest},{len(c)}")
record.append("tjwheel-1.0.dist-info/RECORD,,")
files["tjwheel-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    for p, c in files.items():
        z.writestr(p, c)
index("tjwheel", "tjwheel-1.0-py3-none-any.whl", buf.getvalue())
setup = f"open({os.path.join(mark, 'SETUP_RAN')!r}, 'w').write('x')\nfrom setuptools import setup\nsetup(name='tjsdist', version='1.0')\n"
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    for p, c in {"tjsdist-1.0/setup.py": setup,
                 "tjsdist-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: tjsdist\nVersion: 1.0\n"}.items():
        info = tarfile.TarInfo(p)
        info.size = len(c)
        t.addfile(info, io.BytesIO(c.encode()))
index("tjsdist", "tjsdist-1.0.tar.gz", buf.getvalue())
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).arg(dir.path()).arg(mark_dir);
    let r = run_for(cmd, Duration::from_secs(30));
    assert_eq!(r.code(), 0, "building the test index\n{}", r.dump());
    dir
}

/// Serve `index` (a directory) on loopback; `/x/` serves `/x/index.html`.
fn serve_dir(index: &Path) -> (u16, Arc<AtomicU32>) {
    let root = index.to_path_buf();
    serve(0, move |path| {
        let rel = path.trim_start_matches('/').split(['?', '#']).next()?;
        if rel.split('/').any(|c| c == "..") {
            return None;
        }
        let mut file = root.join(rel);
        let mut kind = "application/octet-stream";
        if path.ends_with('/') {
            file = file.join("index.html");
            kind = "text/html";
        }
        std::fs::read(file).ok().map(|b| (kind, b))
    })
    .unwrap()
}

fn require_pip() {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "pip", "--version"]);
    let r = run_for(cmd, Duration::from_secs(30));
    assert_eq!(
        r.code(),
        0,
        "pip is missing: apt-get install -y python3-pip (tests/setup.sh)\n{}",
        r.dump()
    );
}

/// A profile extending `pip-install` that may also reach the test index's port.
fn pip_profile(port: u16) -> (tempfile::TempDir, String) {
    let (dir, path) = crate::support::profile_file(&format!(
        "description = \"pip-install plus a test index\"\nextends = [\"pip-install\"]\n[network]\ntcp_connect = [{port}]\n"
    ));
    (dir, path.display().to_string())
}

#[test]
fn pip_install_installs_a_wheel_from_a_loopback_index_into_the_directory() {
    require_pip();
    let marks = tempdir(0o777);
    let index = package_index(marks.path());
    let (port, hits) = serve_dir(index.path());
    let (_p, profile) = pip_profile(port);
    let url = format!("http://127.0.0.1:{port}/simple");
    each_identity(|ctx| {
        let dir = workdir(&[]);
        give_to_jail(ctx, dir.path());
        let r = jail_env(
            ctx,
            dir.path(),
            &profile,
            &[],
            &[("PIP_INDEX_URL", &url)],
            &[
                "sh",
                "-c",
                "python3 -m pip install -q --target ./deps tjwheel && \
                 PYTHONPATH=deps python3 -c 'import tjwheel; print(\"value\", tjwheel.VALUE)'",
            ],
        );
        r.expect(0).report_exit(0).stdout_has("value 42\n");
        assert!(r.denied().is_empty(), "{}", r.dump());
        use std::os::unix::fs::MetadataExt;
        let init = dir.path().join("deps/tjwheel/__init__.py");
        assert_eq!(std::fs::read_to_string(&init).unwrap(), "VALUE = 42\n");
        assert_eq!(std::fs::metadata(&init).unwrap().uid(), ctx.own_uid());
    });
    // The index page and the wheel, once per identity.
    let runs = crate::support::identities().len() as u32;
    assert!(
        hits.load(Ordering::SeqCst) >= 2 * runs,
        "the index was used"
    );
}

#[test]
fn pip_install_builds_nothing_from_source_and_installs_nowhere_else() {
    require_pip();
    let marks = tempdir(0o777);
    let index = package_index(marks.path());
    let (port, hits) = serve_dir(index.path());
    let (_p, profile) = pip_profile(port);
    let url = format!("http://127.0.0.1:{port}/simple");
    each_identity(|ctx| {
        let dir = workdir(&[]);
        give_to_jail(ctx, dir.path());
        // The marks directory is writable in the jail, so a setup.py that ran would leave its
        // mark; the control write proves the jail can write there.
        let m = marks.path().display();
        let script = format!(
            "python3 -c \"open('{m}/CONTROL', 'w').write('x')\"; echo control=$?; \
             python3 -m pip install -q --target ./deps tjsdist; echo sdist=$?; \
             python3 -m pip install -q --target /usr/lib/python3/dist-packages tjwheel; echo system=$?; \
             python3 -m pip install -q --user --break-system-packages tjwheel; echo user=$?; \
             ls /root /etc/pip.conf; echo creds=$?; exit 8"
        );
        let r = jail_env(
            ctx,
            dir.path(),
            &profile,
            &["--rw", marks.path().to_str().unwrap()],
            &[("PIP_INDEX_URL", &url)],
            &["sh", "-c", &script],
        );
        // The user install "succeeds" into HOME, which is the scratch tmpfs: gone at exit.
        r.expect(8)
            .report_exit(8)
            .stdout_has("control=0\nsdist=1\nsystem=2\nuser=0\ncreds=2\n")
            .stderr_has("No matching distribution found for tjsdist")
            .stderr_has("Read-only file system");
        let control = marks.path().join("CONTROL");
        assert!(
            control.exists(),
            "the jail could not write the marks\n{}",
            r.dump()
        );
        std::fs::remove_file(control).unwrap();
        assert!(
            !marks.path().join("SETUP_RAN").exists(),
            "a source build ran"
        );
        assert!(!dir.path().join("deps").exists());
        assert!(!Path::new("/usr/lib/python3/dist-packages/tjwheel").exists());
    });
    // The shipped profile (ports 80 and 443) cannot reach an index on another port.
    each_identity(|ctx| {
        let dir = workdir(&[]);
        give_to_jail(ctx, dir.path());
        let before = hits.load(Ordering::SeqCst);
        let r = jail_env(
            ctx,
            dir.path(),
            "pip-install",
            &[],
            &[("PIP_INDEX_URL", &url)],
            &[
                "python3",
                "-m",
                "pip",
                "install",
                "-q",
                "--retries",
                "0",
                "--timeout",
                "5",
                "--target",
                "./deps",
                "tjwheel",
            ],
        );
        r.expect(1).report_exit(1);
        assert_eq!(hits.load(Ordering::SeqCst), before, "{}", r.dump());
    });
}

#[test]
fn pip_pypi_installs_from_pypi_org_only_through_the_proxy() {
    // The shipped `pip-pypi` reaches pypi.org and files.pythonhosted.org through the call's
    // proxy. Here pypi.org is pinned to the test index on loopback (`[network] hosts`) and its
    // port allowed, so pip really goes through the proxy to "pypi.org"; any other index is
    // refused.
    require_pip();
    let marks = tempdir(0o777);
    let index = package_index(marks.path());
    let (port, hits) = serve_dir(index.path());
    let (_p, profile) = crate::support::profile_file(&format!(
        "description = \"pip-pypi with pypi.org on the test index\"\nextends = [\"pip-pypi\"]\n\
         [network]\nallow_ports = [{port}]\nhosts = {{ \"pypi.org\" = \"127.0.0.1\" }}\n"
    ));
    let profile = profile.display().to_string();
    let install = "python3 -m pip install -q --retries 0 --timeout 5 --target ./deps tjwheel && \
                   PYTHONPATH=deps python3 -c 'import tjwheel; print(\"value\", tjwheel.VALUE)'";
    each_identity(|ctx| {
        let dir = workdir(&[]);
        give_to_jail(ctx, dir.path());
        let url = format!("http://pypi.org:{port}/simple");
        let env = [
            ("PIP_INDEX_URL", url.as_str()),
            ("PIP_TRUSTED_HOST", "pypi.org"),
        ];
        let r = jail_env(ctx, dir.path(), &profile, &[], &env, &["sh", "-c", install]);
        r.expect(0).report_exit(0).stdout_has("value 42\n");
        let net = &r.report["network"];
        assert!(net["allowed"].as_u64() >= Some(2), "{}", r.dump());
        assert_eq!(net["refused"], 0, "{}", r.dump());
        // Another index, by name (refused by the proxy, and reported) or by address (NO_PROXY
        // sends 127.0.0.1 to the jail's own loopback, where nothing listens): nothing reaches
        // the host's server.
        let dir = workdir(&[]);
        give_to_jail(ctx, dir.path());
        let before = hits.load(Ordering::SeqCst);
        for (url, trusted) in [
            (
                format!("http://index.example:{port}/simple"),
                "index.example",
            ),
            (format!("http://127.0.0.1:{port}/simple"), "127.0.0.1"),
        ] {
            let env = [
                ("PIP_INDEX_URL", url.as_str()),
                ("PIP_TRUSTED_HOST", trusted),
            ];
            let r = jail_env(ctx, dir.path(), &profile, &[], &env, &["sh", "-c", install]);
            assert_ne!(r.run.code(), 0, "{}", r.dump());
            let refused = r.report["network"]["connections"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| {
                    c["host"] == trusted
                        && c["verdict"] == "refused"
                        && c["rule"] == "allow_domains"
                });
            assert!(refused || trusted == "127.0.0.1", "{}", r.dump());
            assert!(!dir.path().join("deps/tjwheel").exists());
        }
        assert_eq!(
            hits.load(Ordering::SeqCst),
            before,
            "no request reached the index"
        );
    });
    let runs = crate::support::identities().len() as u32;
    assert!(
        hits.load(Ordering::SeqCst) >= 2 * runs,
        "the index was used"
    );
}
