//! The new mount API (open_tree, mount_setattr, move_mount, fsopen/fsconfig/fsmount) and
//! openat2. Mounts are built detached, given their flags recursively in one call, and attached to
//! an fd opened without following symlinks, so no path is ever re-resolved between check and use.

use super::check;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Mount attribute bits for [`set_attr`] and [`fsmount`] (`MOUNT_ATTR_*`).
pub use libc::{
    MOUNT_ATTR_NODEV as NODEV, MOUNT_ATTR_NOEXEC as NOEXEC, MOUNT_ATTR_NOSUID as NOSUID,
    MOUNT_ATTR_RDONLY as RDONLY,
};

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// An fd returned by a syscall becomes an `OwnedFd`.
///
/// # Safety
/// `ret` must be a new fd that nothing else owns (as returned by a successful open-like call).
unsafe fn owned(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = i32::try_from(check(ret)?).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the caller guarantees `fd` is a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `open_tree(dirfd, path, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC[|AT_RECURSIVE])`: a detached copy of
/// the mount (tree) at `path` (relative to `dirfd`, or the cwd when None), as a bind mount not yet
/// attached anywhere. Symlinks in `path` are followed; an empty `path` means `dirfd` itself
/// (AT_EMPTY_PATH), which is how a path opened with [`open_beneath`] is cloned.
pub fn clone_tree(
    dirfd: Option<BorrowedFd<'_>>,
    path: &CStr,
    recursive: bool,
) -> io::Result<OwnedFd> {
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH as libc::c_uint;
    }
    let dirfd = dirfd.map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd());
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) };
    // SAFETY: a successful open_tree returns a new fd that nothing else owns.
    unsafe { owned(ret) }
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH[|AT_RECURSIVE], {attr_set, attr_clr})`: set (and clear)
/// mount attributes on the mount `fd` refers to and, when `recursive`, on every mount below it.
pub fn set_attr(
    fd: BorrowedFd<'_>,
    attr_set: u64,
    attr_clr: u64,
    recursive: bool,
) -> io::Result<()> {
    let attr = libc::mount_attr {
        attr_set,
        attr_clr,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: a valid fd, an empty path string, and a mount_attr of exactly the size passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    })
    .map(drop)
}

/// `move_mount(from, "", to, "", F_EMPTY_PATH|T_EMPTY_PATH)`: attach the detached mount `from`
/// on top of the file or directory `to` refers to (an `O_PATH` fd opened with [`open_beneath`]).
pub fn attach(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: two valid fds and two empty NUL-terminated paths.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// A new, detached file system instance: `fsopen(fstype)`, one `fsconfig` per option
/// (`("key", Some("value"))` for a string, `("key", None)` for a flag), `FSCONFIG_CMD_CREATE`,
/// then `fsmount` with `attrs` (`MOUNT_ATTR_*`). Returns the detached mount's fd.
pub fn new_fs(fstype: &str, options: &[(&str, Option<&str>)], attrs: u64) -> io::Result<OwnedFd> {
    let fstype = cstr(fstype)?;
    // SAFETY: a valid NUL-terminated fs type name that outlives the call.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) };
    // SAFETY: a successful fsopen returns a new fd that nothing else owns.
    let fsfd = unsafe { owned(ret)? };
    for (key, value) in options {
        let key = cstr(key)?;
        let value = value.map(cstr).transpose()?;
        let (cmd, vptr) = match &value {
            Some(v) => (libc::FSCONFIG_SET_STRING, v.as_ptr()),
            None => (libc::FSCONFIG_SET_FLAG, std::ptr::null()),
        };
        // SAFETY: a valid fs-context fd, a NUL-terminated key, and either a NUL-terminated value
        // (SET_STRING) or null (SET_FLAG), as fsconfig(2) requires; aux is 0.
        check(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fsfd.as_raw_fd(),
                cmd,
                key.as_ptr(),
                vptr,
                0,
            )
        })?;
    }
    // SAFETY: FSCONFIG_CMD_CREATE takes no key or value.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fsfd.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    })?;
    // SAFETY: a created fs context; fsmount takes no pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fsfd.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attrs,
        )
    };
    // SAFETY: a successful fsmount returns a new fd that nothing else owns.
    unsafe { owned(ret) }
}

/// `openat2(dirfd, path, flags|O_CLOEXEC, mode)` with
/// `RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS`: `path` is resolved strictly below
/// `dirfd`, and any symlink on the way (including the last component) fails with ELOOP instead of
/// being followed.
pub fn open_beneath(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    // SAFETY: open_how is plain old data; all-zero means "no flags, no mode, no resolve flags".
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    // The open flags are a bit set: reinterpret, never sign-extend.
    how.flags = u64::from(u32::from_ne_bytes((flags | libc::O_CLOEXEC).to_ne_bytes()));
    if flags & libc::O_CREAT != 0 {
        how.mode = u64::from(mode);
    }
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: a valid dirfd, a NUL-terminated path and an open_how of the size passed, all of
    // which outlive the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            std::ptr::from_ref(&how),
            std::mem::size_of::<libc::open_how>(),
        )
    };
    // SAFETY: a successful openat2 returns a new fd that nothing else owns.
    unsafe { owned(ret) }
}

/// Make every mount in this mount namespace private, recursively (`mount --make-rprivate /`), so
/// nothing we mount propagates to the host and nothing the host mounts appears in the jail.
pub fn make_rprivate_root() -> io::Result<()> {
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(io::Error::from)
}

/// Make the directory `root` the root of this mount namespace and detach the old root:
/// `fchdir(root); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")`. With both
/// arguments ".", the old root ends up stacked on the new one and is lazily unmounted, so no
/// directory for it is needed (see pivot_root(2), NOTES).
pub fn pivot_into(root: BorrowedFd<'_>) -> io::Result<()> {
    nix::unistd::fchdir(root.as_raw_fd())?;
    nix::unistd::pivot_root(".", ".")?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)?;
    nix::unistd::chdir("/")?;
    Ok(())
}

/// Open the host directory `path` as an `O_PATH` fd, refusing a symlink as the last component.
pub fn open_host_dir(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: a valid NUL-terminated path that outlives the call.
    let ret = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    // SAFETY: a successful open returns a new fd that nothing else owns.
    unsafe { owned(libc::c_long::from(ret)) }
}
