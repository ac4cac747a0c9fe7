//! What the jail refused, in the report's terms (`policy_denials`): the place or rule that
//! refused an exec, a mapping, a write, a connect or a syscall, and the flag or profile key that
//! lifts it, when one does.

use crate::report::{DenialKind, DeniedSyscall, Lift, PolicyDenial};

/// What would allow a denied syscall, and whether a profile can: a profile denial names the
/// allow-list; an always-denied (hardening) rule names its `unsafe_allow` key and why it is
/// there; a number tooljail has no name for cannot be allowed by name.
pub fn syscall_remedy(name: &str, hardening: bool) -> (String, bool) {
    use crate::policy::syscalls::hardening_for_syscall;
    if name == crate::supervisor::notify::UNKNOWN {
        return (
            "cannot be lifted: tooljail has no name for these syscall numbers, and a profile \
             allows syscalls by name"
                .into(),
            false,
        );
    }
    match (hardening, hardening_for_syscall(name)) {
        (true, Some(h)) => (
            format!(
                "always denied ({}); only [syscalls] unsafe_allow = [\"{}\"] lifts it, which \
                 weakens the jail",
                h.why, h.key
            ),
            true,
        ),
        _ => (
            format!("add \"{name}\" to [syscalls] allow if the tool needs it"),
            true,
        ),
    }
}

/// The typed denial for an exec or executable mapping the kernel refused (see
/// `supervisor::observe`): which place has no exec right, and the flag or key that gives it.
pub fn blocked_denial(
    policy: &crate::policy::Policy,
    blocked: &crate::supervisor::observe::Blocked,
) -> PolicyDenial {
    use crate::policy::Place;
    use crate::supervisor::observe::{Attempt, Target};
    let kind = match blocked.attempt {
        Attempt::Exec => DenialKind::Exec,
        Attempt::MapExec => DenialKind::MapExec,
        Attempt::Connect => DenialKind::Connect,
        Attempt::Write => DenialKind::Write,
    };
    let path = match &blocked.target {
        Target::Path(p) => p,
        Target::Address(a) => return connect_denial(policy, *a),
    };
    if kind == DenialKind::Write {
        return write_denial(policy, path);
    }
    let (rule, hint, lift) = match policy.place_of(path) {
        Some(Place::Bind(b)) => (
            format!(
                "{} is bound without exec ({})",
                b.target.display(),
                b.origin
            ),
            format!(
                "to allow it: --exec {} (or exec = true on that bind in the profile)",
                b.source.display()
            ),
            Some(bind_lift("--exec", "executable", b)),
        ),
        Some(Place::Scratch(_)) => (
            "the scratch is not executable".to_string(),
            "to allow it: exec = true in [scratch] of the profile".to_string(),
            Some(Lift {
                flag: None,
                profile: Some("[filesystem.scratch] exec = true".into()),
                origin: None,
            }),
        ),
        None => (
            "the file system is mounted noexec".to_string(),
            "no flag lifts it: run the file from a bind given to --exec".to_string(),
            None,
        ),
    };
    path_denial(kind, path, rule, hint, lift)
}

/// What lifts a refusal by the bind `b`: `flag` given its source, or the `[filesystem]` list
/// `key` naming its target in the profile; the refusing rule's origin is the bind's.
fn bind_lift(flag: &str, key: &str, b: &crate::policy::Bind) -> Lift {
    Lift {
        flag: Some(format!("{flag} {}", b.source.display())),
        profile: Some(format!("[filesystem] {key} = [\"{}\"]", b.target.display())),
        origin: Some(b.origin.clone()),
    }
}

/// The typed denial for a write to a read-only place: the bind and the flag that makes it
/// writable, or the jail's own root, which nothing makes writable.
fn write_denial(policy: &crate::policy::Policy, path: &std::path::Path) -> PolicyDenial {
    use crate::policy::Place;
    let (rule, hint, lift) = match policy.place_of(path) {
        Some(Place::Bind(b)) => (
            format!("{} is bound read-only ({})", b.target.display(), b.origin),
            format!(
                "to allow it: --rw {} (or read_write in [filesystem] of the profile)",
                b.source.display()
            ),
            Some(bind_lift("--rw", "read_write", b)),
        ),
        // The scratch is writable; a write refused there is not a place's doing.
        Some(Place::Scratch(_)) | None => (
            if policy.isolation.mode == crate::policy::IsolationMode::Landlock {
                "no place the profile names holds it: only the scratch and --rw binds are \
                 writable"
                    .to_string()
            } else {
                "the jail's root is read-only: only the scratch and --rw binds are writable"
                    .to_string()
            },
            "cannot be lifted for this path: write to the scratch ($HOME, /tmp), or bind a \
             directory with --rw and write there"
                .into(),
            None,
        ),
    };
    path_denial(DenialKind::Write, path, rule, hint, lift)
}

