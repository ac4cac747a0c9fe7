//! Profile -> Policy through a fake host: every key, every error position (line and column),
//! extends and cycles, variables, overrides, and the shipped profiles' resolved form.

use super::fakehost::FakeHost;
use crate::cli::{NetArg, PolicyArgs};
use crate::error::{Error, ErrorKind};
use crate::policy::resolve::{self, Options};
use crate::policy::*;
use std::path::PathBuf;
use std::time::Duration;

/// A small syscall table standing in for the seccomp helper's, so these tests pin the
/// *mechanism* (each entry expanded on its own, errors at that entry) and not the table.
fn fake_expand(names: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for n in names {
        match n.as_str() {
            "@system-service" => {
                out.extend(["read", "write", "openat", "execve", "ptrace"].map(String::from))
            }
            "@basic-io" => out.extend(["read", "write"].map(String::from)),
            "read" | "write" | "openat" | "execve" | "ptrace" | "mount" | "io_uring_setup" => {
                out.push(n.clone())
            }
            other => return Err(other.to_string()),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn args(profiles: &[&str]) -> PolicyArgs {
    PolicyArgs {
        profiles: profiles.iter().map(|s| s.to_string()).collect(),
        ..PolicyArgs::default()
    }
}

fn resolve_on(host: &FakeHost, a: &PolicyArgs, opts: Options) -> Result<Policy, Vec<Error>> {
    let merged = super::merge::load(host, &a.profiles)?;
    resolve::resolve_with(host, &merged, &super::overrides(a), opts, &fake_expand)
}

/// Debian fake host with profile file `/p/t.toml` = `text`.
fn host_with(text: &str) -> FakeHost {
    let mut h = FakeHost::debian();
    h.dir("/p").file("/p/t.toml", text);
    h
}

fn ok(text: &str) -> Policy {
    let h = host_with(text);
    resolve_on(&h, &args(&["/p/t.toml"]), Options::default()).unwrap_or_else(|e| panic!("{e:?}"))
}

/// All errors, rendered as `main` would (without the `tooljail: ` prefix).
fn errs_on(h: &FakeHost, a: &PolicyArgs) -> Vec<String> {
    match resolve_on(h, a, Options::default()) {
        Ok(p) => panic!("expected errors, got {p:?}"),
        Err(e) => e.iter().map(Error::to_string).collect(),
    }
}

/// The single error of profile `text`.
fn err(text: &str) -> String {
    let e = errs_on(&host_with(text), &args(&["/p/t.toml"]));
    assert_eq!(e.len(), 1, "{e:#?}");
    e[0].clone()
}

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
                origin: "builtin:base".into()
            },
            ProfileSource {
                name: "default".into(),
                origin: "builtin:default".into()
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
            tcp_bind: vec![]
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
            max_bytes: 0
        }
    );
    assert_eq!(
        p.budget,
        Budget {
            calls_per_minute: None,
            max_identical_calls: None
        }
    );
    assert_eq!(
        p.audit,
        Audit {
            enabled: false,
            log: None
        }
    );
}

