#![allow(
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    reason = "ABI numbers are small"
)]
use super::*;
use crate::policy::*;
use crate::preflight::features::{required_abi, required_features, unenforced, Feature};
use landlock::{Access as _, ABI};
use std::collections::BTreeMap;
use std::time::Duration;

fn bind(path: &str, access: Access, exec: bool, kind: FileKind) -> Bind {
    Bind {
        source: path.into(),
        target: path.into(),
        access,
        exec,
        kind,
        origin: "test".into(),
    }
}

/// A Policy with nothing optional: no binds, no devices, no tmp/shm, no scopes, net none.
fn bare() -> Policy {
    Policy {
        profiles: vec![],
        description: String::new(),
        filesystem: Filesystem {
            binds: vec![],
            scratch: Scratch {
                path: "/scratch".into(),
                size: 1 << 20,
                exec: false,
                tmp: false,
                shm: false,
            },
            devices: vec![],
            gpu: false,
            observe_writes: true,
        },
        network: Network {
            mode: NetMode::None,
            tcp_connect: vec![],
            tcp_bind: vec![],
            egress: None,
        },
        syscalls: Syscalls {
            allow: vec![],
            action: SeccompAction::Kill,
            unsafe_allow: vec![],
            observe_all: false,
        },
        landlock: Landlock {
            mode: Compat::Required,
            scope_abstract_unix: false,
            scope_signals: false,
        },
        limits: Limits {
            wall_time: Duration::from_secs(1),
            kill_after: Duration::from_secs(1),
            cpu_time: None,
            memory: None,
            processes: None,
            open_files: None,
            file_size: None,
            require_cgroup: false,
        },
        env: BTreeMap::new(),
        cwd: "/scratch".into(),
        hostname: "t".into(),
        output: Default::default(),
        export: Export {
            to: None,
            patterns: vec![],
            max_bytes: 0,
            ..Export::default()
        },
        budget: Budget {
            calls_per_minute: None,
            max_identical_calls: None,
            ..Budget::default()
        },
        audit: Audit {
            enabled: false,
            log: None,
        },
        isolation: Default::default(),
        command: Default::default(),
        server: None,
    }
}

fn rule<'a>(rules: &'a [LandlockRule], path: &str) -> &'a LandlockRule {
    rules
        .iter()
        .find(|r| r.path == std::path::Path::new(path))
        .unwrap_or_else(|| panic!("no rule for {path}: {rules:#?}"))
}

#[test]
fn read_only_dir_and_file_rights_differ() {
    let mut p = bare();
    p.filesystem.binds = vec![
        bind("/usr", Access::ReadOnly, true, FileKind::Dir),
        bind("/etc/passwd", Access::ReadOnly, false, FileKind::File),
        bind("/data", Access::ReadOnly, false, FileKind::Dir),
    ];
    let rules = rules(&p);
    assert_eq!(
        rule(&rules, "/usr").rights,
        [FsRight::Execute, FsRight::ReadFile, FsRight::ReadDir]
    );
    assert_eq!(rule(&rules, "/etc/passwd").rights, [FsRight::ReadFile]);
    assert_eq!(
        rule(&rules, "/data").rights,
        [FsRight::ReadFile, FsRight::ReadDir]
    );
}

#[test]
fn file_rules_never_carry_directory_rights() {
    let mut p = bare();
    for access in [Access::ReadOnly, Access::ReadWrite] {
        for exec in [false, true] {
            p.filesystem
                .binds
                .push(bind("/f", access, exec, FileKind::File));
        }
    }
    p.filesystem.devices = vec!["/dev/null".into(), "/dev/tty".into()];
    for r in rules(&p).iter().filter(|r| r.kind == FileKind::File) {
        for right in &r.rights {
            assert!(right.applies_to_files(), "{right:?} on file rule {r}");
        }
        assert!(
            AccessFs::from_file(ABI::from(99)).contains(r.access()),
            "crate disagrees about file rights of {r}"
        );
    }
}