/// A denial of `kind` on the file at `path`, liftable when something lifts it.
fn path_denial(
    kind: DenialKind,
    path: &std::path::Path,
    rule: String,
    hint: String,
    lift: Option<Lift>,
) -> PolicyDenial {
    PolicyDenial {
        kind,
        path: Some(path.display().to_string()),
        address: None,
        syscall: None,
        rule,
        hint,
        liftable: lift.is_some(),
        lift,
    }
}

/// The typed denial for a refused connect: the network mode, or the port rules.
fn connect_denial(policy: &crate::policy::Policy, to: std::net::SocketAddr) -> PolicyDenial {
    use crate::policy::NetMode;
    if policy.network.egress.is_some() {
        return PolicyDenial {
            kind: DenialKind::Connect,
            path: None,
            address: Some(to.to_string()),
            syscall: None,
            rule: format!(
                "the jail's network has only lo: it reaches out only through the egress proxy on 127.0.0.1:{}",
                crate::policy::PROXY_PORT
            ),
            hint: "use the proxy (HTTP_PROXY, HTTPS_PROXY and ALL_PROXY point to it) with a name \
                   in [network] allow_domains; a tool that ignores those variables gets no network"
                .to_string(),
            liftable: true,
            lift: Some(Lift {
                flag: Some(format!("--allow-domain {}", to.ip())),
                profile: Some(format!("[network] allow_domains = [\"{}\"], through the proxy", to.ip())),
                origin: None,
            }),
        };
    }
    let (rule, hint) = match policy.network.mode {
        NetMode::None | NetMode::Loopback => (
            format!(
                "network mode \"{}\": the jail's network has only lo",
                if policy.network.mode == NetMode::None {
                    "none"
                } else {
                    "loopback"
                }
            ),
            "to allow it: a profile with [network] mode = \"host\" and the port in \
             tcp_connect (the shipped `http` profile: 80 and 443)"
                .to_string(),
        ),
        NetMode::Host => (
            format!("TCP port {} is not in [network] tcp_connect", to.port()),
            format!(
                "to allow it: add {} to [network] tcp_connect in the profile",
                to.port()
            ),
        ),
    };
    let lift = match policy.network.mode {
        NetMode::None | NetMode::Loopback => Lift {
            flag: None,
            profile: Some(format!(
                "[network] mode = \"host\" and tcp_connect = [{}]",
                to.port()
            )),
            origin: None,
        },
        NetMode::Host => Lift {
            flag: None,
            profile: Some(format!("[network] tcp_connect = [{}]", to.port())),
            origin: None,
        },
    };
    PolicyDenial {
        kind: DenialKind::Connect,
        path: None,
        address: Some(to.to_string()),
        syscall: None,
        rule,
        hint,
        liftable: true,
        lift: Some(lift),
    }
}

/// The typed denial for a syscall the filter denied (one per name, as in `denied_syscalls`);
/// `hardening`: an always-denied rule refused it, not the profile's allow-list.
pub fn syscall_denial(d: &DeniedSyscall, hardening: bool) -> PolicyDenial {
    let rule = if hardening {
        "an always-denied hardening rule"
    } else {
        "not in the profile's [syscalls] allow"
    };
    let liftable = d.liftable.unwrap_or(false);
    let key = crate::policy::syscalls::hardening_for_syscall(&d.name)
        .filter(|_| hardening)
        .map(|h| h.key);
    let lift = liftable.then(|| Lift {
        flag: None,
        profile: Some(match key {
            Some(key) => format!("[syscalls] unsafe_allow = [\"{key}\"]"),
            None => format!("[syscalls] allow = [\"{}\"]", d.name),
        }),
        origin: None,
    });
    PolicyDenial {
        kind: DenialKind::Syscall,
        path: None,
        address: None,
        syscall: Some(d.name.clone()),
        rule: rule.to_string(),
        hint: d.remedy.clone(),
        liftable,
        lift,
    }
}