#[test]
fn shipped_profiles_begin_with_a_header_comment() {
    for (name, text) in super::search::BUILTINS {
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
            origin: "/p/t.toml".into()
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
            tcp_bind: vec![8080]
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
            max_bytes: 1 << 20
        }
    );
    assert_eq!(
        p.budget,
        Budget {
            calls_per_minute: Some(30),
            max_identical_calls: Some(3)
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

// ---- error positions ------------------------------------------------------------------------

#[test]
fn misspelt_keys_are_positioned_with_a_suggestion() {
    assert_eq!(
        err("extends = [\"base\"]\n\n[filesystem]\n  rw_paths = [\"/tmp\"]\n"),
        "/p/t.toml:4:3: unknown key \"rw_paths\" in [filesystem]; did you mean \"read_write\"?"
    );
    assert_eq!(
        err("extend = [\"base\"]\n"),
        "/p/t.toml:1:1: unknown key \"extend\" in the top level; did you mean \"extends\"?"
    );
    assert_eq!(
        err("[filesystem.scratch]\nsise = \"1M\"\n"),
        "/p/t.toml:2:1: unknown key \"sise\" in [filesystem.scratch]; did you mean \"size\"?"
    );
    assert_eq!(
        err("[limits]\nwall_time = \"1s\"\n memroy = \"1G\"\n"),
        "/p/t.toml:3:2: unknown key \"memroy\" in [limits]; did you mean \"memory\"?"
    );
    assert_eq!(
        err("[env]\nzzz = 1\n"),
        "/p/t.toml:2:1: unknown key \"zzz\" in [env]; valid keys here: keep, set, unset"
    );
}

#[test]
fn every_section_names_itself_in_unknown_key_errors() {
    for (section, keys) in crate::profile::schema::SECTIONS {
        let text = match *section {
            "the top level" => "qqqq = 1\n".to_string(),
            s => format!("{s}\nqqqq = 1\n"),
        };
        let e = err(&text);
        assert!(
            e.contains(&format!("unknown key \"qqqq\" in {section}")),
            "{e}"
        );
        assert!(
            e.contains(&format!("valid keys here: {}", keys.join(", "))),
            "{e}"
        );
    }
}

#[test]
fn wrong_types_and_values_are_positioned() {
    assert_eq!(
        err("[filesystem]\nread_only = \"/usr\"\n"),
        "/p/t.toml:2:13: invalid type: string \"/usr\", expected a sequence; see docs/profile-format.md for the type of each key"
    );
    assert_eq!(
        err("[network]\nmode = \"hots\"\n"),
        "/p/t.toml:2:8: unknown value \"hots\"; did you mean \"host\"?"
    );
    assert_eq!(
        err("[landlock]\nmode = \"sometimes\"\n"),
        "/p/t.toml:2:8: unknown value \"sometimes\"; use one of: required, best-effort"
    );
    assert_eq!(
        err("[audit]\nenabled = \"yes\"\n"),
        "/p/t.toml:2:11: invalid type: string \"yes\", expected a boolean; see docs/profile-format.md for the type of each key"
    );
    assert_eq!(
        err("[network]\nmode = \"host\"\ntcp_connect = [70000]\n"),
        "/p/t.toml:3:16: invalid value: integer \"70000\", expected u16; see docs/profile-format.md for the type of each key"
    );
    assert_eq!(
        err("[limits\nmemory = 1\n"),
        "/p/t.toml:1:8: invalid TOML: invalid table header: expected \".\", \"]\"; fix the syntax at this position"
    );
    assert_eq!(
        err("[env]\nkeep = []\nkeep = []\n"),
        "/p/t.toml:3:1: duplicate key \"keep\" in table \"env\"; write each key once per table"
    );
}

#[test]
fn malformed_sizes_durations_and_counts_are_positioned() {
    let e = errs_on(
        &host_with("[syscalls]\nallow = [\"read\"]\n[limits]\nmemory = \"12X\"\nwall_time = \"30\"\nprocesses = 0\ncpu_time = \"soon\"\n[filesystem.scratch]\nsize = -1\n"),
        &args(&["/p/t.toml"]),
    );
    assert_eq!(
        e,
        [
            "/p/t.toml:9:8: invalid size -1; sizes cannot be negative",
            "/p/t.toml:5:13: invalid duration \"30\"; a duration needs a unit, e.g. \"30s\" or \"30ms\"",
            "/p/t.toml:4:10: invalid size \"12X\"; unknown unit \"x\"; use B, K, M, G or T (powers of 1024)",
            "/p/t.toml:7:12: invalid duration \"soon\"; expected number at 0; write a duration like \"30s\", \"5m\" or \"1h 30m\"",
            "/p/t.toml:6:13: invalid count 0; use a number of at least 1, or \"unlimited\"",
        ]
    );
}

#[test]
fn unknown_variables_point_inside_the_string() {
    assert_eq!(
        err("[filesystem]\nread_only = [\"/usr\", \"${HOME}/a/${HOEM}\"]\n"),
        "/p/t.toml:2:33: unknown variable \"${HOEM}\"; did you mean \"${HOME}\"?"
    );
    assert_eq!(
        err("[filesystem]\nread_only = ['/x/$y']\n"),
        "/p/t.toml:2:18: \"$\" must start a variable like \"${HOME}\"; write \"$$\" for a literal \"$\""
    );
    // With an escape in the string the exact column is unknown: the error points at the string.
    assert_eq!(
        err("[filesystem]\nread_only = [\"/\\u0041${X}\"]\n"),
        "/p/t.toml:2:14: unknown variable \"${X}\"; known variables: ${CWD}, ${HOME}, ${UID}, ${GID}, ${USER}, ${PROFILE_DIR}, ${SCRATCH}"
    );
}

#[test]
fn variables_without_a_value_are_errors() {
    let mut h =
        host_with("[filesystem]\nread_only = [\"${HOME}/x\"]\n[syscalls]\nallow = [\"read\"]\n");
    h.env.remove("HOME");
    assert_eq!(
        errs_on(&h, &args(&["/p/t.toml"])),
        ["/p/t.toml:2:15: \"${HOME}\" has no value: HOME is not set; remove it or use an absolute path"]
    );
    // A built-in profile has no directory: simulate one by dropping the loaded file's dir.
    let h = host_with("[audit]\nlog = \"${PROFILE_DIR}/a.log\"\n[syscalls]\nallow = [\"read\"]\n");
    let mut merged = super::merge::load(&h, &["/p/t.toml".to_string()]).unwrap();
    merged.sources.files[0].dir = None;
    let e = resolve::resolve_with(
        &h,
        &merged,
        &Default::default(),
        Options::default(),
        &fake_expand,
    )
    .unwrap_err();
    assert_eq!(
        e[0].to_string(),
        "/p/t.toml:2:8: \"${PROFILE_DIR}\" has no value: a built-in profile has no directory; remove it or use an absolute path"
    );
    let e = err("[filesystem.scratch]\npath = \"${SCRATCH}/x\"\n[syscalls]\nallow = [\"read\"]\n");
    assert_eq!(e, "/p/t.toml:2:9: \"${SCRATCH}\" has no value: the scratch path cannot refer to itself; remove it or use an absolute path");
}

#[test]
fn unknown_syscall_names_are_reported_at_their_entry() {
    assert_eq!(
        err("[syscalls]\nallow = [\"read\",\n  \"@sytem-service\"]\n"),
        "/p/t.toml:3:3: unknown syscall group \"@sytem-service\"; see docs/profile-format.md for the group names; syscall names are the x86_64 ones, e.g. \"openat\""
    );
    let e = errs_on(
        &host_with(
            "[syscalls]\nallow = [\"read\"]\ndeny = [\"bogus\"]\nunsafe_allow = [\"@nope\"]\n",
        ),
        &args(&["/p/t.toml"]),
    );
    assert_eq!(e.len(), 2);
    assert!(
        e[0].starts_with("/p/t.toml:3:9: unknown syscall \"bogus\""),
        "{}",
        e[0]
    );
    assert!(
        e[1].starts_with("/p/t.toml:4:17: unknown syscall group \"@nope\""),
        "{}",
        e[1]
    );
}

#[test]
fn deny_removes_from_allow_and_action_parses() {
    let p = ok("[syscalls]\nallow = [\"@system-service\"]\ndeny = [\"@basic-io\"]\naction = \"errno:38\"\n");
    assert_eq!(p.syscalls.allow, ["execve", "openat", "ptrace"]);
    assert_eq!(p.syscalls.action, SeccompAction::Errno(38));
    assert_eq!(
        resolve::parse_action("errno:ENOSYS"),
        Ok(SeccompAction::Errno(libc::ENOSYS))
    );
    assert_eq!(resolve::parse_action("log"), Ok(SeccompAction::Log));
    assert!(resolve::parse_action("errno:0").is_err());
    assert!(resolve::parse_action("errno:4096").is_err());
    assert!(resolve::parse_action("trap").is_err());
    assert_eq!(
        err("[syscalls]\nallow = [\"read\"]\naction = \"errno:EWHAT\"\n"),
        "/p/t.toml:3:10: invalid action \"errno:EWHAT\"; use \"errno:EPERM\", \"errno:N\" (1-4095), \"kill\" or \"log\" (errno names: EPERM, ENOENT, EIO, EAGAIN, EACCES, EINVAL, ENOSYS, EOPNOTSUPP)"
    );
}

#[test]
fn semantic_errors_are_positioned() {
    let cases: &[(&str, &str)] = &[
        ("[filesystem]\nread_only = [\"/nope\"]\n", "/p/t.toml:2:14: path \"/nope\" does not exist; create it, remove it from the profile, or mark it optional with a trailing \"?\""),
        ("[filesystem]\nread_only = [\"usr\"]\n", "/p/t.toml:2:14: path \"usr\" is not absolute; write an absolute path like \"/usr/share\" or \"${CWD}/data\""),
        ("[filesystem]\nread_only = [\"/usr/../etc\"]\n", "/p/t.toml:2:14: path \"/usr/../etc\" contains \"..\"; write an absolute path like \"/usr/share\" or \"${CWD}/data\""),
        ("[filesystem]\nread_only = [\"/tmp\"]\nscratch.path = \"/tmp\"\n", "/p/t.toml:2:14: cannot bind over \"/tmp\": tooljail builds it itself; remove this path; /proc, /dev and the scratch directory are made by the jail"),
        ("[filesystem]\nscratch.path = \"/proc/x\"\n", "/p/t.toml:2:16: scratch path \"/proc/x\" is reserved; use a fresh directory such as \"/scratch\""),
        ("[filesystem]\ndevices = [\"/dev/nul\"]\n", "/p/t.toml:2:12: device \"/dev/nul\" is not allowed; did you mean \"/dev/null\"?"),
        ("[network]\ntcp_connect = [443]\n", "/p/t.toml:2:16: tcp_connect has no effect unless mode = \"host\"; set [network] mode = \"host\", or remove the ports"),
        ("[network]\nmode = \"host\"\ntcp_bind = [0]\n", "/p/t.toml:3:13: port 0 in tcp_bind; use a port between 1 and 65535"),
        ("[env]\nset = { \"A=B\" = \"x\" }\n", "/p/t.toml:2:17: invalid variable name \"A=B\" in [env] set: contains '=' or NUL; use a name like \"LANG\""),
        ("[env]\nkeep = [\"\"]\n", "/p/t.toml:2:9: invalid variable name \"\" in [env] keep: empty; use a name like \"TERM\""),
        ("[export]\npatterns = [\"/etc/*\"]\nto = \"/data\"\n", "/p/t.toml:2:13: export pattern \"/etc/*\" is not relative to the scratch directory; write a relative glob like \"out/*.json\""),
        ("[export]\npatterns = [\"*.txt\"]\n", "/p/t.toml:2:13: export patterns without a destination; set [export] to = \"/some/dir\", or remove the patterns"),
        ("[export]\nto = \"/etc/passwd\"\n", "/p/t.toml:2:6: export directory \"/etc/passwd\" is a file; name a directory"),
        ("hostname = \"a b\"\n", "/p/t.toml:1:12: invalid hostname \"a b\"; use 1 to 64 letters, digits, '-' or '.'"),
        ("cwd = \"/elsewhere\"\n", "/p/t.toml:1:7: working directory \"/elsewhere\" does not exist inside the jail; use a directory under the scratch path or under a bound directory"),
        ("[budget]\ncalls_per_minute = 5000000000\n", "/p/t.toml:2:20: 5000000000 is too large; use a number below 4294967296, or \"unlimited\""),
        ("[limits]\nwall_time = \"0s\"\n", "/p/t.toml:2:13: a duration of zero leaves no time to run; use a positive duration like \"30s\""),
        ("[filesystem]\nscratch = { size = 0 }\n", "/p/t.toml:2:20: scratch size 0 leaves no room for the working directory; use a size like \"256M\""),
    ];
    for (text, want) in cases {
        let text = format!("{text}[syscalls]\nallow = [\"read\"]\n");
        assert_eq!(err(&text), *want, "profile:\n{text}");
    }
}

#[test]
fn optional_paths_are_skipped_when_absent() {
    let p = ok("[syscalls]\nallow = [\"read\"]\n[filesystem]\nread_only = [\"/lib32?\", \"/etc/passwd?\"]\n");
    assert_eq!(p.filesystem.binds.len(), 1);
    assert_eq!(p.filesystem.binds[0].target, PathBuf::from("/etc/passwd"));
}

#[test]
fn binds_keep_the_written_target_and_the_canonical_source_parents_first() {
    let p = ok("[syscalls]\nallow = [\"read\"]\n[filesystem]\nread_write = [\"/usr/lib/./x?\", \"/data\"]\nexecutable = [\"/lib64/\", \"/usr\"]\nread_only = [\"/usr/bin/python3\"]\n");
    let b: Vec<(&str, &str, FileKind)> = p
        .filesystem
        .binds
        .iter()
        .map(|b| {
            (
                b.target.to_str().unwrap(),
                b.source.to_str().unwrap(),
                b.kind,
            )
        })
        .collect();
    assert_eq!(
        b,
        [
            ("/data", "/data", FileKind::Dir),
            ("/lib64", "/usr/lib64", FileKind::Dir),
            ("/usr", "/usr", FileKind::Dir),
            ("/usr/bin/python3", "/usr/bin/python3", FileKind::File),
        ]
    );
}

// ---- extends ----------------------------------------------------------------------------------

fn family() -> FakeHost {
    let mut h = FakeHost::debian();
    h.dir("/p");
    h.file("/p/root.toml", "description = \"root\"\nhostname = \"root\"\n[filesystem]\nread_only = [\"/etc/passwd\", \"/etc/group\"]\n[syscalls]\nallow = [\"@system-service\"]\n[env]\nset = { A = \"1\", B = \"2\" }\nkeep = [\"TERM\"]\n");
    h.file(
        "/p/left.toml",
        "extends = [\"root.toml\"]\nhostname = \"left\"\n[filesystem]\nread_only = [\"/data\"]\n",
    );
    h.file("/p/right.toml", "extends = [\"/p/root.toml\"]\n[filesystem]\nread_only = [\"!/etc/group\", \"/out\"]\n[env]\nset = { B = \"3\" }\nunset = [\"A\"]\n");
    h.file("/p/child.toml", "extends = [\"left.toml\", \"right.toml\"]\ndescription = \"child\"\n[syscalls]\ndeny = [\"ptrace\"]\n");
    h
}

#[test]
fn extends_merges_in_order_with_removal() {
    let h = family();
    let p = resolve_on(&h, &args(&["/p/child.toml"]), Options::default()).unwrap();
    let names: Vec<&str> = p.profiles.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["root", "left", "right", "child"],
        "a diamond merges root once"
    );
    assert_eq!(p.description, "child");
    assert_eq!(
        p.hostname, "left",
        "scalars: the later layer that sets a key wins"
    );
    let targets: Vec<&str> = p
        .filesystem
        .binds
        .iter()
        .map(|b| b.target.to_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        ["/data", "/etc/passwd", "/out"],
        "lists: union, with !/etc/group removed"
    );
    assert_eq!(
        p.filesystem.binds[1].origin, "/p/root.toml:4:14",
        "origin stays in the file that wrote it"
    );
    assert_eq!(p.env.get("A"), None);
    assert_eq!(p.env["B"], "3");
    assert_eq!(p.env["TERM"], "xterm");
    assert_eq!(p.syscalls.allow, ["execve", "openat", "read", "write"]);
}

#[test]
fn a_named_profile_without_description_does_not_inherit_one() {
    let h = family();
    let p = resolve_on(&h, &args(&["/p/left.toml"]), Options::default()).unwrap();
    assert_eq!(p.description, "");
}

#[test]
fn several_profiles_on_the_command_line_merge_like_extends() {
    let h = family();
    let p = resolve_on(
        &h,
        &args(&["/p/root.toml", "/p/left.toml", "/p/root.toml"]),
        Options::default(),
    )
    .unwrap();
    let names: Vec<&str> = p.profiles.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["root", "left"]);
    assert_eq!(p.name(), "left");
}

