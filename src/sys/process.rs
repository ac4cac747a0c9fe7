//! Processes: clone3 with a pidfd, fork, pidfd signals, wait4 with rusage, exiting without
//! unwinding, signal dispositions, closing fds, and scrubbing pid 1's argv/env memory.

use super::check;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// What `clone3`/`fork` returned in this process.
#[derive(Debug)]
pub enum Forked {
    /// We are the new process.
    Child,
    /// We are the caller; `pidfd` refers to the child (only from [`clone3`]).
    Parent { pid: i32, pidfd: Option<OwnedFd> },
}

/// Fork-like `clone3(2)` with `flags` (e.g. `CLONE_NEWUSER|...`) plus `CLONE_PIDFD`; the child
/// gets SIGCHLD as exit signal and continues on a copy of the caller's stack, exactly as after
/// `fork(2)`.
///
/// Contract: the calling process must be single-threaded (the caller checks with
/// [`thread_count`]); in the child only this thread exists, so locks held by other threads cannot
/// be inherited and the child may allocate. glibc's `atfork` handlers do not run, which is fine
/// for a single-threaded caller that does not use `pthread_atfork`.
pub fn clone3(flags: u64) -> io::Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    // SAFETY: clone_args is plain old data; all-zero is the documented "no option" value for
    // every field we do not set.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags | libc::CLONE_PIDFD as u64;
    args.pidfd = std::ptr::addr_of_mut!(pidfd) as u64;
    args.exit_signal = libc::SIGCHLD as u64;
    // stack = 0: the child runs on a copy-on-write copy of our stack, like fork.
    // SAFETY: `args` is a valid, initialised clone_args of the size we pass, and `pidfd` outlives
    // the call. With no stack given and no CLONE_VM the child gets a private copy of our address
    // space, so returning through our stack frames in both processes is sound (fork semantics);
    // single-threadedness is the caller's documented obligation.
    let ret = check(unsafe {
        libc::syscall(
            libc::SYS_clone3,
            std::ptr::addr_of_mut!(args),
            std::mem::size_of::<libc::clone_args>(),
        )
    })?;
    if ret == 0 {
        return Ok(Forked::Child);
    }
    // SAFETY: with CLONE_PIDFD the kernel stored a new, owned pidfd in `pidfd` on success.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok(Forked::Parent {
        pid: i32::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::ERANGE))?,
        pidfd: Some(pidfd),
    })
}

/// A new user namespace with the given id maps (`/proc/PID/uid_map` and `gid_map` text), held
/// by the returned fd (of `/proc/PID/ns/user`) after its only process is gone: what
/// `mount_setattr(MOUNT_ATTR_IDMAP)` takes. Writing maps of ids other than our own needs
/// CAP_SETUID/CAP_SETGID over the parent namespace: the caller is root.
///
/// Contract: as for [`clone3`], the caller is single-threaded.
pub fn userns_with_maps(uid_map: &str, gid_map: &str) -> io::Result<OwnedFd> {
    let (hold_rx, hold_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let pid = match clone3(libc::CLONE_NEWUSER as u64)? {
        Forked::Child => {
            // Wait until the parent has opened our namespace (or gave up): EOF either way.
            drop(hold_tx);
            let mut byte = [0u8; 1];
            let _ = nix::unistd::read(hold_rx.as_raw_fd(), &mut byte);
            exit_now(0)
        }
        Forked::Parent { pid, .. } => pid,
    };
    drop(hold_rx);
    let write = |file: &str, text: &str| std::fs::write(format!("/proc/{pid}/{file}"), text);
    let opened = write("uid_map", uid_map)
        .and_then(|()| write("gid_map", gid_map))
        .and_then(|()| std::fs::File::open(format!("/proc/{pid}/ns/user")))
        .map(OwnedFd::from);
    drop(hold_tx);
    wait4(pid, true)?;
    opened
}

/// Plain `fork(2)`. Contract: the caller is single-threaded (pid 1 of the jail is).
pub fn fork() -> io::Result<Forked> {
    // SAFETY: the caller is single-threaded (documented contract), so the child does not inherit
    // locks held by other threads and may run arbitrary code.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent { pid, pidfd: None }),
    }
}

/// The number of threads in this process (/proc/self/stat, field 20).
pub fn thread_count() -> io::Result<usize> {
    self_stat().map(|s| s.threads)
}

