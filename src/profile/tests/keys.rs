//! The shipped profiles' resolved form, and every key reaching the Policy.

use super::*;

// ---- the shipped profiles -------------------------------------------------------------------

#[test]
fn default_profile_resolves_to_the_strict_policy() {
    let h = FakeHost::debian();
    let p = resolve_on(&h, &args(&[]), Options::default()).unwrap();
    assert_eq!(p.name(), "default");
    assert_eq!(
        p.profiles,
        [
            ProfileSource {
                name: "base".into(),
                origin: "builtin:base".into(),
                shadows_builtin: false,
            },
            ProfileSource {
                name: "default".into(),
                origin: "builtin:default".into(),
                shadows_builtin: false,
            },
        ]
    );
    assert!(p.description.starts_with("Strict default"));
    let binds: Vec<(String, String, Access, bool, FileKind)> = p
        .filesystem
        .binds
        .iter()
        .map(|b| {
            (
                b.target.display().to_string(),
                b.source.display().to_string(),
                b.access,
                b.exec,
                b.kind,
            )
        })
        .collect();
    use Access::ReadOnly as RO;
    use FileKind::{Dir, File};
    let want = [
        ("/bin", "/usr/bin", RO, true, Dir),
        ("/etc/alternatives", "/etc/alternatives", RO, false, Dir),
        ("/etc/group", "/etc/group", RO, false, File),
        ("/etc/ld.so.cache", "/etc/ld.so.cache", RO, false, File),
        ("/etc/ld.so.conf", "/etc/ld.so.conf", RO, false, File),
        ("/etc/ld.so.conf.d", "/etc/ld.so.conf.d", RO, false, Dir),
        ("/etc/localtime", "/etc/localtime", RO, false, File),
        ("/etc/nsswitch.conf", "/etc/nsswitch.conf", RO, false, File),
        ("/etc/passwd", "/etc/passwd", RO, false, File),
        ("/lib", "/usr/lib", RO, true, Dir),
        ("/lib64", "/usr/lib64", RO, true, Dir),
        ("/sbin", "/usr/sbin", RO, true, Dir),
        ("/usr", "/usr", RO, true, Dir),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(t, s, a, e, k)| (t.to_string(), s.to_string(), *a, *e, *k))
        .collect();
    assert_eq!(binds, want);
    assert_eq!(p.filesystem.binds[12].origin, "builtin:base:17:15");
    assert!(p
        .filesystem
        .binds
        .iter()
        .all(|b| !b.source.starts_with("/home")));
    assert_eq!(
        p.filesystem.scratch,
        Scratch {
            path: "/scratch".into(),
            size: 256 << 20,
            exec: false,
            tmp: true,
            shm: true
        }
    );
    assert_eq!(p.filesystem.devices.len(), 6);
    assert_eq!(
        p.network,
        Network {
            mode: NetMode::None,
            tcp_connect: vec![],
            tcp_bind: vec![],
            egress: None
        }
    );
    assert_eq!(
        p.syscalls.allow,
        ["execve", "openat", "ptrace", "read", "write"]
    );
    assert_eq!(p.syscalls.action, SeccompAction::Errno(libc::EPERM));
    assert!(p.syscalls.unsafe_allow.is_empty());
    assert_eq!(
        p.landlock,
        Landlock {
            mode: Compat::Required,
            scope_abstract_unix: true,
            scope_signals: true
        }
    );
    assert_eq!(
        p.limits,
        Limits {
            wall_time: Duration::from_secs(60),
            kill_after: Duration::from_secs(2),
            cpu_time: Some(Duration::from_secs(60)),
            memory: Some(1 << 30),
            processes: Some(128),
            open_files: Some(256),
            file_size: Some(256 << 20),
            require_cgroup: false,
        }
    );
    let env: Vec<(&str, &str)> = p
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("HOME", "/scratch"),
            ("LANG", "C.UTF-8"),
            ("PATH", resolve::DEFAULT_PATH),
            ("TMPDIR", "/tmp"),
        ]
    );
    assert_eq!(p.cwd, PathBuf::from("/scratch"));
    assert_eq!(p.hostname, "tooljail");
    assert_eq!(
        p.export,
        Export {
            to: None,
            patterns: vec![],
            max_bytes: 0,
            ..Export::default()
        }
    );
    assert_eq!(
        p.budget,
        Budget {
            calls_per_minute: None,
            max_identical_calls: None,
            ..Budget::default()
        }
    );
    assert_eq!(
        p.audit,
        Audit {
            enabled: true,
            log: None
        }
    );
}

