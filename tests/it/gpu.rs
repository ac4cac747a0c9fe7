//! `--gpu` and `[filesystem] gpu` with fake GPU device nodes the test makes: in a private mount
//! namespace, /dev is a tmpfs holding the usual nodes and `nvidia0`, `nvidiactl`, `nvidia-uvm`,
//! `dri/renderD128` (and, as decoys, `dri/card0` and `sda`), each a bind of /dev/null (a real
//! character device). The jail gets exactly the GPU nodes, usable (Landlock's device rights),
//! and no other; doctor lists them; without any, `--gpu` is one line and exit 125. Making the
//! namespace needs root; the jail then runs as root and as the unprivileged test user.

use crate::support::{identities, profile_file, root_or_skip, run_for, tempdir, Ctx, Run};
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(60);

/// The fake /dev: `$1` is "gpu" or "none", the rest is the command to run in the namespace.
const FAKE_DEV: &str = r#"set -e
kind=$1; shift
d=$(mktemp -d "$TOOLJAIL_FAKE_DEV_TMP/olddev.XXXXXX")
mount --rbind /dev "$d"
mount -t tmpfs -o mode=755,size=1m tmpfs /dev
for n in null zero full random urandom tty; do touch /dev/$n; mount --bind "$d/$n" /dev/$n; done
mkdir /dev/pts /dev/shm /dev/dri
mount --rbind "$d/pts" /dev/pts
nodes="dri/card0 sda"
[ "$kind" = gpu ] && nodes="$nodes nvidia0 nvidiactl nvidia-uvm dri/renderD128"
for n in $nodes; do touch /dev/$n; mount --bind "$d/null" /dev/$n; done
exec "$@"
"#;

/// `tooljail ARGS` as `ctx`, inside a private mount namespace with the fake /dev.
fn in_fake_dev(ctx: &Ctx, kind: &str, args: &[&str]) -> Run {
    let tmp = tempdir(0o755);
    let (_d, script) = profile_file(FAKE_DEV);
    let inner = ctx.tooljail(args);
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh"])
        .arg(&script)
        .arg(kind)
        .arg(inner.get_program())
        .args(inner.get_args())
        .env("TOOLJAIL_FAKE_DEV_TMP", tmp.path())
        .current_dir(tmp.path());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    run_for(cmd, BOUND)
}

#[test]
fn gpu_binds_exactly_the_gpu_nodes_with_device_rights() {
    if !root_or_skip("a private mount namespace with fake device nodes needs root") {
        return;
    }
    // An ioctl the node's driver does not know answers ENOTTY (25) when Landlock lets it
    // through, EACCES (13) when Landlock refuses it.
    let script = "ls /dev /dev/dri; echo data > /dev/nvidia0 && echo nvidia0-writable; \
                  head -c 4 /dev/dri/renderD128 | wc -c; \
                  python3 -c \"import fcntl, os\nfd = os.open('/dev/nvidia0', os.O_RDWR)\n\
                  try:\n    fcntl.ioctl(fd, 0x5401, bytes(64))\n\
                  except OSError as e:\n    print('ioctl errno', e.errno)\"";
    let (_p, profile) = profile_file("extends = [\"default\"]\n\n[filesystem]\ngpu = true\n");
    for ctx in identities() {
        eprintln!("--- running as {:?}", ctx.who);
        for how in [
            vec!["run", "--gpu", "--", "sh", "-c", script],
            vec![
                "run",
                "-p",
                profile.to_str().unwrap(),
                "--",
                "sh",
                "-c",
                script,
            ],
        ] {
            let r = in_fake_dev(&ctx, "gpu", &how);
            r.expect(0)
                .expect_stdout_contains("nvidia-uvm\nnvidia0\nnvidiactl\n")
                .expect_stdout_contains("/dev/dri:\nrenderD128\n")
                .expect_stdout_contains("nvidia0-writable\n0\nioctl errno 25\n");
            assert!(!r.stdout.contains("card0"), "{}", r.dump());
            assert!(!r.stdout.contains("sda"), "{}", r.dump());
        }
        // Without --gpu the nodes are absent.
        let r = in_fake_dev(&ctx, "gpu", &["run", "--", "sh", "-c", "ls /dev"]);
        r.expect(0);
        assert!(!r.stdout.contains("nvidia"), "{}", r.dump());
        // doctor names what --gpu would give.
        let r = in_fake_dev(&ctx, "gpu", &["doctor"]);
        r.expect_stdout_contains(
            "--gpu gives the jail /dev/dri/renderD128, /dev/nvidia-uvm, /dev/nvidia0, /dev/nvidiactl",
        );
    }
}

#[test]
fn gpu_without_a_gpu_is_one_line_and_nothing_runs() {
    if !root_or_skip("a private mount namespace with fake device nodes needs root") {
        return;
    }
    let (_p, profile) = profile_file("extends = [\"default\"]\n\n[filesystem]\ngpu = true\n");
    for ctx in identities() {
        let r = in_fake_dev(&ctx, "none", &["run", "--gpu", "--", "echo", "ran"]);
        r.expect(125).expect_stderr_contains(
            "tooljail: --gpu: no GPU device node on this host (looked for /dev/nvidia*, /dev/dri/renderD*)",
        );
        assert!(!r.stdout.contains("ran"), "{}", r.dump());
        let p = profile.to_str().unwrap();
        let r = in_fake_dev(&ctx, "none", &["run", "-p", p, "--", "echo", "ran"]);
        r.expect(125)
            .expect_stderr_contains(&format!("{p}:4:7: no GPU device node on this host"));
        let r = in_fake_dev(&ctx, "none", &["doctor"]);
        r.expect_stdout_contains("no GPU device node (looked for /dev/nvidia*, /dev/dri/renderD*)");
    }
}
