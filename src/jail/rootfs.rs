//! The jail's new root: a tmpfs holding only the Policy's binds, a fresh masked /proc, a minimal
//! /dev and the scratch tmpfs; then pivot_root into it.
//!
//! Every mount is built detached (open_tree / fsmount), gets its flags recursively in one
//! mount_setattr call, and is attached with move_mount onto an fd opened by openat2 with
//! RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS below the new root: a symlink planted inside an earlier
//! read-write bind fails the step (ELOOP) instead of redirecting a later mount onto the host.

use super::step;
use crate::error::{Error, Result};
use crate::plan::limits::{IpcCaps, USERNS_CAPS};
use crate::policy::{Access, Bind, FileKind, Policy};
use crate::sys::mount::{self, NODEV, NOEXEC, NOSUID, RDONLY};
use nix::sys::stat::Mode;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// Where the new root's tmpfs is attached while it is built. This happens in the jail's private
/// mount namespace only (propagation is private): nothing shows on the host, and the host's /tmp
/// is only hidden from us after every bind source has been cloned.
const BUILD_AT: &str = "/tmp";

/// Files of /proc that leak host information or act on the host: /dev/null is bound over them
/// (the list runc and Docker mask).
const PROC_MASKED_FILES: &[&str] = &[
    "kcore",
    "keys",
    "latency_stats",
    "timer_list",
    "timer_stats",
    "sched_debug",
    "sysrq-trigger",
    // The host's boot identity and kernel command line: a stable fingerprint of the machine
    // (and the command line can hold secrets some setups pass at boot) that no tool needs.
    "cmdline",
    "sys/kernel/random/boot_id",
];
/// Directories of /proc hidden under an empty read-only tmpfs.
const PROC_MASKED_DIRS: &[&str] = &["acpi", "asound", "scsi"];
/// Directories of /proc made read-only (recursively).
const PROC_READ_ONLY: &[&str] = &["sys", "irq", "bus", "fs"];

fn c(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::setup(format!("path {}", path.display()), libc::EINVAL))
}

/// What each bind of the new root attaches, in the Policy's order: taken by [`sources`], used
/// by [`build`].
pub struct Sources(Vec<Source>);

