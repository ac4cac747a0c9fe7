//! Writable binds as their owner: started as root, the supervisor prepares, before it drops to
//! the jail's uid, a detached copy of every read-write bind whose owner is not the jail's uid,
//! idmapped so that the directory's owner on the host is the jail's uid inside. The command then
//! creates files that belong on the host to the directory's owner (root for a root-owned
//! project), the host's permissions apply as that owner, and files of any other owner show as
//! nobody's and stay unwritable. The jail's pid 1 attaches the prepared tree instead of cloning
//! the source itself.
//!
//! Only root can make an idmapped mount of a host file system (CAP_SYS_ADMIN over its user
//! namespace), so this runs in the supervisor while it is still root, and never for a caller
//! that is not root (an unprivileged caller's jail already runs as the owner of its own files).
//! A file system the kernel cannot idmap (overlayfs, ramfs, ...) fails the call, naming it: never
//! a chmod or chown instead, and never a bind the command could not write after all.

use super::identity::JailIdentity;
use crate::error::{Error, Result};
use crate::policy::{Access, Bind};
use crate::sys::mount::{self, NODEV, NOEXEC, NOSUID};
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// A prepared tree per bind of the Policy (same order), `None` where pid 1 clones the source
/// itself: read-only binds, binds the jail's uid owns, and every bind of a jail that does not
/// run as a transient uid (a caller that is not root, or root with `--user`).
pub type Trees = Vec<Option<OwnedFd>>;

/// Prepare the idmapped trees of `binds` for the jail `who`. Must run as root, single-threaded,
/// before the drop to `who`.
pub fn prepare(binds: &[Bind], who: &JailIdentity) -> Result<Trees> {
    // `--user NAME` keeps its meaning: the jail is that user, on the host too.
    if !who.transient || !nix::unistd::geteuid().is_root() {
        return Ok(binds.iter().map(|_| None).collect());
    }
    let _span = tracing::debug_span!("idmapped binds").entered();
    let host_root =
        mount::open_host_dir(c"/").map_err(|e| Error::setup("open the host's /", &e))?;
    let mut namespaces: HashMap<(u32, u32), OwnedFd> = HashMap::new();
    let mut trees = Trees::with_capacity(binds.len());
    for bind in binds {
        if bind.access != Access::ReadWrite {
            trees.push(None);
            continue;
        }
        let relative = CString::new(bind.source_below_root().as_os_str().as_bytes())
            .map_err(|_| Error::setup(format!("path {}", bind.source.display()), libc::EINVAL))?;
        // A source that cannot be opened here is left to pid 1, whose step names the problem
        // (missing, a symlink now, unreachable) with the bind's origin.
        let Ok(source) = mount::open_beneath(host_root.as_fd(), &relative, libc::O_PATH, 0) else {
            trees.push(None);
            continue;
        };
        let st = nix::sys::stat::fstat(source.as_raw_fd())
            .map_err(|e| Error::setup(format!("stat {}", bind.source.display()), e as i32))?;
        if st.st_uid == who.uid {
            trees.push(None);
            continue;
        }
        let owner = (st.st_uid, st.st_gid);
        let userns = match namespaces.entry(owner) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let uid_map = format!("{} {} 1\n", owner.0, who.uid);
                let gid_map = format!("{} {} 1\n", owner.1, who.gid);
                let ns = crate::sys::process::userns_with_maps(&uid_map, &gid_map)
                    .map_err(|e| super::userns::idmap_refused(crate::sys::errno_of(&e)))?;
                e.insert(ns)
            }
        };
        let tree = mount::clone_tree(Some(source.as_fd()), c"", true)
            .map_err(|e| Error::setup(format!("clone {}", bind.source.display()), &e))?;
        let mut attrs = NOSUID | NODEV;
        if !bind.exec {
            attrs |= NOEXEC;
        }
        mount::set_attr_idmapped(tree.as_fd(), attrs, userns.as_fd(), true)
            .map_err(|e| refused(bind, &source, owner.0, who.uid, &e))?;
        tracing::debug!(source = %bind.source.display(), owner = owner.0, "idmapped");
        trees.push(Some(tree));
    }
    Ok(trees)
}

/// The error for a bind the kernel would not idmap: which file system, and what to do.
fn refused(bind: &Bind, source: &OwnedFd, owner: u32, jail: u32, e: &std::io::Error) -> Error {
    let fs = nix::sys::statfs::fstatfs(source)
        .map(|s| fs_name(s.filesystem_type().0))
        .unwrap_or_else(|_| "its file system".to_string());
    Error::setup(
        format!("bind {} read-write as its owner", bind.source.display()),
        e,
    )
    .with_hint(format!(
        "{} is on {fs}, which the kernel cannot idmap, so the jail (uid {jail}) could not write \
         it as its owner (uid {owner}); use a directory on ext4, xfs, btrfs or tmpfs, or run \
         with --user set to a user who owns it ({}; `tooljail doctor` lists which mounted file \
         systems can be idmapped)",
        bind.source.display(),
        bind.origin
    ))
}

/// For `doctor` (as root): which mounted file systems the kernel can idmap, tried on one mount
/// point of each type (the pseudo file systems no project lives on are left out). Each entry:
/// (type, mount point, whether an idmapped copy could be made). Nothing is attached anywhere.
pub fn probe_mounts() -> std::io::Result<Vec<(String, String, bool)>> {
    const PSEUDO: &[&str] = &[
        "proc",
        "sysfs",
        "cgroup",
        "cgroup2",
        "devpts",
        "mqueue",
        "debugfs",
        "tracefs",
        "securityfs",
        "pstore",
        "bpf",
        "configfs",
        "fusectl",
        "hugetlbfs",
        "autofs",
        "binfmt_misc",
        "nsfs",
        "efivarfs",
        "devtmpfs",
        "rpc_pipefs",
        "nfsd",
    ];
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut seen = std::collections::BTreeMap::new();
    for line in info.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(point), Some(fstype)) = (fields.get(4), fields.get(dash + 1)) else {
            continue;
        };
        if PSEUDO.contains(fstype) {
            continue;
        }
        seen.entry((*fstype).to_string())
            .or_insert_with(|| point.replace("\\040", " "));
    }
    let nobody = "65534 65534 1\n";
    let userns = crate::sys::process::userns_with_maps(nobody, nobody)?;
    Ok(seen
        .into_iter()
        .map(|(fstype, point)| {
            let ok = mount::clone_tree(
                None,
                &CString::new(point.as_bytes()).unwrap_or_default(),
                false,
            )
            .and_then(|tree| mount::set_attr_idmapped(tree.as_fd(), 0, userns.as_fd(), false))
            .is_ok();
            (fstype, point, ok)
        })
        .collect())
}

/// A file system's name from its statfs magic number, for messages.
pub fn fs_name(magic: i64) -> String {
    let name = match magic {
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x8584_58F6 => "ramfs",
        0x6969 => "nfs",
        0x6573_5546 => "a FUSE file system",
        0x0102_1997 => "9p",
        0x2FC1_2FC1 => "zfs",
        0xFF53_4D42 => "cifs",
        _ => return format!("a file system of type {magic:#x}"),
    };
    name.to_string()
}