#[test]
fn shipped_profiles_begin_with_a_header_comment() {
    for (name, text) in crate::profile::search::BUILTINS {
        assert!(text.starts_with(&format!("# {name}: ")), "{name}");
        assert!(text.contains("MAY:") && text.contains("MAY NOT:"), "{name}");
    }
}

#[test]
fn policy_json_round_trips() {
    let h = FakeHost::debian();
    for p in [
        resolve_on(&h, &args(&[]), Options::default()).unwrap(),
        ok(FULL),
    ] {
        let json = serde_json::to_string_pretty(&p).unwrap();
        let back: Policy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.hash(), p.hash());
    }
}

/// A server profile whose state directory does not exist yet (the resolve stage makes it) is
/// a Policy too: it survives the round trip (found by the profile_load fuzz target, seeded with
/// the shipped mcp-node profile).
#[test]
fn a_server_policy_with_its_state_directory_missing_round_trips() {
    let p = ok("extends = [\"mcp-node\"]\n[server]\nstate = \"/srv/state-not-made\"\n");
    assert!(
        p.server.as_ref().is_some_and(|s| s.missing),
        "{:?}",
        p.server
    );
    let back: Policy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}

// ---- every key --------------------------------------------------------------------------------

const FULL: &str = r#"description = "Everything set\nsecond line"
cwd = "${CWD}"
hostname = "box-1"

[filesystem]
read_only = ["/etc/passwd", "/nope?"]
read_write = ["${CWD}", "/out"]
executable = ["/usr", "/out"]
devices = ["/dev/null", "/dev/urandom", "/dev/null"]
scratch = { path = "/work", size = "64M", exec = true, tmp = false, shm = false }

[network]
mode = "host"
tcp_connect = [443, 80, 443]
tcp_bind = [8080]

[syscalls]
allow = ["@system-service", "mount"]
deny = ["ptrace"]
action = "kill"
unsafe_allow = ["io_uring_setup"]

[landlock]
mode = "best-effort"
scope_abstract_unix = false
scope_signals = false

[limits]
wall_time = "1h 30m"
kill_after = "500ms"
cpu_time = "unlimited"
memory = 1048576
processes = "unlimited"
open_files = 64
file_size = "1K"
require_cgroup = true

[env]
keep = ["TERM", "NOT_SET"]
set = { A = "${UID}:${GID}:${USER}", B = "$$HOME", C = "${SCRATCH}/x" }

[export]
to = "/data"
patterns = ["out/*.json"]
max_bytes = "1M"

[budget]
calls_per_minute = 30
max_identical_calls = 3

[audit]
enabled = true
log = "${PROFILE_DIR}/audit.log"
"#;