/// What /proc/self/stat says of this process that tooljail uses: one read, for the thread count
/// and the place of the argv and environment strings.
struct SelfStat {
    threads: usize,
    strings: Strings,
}

/// Where the kernel keeps this process's argv and environment strings (/proc/self/stat fields
/// 48-51): `[start, end)` each, 0 when unknown.
#[derive(Clone, Copy)]
struct Strings {
    args: (usize, usize),
    env: (usize, usize),
}

/// The [`Strings`] of this process image, once read. fork and clone (without CLONE_VM) copy the
/// address space as it is, so a child of the process that read them finds its own strings at
/// the same addresses: pid 1 scrubs its copy without reading /proc again. execve ends the image
/// and this copy of the value with it.
static STRINGS: std::sync::OnceLock<Strings> = std::sync::OnceLock::new();

fn self_stat() -> io::Result<SelfStat> {
    let stat = super::read_text_at("/proc/self/stat")?;
    let invalid = || io::Error::from_raw_os_error(libc::EINVAL);
    // The command name (field 2) may hold spaces and ')', so count fields after the last ')':
    // what follows starts with field 3 (state), so field N is at index N - 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or_else(invalid)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<usize>().ok());
    let threads = field(20).ok_or_else(invalid)?;
    // Field 51, the last one read below, must be there (a field that does not parse reads 0).
    if fields.get(51 - 3).is_none() {
        return Err(invalid());
    }
    let at = |n: usize| field(n).unwrap_or(0);
    let strings = Strings {
        args: (at(48), at(49)),
        env: (at(50), at(51)),
    };
    Ok(SelfStat {
        threads,
        strings: *STRINGS.get_or_init(|| strings),
    })
}

/// `pidfd_open(2)`: a pidfd for `pid`. Contract: `pid` is a child of the caller not yet reaped,
/// so the number cannot have been recycled between fork and this call.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags (0) by value and touches no memory of ours.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: on success the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_getfd(2)`: a duplicate (close-on-exec) of descriptor `fd` of the process `pidfd`
/// refers to. Needs ptrace access to it.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_getfd takes two fds and flags (0) by value and touches no memory of ours.
    let ret = check(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) })?;
    let ret = RawFd::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: on success the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// `pidfd_send_signal(2)`: signal the process `pidfd` refers to (never a recycled pid).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: a valid pidfd, a null siginfo (the kernel fills it in as for kill) and no flags.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
    .map(drop)
}

/// Resource use of a reaped process and every descendant it waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Rusage {
    pub user_time: Duration,
    pub system_time: Duration,
    /// Peak resident set size of the largest process, KiB.
    pub max_rss_kib: u64,
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec.clamp(0, 999_999)).unwrap_or(0);
    Duration::new(secs, micros * 1000)
}

/// `wait4(pid)`: the raw wait status and rusage of the child `pid` once it has ended. With
/// `block == false` (WNOHANG), `Ok(None)` while it is still running.
pub fn wait4(pid: i32, block: bool) -> io::Result<Option<(i32, Rusage)>> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let flags = if block { 0 } else { libc::WNOHANG };
    // SAFETY: both out-pointers are valid for writes for the duration of the call.
    let ret = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        _ => Ok(Some((
            status,
            Rusage {
                user_time: timeval(ru.ru_utime),
                system_time: timeval(ru.ru_stime),
                max_rss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
            },
        ))),
    }
}

/// `waitpid(-1, WNOHANG)`: reap one exited child, `Ok(None)` when none is ready (or there are no
/// children left).
pub fn reap_any() -> io::Result<Option<(i32, i32)>> {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is valid for writes for the duration of the call.
    let ret = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    match ret {
        -1 if io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) => Ok(None),
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some((pid, status))),
    }
}

/// `_exit(2)`: end this process now, without running atexit handlers or unwinding. Used by the
/// cloned/forked children, which share the parent's copy of the Rust runtime state.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and does not return.
    unsafe { libc::_exit(code) }
}