#[test]
fn removing_what_is_not_inherited_is_an_error() {
    let mut h = family();
    h.file("/p/bad.toml", "extends = [\"root.toml\"]\n[filesystem]\nread_only = [\n  \"!/etc/grupo\"]\n[env]\nunset = [\"ZZ\"]\n");
    let e = errs_on(&h, &args(&["/p/bad.toml"]));
    assert_eq!(
        e,
        [
            "/p/bad.toml:4:3: nothing to remove: \"/etc/grupo\" is not in the list this profile inherits; check the spelling against the extended profile (`tooljail explain -p NAME`)",
            "/p/bad.toml:6:10: nothing to unset: \"ZZ\" is not in [env] set or keep; check the spelling, or remove this entry",
        ]
    );
}

#[test]
fn cycles_are_named_and_positioned() {
    let mut h = FakeHost::debian();
    h.dir("/p");
    h.file("/p/a.toml", "extends = [\"b.toml\"]\n");
    h.file(
        "/p/b.toml",
        "description = \"b\"\nextends = [\"./c.toml\"]\n",
    );
    h.file("/p/c.toml", "extends = [\"base\", \"/p/a.toml\"]\n");
    h.file("/p/self.toml", "extends = [\"self.toml\"]\n");
    assert_eq!(
        errs_on(&h, &args(&["/p/a.toml"])),
        ["/p/c.toml:1:20: extends cycle: a -> b -> c -> a; remove one of these extends entries"]
    );
    assert_eq!(
        errs_on(&h, &args(&["/p/self.toml"])),
        ["/p/self.toml:1:12: extends cycle: self -> self; remove one of these extends entries"]
    );
}