#[test]
fn every_key_reaches_the_policy() {
    let p = ok(FULL);
    assert_eq!(p.description, "Everything set");
    assert_eq!(
        p.profiles,
        [ProfileSource {
            name: "t".into(),
            origin: "/p/t.toml".into(),
            shadows_builtin: false,
        }]
    );
    assert_eq!(p.cwd, PathBuf::from("/home/ann/proj"));
    assert_eq!(p.hostname, "box-1");
    let b: Vec<(&str, Access, bool, &str)> = p
        .filesystem
        .binds
        .iter()
        .map(|b| {
            (
                b.target.to_str().unwrap(),
                b.access,
                b.exec,
                b.origin.as_str(),
            )
        })
        .collect();
    assert_eq!(
        b,
        [
            ("/etc/passwd", Access::ReadOnly, false, "/p/t.toml:6:14"),
            ("/home/ann/proj", Access::ReadWrite, false, "/p/t.toml:7:15"),
            ("/out", Access::ReadWrite, true, "/p/t.toml:7:25"),
            ("/usr", Access::ReadOnly, true, "/p/t.toml:8:15"),
        ]
    );
    assert_eq!(
        p.filesystem.scratch,
        Scratch {
            path: "/work".into(),
            size: 64 << 20,
            exec: true,
            tmp: false,
            shm: false
        }
    );
    assert_eq!(
        p.filesystem.devices,
        [PathBuf::from("/dev/null"), "/dev/urandom".into()]
    );
    assert_eq!(
        p.network,
        Network {
            mode: NetMode::Host,
            tcp_connect: vec![80, 443],
            tcp_bind: vec![8080],
            egress: None
        }
    );
    assert_eq!(
        p.syscalls.allow,
        ["execve", "mount", "openat", "read", "write"]
    );
    assert_eq!(p.syscalls.action, SeccompAction::Kill);
    assert_eq!(p.syscalls.unsafe_allow, ["io_uring_setup"]);
    assert_eq!(
        p.landlock,
        Landlock {
            mode: Compat::BestEffort,
            scope_abstract_unix: false,
            scope_signals: false
        }
    );
    assert_eq!(
        p.limits,
        Limits {
            wall_time: Duration::from_secs(5400),
            kill_after: Duration::from_millis(500),
            cpu_time: None,
            memory: Some(1 << 20),
            processes: None,
            open_files: Some(64),
            file_size: Some(1024),
            require_cgroup: true,
        }
    );
    assert_eq!(p.env["A"], "1000:1000:ann");
    assert_eq!(p.env["B"], "$HOME");
    assert_eq!(p.env["C"], "/work/x");
    assert_eq!(p.env["TERM"], "xterm");
    assert!(!p.env.contains_key("NOT_SET") && !p.env.contains_key("SECRET"));
    assert_eq!(p.env["HOME"], "/work");
    assert_eq!(
        p.export,
        Export {
            to: Some("/data".into()),
            patterns: vec!["out/*.json".into()],
            max_bytes: 1 << 20,
            max_total_bytes: 64 << 20,
            max_files: 1000,
            ..Export::default()
        }
    );
    assert_eq!(
        p.budget,
        Budget {
            calls_per_minute: Some(30),
            max_identical_calls: Some(3),
            ..Budget::default()
        }
    );
    assert_eq!(
        p.audit,
        Audit {
            enabled: true,
            log: Some("/p/audit.log".into())
        }
    );
}

#[test]
fn unset_keys_take_strict_defaults() {
    let p = ok("[syscalls]\nallow = [\"read\"]\n");
    assert!(p.filesystem.binds.is_empty() && p.filesystem.devices.is_empty());
    assert_eq!(p.filesystem.scratch.path, PathBuf::from("/scratch"));
    assert_eq!(p.network.mode, NetMode::None);
    assert_eq!(p.syscalls.action, SeccompAction::Errno(libc::EPERM));
    assert_eq!(p.landlock.mode, Compat::Required);
    assert!(p.landlock.scope_signals && p.landlock.scope_abstract_unix);
    assert_eq!(p.limits.wall_time, Duration::from_secs(60));
    assert_eq!(p.limits.file_size, Some(256 << 20));
    assert_eq!(p.env.len(), 2);
    assert_eq!(p.hostname, "tooljail");
}

#[test]
fn no_allowed_syscall_is_an_error() {
    assert_eq!(
        err("description = \"x\"\n"),
        "/p/t.toml: no syscall is allowed, so no command could start; add allow = [\"@system-service\"] to [syscalls], or extend \"base\""
    );
}