#[test]
fn read_write_dir_grants_what_tools_need_and_no_device_creation() {
    let mut p = bare();
    p.filesystem.binds = vec![bind("/work", Access::ReadWrite, false, FileKind::Dir)];
    let rules = rules(&p);
    let work = &rule(&rules, "/work").rights;
    for needed in [
        FsRight::ReadFile,
        FsRight::ReadDir,
        FsRight::WriteFile,
        FsRight::MakeReg,
        FsRight::MakeDir,
        FsRight::MakeSym,
        FsRight::MakeFifo,
        FsRight::MakeSock,
        FsRight::Refer,
        FsRight::RemoveDir,
        FsRight::RemoveFile,
        FsRight::Truncate,
    ] {
        assert!(work.contains(&needed), "read-write dir lacks {needed:?}");
    }
    for never in [
        FsRight::MakeChar,
        FsRight::MakeBlock,
        FsRight::IoctlDev,
        FsRight::Execute,
    ] {
        assert!(!work.contains(&never), "read-write dir has {never:?}");
    }
    // The scratch dir is read-write too, and the same way.
    assert_eq!(&rule(&rules, "/scratch").rights, work);
}

#[test]
fn execute_only_where_marked() {
    let mut p = bare();
    p.filesystem.binds = vec![
        bind("/bin", Access::ReadOnly, true, FileKind::Dir),
        bind("/srv", Access::ReadOnly, false, FileKind::Dir),
        bind("/out", Access::ReadWrite, false, FileKind::Dir),
    ];
    let r = rules(&p);
    assert!(rule(&r, "/bin").rights.contains(&FsRight::Execute));
    assert!(!rule(&r, "/srv").rights.contains(&FsRight::Execute));
    assert!(!rule(&r, "/out").rights.contains(&FsRight::Execute));
    assert!(!rule(&r, "/scratch").rights.contains(&FsRight::Execute));
    p.filesystem.scratch.exec = true;
    assert!(rule(&rules(&p), "/scratch")
        .rights
        .contains(&FsRight::Execute));
}

#[test]
fn scratch_tmp_and_shm_follow_the_scratch_flags() {
    let mut p = bare();
    let paths = |p: &Policy| -> Vec<PathBuf> { rules(p).into_iter().map(|r| r.path).collect() };
    assert!(!paths(&p).contains(&"/tmp".into()));
    assert!(!paths(&p).contains(&"/dev/shm".into()));
    p.filesystem.scratch.tmp = true;
    p.filesystem.scratch.shm = true;
    p.filesystem.scratch.exec = true;
    let r = rules(&p);
    assert_eq!(rule(&r, "/tmp").rights, rule(&r, "/scratch").rights);
    assert_eq!(rule(&r, "/dev/shm").rights, rule(&r, "/scratch").rights);
    assert!(rule(&r, "/tmp").rights.contains(&FsRight::Execute));
}

#[test]
fn ioctl_only_on_devices_proc_read_only_dev_listable() {
    let mut p = bare();
    p.filesystem.binds = vec![
        bind("/usr", Access::ReadOnly, true, FileKind::Dir),
        bind("/w", Access::ReadWrite, true, FileKind::Dir),
    ];
    p.filesystem.devices = vec!["/dev/tty".into()];
    let r = rules(&p);
    assert_eq!(
        rule(&r, "/dev/tty").rights,
        [FsRight::WriteFile, FsRight::ReadFile, FsRight::IoctlDev]
    );
    assert_eq!(rule(&r, "/dev/tty").kind, FileKind::File);
    for other in r
        .iter()
        .filter(|x| x.origin != "device" && x.path != std::path::Path::new("/dev/pts"))
    {
        assert!(!other.rights.contains(&FsRight::IoctlDev), "{other}");
    }
    assert_eq!(
        rule(&r, "/proc").rights,
        [FsRight::ReadFile, FsRight::ReadDir]
    );
    assert_eq!(rule(&r, "/dev").rights, [FsRight::ReadDir]);
}

#[test]
fn the_private_devpts_gets_device_rights_and_nothing_to_make_nodes() {
    // Every Policy, devices listed or not: ptys (script, expect, Python's pty) need to open
    // /dev/pts/ptmx and /dev/pts/N and use terminal ioctls on them.
    for devices in [vec![], vec!["/dev/null".into()]] {
        let mut p = bare();
        p.filesystem.devices = devices;
        let r = rules(&p);
        let pts = rule(&r, "/dev/pts");
        assert_eq!(pts.kind, FileKind::Dir);
        assert_eq!(
            pts.rights,
            [FsRight::WriteFile, FsRight::ReadFile, FsRight::IoctlDev]
        );
        // Added after /dev, and no rule grants making or removing nodes there.
        let at = |path: &str| r.iter().position(|x| x.path == std::path::Path::new(path));
        assert!(at("/dev") < at("/dev/pts"));
        assert!(!pts.rights.iter().any(|x| matches!(
            x,
            FsRight::MakeChar | FsRight::MakeBlock | FsRight::MakeReg | FsRight::RemoveFile
        )));
        // /dev itself stays list-only.
        assert_eq!(rule(&r, "/dev").rights, [FsRight::ReadDir]);
    }
}