#[test]
fn errors_in_extended_files_point_at_that_file() {
    let mut h = FakeHost::debian();
    h.dir("/p");
    h.file(
        "/p/parent.toml",
        "extends = [\"base\"]\n\n[limits]\nmemory = \"1Q\"\n",
    );
    h.file("/p/typo.toml", "[network]\nmoed = \"none\"\n");
    h.file(
        "/p/child.toml",
        "extends = [\"parent.toml\", \"missing\", \"typo.toml\"]\n",
    );
    assert_eq!(
        errs_on(&h, &args(&["/p/child.toml"])),
        [
            "/p/child.toml:1:27: profile \"missing\" not found; looked for missing.toml in /home/ann/.config/tooljail/profiles, /etc/tooljail/profiles, /usr/share/tooljail/profiles; run `tooljail profiles` to list what exists",
            "/p/typo.toml:2:1: unknown key \"moed\" in [network]; did you mean \"mode\"?",
        ]
    );
    h.file("/p/child.toml", "extends = [\"parent.toml\"]\n");
    assert_eq!(
        errs_on(&h, &args(&["/p/child.toml"])),
        ["/p/parent.toml:4:10: invalid size \"1Q\"; unknown unit \"q\"; use B, K, M, G or T (powers of 1024)"]
    );
}