/// Steps 1 and 2 of the new root: this mount namespace made private, and a detached copy of
/// every bind's source (or what stands for it: the supervisor's idmapped copy, a link into
/// another bind). Nothing here needs the jail's id maps: mounts are copied and paths resolved
/// as the host uid, which the maps do not change (and before them no capability of ours
/// overrides a file's permissions), so pid 1 takes the sources while the maps are still being
/// written. `trees`: one slot per bind, the supervisor's idmapped copy (flags already set)
/// where it made one.
pub fn sources(
    policy: &Policy,
    host_uid: u32,
    trees: crate::supervisor::idmap::Trees,
) -> Result<Sources> {
    let _span = tracing::debug_span!("bind sources").entered();
    // 1. Nothing we mount may propagate back to the host (mount --make-rprivate /).
    mount::make_rprivate_root().map_err(step("make / private"))?;

    // 2. Detached copies of every bind source, taken while the host tree is whole; a bind that
    //    is already part of another one becomes a symlink to it (alias.rs), once that place is
    //    checked to be a real directory in the other bind's copy.
    let host_root = mount::open_host_dir(c"/").map_err(step("open the host's /"))?;
    let aliases = super::alias::aliases(policy);
    let mut trees = trees.into_iter();
    let binds = &policy.filesystem.binds;
    let sources = binds
        .iter()
        .zip(&aliases)
        .map(|(bind, alias)| match (trees.next().flatten(), alias) {
            (Some(tree), _) => Ok(Source::Prepared(tree)),
            (None, Some(alias)) => Ok(Source::Alias(alias.link.clone())),
            (None, None) => clone_source(host_root.as_fd(), bind, host_uid).map(Source::Cloned),
        })
        .collect::<Result<Vec<_>>>()?;
    drop(host_root);
    for (bind, alias) in binds.iter().zip(&aliases) {
        let Some(alias) = alias else { continue };
        let Some(Source::Cloned(holder)) = sources.get(alias.holder) else {
            return Err(Error::setup(bind_step(bind), libc::EINVAL)
                .with_hint("the bind it lies in was not copied; this is a tooljail bug"));
        };
        mount::open_beneath(
            holder.as_fd(),
            &c(&alias.below)?,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
        .map_err(|e| source_error(bind, crate::sys::errno_of(&e), host_uid))?;
    }
    Ok(Sources(sources))
}

/// Build the rest of the new root from `policy` and the [`sources`] of its binds, and pivot
/// into it. On return the process's root is the new root, the host's file system is no longer
/// reachable, and the cwd is "/". Needs the jail's id maps (files are made in the new tmpfs).
pub fn build(policy: &Policy, ipc: Option<IpcCaps>, sources: Sources) -> Result<()> {
    let _span = tracing::debug_span!("rootfs").entered();
    // 3. The new root: a small tmpfs, attached over /tmp of this namespace while it is built.
    let root = mount::new_fs(
        "tmpfs",
        &[
            ("mode", Some("0755")),
            ("size", Some("1m")),
            ("nr_inodes", Some("16k")),
        ],
        NOSUID | NODEV,
    )
    .map_err(step("create the new root (tmpfs)"))?;
    let at = mount::open_host_dir(c(Path::new(BUILD_AT))?.as_c_str())
        .map_err(step(format!("open {BUILD_AT} to build the new root on")))?;
    mount::attach(root.as_fd(), at.as_fd())
        .map_err(step(format!("attach the new root at {BUILD_AT}")))?;
    drop(at);

    // 4. The scratch tmpfs: one size cap for the work dir, /tmp and /dev/shm. First, so that a
    //    bind below /tmp (or below the work dir) lands on top of it instead of being hidden.
    let scratch = mount_scratch(root.as_fd(), policy)?;

    // 5. The Policy's binds, parents before children (a stable sort by depth guarantees it even
    //    if the Policy lists a child first, which would hide the child under its parent).
    //    Binds side by side in one directory (the /etc files) share one open of it.
    let mut binds: Vec<_> = policy.filesystem.binds.iter().zip(sources.0).collect();
    binds.sort_by_key(|(bind, _)| bind.target.components().count());
    let mut held = None;
    for (bind, src) in binds {
        attach_bind(root.as_fd(), bind, src, &mut held)?;
    }
    drop(held);

    // 6. A fresh /proc of the jail's pid namespace, with host-revealing files masked.
    mount_proc(root.as_fd(), ipc)?;

    // 7. A minimal /dev: the Policy's device nodes, std symlinks, devpts, /dev/shm; read-only.
    mount_dev(root.as_fd(), policy, Some(&scratch))?;
    drop(scratch);

    // 8. The new root's own tmpfs becomes read-only (binds keep their own flags).
    mount::set_attr(root.as_fd(), RDONLY, 0, false).map_err(step("make the new root read-only"))?;

    // 9. pivot_root into it and detach the host's tree.
    mount::pivot_into(root.as_fd()).map_err(step("pivot_root into the new root"))?;
    Ok(())
}

/// Step 2: a detached, recursive copy of a bind's source. The Policy's source is canonical, so
/// it is opened without following any symlink: if a component became a symlink since the Policy
/// was resolved (say, planted by an earlier run in a directory it could write), the step fails
/// instead of binding whatever the link now points at.
fn clone_source(host_root: BorrowedFd<'_>, bind: &Bind, host_uid: u32) -> Result<OwnedFd> {
    mount::open_beneath(host_root, &c(bind.source_below_root())?, libc::O_PATH, 0)
        .and_then(|fd| mount::clone_tree(Some(fd.as_fd()), c"", true))
        .map_err(|e| source_error(bind, crate::sys::errno_of(&e), host_uid))
}

/// The error of a bind whose source could not be reached, with what to do about it.
fn source_error(bind: &Bind, errno: i32, host_uid: u32) -> Error {
    let err = Error::setup(bind_step(bind), errno);
    match errno {
        libc::ENOENT => err.with_hint(format!(
            "{} does not exist on the host; create it or remove it ({})",
            bind.source.display(),
            bind.origin
        )),
        libc::ELOOP => err.with_hint(format!(
            "{} holds a symlink now, but the Policy resolved it to a real path; check who \
                 changed it ({})",
            bind.source.display(),
            bind.origin
        )),
        libc::EACCES => err.with_hint(format!(
            "the jail runs as uid {host_uid} on the host, which cannot reach {}; make it \
                     readable by that user (started as root without --user, tooljail runs as a \
                     transient uid of its own, which reads what others may read), or remove it \
                     ({})",
            bind.source.display(),
            bind.origin
        )),
        _ => err,
    }
}

fn bind_step(bind: &Bind) -> String {
    let access = match bind.access {
        Access::ReadOnly => "read-only",
        Access::ReadWrite => "read-write",
    };
    if bind.source == bind.target {
        format!("bind {} {access}", bind.source.display())
    } else {
        format!(
            "bind {} at {} {access}",
            bind.source.display(),
            bind.target.display()
        )
    }
}

/// A bind's detached source: cloned by pid 1, or prepared (idmapped, flags set) by the
/// supervisor while it was root; this namespace could not change the flags of the latter.
enum Source {
    Cloned(OwnedFd),
    Prepared(OwnedFd),
    /// Already in the jail, inside another bind: a symlink to this path (alias.rs).
    Alias(std::path::PathBuf),
}

/// Step 5: flag the detached copy (recursively: submounts get the same flags), then attach it.
fn attach_bind(
    root: BorrowedFd<'_>,
    bind: &Bind,
    src: Source,
    held: &mut Option<Parent>,
) -> Result<()> {
    let src = match src {
        Source::Alias(link) => return link_bind(root, bind, &link),
        Source::Prepared(tree) => tree,
        Source::Cloned(tree) => {
            let mut attrs = NOSUID | NODEV;
            if !bind.exec {
                attrs |= NOEXEC;
            }
            if bind.access == Access::ReadOnly {
                attrs |= RDONLY;
            }
            mount::set_attr(tree.as_fd(), attrs, 0, true).map_err(|e| step(bind_step(bind))(e))?;
            tree
        }
    };
    let target = mount_point_held(root, &bind.target, bind.kind, held).map_err(|e| {
        let err = Error::setup(format!("create mount point {}", bind.target.display()), &e);
        if e.raw_os_error() == Some(libc::ELOOP) {
            err.with_hint(
                "a symlink sits on the path of the mount point (inside an earlier bind); remove it",
            )
        } else {
            err
        }
    })?;
    mount::attach(src.as_fd(), target.as_fd()).map_err(|e| step(bind_step(bind))(e))
}

/// The parent directory of step 5's last mount point, kept open for the next bind in it.
///
/// Its fd stays right for every later bind: binds are attached shallowest first, so all the
/// mounts that could lie on this directory's path (fewer components than a target in it) are
/// attached before it is opened, and the binds after it, as deep or deeper, never mount on it.
/// (Should the host rename this directory inside a writable bind's source meanwhile, the next
/// bind still lands in the directory opened, in the same bind, never outside it: the walk it
/// saves was no more atomic, one component at a time.)
struct Parent {
    path: std::path::PathBuf,
    fd: OwnedFd,
}

/// [`mount_point`], opening the target's parent only when it is not the one `held` (which then
/// holds this parent). The same walk, one step shorter: the held fd was opened by that walk.
fn mount_point_held(
    root: BorrowedFd<'_>,
    target: &Path,
    kind: FileKind,
    held: &mut Option<Parent>,
) -> io::Result<OwnedFd> {
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return mount_point(root, target, kind);
    };
    if parent == Path::new("/") {
        return mount_point(root, target, kind);
    }
    let name =
        CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let dir = match held {
        Some(h) if h.path == parent => h,
        _ => held.insert(Parent {
            path: parent.to_path_buf(),
            fd: mount_point(root, parent, FileKind::Dir)?,
        }),
    };
    last_mount_point(dir.fd.as_fd(), &name, kind)
}