#[test]
fn ports_only_in_host_mode() {
    let mut p = bare();
    p.network.tcp_connect = vec![443, 80];
    p.network.tcp_bind = vec![8080, 443];
    for mode in [NetMode::None, NetMode::Loopback] {
        p.network.mode = mode;
        assert!(!handles_net(&p));
        assert!(port_rules(&p).is_empty());
    }
    p.network.mode = NetMode::Host;
    assert!(handles_net(&p));
    assert_eq!(
        port_rules(&p),
        [
            PortRule {
                port: 80,
                rights: vec![NetRight::ConnectTcp]
            },
            PortRule {
                port: 443,
                rights: vec![NetRight::BindTcp, NetRight::ConnectTcp]
            },
            PortRule {
                port: 8080,
                rights: vec![NetRight::BindTcp]
            },
        ]
    );
    // Host mode with no ports: TCP is still handled, so nothing is allowed.
    p.network.tcp_connect.clear();
    p.network.tcp_bind.clear();
    assert!(handles_net(&p) && port_rules(&p).is_empty());
}

#[test]
fn scopes_follow_the_policy() {
    let mut p = bare();
    assert!(scopes(&p).is_empty());
    p.landlock.scope_signals = true;
    assert_eq!(scopes(&p), [ScopeRight::Signal]);
    p.landlock.scope_abstract_unix = true;
    assert_eq!(
        scopes(&p),
        [ScopeRight::AbstractUnixSocket, ScopeRight::Signal]
    );
}

#[test]
fn required_abi_grows_with_what_the_policy_asks() {
    let mut p = bare();
    // Paths alone: refer (2) and truncate (3) are always needed.
    assert_eq!(required_abi(&p), 3);
    p.network.mode = NetMode::Loopback;
    assert_eq!(required_abi(&p), 3, "loopback is the netns's job");
    p.network.mode = NetMode::Host;
    assert_eq!(required_abi(&p), 4);
    p.filesystem.devices = vec!["/dev/null".into()];
    assert_eq!(required_abi(&p), 5);
    p.network.mode = NetMode::None;
    assert_eq!(required_abi(&p), 5);
    p.landlock.scope_signals = true;
    assert_eq!(required_abi(&p), 6);
    p.landlock.scope_signals = false;
    p.landlock.scope_abstract_unix = true;
    assert_eq!(required_abi(&p), 6);
}

#[test]
fn unenforced_lists_exactly_what_an_older_kernel_lacks() {
    let mut p = bare();
    p.filesystem.devices = vec!["/dev/null".into()];
    p.landlock.scope_signals = true;
    p.network.mode = NetMode::Host;
    let names =
        |abi| -> Vec<Feature> { unenforced(&p, abi).into_iter().map(|u| u.feature).collect() };
    assert!(names(Some(6)).is_empty());
    assert!(names(Some(7)).is_empty());
    assert_eq!(names(Some(5)), [Feature::ScopeSignals]);
    assert_eq!(
        names(Some(2)),
        [
            Feature::Truncate,
            Feature::TcpPorts,
            Feature::IoctlDev,
            Feature::ScopeSignals
        ]
    );
    assert_eq!(names(None).len(), required_features(&p).len());
    assert_eq!(names(None)[0], Feature::Filesystem);
}