#[test]
fn search_path_files_shadow_builtins_and_builtin_prefix_reaches_them() {
    let mut h = FakeHost::debian();
    h.env.insert("XDG_CONFIG_HOME".into(), "/cfg".into());
    h.dir("/cfg")
        .dir("/cfg/tooljail")
        .dir("/cfg/tooljail/profiles");
    h.file(
        "/cfg/tooljail/profiles/default.toml",
        "description = \"mine\"\nextends = [\"builtin:default\"]\nhostname = \"mine\"\n",
    );
    let p = resolve_on(&h, &args(&[]), Options::default()).unwrap();
    assert_eq!(p.description, "mine");
    assert_eq!(p.hostname, "mine");
    assert_eq!(
        p.limits.memory,
        Some(1 << 30),
        "the built-in default is underneath"
    );
    assert_eq!(
        p.profiles.last().unwrap().origin,
        "/cfg/tooljail/profiles/default.toml"
    );
    let e = errs_on(&h, &args(&["defualt2"]));
    assert!(
        e[0].starts_with("-p defualt2: profile \"defualt2\" not found; did you mean \"default\"?"),
        "{e:?}"
    );
    let e = errs_on(&h, &args(&["builtin:nope"]));
    assert_eq!(
        e,
        ["-p builtin:nope: no built-in profile \"nope\"; built-in profiles: default, base"]
    );
}