/// Step 5 for a bind that is part of another one: a symlink at its target, naming the place in
/// the jail where its tree already is. The parents are made as for a mount point (never through
/// a symlink); the root is made read-only later, links included.
fn link_bind(root: BorrowedFd<'_>, bind: &Bind, link: &Path) -> Result<()> {
    let what = || format!("{} (as a link to {})", bind_step(bind), link.display());
    let name = bind
        .target
        .file_name()
        .ok_or_else(|| Error::setup(what(), libc::EINVAL))?;
    let parent = match bind.target.parent() {
        Some(p) if p != Path::new("/") => {
            Some(mount_point(root, p, FileKind::Dir).map_err(step(what()))?)
        }
        _ => None,
    };
    let dir = parent.as_ref().map_or(root, |d| d.as_fd());
    nix::unistd::symlinkat(link, Some(dir.as_raw_fd()), name).map_err(|e| step(what())(e.into()))
}

/// Open (creating it if missing) the mount point `target` (an absolute path inside the jail)
/// below `root`, one component at a time, never following a symlink: every component is opened
/// with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) relative to its parent's fd, and mkdirat
/// and O_CREAT|O_EXCL never follow one either.
fn mount_point(root: BorrowedFd<'_>, target: &Path, kind: FileKind) -> io::Result<OwnedFd> {
    let einval = || io::Error::from_raw_os_error(libc::EINVAL);
    let mut names = Vec::new();
    for comp in target.components() {
        match comp {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => names.push(CString::new(n.as_bytes()).map_err(|_| einval())?),
            Component::ParentDir | Component::Prefix(_) => return Err(einval()),
        }
    }
    let Some((last, parents)) = names.split_last() else {
        return Err(einval());
    };
    let dir_flags = libc::O_PATH | libc::O_DIRECTORY;
    // Each parent is opened below the one before; the first below `root` itself.
    let mut opened: Option<OwnedFd> = None;
    for name in parents {
        let parent = opened.as_ref().map_or(root, |d| d.as_fd());
        mkdir_if_missing(parent, name, 0o755)?;
        let next = mount::open_beneath(parent, name, dir_flags, 0)?;
        opened = Some(next);
    }
    last_mount_point(opened.as_ref().map_or(root, |d| d.as_fd()), last, kind)
}

