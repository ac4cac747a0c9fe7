//! Who the jail runs as: root drops to a transient uid of its own (or `--user`) before any
//! namespace exists, and the jail's user namespace maps our uid/gid to the same ids inside (no
//! uid 0 mapping).

use super::transient::{self, Lease, UidRange};
use crate::error::{Error, Result};
use crate::host::userdb::{self, Key};
use nix::unistd::{Gid, Uid};

/// nobody:nogroup on Debian and most distributions.
const NOBODY: u32 = 65534;

/// Who the jail runs as on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailIdentity {
    pub uid: u32,
    pub gid: u32,
    pub user: Option<String>,
    /// A uid of the transient range, taken for this call alone (see [`super::transient`]).
    pub transient: bool,
}

/// Resolve `--user NAME|UID` before the Policy and before any namespace exists, so a bad value
/// fails before anything is built (the report and audit record then say why).
///
/// Who may choose: only a caller whose *real* uid is 0. A non-root caller gets `--user`
/// refused, and runs the jail as itself (also if the binary was wrongly installed setuid-root:
/// the effective uid never lets a user pick someone else). `None` from root: a transient
/// uid:gid of its own, held by the returned [`Lease`] (keep it until the jail is gone).
/// Refused targets: uid 0, a primary gid 0 (the root group opens root-group files on the
/// host), and a uid or name the user database does not know (its group would be a guess).
pub fn resolve(spec: Option<&str>) -> Result<(JailIdentity, Option<Lease>)> {
    if spec.is_none() && nix::unistd::getuid().is_root() {
        let lease = transient::allocate(UidRange::configured()?)?;
        let who = JailIdentity {
            uid: lease.uid,
            gid: lease.uid,
            user: None,
            transient: true,
        };
        return Ok((who, Some(lease)));
    }
    resolve_named(spec).map(|who| (who, None))
}

/// [`resolve`] for everything but the transient uid: the caller itself, or `--user`.
fn resolve_named(spec: Option<&str>) -> Result<JailIdentity> {
    let usage = |m: String, hint: &str| Error::usage(m).with_hint(hint.to_string());
    let caller = nix::unistd::getuid();
    match (spec, caller.is_root()) {
        (Some(s), false) => Err(usage(
            format!("--user {s}: only root can run the jail as another user"),
            "drop --user (the jail runs as you), or start tooljail as root",
        )),
        (None, _) => Ok(JailIdentity {
            uid: caller.as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            user: crate::host::caller_account().map(|u| u.name.clone()),
            transient: false,
        }),
        (Some(s), true) => {
            let key = match s.parse::<u32>() {
                Ok(n) => Key::Uid(n),
                Err(_) => Key::Name(s),
            };
            let user = userdb::account(key)
                .map_err(|e| usage(format!("--user {s}: {e}"), "check the user database"))?
                .ok_or_else(|| {
                    usage(
                        format!("--user {s}: no such user"),
                        "give a name or uid from /etc/passwd",
                    )
                })?;
            if user.uid == 0 {
                return Err(usage(
                    format!("--user {s}: the jail never runs as root"),
                    "name an unprivileged user, or drop --user to run as a uid of its own",
                ));
            }
            if user.gid == 0 {
                return Err(usage(
                    format!(
                        "--user {s}: its primary group is root (gid 0); the jail never runs in the root group"
                    ),
                    "give the user another primary group, or name another user",
                ));
            }
            Ok(JailIdentity {
                uid: user.uid,
                gid: user.gid,
                user: Some(user.name),
                transient: false,
            })
        }
    }
}