#[test]
fn unsearchable_config_dirs_are_skipped_but_unreadable_profiles_are_errors() {
    let mut h = FakeHost::debian();
    h.env.insert("HOME".into(), "/root".into());
    h.dir("/root")
        .dir("/root/.config")
        .dir("/root/.config/tooljail")
        .dir("/root/.config/tooljail/profiles");
    h.file(
        "/root/.config/tooljail/profiles/default.toml",
        "hostname = \"roots\"\n",
    );
    h.unsearchable.push("/root".into());
    let p = resolve_on(&h, &args(&[]), Options::default()).unwrap();
    assert_eq!(p.profiles.last().unwrap().origin, "builtin:default");
    h.unsearchable.clear();
    h.unreadable
        .push("/root/.config/tooljail/profiles/default.toml".into());
    assert_eq!(
        errs_on(&h, &args(&[])),
        ["-p default: cannot read profile \"/root/.config/tooljail/profiles/default.toml\": permission denied; fix its permissions or remove it from the search path"]
    );
}

// ---- variables and ${CWD} -------------------------------------------------------------------

#[test]
fn cwd_profiles_refuse_root_and_home_but_the_command_line_may_name_them() {
    let text = "extends = [\"base\"]\ncwd = \"${CWD}\"\n[filesystem]\nread_write = [\"${CWD}\"]\n";
    let mut h = host_with(text);
    let p = resolve_on(&h, &args(&["/p/t.toml"]), Options::default()).unwrap();
    assert_eq!(p.cwd, PathBuf::from("/home/ann/proj"));
    for (cwd, what) in [
        ("/home/ann", "your home directory"),
        ("/home", "your home directory"),
        ("/", "the whole file system"),
    ] {
        h.cwd = cwd.into();
        let e = errs_on(&h, &args(&["/p/t.toml"]));
        assert_eq!(
            e,
            [format!("/p/t.toml:4:15: ${{CWD}} is {cwd}, which would expose {what}; cd into the project directory and run again, or name the path explicitly with --ro/--rw")],
        );
        assert!(resolve_on(&h, &args(&["/p/t.toml"]), Options { check_only: true }).is_ok());
    }
    h.cwd = "/home/ann".into();
    let mut a = args(&["/p/t.toml"]);
    a.rw = vec![".".into()];
    let p = resolve_on(&h, &a, Options::default()).unwrap();
    let b = p
        .filesystem
        .binds
        .iter()
        .find(|b| b.target.as_path() == std::path::Path::new("/home/ann"))
        .unwrap();
    assert_eq!((b.access, b.origin.as_str()), (Access::ReadWrite, "--rw"));
}

