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
/// nobody and transient uids), before creating any namespace: the jail then takes exactly the
/// unprivileged path, host file permissions apply as that user's, RLIMIT_NPROC counts against
/// it, and no host-root power (CAP_* in the initial user namespace, root-owned files,
/// /proc/sys) is in reach once the jail runs. Non-dumpable from here on, whatever
/// `fs.suid_dumpable` says. A no-op for a non-root caller (`who` is then the caller):
/// `Ok(None)`.
///
/// `for_maps` (the full jail): the capabilities that open the jail's id-map files outlive the
/// change, in the permitted set only ([`MapsCap`]); they are gone, and checked gone, before
/// the jail is released. Without `for_maps` every capability set is emptied and checked empty,
/// as for the jail of `isolation = "landlock"`.
pub fn become_jail_user(who: &JailIdentity, for_maps: bool) -> Result<Option<MapsCap>> {
    if !nix::unistd::getuid().is_root() && !nix::unistd::geteuid().is_root() {
        return Ok(None);
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
    // With keep-caps set, the uid change clears the effective and ambient sets but leaves the
    // permitted one; from the change on, a MapsCap guards it (dropped on any failure, it
    // empties every set), keep-caps is cleared and the sets are cut to what MapsCap keeps.
    if for_maps {
        nix::sys::prctl::set_keepcaps(true).map_err(fail("keep capabilities"))?;
    }
    nix::unistd::setresuid(u, u, u).map_err(fail("setresuid"))?;
    let kept = if for_maps {
        let guard = MapsCap { uid: who.uid };
        nix::sys::prctl::set_keepcaps(false).map_err(fail("keep capabilities"))?;
        Some(guard.keep()?)
    } else {
        // Also when the caller's securebits kept them across the change (no-setuid-fixup).
        clear_all()?;
        None
    };
    if nix::unistd::geteuid().is_root() || nix::unistd::getegid().as_raw() == 0 {
        return Err(Error::setup("become the jail's user (verify)", libc::EPERM));
    }
    // Changing uid made us non-dumpable (unless fs.suid_dumpable is 1: then made so here), and
    // we stay so: every other process of this uid on the host must not read our memory or
    // environment (the root caller's), take our fds (pidfd_getfd: the audit log, the report
    // sink, the seccomp listener) or ptrace us. A root caller's jail gets its id maps written
    // through the capabilities kept above, so the supervisor is never dumpable again; only an
    // unprivileged caller's clone briefly needs it.
    nix::sys::prctl::set_dumpable(false).map_err(fail("set non-dumpable"))?;
    Ok(kept)
}

/// The capabilities a supervisor started as root holds, in the permitted set only, from its
/// uid change until the jail's id maps are written ([`MapsCap::write_maps`]): CAP_DAC_OVERRIDE,
/// and CAP_SYS_PTRACE when the caller had it. Dropped, every capability set is emptied (the
/// supervisor then holds no capability at all); if that fails, the process ends at once.
///
/// Why they are needed, and why they are enough: the jail's pid 1 is non-dumpable from birth
/// (a dumpable task could be read and robbed by any host process of the jail's uid), and the
/// /proc/PID/uid_map, setgroups and gid_map files of a non-dumpable task belong to root
/// (CAP_DAC_OVERRIDE opens them); where /proc is mounted with `hidepid`, /proc/PID of a
/// non-dumpable task is only visible with CAP_SYS_PTRACE. The maps themselves (`0 <jail uid>
/// 1`) are what the owner of the jail's user namespace may write unprivileged. Both are raised
/// into the effective set for the three opens alone, before the supervisor starts a thread or
/// reads anything of the jail's and before pid 1 is released (until then it runs only
/// its own setup). Pid 1 inherits none of them: the kernel gives the first process of a new
/// user namespace a fresh set of capabilities of that namespace, and fresh securebits.
#[derive(Debug)]
pub struct MapsCap {
    uid: u32,
}

/// What [`MapsCap`] keeps: CAP_DAC_OVERRIDE, which it needs, and CAP_SYS_PTRACE if held.
fn maps_caps() -> Result<caps::CapsHashSet> {
    let permitted = caps::read(None, caps::CapSet::Permitted).map_err(|e| {
        Error::setup("read capabilities", libc::EPERM).with_hint(format!("the kernel refused: {e}"))
    })?;
    if !permitted.contains(&caps::Capability::CAP_DAC_OVERRIDE) {
        return Err(Error::setup(
            "keep CAP_DAC_OVERRIDE to write the jail's id maps",
            libc::EPERM,
        )
        .with_hint(
            "tooljail started as root needs CAP_DAC_OVERRIDE (its jail's pid 1 is non-dumpable, \
             so its /proc files are root's); give the process that capability",
        ));
    }
    Ok([
        caps::Capability::CAP_DAC_OVERRIDE,
        caps::Capability::CAP_SYS_PTRACE,
    ]
    .into_iter()
    .filter(|c| permitted.contains(c))
    .collect())
}

impl MapsCap {
    /// Cut the capability sets to [`maps_caps`], permitted only, and check them. Dropped on
    /// failure, which empties every set.
    fn keep(self) -> Result<MapsCap> {
        let uid = self.uid;
        let fail = |what: &str| {
            let what = what.to_string();
            move |e: caps::errors::CapsError| {
                Error::setup(format!("become uid {uid} ({what})"), libc::EPERM)
                    .with_hint(format!("the kernel refused: {e}"))
            }
        };
        let only = maps_caps()?;
        caps::clear(None, caps::CapSet::Effective).map_err(fail("clear effective capabilities"))?;
        caps::clear(None, caps::CapSet::Ambient).map_err(fail("clear ambient capabilities"))?;
        caps::clear(None, caps::CapSet::Inheritable)
            .map_err(fail("clear inheritable capabilities"))?;
        caps::set(None, caps::CapSet::Permitted, &only)
            .map_err(fail("keep only what writes the id maps"))?;
        let held = |set| caps::read(None, set).map_err(fail("read capabilities"));
        if held(caps::CapSet::Permitted)? != only || !held(caps::CapSet::Effective)?.is_empty() {
            return Err(Error::setup(
                format!("become uid {uid} (verify capabilities)"),
                libc::EPERM,
            ));
        }
        Ok(self)
    }

    /// Write the jail's id maps (`0 <uid> 1`, `0 <gid> 1`) for `pid`, our clone, with the kept
    /// capabilities raised for the opens, then drop them and check that no capability is left
    /// (the process ends at once if one is). Fails if the maps could not be written.
    pub fn write_maps(self, pid: i32, gid: u32) -> Result<()> {
        let root = |outside| IdMap { inside: 0, outside };
        let (uid, path) = (self.uid, pid.to_string());
        // Capabilities are per thread: the supervisor's threads start after this (run_in), and
        // supervisor_hardening reads every thread's sets while the jail runs.
        let kept = caps::read(None, caps::CapSet::Permitted).unwrap_or_default();
        let written = caps::set(None, caps::CapSet::Effective, &kept)
            .map_err(|e| {
                Error::setup(
                    "raise the capabilities that write the jail's id maps",
                    libc::EPERM,
                )
                .with_hint(format!("the kernel refused: {e}"))
            })
            .and_then(|()| write_id_maps(&path, root(uid), root(gid)))
            .map_err(|e| match e.errno {
                Some(libc::ENOENT | libc::EACCES | libc::EPERM)
                    if !caps::has_cap(
                        None,
                        caps::CapSet::Effective,
                        caps::Capability::CAP_SYS_PTRACE,
                    )
                    .unwrap_or(false) =>
                {
                    e.with_hint(
                        "with /proc mounted hidepid, the non-dumpable pid 1 is visible only with \
                         CAP_SYS_PTRACE: give tooljail that capability, or mount /proc without \
                         hidepid",
                    )
                }
                _ => e,
            });
        // `Drop` empties every set now, before anything of the jail is read.
        drop(self);
        written
    }
}

/// Empty the ambient, inheritable and permitted (and so the effective) sets; check that every
/// set is empty.
fn clear_all() -> Result<()> {
    let fail = |e: caps::errors::CapsError| {
        Error::setup("drop the supervisor's last capability", libc::EPERM)
            .with_hint(format!("the kernel refused: {e}"))
    };
    for set in [
        caps::CapSet::Ambient,
        caps::CapSet::Inheritable,
        caps::CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(fail)?;
    }
    // Three capget(2)s. The ambient set needs no read of its own (the caps crate would probe
    // every capability, 82 prctl(2)s): the kernel keeps it within permitted and inheritable,
    // both checked empty here.
    for set in [
        caps::CapSet::Permitted,
        caps::CapSet::Effective,
        caps::CapSet::Inheritable,
    ] {
        if !caps::read(None, set).map_err(fail)?.is_empty() {
            return Err(Error::setup(
                format!("drop the supervisor's last capability (verify {set:?})"),
                libc::EPERM,
            ));
        }
    }
    Ok(())
}

impl Drop for MapsCap {
    /// After the maps, or instead of them (the call failed before): every capability goes. A
    /// drop cannot return a failure, so a capability that would not go ends the process at
    /// once, before anything of the jail is read.
    fn drop(&mut self) {
        if let Err(e) = clear_all() {
            crate::shown::say(&e.to_string());
            std::process::abort();
        }
    }
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
