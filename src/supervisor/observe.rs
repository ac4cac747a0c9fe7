//! Calls the filter shows the supervisor without asking it to decide: an exec, or a mapping of a
//! file as executable (a shared library's text). The supervisor looks at which file the call
//! names and whether the place it lies in refuses exec (a `noexec` bind in the full jail; a
//! path Landlock gives no execute right in landlock mode), records it, and lets the kernel run
//! the call (SECCOMP_USER_NOTIF_FLAG_CONTINUE): the kernel alone decides, this only explains
//! the "Permission denied" a tool then prints, so the report can name the bind and its fix.
//!
//! What is read of the calling process (its path argument, its cwd, root and fds, through
//! /proc/PID) is read by a process that already has every capability over the jail's user
//! namespace; the notification id is checked afterwards so a pid reused meanwhile is never
//! attributed. Nothing read here changes what the call does.

use crate::policy::{IsolationMode, NetMode, Policy};
use serde::Serialize;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// What the command tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attempt {
    /// execve/execveat of a file, or the access(X_OK) check tools make first.
    Exec,
    /// mmap of a file with PROT_EXEC (loading a shared library, a Python C extension, a
    /// native Node module).
    MapExec,
    /// connect of a TCP (or, without a route out, any inet) socket.
    Connect,
    /// open/openat for writing (write access, O_TRUNC, or O_CREAT of a new file).
    Write,
}

/// One refused attempt: the file as the jail sees it, or the address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Blocked {
    pub attempt: Attempt,
    pub target: Target,
}

/// What a refused attempt named.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Path(PathBuf),
    Address(std::net::SocketAddr),
}

/// Longest path read from a caller's memory (PATH_MAX).
const PATH_MAX: usize = 4096;
/// Distinct refused attempts kept per run; a build that retries the same file stays one entry.
pub const MAX_BLOCKED: usize = 16;

/// The file an observed call of `pid` names, if the place it lies in refuses exec. `None` for
/// a call that will succeed as far as exec rights go, and whenever the file cannot be found
/// (the caller died, a path that does not exist: the kernel's own error says enough).
///
/// How a refusal is recognised: in the full jail, the file system is mounted `noexec` (every
/// bind without exec, and the scratch, are); in landlock mode, the place the Policy puts the
/// path in has no exec right (mappings are not Landlock's to refuse). A connect: see
/// [`connect`].
pub fn inspect(pid: u32, syscall: &str, args: &[u64; 6], policy: &Policy) -> Option<Blocked> {
    match syscall {
        "connect" => return connect(pid, args, policy),
        "open" => return write(pid, libc::AT_FDCWD, args[0], args[1], policy),
        "openat" => return write(pid, int_arg(args[0]), args[1], args[2], policy),
        _ => {}
    }
    let landlock = (policy.isolation.mode == IsolationMode::Landlock).then_some(policy);
    let (attempt, file) = match syscall {
        "execve" => (Attempt::Exec, open_path(pid, libc::AT_FDCWD, args[0])?),
        "execveat" => {
            let dirfd = int_arg(args[0]);
            let empty = args[4] & u64::from(libc::AT_EMPTY_PATH.unsigned_abs()) != 0;
            match read_cstring(pid, args[1]) {
                Some(p) if !(empty && p.is_empty()) => (Attempt::Exec, open_in(pid, dirfd, &p)?),
                _ => (Attempt::Exec, open_fd(pid, dirfd)?),
            }
        }
        // The filter passes only PROT_EXEC file mappings and X_OK checks, except in a learning
        // run, which shows every call: the same test here.
        "mmap" if args[2] & u64::from(crate::plan::seccomp::PROT_EXEC) != 0 => {
            (Attempt::MapExec, open_fd(pid, int_arg(args[4]))?)
        }
        // The X_OK check tools make before an exec.
        "access" if args[1] & u64::from(crate::plan::seccomp::X_OK) != 0 => {
            (Attempt::Exec, open_path(pid, libc::AT_FDCWD, args[0])?)
        }
        "faccessat" | "faccessat2" if args[2] & u64::from(crate::plan::seccomp::X_OK) != 0 => {
            (Attempt::Exec, open_path(pid, int_arg(args[0]), args[1])?)
        }
        _ => return None,
    };
    // The caller waits until this returns, at every exec and library load: the cheapest test
    // first. In the full jail, a file on a mount with exec is all there is to see (one statfs);
    // its type and its name are asked for only when the mount refuses exec.
    if landlock.is_none()
        && !nix::sys::statvfs::fstatvfs(&file)
            .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_NOEXEC))
    {
        return None;
    }
    // Only files are executed: X_OK of a directory asks whether it can be searched.
    let st = nix::sys::stat::fstat(file.as_raw_fd()).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let refused = landlock.is_none_or(|policy| {
        attempt == Attempt::Exec && policy.place_of(&path).is_some_and(|p| !p.exec())
    });
    refused.then_some(Blocked {
        attempt,
        target: Target::Path(path),
    })
}