/// When started as root (real or effective uid 0), become `who` irrevocably (real, effective
/// and saved ids), with the supplementary groups the user database gives `who` (none for
/// nobody and transient uids), before creating any namespace: the jail then takes exactly the unprivileged path,
/// host file permissions apply as that user's, RLIMIT_NPROC counts against it, and no host-root
/// power (CAP_* in the initial user namespace, root-owned files, /proc/sys) is ever in reach.
/// A no-op for a non-root caller (`who` is then the caller).
pub fn become_jail_user(who: &JailIdentity) -> Result<()> {
    if !nix::unistd::getuid().is_root() && !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let fail = |what: &'static str| {
        move |e: nix::errno::Errno| {
            Error::setup(format!("become uid {} ({what})", who.uid), e as i32).with_hint(
                "tooljail started as root runs the jail as --user, or as a transient uid",
            )
        }
    };
    let (u, g) = (Uid::from_raw(who.uid), Gid::from_raw(who.gid));
    let groups = match (&who.user, who.uid) {
        (Some(name), uid) if uid != NOBODY && !who.transient => {
            let lookup = |e: std::io::Error| {
                Error::usage(format!("the groups of {name}: {e}"))
                    .with_hint("check the user database (/etc/passwd, /etc/group)")
            };
            let account = userdb::account(Key::Name(name))
                .map_err(lookup)?
                .ok_or_else(|| {
                    Error::usage(format!("user {name}: no longer in the user database"))
                })?;
            // The primary group is the identity's (what getgrouplist(3) is given).
            userdb::groups(&account.with_gid(who.gid))
                .map_err(lookup)?
                .into_iter()
                .map(Gid::from_raw)
                .collect()
        }
        _ => Vec::new(),
    };
    if groups.iter().any(|g| g.as_raw() == 0) {
        return Err(Error::usage(format!(
            "--user {}: a member of the root group (gid 0); the jail never runs in it",
            who.user.as_deref().unwrap_or("?")
        ))
        .with_hint("remove the user from the root group, or name another user"));
    }
    nix::unistd::setgroups(&groups).map_err(fail("setgroups"))?;
    nix::unistd::setresgid(g, g, g).map_err(fail("setresgid"))?;
    nix::unistd::setresuid(u, u, u).map_err(fail("setresuid"))?;
    if nix::unistd::geteuid().is_root() || nix::unistd::getegid().as_raw() == 0 {
        return Err(Error::setup("become the jail's user (verify)", libc::EPERM));
    }
    // Changing uid made us non-dumpable, and we stay so: every other process of this uid on the
    // host must not read our memory or environment (the root caller's), take our fds
    // (pidfd_getfd: the audit log, the report sink, the seccomp listener) or ptrace us. A root
    // caller's jail gets its id maps from a helper that stays root (supervisor::mapper), so the
    // supervisor is never dumpable again; only an unprivileged caller's clone briefly needs it.
    Ok(())
}

/// One single-id mapping of a user namespace: `inside` there is `outside` in its parent.
#[derive(Debug, Clone, Copy)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
}

/// Write the id maps of the user namespace of `/proc/{proc_pid}` (a pid, or `self`): the uid
/// map, setgroups "deny" (required before an unprivileged gid_map, and it keeps the jail from
/// dropping a group that denies access), the gid map. Single ids only: what an unprivileged
/// writer may map.
///
/// Two callers: the supervisor maps the jail's (outer) namespace host ids -> 0, so pid 1 is
/// uid 0 there and owns the jail's IPC namespace, the one id the kernel lets set its limits
/// (`kernel.shmall`, ...); the command maps its own (inner) namespace 0 -> host ids
/// (`jail::exec`), so inside the jail `id` shows the caller's uid and gid.
pub fn write_id_maps(proc_pid: &str, uid: IdMap, gid: IdMap) -> Result<()> {
    let write = |file: &str, content: String| {
        std::fs::write(format!("/proc/{proc_pid}/{file}"), content)
            .map_err(|e| Error::setup(format!("write /proc/{proc_pid}/{file}"), &e))
    };
    write("uid_map", format!("{} {} 1\n", uid.inside, uid.outside))?;
    write("setgroups", "deny\n".to_string())?;
    write("gid_map", format!("{} {} 1\n", gid.inside, gid.outside))
}