/// Open /dev/null on each of descriptors 0, 1 and 2 that is closed, as Rust's runtime does
/// before its `main` (tooljail's entry point does without that runtime: src/main.rs). A caller
/// that starts tooljail with stdout closed would otherwise see the first file tooljail opens
/// (the audit log, a report file) take descriptor 1, and the command's output written into it.
pub fn open_closed_stdio() -> io::Result<()> {
    for fd in 0..=2 {
        match nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD) {
            Err(nix::errno::Errno::EBADF) => {}
            Err(e) => return Err(e.into()),
            Ok(_) => continue,
        }
        // The lowest free descriptor: `fd` itself, since those below it are open. Without
        // O_CLOEXEC: it is the stdio the command inherits, and kept open for good.
        let null = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDWR,
            nix::sys::stat::Mode::empty(),
        )?;
        if null != fd {
            return Err(io::Error::other(format!(
                "descriptor {fd} was closed and /dev/null did not take its place"
            )));
        }
    }
    Ok(())
}

/// Give SIGPIPE back its default action (terminate), so that `tooljail profiles | head -1` ends
/// quietly like any Unix filter instead of failing on EPIPE: the caller may have left it
/// ignored. Called first thing in `main`, before any thread or child exists.
pub fn default_sigpipe() {
    // SAFETY: installing SIG_DFL involves no handler code and cannot fail for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Every catchable signal's action back to the default. SIG_IGN survives fork and execve(2),
/// and the caller may have left signals ignored: the command must not inherit that.
pub fn default_dispositions() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL involves no handler code; signals the kernel refuses
        // (reserved by glibc) just return EINVAL, which we ignore.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// An empty signal mask (the mask survives fork and execve; the supervisor and pid 1 block
/// the signals they forward).
pub fn unblock_signals() -> io::Result<()> {
    // SAFETY: sigset_t is plain old data; all-zero is a valid value.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t for writes.
    unsafe { libc::sigemptyset(&mut set) };
    // SAFETY: an empty, initialised sigset and a null old-set pointer.
    let ret = unsafe { libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) };
    check(libc::c_long::from(ret)).map(drop)
}

/// `close_range(first, ~0, flags)`.
pub fn close_range(first: u32, flags: u32) -> io::Result<()> {
    // SAFETY: close_range only affects this process's fd table; callers own no Rust object over
    // the fds it closes (see the callers' contracts), or set CLOSE_RANGE_CLOEXEC, which closes
    // nothing before execve.
    let flags =
        libc::c_int::try_from(flags).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: see above.
    check(libc::c_long::from(unsafe {
        libc::close_range(first, u32::MAX, flags)
    }))
    .map(drop)
}

/// Close every fd of this process except 0, 1, 2 and `keep`.
///
/// Contract: the caller holds no Rust object (`OwnedFd`, `File`) for the fds being closed; they
/// are fds inherited from the caller of tooljail or copies made by clone that this process never
/// took ownership of.
pub fn close_fds_except(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd > 2)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 3u32;
    for k in keep {
        if k > first {
            // SAFETY: closes fds in [first, k-1], none of which is in `keep` (sorted); the
            // caller's contract says no Rust object owns them.
            check(libc::c_long::from(unsafe {
                libc::close_range(first, k - 1, 0)
            }))?;
        }
        first = k + 1;
    }
    close_range(first, 0)
}

/// Zero this process's argv and environment strings (the ranges the kernel reports in
/// /proc/self/stat fields 48-51), so /proc/PID/cmdline and /proc/PID/environ of pid 1 reveal
/// nothing of the caller. Afterwards `std::env::args()`/`var()` read empty strings.
pub fn scrub_args_and_env() -> io::Result<()> {
    scrub(true)
}

/// Zero this process's environment strings only (as [`scrub_args_and_env`]): the command line
/// is world-readable in /proc anyway and names the process in `ps`.
pub fn scrub_env() -> io::Result<()> {
    scrub(false)
}

fn scrub(args: bool) -> io::Result<()> {
    let strings = match STRINGS.get() {
        Some(s) => *s,
        None => self_stat()?.strings,
    };
    let ranges = if args {
        vec![strings.args, strings.env]
    } else {
        vec![strings.env]
    };
    for (start, end) in ranges {
        if start == 0 || end <= start {
            continue;
        }
        // SAFETY: the kernel reports [start, end) as this process's argv/env strings (or its
        // parent's before the clone or fork that made this process: the same addresses in this
        // copy of the address space, see [`STRINGS`]), which live in our own writable stack
        // mapping. No Rust reference points into them: std and
        // glibc keep only raw pointers (argv, environ), which stay valid and now read empty
        // strings. The process is single-threaded, so nothing reads them concurrently.
        unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
    }
    Ok(())
}