/// The last step of [`mount_point`]: `name` in `dir`, made when missing, as a directory or an
/// empty file.
fn last_mount_point(dir: BorrowedFd<'_>, name: &CString, kind: FileKind) -> io::Result<OwnedFd> {
    match kind {
        FileKind::Dir => {
            mkdir_if_missing(dir, name, 0o755)?;
            mount::open_beneath(dir, name, libc::O_PATH | libc::O_DIRECTORY, 0)
        }
        FileKind::File => file_mount_point(dir, name),
    }
}

/// The file `name` in `dir` to mount a file on: made empty when missing (the fd of the new
/// file serves as the mount point: move_mount takes any fd of it), opened O_PATH when it is
/// there. Neither open follows a symlink.
fn file_mount_point(dir: BorrowedFd<'_>, name: &CString) -> io::Result<OwnedFd> {
    let create = libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY;
    match mount::open_beneath(dir, name, create, 0o644) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            mount::open_beneath(dir, name, libc::O_PATH, 0)
        }
        other => other,
    }
}

fn mkdir_if_missing(dir: BorrowedFd<'_>, name: &CString, mode: u32) -> io::Result<()> {
    match nix::sys::stat::mkdirat(
        Some(dir.as_raw_fd()),
        name.as_c_str(),
        Mode::from_bits_truncate(mode),
    ) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Bind the directory `sub` of the scratch tmpfs at `target` inside the jail.
fn bind_scratch_dir(
    root: BorrowedFd<'_>,
    scratch: BorrowedFd<'_>,
    sub: &str,
    target: &Path,
) -> Result<()> {
    let what = format!("bind scratch/{sub} at {}", target.display());
    let sub = CString::new(sub).map_err(|_| Error::setup(&what, libc::EINVAL))?;
    let tree = mount::clone_tree(Some(scratch), &sub, false).map_err(step(&what))?;
    let at = mount_point(root, target, FileKind::Dir).map_err(step(&what))?;
    mount::attach(tree.as_fd(), at.as_fd()).map_err(step(&what))
}

/// The fewest inodes scratch gets, however small its size.
pub const SCRATCH_MIN_INODES: u64 = 8192;

/// The scratch tmpfs's inode cap: one inode per 4 KiB of its size, at least
/// [`SCRATCH_MIN_INODES`]. Empty files use no bytes of the size cap but each costs the kernel
/// about a kilobyte of unreclaimable slab (inode + dentry), so without this cap a jail could pin
/// hundreds of megabytes of kernel memory with empty files.
pub fn scratch_inodes(size: u64) -> u64 {
    (size / 4096).max(SCRATCH_MIN_INODES)
}

/// Step 4: ONE tmpfs with the Policy's size cap holding work/, tmp/ (1777) and shm/ (1777),
/// bound at scratch.path, /tmp and /dev/shm: one cap covers every writable byte of the jail,
/// and an inode cap ([`scratch_inodes`]) every file.
fn mount_scratch(root: BorrowedFd<'_>, policy: &Policy) -> Result<OwnedFd> {
    let s = &policy.filesystem.scratch;
    let mut attrs = NOSUID | NODEV;
    if !s.exec {
        attrs |= NOEXEC;
    }
    let size = s.size.to_string();
    let inodes = scratch_inodes(s.size).to_string();
    let what = format!("mount the scratch tmpfs (size {size} bytes, {inodes} inodes)");
    let fs = mount::new_fs(
        "tmpfs",
        &[
            ("size", Some(&size)),
            ("nr_inodes", Some(&inodes)),
            ("mode", Some("0755")),
        ],
        attrs,
    )
    .map_err(step(&what))?;
    for (name, mode) in [("work", 0o755), ("tmp", 0o1777), ("shm", 0o1777)] {
        let cname = CString::new(name).map_err(|_| Error::setup(&what, libc::EINVAL))?;
        mkdir_if_missing(fs.as_fd(), &cname, mode).map_err(step(&what))?;
        // mkdir's mode is filtered by the umask; set the sticky world-writable bits exactly.
        // (The names were just created by us in a fresh tmpfs: they are directories.)
        nix::sys::stat::fchmodat(
            Some(fs.as_raw_fd()),
            cname.as_c_str(),
            Mode::from_bits_truncate(mode),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| step(&what)(e.into()))?;
    }
    bind_scratch_dir(root, fs.as_fd(), "work", &s.path)?;
    if s.tmp {
        bind_scratch_dir(root, fs.as_fd(), "tmp", Path::new("/tmp"))?;
    }
    Ok(fs)
}

/// Step 6: a fresh proc (nosuid, nodev, noexec) with the runc-style masks, so even a process
/// that somehow held capabilities could not read kernel memory or keys, trigger sysrq, or write
/// sysctls.
fn mount_proc(root: BorrowedFd<'_>, ipc: Option<IpcCaps>) -> Result<()> {
    let proc = mount::new_fs("proc", &[], NOSUID | NODEV | NOEXEC).map_err(|e| {
        let err = step("mount /proc")(e);
        if err.errno == Some(libc::EPERM) {
            // The kernel only lets a user namespace mount proc when a fully visible proc is
            // already mounted (mount_too_revealing); containers usually mask parts of theirs.
            err.with_hint(
                "the host's /proc has masked or over-mounted parts (typical inside a container), \
                 so the kernel refuses a fresh /proc in a user namespace; run tooljail on the host",
            )
        } else {
            err
        }
    })?;
    let at = mount_point(root, Path::new("/proc"), FileKind::Dir).map_err(step("mount /proc"))?;
    mount::attach(proc.as_fd(), at.as_fd()).map_err(step("mount /proc"))?;
    super::sysctl::limit_ipc(proc.as_fd(), ipc)?;
    super::sysctl::limit_user_ns(proc.as_fd(), USERNS_CAPS)?;
    // Existing entries only: a file this kernel does not have needs no mask.
    let existing = |name: &str, flags: i32| -> Result<Option<OwnedFd>> {
        let cname = CString::new(name).map_err(|_| Error::setup("mask /proc", libc::EINVAL))?;
        match mount::open_beneath(proc.as_fd(), &cname, flags, 0) {
            Ok(fd) => Ok(Some(fd)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(step(format!("mask /proc/{name}"))(e)),
        }
    };
    // /dev/null is cloned and made read-only once; each further mask is a clone of that mount,
    // which keeps its flags (one lookup and one mount_setattr per call, not per file).
    let mut null: Option<OwnedFd> = None;
    for name in PROC_MASKED_FILES {
        let Some(at) = existing(name, libc::O_PATH)? else {
            continue;
        };
        let what = |e| step(format!("mask /proc/{name} with /dev/null"))(e);
        let mask = match &null {
            Some(first) => mount::clone_tree(Some(first.as_fd()), c"", false).map_err(what)?,
            None => {
                let first = mount::clone_tree(None, c"/dev/null", false).map_err(what)?;
                mount::set_attr(first.as_fd(), RDONLY | NOSUID | NOEXEC, 0, false).map_err(what)?;
                first
            }
        };
        mount::attach(mask.as_fd(), at.as_fd()).map_err(what)?;
        null.get_or_insert(mask);
    }
    for name in PROC_MASKED_DIRS {
        let Some(at) = existing(name, libc::O_PATH | libc::O_DIRECTORY)? else {
            continue;
        };
        let what = |e| step(format!("mask /proc/{name} with an empty tmpfs"))(e);
        let empty = mount::new_fs(
            "tmpfs",
            &[("mode", Some("0555")), ("size", Some("4k"))],
            RDONLY | NOSUID | NODEV | NOEXEC,
        )
        .map_err(what)?;
        mount::attach(empty.as_fd(), at.as_fd()).map_err(what)?;
    }
    for name in PROC_READ_ONLY {
        let Some(at) = existing(name, libc::O_PATH | libc::O_DIRECTORY)? else {
            continue;
        };
        let what = || format!("make /proc/{name} read-only");
        let cname = CString::new(*name).map_err(|_| Error::setup(what(), libc::EINVAL))?;
        let failed = |e| step(what())(e);
        let tree = mount::clone_tree(Some(proc.as_fd()), &cname, true).map_err(failed)?;
        mount::set_attr(tree.as_fd(), RDONLY | NOSUID | NODEV | NOEXEC, 0, true).map_err(failed)?;
        mount::attach(tree.as_fd(), at.as_fd()).map_err(failed)?;
    }
    Ok(())
}

/// Step 7: /dev on a small tmpfs: host device nodes bound in (mknod is not allowed in a user
/// namespace), the usual symlinks, a private devpts instance, /dev/shm from scratch; then the
/// tmpfs itself read-only.
fn mount_dev(root: BorrowedFd<'_>, policy: &Policy, scratch: Option<&OwnedFd>) -> Result<()> {
    let dev = mount::new_fs(
        "tmpfs",
        &[
            ("mode", Some("0755")),
            ("size", Some("64k")),
            ("nr_inodes", Some("1k")),
        ],
        NOSUID | NOEXEC,
    )
    .map_err(step("mount /dev"))?;
    let at = mount_point(root, Path::new("/dev"), FileKind::Dir).map_err(step("mount /dev"))?;
    mount::attach(dev.as_fd(), at.as_fd()).map_err(step("mount /dev"))?;
    for node in &policy.filesystem.devices {
        let what = || format!("bind device {}", node.display());
        let failed = |e| step(what())(e);
        let src = mount::clone_tree(None, &c(node)?, false).map_err(failed)?;
        mount::set_attr(src.as_fd(), NOSUID | NOEXEC, 0, false).map_err(failed)?;
        // A node of /dev itself is made in the fresh tmpfs we hold; deeper ones are walked to.
        let at = match (node.parent(), node.file_name()) {
            (Some(parent), Some(name)) if parent == Path::new("/dev") => {
                let name = CString::new(name.as_bytes())
                    .map_err(|_| Error::setup(what(), libc::EINVAL))?;
                file_mount_point(dev.as_fd(), &name)
            }
            _ => mount_point(root, node, FileKind::File),
        }
        .map_err(failed)?;
        mount::attach(src.as_fd(), at.as_fd()).map_err(failed)?;
    }
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        nix::unistd::symlinkat(to, Some(dev.as_raw_fd()), name)
            .map_err(|e| step(format!("create /dev/{name}"))(e.into()))?;
    }
    mkdir_if_missing(dev.as_fd(), &CString::from(c"pts"), 0o755).map_err(step("mount /dev/pts"))?;
    let pts = mount::new_fs(
        "devpts",
        &[
            ("newinstance", None),
            ("ptmxmode", Some("0666")),
            ("mode", Some("0620")),
        ],
        NOSUID | NOEXEC,
    )
    .map_err(step("mount /dev/pts"))?;
    let at = mount::open_beneath(dev.as_fd(), c"pts", libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(step("mount /dev/pts"))?;
    mount::attach(pts.as_fd(), at.as_fd()).map_err(step("mount /dev/pts"))?;
    if let (true, Some(scratch)) = (policy.filesystem.scratch.shm, scratch) {
        bind_scratch_dir(root, scratch.as_fd(), "shm", Path::new("/dev/shm"))?;
    }
    mount::set_attr(dev.as_fd(), RDONLY, 0, false).map_err(step("make /dev read-only"))
}
