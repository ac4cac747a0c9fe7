//! The new mount API (open_tree, mount_setattr, move_mount, fsopen/fsconfig/fsmount) and
//! openat2. Mounts are built detached, given their flags recursively in one call, and attached to
//! an fd opened without following symlinks, so no path is ever re-resolved between check and use.

use super::check;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

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
    setattr(fd, attr_set, attr_clr, 0, recursive)
}

/// [`set_attr`] with `MOUNT_ATTR_IDMAP` added: the detached mount `fd` (and, when `recursive`,
/// every mount below it) shows files through the id mappings of the user namespace `userns`.
/// The kernel refuses (EINVAL) a file system that cannot be idmapped, and (EPERM) a caller
/// without CAP_SYS_ADMIN over the file system's own user namespace.
pub fn set_attr_idmapped(
    fd: BorrowedFd<'_>,
    attr_set: u64,
    userns: BorrowedFd<'_>,
    recursive: bool,
) -> io::Result<()> {
    let userns =
        u64::try_from(userns.as_raw_fd()).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    setattr(fd, attr_set | libc::MOUNT_ATTR_IDMAP, 0, userns, recursive)
}

fn setattr(
    fd: BorrowedFd<'_>,
    attr_set: u64,
    attr_clr: u64,
    userns_fd: u64,
    recursive: bool,
) -> io::Result<()> {
    let attr = libc::mount_attr {
        attr_set,
        attr_clr,
        propagation: 0,
        userns_fd,
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
///
/// Where openat2 answers ENOSYS (a kernel before 5.6, or a container's seccomp profile older
/// than openat2), the same guarantees come from [`walk_beneath`], one component at a time.
pub fn open_beneath(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    match openat2_beneath(dirfd, path, flags, mode) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => walk_beneath(dirfd, path, flags, mode),
        r => r,
    }
}

/// [`open_beneath`] without openat2: `path` is split into components and each is opened with
/// openat relative to the one before, with O_NOFOLLOW, so that nothing is ever resolved through
/// a symlink:
/// - an absolute path or a `..` component fails with EXDEV, as RESOLVE_BENEATH does (so no
///   component can climb out of `dirfd`); empty and `.` components are skipped;
/// - every directory on the way is opened `O_PATH|O_NOFOLLOW` and checked with fstat: a symlink
///   (which O_PATH|O_NOFOLLOW opens as itself) fails with ELOOP, anything else but a directory
///   with ENOTDIR;
/// - the last component is opened with the caller's flags plus O_NOFOLLOW (ELOOP on a symlink,
///   also with O_CREAT), and an O_PATH result is checked with fstat the same way.
///
/// Magic links (/proc/PID/fd/N) are symlinks to lstat and O_NOFOLLOW, so RESOLVE_NO_MAGICLINKS
/// holds too. The walk does not stop at mount points, like RESOLVE_BENEATH.
pub fn walk_beneath(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let bytes = path.to_bytes();
    if bytes.first() == Some(&b'/') {
        return Err(io::Error::from_raw_os_error(libc::EXDEV));
    }
    let parts: Vec<&[u8]> = bytes
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if parts.iter().any(|c| *c == b"..") {
        return Err(io::Error::from_raw_os_error(libc::EXDEV));
    }
    let Some((last, dirs)) = parts.split_last() else {
        return open_component(dirfd, c".", flags, mode);
    };
    let mut owned: Option<OwnedFd> = None;
    for name in dirs {
        let name = CString::new(*name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let at = owned.as_ref().map_or(dirfd, |fd| fd.as_fd());
        // Not O_DIRECTORY: on a symlink it would fail with ENOTDIR before the ELOOP check.
        let fd = open_component(at, &name, libc::O_PATH, 0)?;
        let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(io::Error::from)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        owned = Some(fd);
    }
    let last = CString::new(*last).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let at = owned.as_ref().map_or(dirfd, |fd| fd.as_fd());
    open_component(at, &last, flags, mode)
}

/// One component: `openat(dirfd, name, flags|O_NOFOLLOW|O_CLOEXEC, mode)`, refusing a symlink
/// (ELOOP) also where O_PATH would have opened the link itself.
fn open_component(
    dirfd: BorrowedFd<'_>,
    name: &CStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    // SAFETY: a valid dirfd and a NUL-terminated name, both outliving the call; `mode` is read
    // only with O_CREAT.
    let ret = unsafe {
        libc::openat(
            dirfd.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode,
        )
    };
    // SAFETY: a successful openat returns a new fd that nothing else owns.
    let fd = unsafe { owned(libc::c_long::from(ret)) }.map_err(|e| {
        // O_DIRECTORY|O_NOFOLLOW on a symlink says ENOTDIR; openat2 says ELOOP. Both refuse;
        // give the same errno, so the errors read alike.
        let on_link = || {
            nix::sys::stat::fstatat(
                Some(dirfd.as_raw_fd()),
                name,
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK)
        };
        if e.raw_os_error() == Some(libc::ENOTDIR) && flags & libc::O_DIRECTORY != 0 && on_link() {
            io::Error::from_raw_os_error(libc::ELOOP)
        } else {
            e
        }
    })?;
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(io::Error::from)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    Ok(fd)
}

/// The openat2 call of [`open_beneath`].
pub fn openat2_beneath(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    openat2(
        dirfd,
        path,
        flags,
        mode,
        libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
    )
}

/// `openat2(dirfd, path, flags, mode, RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS)`: no symbolic
/// link in any component of `path` (absolute or relative to `dirfd`) is followed.
pub fn openat2_no_symlinks(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    openat2(
        dirfd,
        path,
        flags,
        mode,
        libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
    )
}

/// `openat2(root, path, O_PATH, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)`: `path` as a process
/// whose root is `root` would resolve it (absolute symlinks and `..` stay inside `root`).
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    in_root(root, path, libc::O_PATH)
}

/// [`open_in_root`] with `O_NOFOLLOW`: a symbolic link in the last component is opened itself.
pub fn open_link_in_root(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    in_root(root, path, libc::O_PATH | libc::O_NOFOLLOW)
}

fn in_root(root: BorrowedFd<'_>, path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let path = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    openat2(
        root,
        &path,
        flags,
        0,
        libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    )
}

fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    // SAFETY: open_how is plain old data; all-zero means "no flags, no mode, no resolve flags".
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    // The open flags are a bit set: reinterpret, never sign-extend.
    how.flags = u64::from(u32::from_ne_bytes((flags | libc::O_CLOEXEC).to_ne_bytes()));
    if flags & libc::O_CREAT != 0 {
        how.mode = u64::from(mode);
    }
    how.resolve = resolve;
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

#[cfg(test)]
mod walk_tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A tree with a file, a directory, a symlink in the middle of a path, a symlink as the last
    /// component, a magic link's stand-in (a symlink to /proc/self/fd/0) and one out of the tree.
    fn tree() -> (tempfile::TempDir, OwnedFd) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("a/b")).unwrap();
        std::fs::write(p.join("a/b/f"), "x").unwrap();
        symlink("a", p.join("link_dir")).unwrap();
        symlink("a/b/f", p.join("link_file")).unwrap();
        symlink("/proc/self/fd/0", p.join("magic")).unwrap();
        symlink("/etc", p.join("out")).unwrap();
        let fd = std::fs::File::open(p).unwrap().into();
        (dir, fd)
    }

    fn errno(r: &io::Result<OwnedFd>) -> Option<i32> {
        r.as_ref().err().map(|e| e.raw_os_error().unwrap_or(-1))
    }

    /// The walk answers every case as openat2 does: the same success or the same errno.
    #[test]
    fn the_walk_gives_openat2s_answers() {
        let (_dir, root) = tree();
        let cases: &[(&CStr, i32)] = &[
            (c"a/b/f", libc::O_RDONLY),
            (c"a/b/f", libc::O_PATH),
            (c"a//b/./f", libc::O_RDONLY),
            (c"a/b", libc::O_PATH | libc::O_DIRECTORY),
            (c".", libc::O_PATH | libc::O_DIRECTORY),
            (c"link_dir/b/f", libc::O_RDONLY),
            (c"link_dir/b/f", libc::O_PATH),
            (c"link_file", libc::O_RDONLY),
            (c"link_file", libc::O_PATH),
            (c"magic", libc::O_PATH),
            (c"out/passwd", libc::O_RDONLY),
            (c"out", libc::O_PATH | libc::O_DIRECTORY),
            (c"../x", libc::O_PATH),
            (c"a/../../x", libc::O_PATH),
            (c"/etc/passwd", libc::O_RDONLY),
            (c"a/missing", libc::O_RDONLY),
            (c"a/b/f/x", libc::O_RDONLY),
        ];
        for (path, flags) in cases {
            let two = openat2_beneath(root.as_fd(), path, *flags, 0);
            let walk = walk_beneath(root.as_fd(), path, *flags, 0);
            assert_eq!(
                errno(&walk),
                errno(&two),
                "{path:?} flags {flags:#x}: walk {walk:?}, openat2 {two:?}"
            );
        }
    }

    #[test]
    fn the_walk_creates_beneath_and_never_through_a_link() {
        let (dir, root) = tree();
        let flags = libc::O_WRONLY | libc::O_CREAT;
        walk_beneath(root.as_fd(), c"a/new", flags, 0o644).unwrap();
        assert!(dir.path().join("a/new").exists());
        let e = walk_beneath(root.as_fd(), c"link_dir/new2", flags, 0o644);
        assert_eq!(errno(&e), Some(libc::ELOOP));
        assert!(!dir.path().join("a/new2").exists());
        // A dangling link as the last component is not created through either.
        symlink("a/made_by_link", dir.path().join("dangling")).unwrap();
        let e = walk_beneath(root.as_fd(), c"dangling", flags, 0o644);
        assert_eq!(errno(&e), Some(libc::ELOOP));
        assert!(!dir.path().join("a/made_by_link").exists());
    }
}