/// open(path, flags) or openat(dirfd, path, flags) for writing: refused when the file (or, for
/// a new file, its directory) lies in a read-only place. In the full jail that is a read-only
/// mount (every bind without `--rw`, and the jail's root); in landlock mode, a place the Policy
/// gives no write right. An existing file is written by write access or O_TRUNC; a missing one
/// only by O_CREAT. Directories, devices and the like are left to the kernel's own error.
fn write(pid: u32, dirfd: i32, path: u64, flags: u64, policy: &Policy) -> Option<Blocked> {
    let flags = i32::from_ne_bytes(u32::try_from(flags & 0xffff_ffff).ok()?.to_ne_bytes());
    let writes = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
    if !writes && flags & libc::O_CREAT == 0 {
        return None; // a read: nothing a read-only place refuses (a learning run sees these)
    }
    let name = read_cstring(pid, path)?;
    // The caller waits until this returns: in the full jail the mount's read-only flag (one
    // statfs) is asked first, and the file's type and name only when the mount refuses writes.
    let full = policy.isolation.mode == IsolationMode::Full;
    let read_only = |f: &OwnedFd| {
        nix::sys::statvfs::fstatvfs(f)
            .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
    };
    let path = match open_in(pid, dirfd, &name) {
        Some(file) => {
            if !writes || (full && !read_only(&file)) {
                return None;
            }
            let st = nix::sys::stat::fstat(file.as_raw_fd()).ok()?;
            if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                return None;
            }
            std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?
        }
        None if flags & libc::O_CREAT != 0 => {
            // A new file: its directory decides (the kernel refuses the create there).
            let name = PathBuf::from(OsString::from_vec(name));
            let base = name.file_name()?.to_owned();
            let parent = match name.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.as_os_str().as_encoded_bytes().to_vec(),
                _ => b".".to_vec(),
            };
            let dir = open_in(pid, dirfd, &parent)?;
            if full && !read_only(&dir) {
                return None;
            }
            let at = std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd())).ok()?;
            at.join(base)
        }
        None => return None,
    };
    // In the full jail the mount refused (above); in landlock mode the Policy's place decides.
    let refused = full || !policy.place_of(&path).is_some_and(|p| p.writable());
    refused.then_some(Blocked {
        attempt: Attempt::Write,
        target: Target::Path(path),
    })
}

/// connect(fd, addr, len): refused when it leaves a jail without a route out (network mode
/// none or loopback: any inet address but loopback), or, in host mode (and landlock mode, whose
/// Landlock handles TCP), when a TCP socket names a port outside `[network] tcp_connect`.
fn connect(pid: u32, args: &[u64; 6], policy: &Policy) -> Option<Blocked> {
    let addr = inet_address(pid, args)?;
    let (ip, port) = (addr.ip(), addr.port());
    let loopback = match ip {
        std::net::IpAddr::V4(a) => a.is_loopback(),
        std::net::IpAddr::V6(a) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback())
        }
    };
    let private_net = policy.network.mode != NetMode::Host;
    let landlock = policy.isolation.mode == IsolationMode::Landlock;
    let refused = if private_net && !landlock {
        !loopback
    } else {
        // Landlock limits TCP only: ask the socket what it is.
        is_tcp(pid, args[0])? && !policy.network.tcp_connect.contains(&port)
    };
    refused.then_some(Blocked {
        attempt: Attempt::Connect,
        target: Target::Address(std::net::SocketAddr::new(ip, port)),
    })
}

/// The inet address connect(fd, addr, len) of `pid` names; `None` for another family.
pub(super) fn inet_address(pid: u32, args: &[u64; 6]) -> Option<std::net::SocketAddr> {
    let len = usize::try_from(args[2]).ok()?.min(128);
    let raw = read_bytes(pid, args[1], len)?;
    let family = u16::from_ne_bytes([*raw.first()?, *raw.get(1)?]);
    let port = u16::from_be_bytes([*raw.get(2)?, *raw.get(3)?]);
    let ip: std::net::IpAddr = match i32::from(family) {
        libc::AF_INET => {
            let o: [u8; 4] = raw.get(4..8)?.try_into().ok()?;
            std::net::Ipv4Addr::from(o).into()
        }
        libc::AF_INET6 => {
            let o: [u8; 16] = raw.get(8..24)?.try_into().ok()?;
            std::net::Ipv6Addr::from(o).into()
        }
        _ => return None,
    };
    Some(std::net::SocketAddr::new(ip, port))
}

/// Whether `pid`'s descriptor `fd` (an int argument) is a TCP (SOCK_STREAM inet) socket.
fn is_tcp(pid: u32, fd: u64) -> Option<bool> {
    let pidfd = crate::sys::process::pidfd_open(i32::try_from(pid).ok()?).ok()?;
    let sock = crate::sys::process::pidfd_getfd(pidfd.as_fd(), int_arg(fd)).ok()?;
    let ty = nix::sys::socket::getsockopt(&sock, nix::sys::socket::sockopt::SockType).ok()?;
    Some(ty == nix::sys::socket::SockType::Stream)
}

/// `len` bytes at `addr` in `pid`'s memory.
pub(super) fn read_bytes(pid: u32, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len];
    (read_at(pid, addr, &mut buf)? == len).then_some(buf)
}