/// Our named rights must match the crate's per-ABI sets exactly: a right the crate learns in an
/// upgrade and we do not name would be handled (denied) everywhere without `explain` showing it.
#[test]
fn named_rights_match_the_crate_for_every_abi() {
    let max = ABI::from(i32::MAX) as u32;
    assert!(max >= 7, "crate must know at least ABI 7");
    for abi in 1..=max {
        let crate_abi = ABI::from(abi as i32);
        let ours: Vec<FsRight> = FsRight::ALL
            .into_iter()
            .filter(|r| r.abi() <= abi)
            .collect();
        assert_eq!(
            FsRight::from_flags(AccessFs::from_all(crate_abi)),
            ours,
            "fs ABI {abi}"
        );
        assert_eq!(
            AccessFs::from_all(crate_abi).bits().count_ones() as usize,
            ours.len()
        );
        let ours: Vec<NetRight> = NetRight::ALL
            .into_iter()
            .filter(|r| r.abi() <= abi)
            .collect();
        assert_eq!(
            NetRight::from_flags(AccessNet::from_all(crate_abi)),
            ours,
            "net ABI {abi}"
        );
        assert_eq!(
            AccessNet::from_all(crate_abi).bits().count_ones() as usize,
            ours.len()
        );
        let ours: Vec<ScopeRight> = ScopeRight::ALL
            .into_iter()
            .filter(|r| r.abi() <= abi)
            .collect();
        assert_eq!(
            ScopeRight::from_flags(Scope::from_all(crate_abi)),
            ours,
            "scope ABI {abi}"
        );
        for f in Feature::ALL {
            assert!(f.abi() <= max);
        }
    }
    for r in FsRight::ALL {
        assert_eq!(
            r.applies_to_files(),
            AccessFs::from_file(ABI::from(max as i32)).contains(r.access()),
            "{r:?}"
        );
    }
}

#[test]
fn plan_displays_every_rule_and_serializes() {
    let mut p = bare();
    p.filesystem.binds = vec![bind("/usr", Access::ReadOnly, true, FileKind::Dir)];
    p.network.mode = NetMode::Host;
    p.network.tcp_connect = vec![443];
    p.landlock.scope_signals = true;
    let plan = plan(&p);
    let text = plan.to_string();
    assert!(text.contains("dir  /usr execute,read-file,read-dir [bind read-only (test)]"));
    assert!(text.contains("tcp port 443 connect-tcp"));
    assert!(text.contains("scopes: signal"));
    assert!(text.contains("needs ABI 6"));
    let json = serde_json::to_value(&plan).unwrap();
    // paths[0] is the root listing rule every plan starts with.
    assert_eq!(json["paths"][0]["path"], "/");
    assert_eq!(json["paths"][0]["rights"], serde_json::json!(["read-dir"]));
    assert_eq!(json["paths"][1]["rights"][0], "execute");
    assert_eq!(json["ports"][0]["rights"][0], "connect-tcp");
    assert_eq!(json["scopes"][0], "signal");
}

#[test]
fn without_namespaces_only_named_host_paths_get_rules_and_tcp_is_handled() {
    let mut p = bare();
    p.filesystem.scratch.tmp = true;
    p.filesystem.scratch.shm = true;
    let full = rules(&p);
    assert!(full.iter().any(|r| r.path == std::path::Path::new("/")));
    assert!(!handles_net(&p));
    p.isolation.mode = crate::policy::IsolationMode::Landlock;
    let host = rules(&p);
    assert!(full.iter().any(|r| r.path == std::path::Path::new("/tmp")));
    for gone in ["/", "/tmp", "/dev/shm", "/dev", "/dev/pts"] {
        assert!(
            host.iter().all(|r| r.path != std::path::Path::new(gone)),
            "{gone} must get no rule on the host: {host:#?}"
        );
    }
    let proc_ = rule(&host, "/proc");
    assert!(!proc_.rights.contains(&FsRight::WriteFile));
    // No network namespace: Landlock handles TCP, with no port allowed.
    assert!(handles_net(&p));
    assert!(port_rules(&p).is_empty());
}

#[test]
fn rights_a_kernel_does_not_know_are_named_with_the_abi_they_need() {
    let mut p = bare();
    p.landlock.scope_signals = true;
    let plan = plan(&p);
    // resolve-unix (ABI 9) is granted on writable directories; the scopes need ABI 6.
    let names = |abi| -> Vec<&str> { plan.beyond_abi(abi).into_iter().map(|(n, _)| n).collect() };
    assert!(
        names(7).contains(&"resolve-unix"),
        "{:?}",
        plan.beyond_abi(7)
    );
    assert!(!names(7).contains(&"signal"));
    assert!(names(5).contains(&"signal"));
    assert!(plan.beyond_abi(99).is_empty());
}