// ---- command-line overrides -------------------------------------------------------------------

#[test]
fn overrides_apply_on_top_of_the_profile() {
    let mut h =
        host_with("extends = [\"default\"]\n[network]\nmode = \"host\"\ntcp_connect = [443]\n");
    h.cwd = "/home/ann".into();
    let mut a = args(&["/p/t.toml"]);
    a.ro = vec!["proj".into(), "/etc/passwd".into()];
    a.rw = vec!["/data".into()];
    a.net = Some(NetArg::Loopback);
    a.timeout = Some("5m".into());
    a.memory = Some("512M".into());
    a.env = vec!["X=1=2".into(), "LANG=C".into()];
    a.keep_env = vec!["TERM".into(), "ABSENT".into()];
    a.cwd = Some("/home/ann/proj".into());
    let p = resolve_on(&h, &a, Options::default()).unwrap();
    let find = |t: &str| {
        p.filesystem
            .binds
            .iter()
            .find(|b| b.target.as_path() == std::path::Path::new(t))
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            find("/home/ann/proj").access,
            find("/home/ann/proj").origin.as_str()
        ),
        (Access::ReadOnly, "--ro")
    );
    assert_eq!(
        find("/etc/passwd").origin,
        "--ro",
        "the command line replaces the profile's rule"
    );
    assert_eq!(
        p.filesystem
            .binds
            .iter()
            .filter(|b| b.target.as_path() == std::path::Path::new("/etc/passwd"))
            .count(),
        1
    );
    assert_eq!(
        (find("/data").access, find("/data").origin.as_str()),
        (Access::ReadWrite, "--rw")
    );
    assert_eq!(
        p.network,
        Network {
            mode: NetMode::Loopback,
            tcp_connect: vec![],
            tcp_bind: vec![]
        }
    );
    assert_eq!(p.limits.wall_time, Duration::from_secs(300));
    assert_eq!(p.limits.memory, Some(512 << 20));
    assert_eq!(p.env["X"], "1=2");
    assert_eq!(p.env["LANG"], "C");
    assert_eq!(p.env["TERM"], "xterm");
    assert!(!p.env.contains_key("ABSENT"));
    assert_eq!(p.cwd, PathBuf::from("/home/ann/proj"));
}