/// Whether process_vm_readv was refused in this process: a filter around tooljail that leaves
/// it out (systemd's `SystemCallFilter=@system-service`; container profiles that allow it
/// only with CAP_SYS_PTRACE). Then every read goes through /proc/PID/mem, as it did before.
static VM_READV_REFUSED: AtomicBool = AtomicBool::new(false);

/// Read `pid`'s memory at `addr` into `buf`: with one process_vm_readv (no descriptor to open
/// and close while the caller waits), else through /proc/PID/mem. Both need ptrace access to
/// the caller (the supervisor's real and file-system ids are the same); neither reads a page
/// the caller itself could not (the call it made would fail on such a page anyway). The bytes
/// read; the callers never ask across a page they have not read up to.
fn read_at(pid: u32, addr: u64, buf: &mut [u8]) -> Option<usize> {
    if !VM_READV_REFUSED.load(Ordering::Relaxed) {
        let target = nix::unistd::Pid::from_raw(i32::try_from(pid).ok()?);
        let remote = [nix::sys::uio::RemoteIoVec {
            base: usize::try_from(addr).ok()?,
            len: buf.len(),
        }];
        let local = &mut [std::io::IoSliceMut::new(buf)];
        match nix::sys::uio::process_vm_readv(target, local, &remote) {
            Ok(n) => return Some(n),
            Err(nix::errno::Errno::ENOSYS | nix::errno::Errno::EPERM) => {
                VM_READV_REFUSED.store(true, Ordering::Relaxed);
            }
            Err(_) => return None,
        }
    }
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    mem.read_at(buf, addr).ok()
}

/// An `int` argument (a dirfd, an fd): the low 32 bits, sign included.
pub(super) fn int_arg(arg: u64) -> i32 {
    i32::from_ne_bytes(u32::try_from(arg & 0xffff_ffff).unwrap_or(0).to_ne_bytes())
}

/// The NUL-terminated string at `addr` in `pid`'s memory (at most [`PATH_MAX`] bytes).
pub(super) fn read_cstring(pid: u32, addr: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; PATH_MAX];
    let mut got = 0;
    // A string may end before a page the process cannot read: read up to each page end.
    while got < PATH_MAX {
        let at = addr.checked_add(got as u64)?;
        let to_page_end = 4096 - usize::try_from(at % 4096).ok()?;
        let want = to_page_end.min(PATH_MAX - got);
        let n = read_at(pid, at, &mut buf[got..got + want])?;
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[got..got + n].iter().position(|b| *b == 0) {
            buf.truncate(got + end);
            return Some(buf);
        }
        got += n;
    }
    None
}

/// Open (O_PATH) the file `pid` names by the path at `addr`, relative to `dirfd` as the kernel
/// would resolve it for that process.
fn open_path(pid: u32, dirfd: i32, addr: u64) -> Option<OwnedFd> {
    open_in(pid, dirfd, &read_cstring(pid, addr)?)
}

/// `path` as an absolute path inside `pid`'s root: as it is, or joined to its cwd (or to
/// `dirfd`'s directory); symbolic links and `..` left as they are.
pub(super) fn absolute(pid: u32, dirfd: i32, path: &[u8]) -> Option<PathBuf> {
    let path = PathBuf::from(OsString::from_vec(path.to_vec()));
    if path.is_absolute() {
        return Some(path);
    }
    let base = if dirfd == libc::AT_FDCWD {
        format!("/proc/{pid}/cwd")
    } else {
        format!("/proc/{pid}/fd/{dirfd}")
    };
    Some(std::fs::read_link(base).ok()?.join(path))
}

/// Open `path` as `pid` sees it: absolute paths below its root, relative ones below its cwd (or
/// `dirfd`), symlinks resolved inside its root.
pub(super) fn open_in(pid: u32, dirfd: i32, path: &[u8]) -> Option<OwnedFd> {
    let absolute = absolute(pid, dirfd, path)?;
    let root = std::fs::File::open(format!("/proc/{pid}/root")).ok()?;
    let relative = absolute.strip_prefix("/").unwrap_or(&absolute);
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    crate::sys::mount::open_in_root(root.as_fd(), relative).ok()
}

/// [`open_in`], but a symbolic link in the last component is opened itself, not followed.
pub(super) fn open_link_in(pid: u32, dirfd: i32, path: &[u8]) -> Option<OwnedFd> {
    let absolute = absolute(pid, dirfd, path)?;
    let root = std::fs::File::open(format!("/proc/{pid}/root")).ok()?;
    let relative = absolute.strip_prefix("/").unwrap_or(&absolute);
    if relative.as_os_str().is_empty() {
        return None; // the root is no link
    }
    crate::sys::mount::open_link_in_root(root.as_fd(), relative).ok()
}

/// Open (O_PATH) the file behind `pid`'s descriptor `fd`.
pub(super) fn open_fd(pid: u32, fd: i32) -> Option<OwnedFd> {
    if fd < 0 {
        return None;
    }
    nix::fcntl::open(
        format!("/proc/{pid}/fd/{fd}").as_str(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()
    .map(crate::sys::fd::claim)
}
