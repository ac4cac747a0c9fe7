//! Profiles as written: the TOML model, the search path, `extends`, the built-in profiles.
//!
//! TEMPORARY: until the profile loader lands, `policy_from_args` returns a hand-built default
//! Policy with the command-line overrides --ro/--rw/--net/--env/--keep-env/--cwd applied.

use crate::cli::{NetArg, PolicyArgs};
use crate::error::{Error, Result};
use crate::policy::resolve::{Host, RealHost};
use crate::policy::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub fn policy_from_args(args: &PolicyArgs) -> Result<Policy> {
    let host = RealHost;
    let mut binds = Vec::new();
    let mut add =
        |path: &str, access: Access, exec: bool, optional: bool, origin: &str| -> Result<()> {
            let p = PathBuf::from(path);
            match host.canonicalize(&p) {
                Ok(source) => {
                    let kind = host
                        .kind(&source)
                        .map_err(|e| Error::profile(origin, format!("{path}: {e}")))?;
                    binds.push(Bind {
                        source,
                        target: p,
                        access,
                        exec,
                        kind,
                        origin: origin.to_string(),
                    });
                    Ok(())
                }
                Err(_) if optional => Ok(()),
                Err(e) => Err(Error::profile(origin, format!("path {path}: {e}"))
                    .with_hint("create it or remove it from the command line")),
            }
        };
    for d in [
        "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
    ] {
        add(d, Access::ReadOnly, true, true, "builtin:default")?;
    }
    for f in [
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/alternatives",
        "/etc/localtime",
        "/etc/nsswitch.conf",
        "/etc/passwd",
        "/etc/group",
    ] {
        add(f, Access::ReadOnly, false, true, "builtin:default")?;
    }
    for p in &args.ro {
        add(&p.to_string_lossy(), Access::ReadOnly, true, false, "--ro")?;
    }
    for p in &args.rw {
        add(&p.to_string_lossy(), Access::ReadWrite, true, false, "--rw")?;
    }
    let mut env = BTreeMap::new();
    env.insert(
        "PATH".into(),
        "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
    );
    env.insert("HOME".into(), "/scratch".into());
    env.insert("TMPDIR".into(), "/tmp".into());
    env.insert("LANG".into(), "C.UTF-8".into());
    for k in &args.keep_env {
        if let Some(v) = host.env(k) {
            env.insert(k.clone(), v);
        }
    }
    for kv in &args.env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("--env {kv}: expected KEY=VALUE")))?;
        env.insert(k.into(), v.into());
    }
    Ok(Policy {
        profiles: vec![ProfileSource {
            name: "default".into(),
            origin: "builtin:default".into(),
        }],
        description: "strict default".into(),
        filesystem: Filesystem {
            binds,
            scratch: Scratch {
                path: "/scratch".into(),
                size: 256 << 20,
                exec: false,
                tmp: true,
                shm: true,
            },
            devices: [
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/tty",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
        },
        network: Network {
            mode: match args.net {
                Some(NetArg::Host) => NetMode::Host,
                Some(NetArg::Loopback) => NetMode::Loopback,
                _ => NetMode::None,
            },
            tcp_connect: vec![],
            tcp_bind: vec![],
        },
        syscalls: Syscalls {
            allow: crate::policy::syscalls::expand(&["@system-service".to_string()])
                .map_err(|n| Error::profile("builtin:default", format!("unknown syscall {n}")))?,
            action: SeccompAction::Errno(libc::EPERM),
            unsafe_allow: vec![],
        },
        landlock: Landlock {
            mode: Compat::Required,
            scope_abstract_unix: true,
            scope_signals: true,
        },
        limits: Limits {
            wall_time: match &args.timeout {
                Some(t) => humantime::parse_duration(t)
                    .map_err(|e| Error::usage(format!("--timeout {t}: {e}")))?,
                None => Duration::from_secs(60),
            },
            kill_after: Duration::from_secs(2),
            cpu_time: Some(Duration::from_secs(60)),
            memory: Some(1 << 30),
            processes: Some(64),
            open_files: Some(256),
            file_size: Some(256 << 20),
            require_cgroup: false,
        },
        env,
        cwd: args.cwd.clone().unwrap_or_else(|| "/scratch".into()),
        hostname: "tooljail".into(),
        export: Export {
            to: None,
            patterns: vec![],
            max_bytes: 0,
        },
        budget: Budget {
            calls_per_minute: None,
            max_identical_calls: None,
        },
        audit: Audit {
            enabled: false,
            log: None,
        },
    })
}