#[test]
fn bad_overrides_name_the_flag() {
    let h = FakeHost::debian();
    let mut a = args(&[]);
    a.ro = vec!["/nope".into()];
    a.timeout = Some("30".into());
    a.memory = Some("lots".into());
    a.env = vec!["NOEQUALS".into()];
    a.cwd = Some("/elsewhere".into());
    let e = match resolve_on(&h, &a, Options::default()) {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    let shown: Vec<String> = e.iter().map(Error::to_string).collect();
    assert_eq!(
        shown,
        [
            "--ro: path \"/nope\" does not exist; create it or fix the --ro argument",
            "--timeout: invalid duration \"30\"; a duration needs a unit, e.g. \"30s\" or \"30ms\"",
            "--memory: invalid size \"lots\"; expected a number of bytes, optionally with a unit: 1048576, 64K, 512M, 2G",
            "--env: \"NOEQUALS\" is not KEY=VALUE; write it as --env KEY=VALUE",
        ]
    );
    assert!(e
        .iter()
        .all(|e| e.kind == ErrorKind::Usage && e.exit_code() == 125));
    // ... so the cwd is checked on its own (a refused bind silences it: same cause).
    let mut a = args(&[]);
    a.cwd = Some("/elsewhere".into());
    assert_eq!(
        errs_on(&h, &a),
        [
            "--cwd: working directory \"/elsewhere\" does not exist inside the jail; use a directory under the scratch path or under a bound directory",
        ]
    );
}

#[test]
fn errors_stay_on_one_line() {
    let h =
        host_with("[limits]\nwall_time = \"6\\n\\u001b[31m\"\n[syscalls]\nallow = [\"read\"]\n");
    let e = match super::resolve_args(&h, &args(&["/p/t.toml"]), Options::default()) {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    assert_eq!(
        e[0].to_string(),
        "/p/t.toml:2:13: invalid duration \"6\\n\\u{1b}[31m\"; invalid character at 2; write a duration like \"30s\", \"5m\" or \"1h 30m\""
    );
}

#[test]
fn errors_come_in_reading_order_with_flags_last() {
    let h = host_with("[limits]\nmemory = \"12X\"\n[filesystem]\nread_only = [\"/nope\"]\n[syscalls]\nallow = [\"read\"]\n");
    let mut a = args(&["/p/t.toml"]);
    a.memory = Some("1Q".into());
    let e = match super::resolve_args(&h, &a, Options::default()) {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    let at: Vec<&str> = e.iter().map(|e| e.location.as_str()).collect();
    assert_eq!(at, ["/p/t.toml:2:10", "/p/t.toml:4:14", "--memory"]);
    assert_eq!(super::position("a:b:10:2"), (false, "a:b".into(), 10, 2));
    assert_eq!(super::position("--ro"), (true, String::new(), 0, 0));
}

#[test]
fn first_error_says_how_many_more() {
    let e = super::first_error(vec![
        Error::profile("a:1:1", "one"),
        Error::profile("a:2:1", "two"),
    ]);
    assert_eq!(
        e.to_string(),
        "a:1:1: one (and 1 more: `tooljail explain` with the same options lists them all)"
    );
}

// ---- positions and listing --------------------------------------------------------------------

#[test]
fn line_and_column_are_one_based_and_count_characters() {
    use super::source::line_col;
    let t = "ab\nçd = 1\n\nx";
    assert_eq!(line_col(t, 0), (1, 1));
    assert_eq!(line_col(t, 2), (1, 3));
    assert_eq!(line_col(t, 3), (2, 1));
    assert_eq!(line_col(t, 5), (2, 2), "ç is two bytes, one column");
    assert_eq!(line_col(t, 11), (3, 1));
    assert_eq!(line_col(t, 12), (4, 1));
    assert_eq!(line_col(t, 99), (4, 2));
}

#[test]
fn profiles_listing_shows_shadowing() {
    let mut h = FakeHost::debian();
    h.dir("/a").dir("/b");
    h.file("/a/default.toml", "description = \"mine\\nmore\"\n");
    h.file("/b/default.toml", "description = \"theirs\"\n");
    h.file("/b/tool.toml", "not toml [");
    let dirs = vec![PathBuf::from("/a"), PathBuf::from("/b")];
    let found = super::search::list(&h, &dirs, |d| {
        let names: Vec<String> = h
            .files
            .keys()
            .filter(|p| p.parent() == Some(d.as_path()))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names
    });
    let rows: Vec<(&str, &str, &str, Option<&str>, bool)> = found
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.origin.as_str(),
                f.description.as_str(),
                f.shadows.as_deref(),
                f.shadowed,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("default", "/a/default.toml", "mine", Some("/b/default.toml"), false),
            ("default", "/b/default.toml", "theirs", None, true),
            ("tool", "/b/tool.toml", "(invalid TOML: run `tooljail check` on it)", None, false),
            ("default", "builtin", "Strict default: system binaries only, no caller files, no network, scratch as HOME", None, true),
            ("base", "builtin", "Foundation for other profiles: system binaries read-only, scratch tmpfs, no network", None, false),
        ]
    );
}
