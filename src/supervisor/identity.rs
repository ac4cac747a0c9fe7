//! Who the jail runs as: root drops to nobody before any namespace exists, and the jail's user
//! namespace maps our uid/gid to the same ids inside (no uid 0 mapping).

use crate::error::{Error, Result};
use nix::unistd::{Gid, Uid};

/// nobody:nogroup on Debian and most distributions.
const NOBODY: u32 = 65534;

/// When started as root (real or effective uid 0), become nobody:nogroup with no supplementary
/// groups, irrevocably (real, effective and saved ids), before creating any namespace: the jail
/// then takes exactly the unprivileged path, RLIMIT_NPROC counts against nobody, and no host-root
/// power (CAP_* in the initial user namespace, root-owned files, /proc/sys) is ever in reach.
pub fn drop_root_if_needed() -> Result<()> {
    if !nix::unistd::getuid().is_root() && !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let fail = |what: &'static str| {
        move |e: nix::errno::Errno| {
            Error::setup(format!("drop root to nobody ({what})"), e as i32)
                .with_hint("tooljail started as root runs the jail as uid/gid 65534")
        }
    };
    nix::unistd::setgroups(&[]).map_err(fail("setgroups"))?;
    let (u, g) = (Uid::from_raw(NOBODY), Gid::from_raw(NOBODY));
    nix::unistd::setresgid(g, g, g).map_err(fail("setresgid"))?;
    nix::unistd::setresuid(u, u, u).map_err(fail("setresuid"))?;
    if nix::unistd::geteuid().is_root() || nix::unistd::getegid().as_raw() == 0 {
        return Err(Error::setup("drop root to nobody (verify)", libc::EPERM));
    }
    // Changing uid made us non-dumpable, which would leave /proc/PID of the child owned by
    // root and its uid_map unwritable for us. We hold no secret worth hiding from nobody.
    nix::sys::prctl::set_dumpable(true)
        .map_err(|e| Error::setup("drop root to nobody (set dumpable)", e as i32))?;
    Ok(())
}

/// Write the jail's id maps: `uid uid 1`, setgroups "deny" (required before an unprivileged
/// gid_map, and it keeps the jail from dropping a group that denies access), `gid gid 1`.
pub fn write_id_maps(pid: i32, uid: u32, gid: u32) -> Result<()> {
    let write = |file: &str, content: String| {
        std::fs::write(format!("/proc/{pid}/{file}"), content).map_err(|e| {
            Error::setup(
                format!("write /proc/{pid}/{file}"),
                crate::sys::errno_of(&e),
            )
        })
    };
    write("uid_map", format!("{uid} {uid} 1\n"))?;
    write("setgroups", "deny\n".to_string())?;
    write("gid_map", format!("{gid} {gid} 1\n"))
}
