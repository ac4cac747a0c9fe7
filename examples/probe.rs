//! tooljail's seccomp probe: run inside the jail, it tries what the filter must stop and what
//! it must let through, and prints one JSON line per check:
//!
//!     {"check":"ptrace","expected":"EPERM","got":"EPERM","ok":true}
//!
//! Denied calls are made with harmless arguments (bad pointers, invalid fds or flags), so a
//! filter that wrongly allowed them still does nothing. Allowed calls get bad pointers and must
//! fail with EFAULT: the kernel ran them, so the filter let them through.
//!
//! Modes:
//!   probe                 all checks below; exit 0 when every one is ok, 1 otherwise
//!   probe int80           i386 getuid (24) via `int $0x80` (x86_64 only): the filter must
//!                         kill the process with SIGSYS; surviving prints a failed check
//!   probe x32             getpid with the x32 bit set: must die of SIGSYS
//!   probe bench N         N getppid syscalls (allowed): ns per call
//!   probe bench-denied N  N ptrace calls (always denied): ns per call
//!   probe bench-mmap N    N mmap(NULL, 0) calls (EINVAL at once): the filter's cost on a
//!                         call with an argument rule (the memory watch point's)
//!   probe bench-close N   N close(-1) calls (EBADF): likewise for close (open files')
//!   probe unknown-flood N N syscalls numbered 1000, 1001, ... (no such syscall anywhere):
//!                         `{"flood":N,"failed":F,"errnos":[...]}`
//!   probe ops OP...       one line per OP, `{"op":OP,"got":"ok"|ERRNO}`, exit 0; for the
//!                         Landlock checks of the full jail. OP is one of:
//!                           connect:PORT    TCP connect to 127.0.0.1:PORT
//!                           bind:PORT       TCP bind to 127.0.0.1:PORT
//!                           abstract:NAME   connect to the abstract unix socket @NAME
//!                           kill:PID:SIG    kill(PID, SIG) (SIG 0 only checks permission)
//!                           memfd:FLAGS     memfd_create(FLAGS), then write and read it back;
//!                                           E71 (EPROTO) when its close-on-exec state is not
//!                                           what MFD_CLOEXEC asked
//!                           memfd-exec:FLAGS:HOW  memfd_create(FLAGS), copy this binary into
//!                                           it, fchmod 0755 (result ignored, as an attacker
//!                                           would), and exec it in a child, HOW = execveat
//!                                           (fd, "", AT_EMPTY_PATH) or proc (/proc/self/fd/N);
//!                                           ok when the copy ran (`probe exit42`)
//!   probe exit42          exit with status 42 (what memfd-exec runs)
//!   probe thief SECS NEEDLE ANCESTOR MARK  on the host, as the jail's uid: for SECS seconds,
//!                         over and over, every process named `tooljail` that descends from pid
//!                         ANCESTOR (within 4 generations) through a process whose command line
//!                         holds MARK (the race's own runs: the test suite runs other tooljail
//!                         calls as the test user at the same time, whose processes are that
//!                         user's own to take) is attacked as another process of
//!                         its uid would: its /proc/PID/environ searched for NEEDLE, fds 3-19
//!                         taken with pidfd_getfd and opened through /proc/PID/fd/N. One line
//!                         per success, `{"stole":"environ"|"getfd"|"procfd","pid":P,"fd":N,
//!                         "what":LINK}`, then `{"thief":"done","rounds":R,"seen":S}` (S: the
//!                         distinct tooljail processes of our uid seen, to show the race ran)
//!
//! Needs only `libc`, so it runs in a jail that holds nothing but its binary.
#![allow(
    unsafe_code,
    clippy::multiple_unsafe_ops_per_block,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_lossless,
    clippy::ptr_as_ptr,
    reason = "a probe that makes raw syscalls with deliberately odd arguments, from inside the jail"
)]

use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

/// A raw syscall: `Ok(return value)` or `Err(errno)`.
fn sys(nr: libc::c_long, a: [usize; 6]) -> Result<libc::c_long, i32> {
    // SAFETY: every caller passes arguments that the kernel validates (invalid fds, bad
    // pointers it copies from with copy_from_user, flags it checks); no call here writes to
    // memory this program owns except through pointers to live locals.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}

/// A pointer the kernel must refuse with EFAULT (page 0 is never mapped).
const BAD: usize = 1;
/// An fd number that is never open here.
const NOFD: usize = (-1i64) as usize;

fn errno_name(e: i32) -> String {
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EFAULT => "EFAULT",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSYS => "ENOSYS",
        libc::EACCES => "EACCES",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBUSY => "EBUSY",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENODEV => "ENODEV",
        libc::ETXTBSY => "ETXTBSY",
        _ => return format!("E{e}"),
    };
    n.to_string()
}

struct Report {
    failed: usize,
}

impl Report {
    /// Print one check. `expected` is an errno name or "ok" (the call succeeded).
    fn check(&mut self, name: &str, expected: &str, got: Result<libc::c_long, i32>) {
        let got = match got {
            Ok(_) => "ok".to_string(),
            Err(e) => errno_name(e),
        };
        let ok = got == expected;
        if !ok {
            self.failed += 1;
        }
        println!(r#"{{"check":"{name}","expected":"{expected}","got":"{got}","ok":{ok}}}"#);
    }
}

fn n(name: libc::c_long) -> libc::c_long {
    name
}

fn checks() -> i32 {
    let mut r = Report { failed: 0 };
    use libc::*;
    // Always denied (hardening): EPERM from the supervisor's answer.
    let denied: &[(&str, c_long, [usize; 6])] = &[
        ("io_uring_setup", SYS_io_uring_setup, [1, BAD, 0, 0, 0, 0]),
        ("io_uring_enter", SYS_io_uring_enter, [NOFD, 0, 0, 0, 0, 0]),
        (
            "io_uring_register",
            SYS_io_uring_register,
            [NOFD, 0, 0, 0, 0, 0],
        ),
        ("bpf", SYS_bpf, [0xffff, BAD, 0, 0, 0, 0]),
        (
            "perf_event_open",
            SYS_perf_event_open,
            [BAD, 0, NOFD, NOFD, 0, 0],
        ),
        ("userfaultfd", SYS_userfaultfd, [0xffff_ffff, 0, 0, 0, 0, 0]),
        ("keyctl", SYS_keyctl, [0xffff, 0, 0, 0, 0, 0]),
        ("add_key", SYS_add_key, [BAD, BAD, 0, 0, 0, 0]),
        ("request_key", SYS_request_key, [BAD, BAD, 0, 0, 0, 0]),
        ("kexec_load", SYS_kexec_load, [0, 0, 0, 0xffff_0000, 0, 0]),
        (
            "kexec_file_load",
            SYS_kexec_file_load,
            [NOFD, NOFD, 0, 0, 0xffff_0000, 0],
        ),
        ("init_module", SYS_init_module, [BAD, 0, BAD, 0, 0, 0]),
        ("finit_module", SYS_finit_module, [NOFD, BAD, 0, 0, 0, 0]),
        ("delete_module", SYS_delete_module, [BAD, 0, 0, 0, 0, 0]),
        ("ptrace", SYS_ptrace, [0xffff, 0, 0, 0, 0, 0]),
        (
            "process_vm_readv",
            SYS_process_vm_readv,
            [0, BAD, 1, BAD, 1, 0],
        ),
        (
            "process_vm_writev",
            SYS_process_vm_writev,
            [0, BAD, 1, BAD, 1, 0],
        ),
        (
            "open_by_handle_at",
            SYS_open_by_handle_at,
            [NOFD, BAD, 0, 0, 0, 0],
        ),
        (
            "name_to_handle_at",
            SYS_name_to_handle_at,
            [NOFD, BAD, BAD, BAD, 0, 0],
        ),
        ("mount", SYS_mount, [BAD, BAD, BAD, 0, 0, 0]),
        ("umount2", SYS_umount2, [BAD, 0, 0, 0, 0, 0]),
        ("pivot_root", SYS_pivot_root, [BAD, BAD, 0, 0, 0, 0]),
        ("move_mount", SYS_move_mount, [NOFD, BAD, NOFD, BAD, 0, 0]),
        ("fsopen", SYS_fsopen, [BAD, 0, 0, 0, 0, 0]),
        ("fsmount", SYS_fsmount, [NOFD, 0, 0, 0, 0, 0]),
        ("fsconfig", SYS_fsconfig, [NOFD, 0, 0, 0, 0, 0]),
        ("fspick", SYS_fspick, [NOFD, BAD, 0, 0, 0, 0]),
        ("open_tree", SYS_open_tree, [NOFD, BAD, 0, 0, 0, 0]),
        (
            "mount_setattr",
            SYS_mount_setattr,
            [NOFD, BAD, 0, BAD, 0, 0],
        ),
        ("setns", SYS_setns, [NOFD, 0, 0, 0, 0, 0]),
        ("acct", SYS_acct, [BAD, 0, 0, 0, 0, 0]),
        ("swapon", SYS_swapon, [BAD, 0, 0, 0, 0, 0]),
        ("swapoff", SYS_swapoff, [BAD, 0, 0, 0, 0, 0]),
        ("reboot", SYS_reboot, [0, 0, 0, 0, 0, 0]),
        ("syslog", SYS_syslog, [10, 0, 0, 0, 0, 0]),
    ];
    for (name, nr, args) in denied {
        r.check(name, "EPERM", sys(*nr, *args));
    }

    // Allowed calls with bad pointers: the kernel ran them and said EFAULT.
    let mut p = [0i32; 2];
    let pipe_ok = sys(
        n(SYS_pipe2),
        [p.as_mut_ptr() as usize, O_CLOEXEC as usize, 0, 0, 0, 0],
    );
    r.check("pipe2", "ok", pipe_ok);
    let (rd, wr) = (p[0] as usize, p[1] as usize);
    let one = [b'x'];
    r.check(
        "write",
        "ok",
        sys(n(SYS_write), [wr, one.as_ptr() as usize, 1, 0, 0, 0]),
    );
    r.check(
        "read-efault",
        "EFAULT",
        sys(n(SYS_read), [rd, BAD, 1, 0, 0, 0]),
    );
    r.check(
        "write-efault",
        "EFAULT",
        sys(n(SYS_write), [wr, BAD, 1, 0, 0, 0]),
    );
    r.check(
        "uname-efault",
        "EFAULT",
        sys(n(SYS_uname), [BAD, 0, 0, 0, 0, 0]),
    );
    r.check(
        "getrandom-efault",
        "EFAULT",
        sys(n(SYS_getrandom), [BAD, 8, 0, 0, 0, 0]),
    );
    let clk = sys(n(SYS_clock_gettime), [0, BAD, 0, 0, 0, 0]);
    r.check("clock_gettime-efault", "EFAULT", clk);
    let cwd = sys(n(SYS_getcwd), [BAD, 4096, 0, 0, 0, 0]);
    r.check("getcwd-efault", "EFAULT", cwd);
    let st = sys(n(SYS_newfstatat), [AT_FDCWD as usize, BAD, BAD, 0, 0, 0]);
    r.check("newfstatat-efault", "EFAULT", st);
    let ioc = sys(n(SYS_ioctl), [NOFD, TCGETS as usize, 0, 0, 0, 0]);
    r.check("ioctl-tcgets-ebadf", "EBADF", ioc);

    // TIOCSTI / TIOCLINUX: denied on the low 32 bits, whatever the high bits say.
    let c = [b'x'];
    let hi = 0xdead_beef_0000_0000u64 as usize;
    let sti = sys(
        n(SYS_ioctl),
        [wr, hi | TIOCSTI as usize, c.as_ptr() as usize, 0, 0, 0],
    );
    r.check("ioctl-tiocsti-high-bits", "EPERM", sti);
    let sti = sys(
        n(SYS_ioctl),
        [wr, TIOCSTI as usize, c.as_ptr() as usize, 0, 0, 0],
    );
    r.check("ioctl-tiocsti", "EPERM", sti);
    let lnx = sys(
        n(SYS_ioctl),
        [wr, TIOCLINUX as usize, c.as_ptr() as usize, 0, 0, 0],
    );
    r.check("ioctl-tioclinux", "EPERM", lnx);

    // Socket families.
    for (name, dom, ty, proto, want) in [
        ("socket-af_unix", AF_UNIX, SOCK_STREAM, 0, "ok"),
        ("socket-af_inet", AF_INET, SOCK_STREAM, 0, "ok"),
        ("socket-af_inet6", AF_INET6, SOCK_DGRAM, 0, "ok"),
        (
            "socket-netlink_route",
            AF_NETLINK,
            SOCK_RAW,
            NETLINK_ROUTE,
            "ok",
        ),
        (
            "socket-netlink_audit",
            AF_NETLINK,
            SOCK_RAW,
            NETLINK_AUDIT,
            "EAFNOSUPPORT",
        ),
        ("socket-af_packet", AF_PACKET, SOCK_RAW, 0, "EAFNOSUPPORT"),
        ("socket-af_alg", AF_ALG, SOCK_SEQPACKET, 0, "EAFNOSUPPORT"),
        ("socket-af_vsock", AF_VSOCK, SOCK_STREAM, 0, "EAFNOSUPPORT"),
    ] {
        let flags = (ty | SOCK_CLOEXEC) as usize;
        let s = sys(
            n(SYS_socket),
            [dom as usize, flags, proto as usize, 0, 0, 0],
        );
        if let Ok(fd) = s {
            let _ = sys(n(SYS_close), [fd as usize, 0, 0, 0, 0, 0]);
        }
        r.check(name, want, s);
    }

    // socketpair: AF_UNIX only. Any other family would run that family's create code (and
    // maybe load its module) before the kernel says no, so the filter answers first.
    for (name, dom, ty, want) in [
        ("socketpair-af_unix", AF_UNIX, SOCK_STREAM, "ok"),
        ("socketpair-af_vsock", AF_VSOCK, SOCK_DGRAM, "EAFNOSUPPORT"),
        ("socketpair-af_inet", AF_INET, SOCK_STREAM, "EAFNOSUPPORT"),
        (
            "socketpair-af_netlink",
            AF_NETLINK,
            SOCK_RAW,
            "EAFNOSUPPORT",
        ),
    ] {
        let mut sv = [-1i32; 2];
        let flags = (ty | SOCK_CLOEXEC) as usize;
        let s = sys(
            n(SYS_socketpair),
            [dom as usize, flags, 0, sv.as_mut_ptr() as usize, 0, 0],
        );
        if s.is_ok() {
            for fd in sv {
                let _ = sys(n(SYS_close), [fd as usize, 0, 0, 0, 0, 0]);
            }
        }
        r.check(name, want, s);
    }

    // personality: the query and PER_LINUX pass; persona flags are denied.
    const ADDR_NO_RANDOMIZE: usize = 0x0040000;
    const READ_IMPLIES_EXEC: usize = 0x0400000;
    let query = sys(n(SYS_personality), [0xffff_ffff, 0, 0, 0, 0, 0]);
    r.check("personality-query", "ok", query);
    let linux = sys(n(SYS_personality), [0, 0, 0, 0, 0, 0]);
    r.check("personality-linux", "ok", linux);
    let norand = sys(n(SYS_personality), [ADDR_NO_RANDOMIZE, 0, 0, 0, 0, 0]);
    r.check("personality-addr_no_randomize", "EPERM", norand);
    let rie = sys(n(SYS_personality), [READ_IMPLIES_EXEC, 0, 0, 0, 0, 0]);
    r.check("personality-read_implies_exec", "EPERM", rie);
    // Restore, in case a broken filter let one through (it only affects a later execve).
    let _ = sys(n(SYS_personality), [0, 0, 0, 0, 0, 0]);

    // clone3 -> ENOSYS so libc falls back to clone; threads and fork still work.
    r.check(
        "clone3-enosys",
        "ENOSYS",
        sys(n(SYS_clone3), [BAD, 88, 0, 0, 0, 0]),
    );
    let t = std::thread::spawn(|| 7).join();
    r.check(
        "thread",
        "ok",
        if matches!(t, Ok(7)) { Ok(0) } else { Err(0) },
    );
    r.check("fork", "ok", fork_and_wait(SIGCHLD as usize));
    r.check(
        "clone-newuser",
        "EPERM",
        fork_and_wait((CLONE_NEWUSER | SIGCHLD) as usize),
    );
    r.check(
        "clone-newns-newpid",
        "EPERM",
        fork_and_wait((CLONE_NEWNS | CLONE_NEWPID | SIGCHLD) as usize),
    );
    // Last: if the filter failed, this one would actually change our namespace.
    r.check(
        "unshare-newuser",
        "EPERM",
        sys(n(SYS_unshare), [CLONE_NEWUSER as usize, 0, 0, 0, 0, 0]),
    );
    r.check(
        "unshare-0",
        "EPERM",
        sys(n(SYS_unshare), [0, 0, 0, 0, 0, 0]),
    );
    i32::from(r.failed > 0)
}

/// clone(flags) like fork; the child exits at once. `Ok(0)` when the child ran and exited 0.
fn fork_and_wait(flags: usize) -> Result<libc::c_long, i32> {
    // clone(flags, newsp=0, ...) behaves like fork: the child continues on a copy of our stack.
    let pid = sys(libc::SYS_clone, [flags, 0, 0, 0, 0, 0])?;
    if pid == 0 {
        // SAFETY: in the child of a fork-like clone; _exit runs no destructors or atexit
        // handlers that could touch state shared with the parent.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0i32;
    sys(
        libc::SYS_wait4,
        [pid as usize, &mut status as *mut i32 as usize, 0, 0, 0, 0],
    )?;
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(0)
    } else {
        Err(0)
    }
}

#[cfg(target_arch = "x86_64")]
fn int80() -> i32 {
    let mut rax: i64 = 24; // getuid in the i386 table
                           // SAFETY: `int $0x80` enters the kernel's i386 compat entry with eax = 24 (getuid), which
                           // takes no arguments and touches no memory; the instruction clobbers r8-r11 on return,
                           // which we declare.
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inout("rax") rax,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack)
        );
    }
    let mut r = Report { failed: 0 };
    r.check("int80-getuid", "SIGSYS", Ok(rax as libc::c_long));
    1
}

#[cfg(not(target_arch = "x86_64"))]
fn int80() -> i32 {
    println!(r#"{{"check":"int80-getuid","expected":"SIGSYS","got":"unsupported","ok":false}}"#);
    2
}

fn x32() -> i32 {
    let got = sys(0x4000_0000 | libc::SYS_getpid, [0; 6]);
    let mut r = Report { failed: 0 };
    r.check("x32-getpid", "SIGSYS", got);
    1
}

/// `count` syscalls with distinct numbers past every table (1000, 1001, ...): each one is
/// denied by the profile's default action. Prints how many failed and with which errnos.
fn unknown_flood(count: u64) -> i32 {
    let mut failed = 0u64;
    let mut errnos = std::collections::BTreeSet::new();
    for i in 0..count {
        if let Err(e) = sys(1000 + i as libc::c_long, [0; 6]) {
            failed += 1;
            errnos.insert(errno_name(e));
        }
    }
    let errnos: Vec<String> = errnos.into_iter().map(|e| format!("\"{e}\"")).collect();
    println!(
        r#"{{"flood":{count},"failed":{failed},"errnos":[{}]}}"#,
        errnos.join(",")
    );
    0
}

fn bench(nr: libc::c_long, args: [usize; 6], label: &str, count: u64) -> i32 {
    // Warm up (first denial also pays the supervisor's first poll wake-up).
    for _ in 0..1000.min(count) {
        let _ = sys(nr, args);
    }
    let t = Instant::now();
    for _ in 0..count {
        let _ = sys(nr, args);
    }
    let ns = t.elapsed().as_nanos() as f64 / count as f64;
    println!(r#"{{"bench":"{label}","calls":{count},"ns_per_call":{ns:.1}}}"#);
    0
}

/// An executable mapping of a file and its unmapping, `count` times: what loading a shared
/// library does, and what the jail's filter shows the supervisor (one observed call each). The
/// munmap unmaps only the page the mmap before it returned.
fn bench_map_exec(count: u64) -> i32 {
    use std::os::fd::AsRawFd;
    let Ok(exe) = std::fs::File::open("/proc/self/exe") else {
        return 1;
    };
    let fd = exe.as_raw_fd() as usize;
    let prot = (libc::PROT_READ | libc::PROT_EXEC) as usize;
    let args = [0, 4096, prot, libc::MAP_PRIVATE as usize, fd, 0];
    let once = || match sys(libc::SYS_mmap, args) {
        Ok(addr) => sys(libc::SYS_munmap, [addr as usize, 4096, 0, 0, 0, 0]).map(|_| ()),
        Err(e) => Err(e),
    };
    for _ in 0..100.min(count) {
        if once().is_err() {
            return 1;
        }
    }
    let t = Instant::now();
    for _ in 0..count {
        if once().is_err() {
            return 1;
        }
    }
    let ns = t.elapsed().as_nanos() as f64 / count as f64;
    println!(r#"{{"bench":"mmap-exec","calls":{count},"ns_per_call":{ns:.1}}}"#);
    0
}

/// One operation of `probe ops`: `Ok(())` or `Err(errno)` (EINVAL for a malformed OP).
fn op(spec: &str) -> Result<(), i32> {
    use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixStream};
    let io = |e: std::io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    let mut parts = spec.split(':');
    let (what, a, b) = (parts.next(), parts.next(), parts.next());
    let port = |a: Option<&str>| a.and_then(|p| p.parse::<u16>().ok()).ok_or(libc::EINVAL);
    match what {
        Some("connect") => {
            let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port(a)?);
            TcpStream::connect(addr).map(drop).map_err(io)
        }
        Some("bind") => {
            let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port(a)?);
            TcpListener::bind(addr).map(drop).map_err(io)
        }
        Some("abstract") => {
            let addr = SocketAddr::from_abstract_name(a.ok_or(libc::EINVAL)?).map_err(io)?;
            UnixStream::connect_addr(&addr).map(drop).map_err(io)
        }
        Some("kill") => {
            let pid = a.and_then(|p| p.parse::<i32>().ok()).ok_or(libc::EINVAL)?;
            let sig = b.and_then(|s| s.parse::<i32>().ok()).ok_or(libc::EINVAL)?;
            sys(libc::SYS_kill, [pid as usize, sig as usize, 0, 0, 0, 0]).map(drop)
        }
        Some("memfd") => {
            let flags = hex(a)?;
            let fd = memfd(flags)?;
            let data = *b"jail";
            let mut back = [0u8; 4];
            // SAFETY: `fd` is our memfd; the buffers are live locals of the given lengths.
            let (w, r, fdflags) = unsafe {
                (
                    libc::pwrite(fd, data.as_ptr().cast(), 4, 0),
                    libc::pread(fd, back.as_mut_ptr().cast(), 4, 0),
                    libc::fcntl(fd, libc::F_GETFD),
                )
            };
            // SAFETY: closing our own fd.
            unsafe { libc::close(fd) };
            if w != 4 || r != 4 || back != data {
                return Err(libc::EIO);
            }
            let want = flags & libc::MFD_CLOEXEC != 0;
            if (fdflags & libc::FD_CLOEXEC != 0) != want {
                return Err(libc::EPROTO);
            }
            Ok(())
        }
        Some("memfd-exec") => memfd_exec(hex(a)?, b.ok_or(libc::EINVAL)?),
        _ => Err(libc::EINVAL),
    }
}

/// A flags argument: `0x..` hex or decimal.
fn hex(a: Option<&str>) -> Result<u32, i32> {
    let a = a.ok_or(libc::EINVAL)?;
    match a.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => a.parse(),
    }
    .map_err(|_| libc::EINVAL)
}

fn memfd(flags: u32) -> Result<i32, i32> {
    sys(
        libc::SYS_memfd_create,
        [c"probe".as_ptr() as usize, flags as usize, 0, 0, 0, 0],
    )
    .map(|fd| fd as i32)
}

/// See `memfd-exec` in the module comment.
fn memfd_exec(flags: u32, how: &str) -> Result<(), i32> {
    use std::ffi::CString;
    let image =
        std::fs::read("/proc/self/exe").map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    let fd = memfd(flags)?;
    let mut off = 0;
    while off < image.len() {
        // SAFETY: writes from a live buffer into our memfd.
        let n = unsafe { libc::write(fd, image[off..].as_ptr().cast(), image.len() - off) };
        if n <= 0 {
            return Err(libc::EIO);
        }
        off += n as usize;
    }
    // SAFETY: fchmod on our own fd; failure (a sealed memfd) is what the check wants to see.
    unsafe { libc::fchmod(fd, 0o755) };
    let path = CString::new(format!("/proc/self/fd/{fd}")).map_err(|_| libc::EINVAL)?;
    let arg0 = c"probe";
    let arg1 = c"exit42";
    let argv = [arg0.as_ptr(), arg1.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    let by_proc = match how {
        "execveat" => false,
        "proc" => true,
        _ => return Err(libc::EINVAL),
    };
    // SAFETY: fork in a single-threaded probe; the child only calls execve(at) and _exit with
    // memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: argv/envp are NULL-terminated arrays of live C strings; on failure the child
        // leaves at once with the errno as its status.
        unsafe {
            if by_proc {
                libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            } else {
                libc::syscall(
                    libc::SYS_execveat,
                    fd,
                    c"".as_ptr(),
                    argv.as_ptr(),
                    envp.as_ptr(),
                    libc::AT_EMPTY_PATH,
                );
            }
            libc::_exit(*libc::__errno_location() & 0x7f);
        }
    }
    if pid < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    let mut status = 0;
    // SAFETY: waits for our own child into a live local.
    unsafe {
        libc::waitpid(pid, &mut status, 0);
        libc::close(fd);
    }
    match (libc::WIFEXITED(status), libc::WEXITSTATUS(status)) {
        (true, 42) => Ok(()),
        (true, code) => Err(code),
        _ => Err(libc::EINTR),
    }
}

fn ops(specs: &[String]) -> i32 {
    for spec in specs {
        let got = match op(spec) {
            Ok(()) => "ok".to_string(),
            Err(e) => errno_name(e),
        };
        println!(r#"{{"op":"{spec}","got":"{got}"}}"#);
    }
    0
}

/// Whether `ancestor` is among the 4 parents above `pid` (`PPid:` of /proc/PID/status).
fn descends(mut pid: i32, ancestor: i32) -> bool {
    for _ in 0..4 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let Some(parent) = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|p| p.trim().parse::<i32>().ok())
        else {
            return false;
        };
        if parent == ancestor {
            return true;
        }
        pid = parent;
    }
    false
}

/// Whether `pid` or one of its ancestors below `ancestor` (within 4 generations) has `mark` in
/// its command line. Pid 1 of a jail scrubs its own, so its supervisor's is the one that holds it.
fn marked(mut pid: i32, ancestor: i32, mark: &str) -> bool {
    for _ in 0..5 {
        if pid == ancestor || pid <= 1 {
            return false;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.windows(mark.len()).any(|w| w == mark.as_bytes()) {
            return true;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        match status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            Some(parent) => pid = parent,
            None => return false,
        }
    }
    false
}

/// `probe thief`: see the module's comment.
fn thief(secs: u64, needle: &str, ancestor: i32, mark: &str) -> i32 {
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;
    // SAFETY: getuid has no preconditions.
    let me = unsafe { libc::getuid() };
    let deadline = Instant::now() + std::time::Duration::from_secs(secs);
    let mut seen: HashSet<i32> = HashSet::new();
    let mut said: HashSet<String> = HashSet::new();
    let mut rounds = 0u64;
    let link = |path: &str| {
        std::fs::read_link(path).map_or_else(|e| format!("?{e}"), |l| l.display().to_string())
    };
    let mut say = |line: String| {
        if said.insert(line.clone()) && said.len() < 200 {
            println!("{line}");
        }
    };
    while Instant::now() < deadline {
        rounds += 1;
        let Ok(dir) = std::fs::read_dir("/proc") else {
            break;
        };
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm != b"tooljail\n"
                || !descends(pid, ancestor)
                || (!mark.is_empty() && !marked(pid, ancestor, mark))
            {
                continue;
            }
            if std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == me) {
                seen.insert(pid);
            }
            // What is taken is said unless the process exec'd meanwhile (comm changed: it is the
            // command now) and what was taken is a descriptor: then it is the command's own
            // (its loader's /etc/ld.so.cache, a library), not tooljail's; descriptors tooljail
            // leaks into the command are jail::caller_fds_are_not_inherited's to catch. A secret
            // in its environment is said either way.
            let mut found: Vec<(String, bool)> = Vec::new();
            if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
                if !needle.is_empty() && env.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push((
                        format!(r#"{{"stole":"environ","pid":{pid},"fd":0,"what":""}}"#),
                        false,
                    ));
                }
            }
            if let Ok(pidfd) = sys(libc::SYS_pidfd_open, [pid as usize, 0, 0, 0, 0, 0]) {
                for n in 3..20usize {
                    if let Ok(fd) = sys(libc::SYS_pidfd_getfd, [pidfd as usize, n, 0, 0, 0, 0]) {
                        let what = link(&format!("/proc/self/fd/{fd}"));
                        found.push((
                            format!(r#"{{"stole":"getfd","pid":{pid},"fd":{n},"what":"{what}"}}"#),
                            true,
                        ));
                        // SAFETY: `fd` is the descriptor pidfd_getfd just gave us.
                        unsafe { libc::close(fd as i32) };
                    }
                }
                // SAFETY: `pidfd` is the descriptor pidfd_open just gave us.
                unsafe { libc::close(pidfd as i32) };
            }
            for n in 3..20 {
                let path = format!("/proc/{pid}/fd/{n}");
                let opened = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&path);
                if let Ok(f) = opened {
                    use std::os::fd::AsRawFd;
                    let what = link(&format!("/proc/self/fd/{}", f.as_raw_fd()));
                    found.push((
                        format!(r#"{{"stole":"procfd","pid":{pid},"fd":{n},"what":"{what}"}}"#),
                        true,
                    ));
                }
            }
            let execd = std::fs::read(format!("/proc/{pid}/comm")).unwrap_or_default() != comm;
            for (line, is_fd) in found {
                if !(execd && is_fd) {
                    say(line);
                }
            }
        }
    }
    println!(
        r#"{{"thief":"done","rounds":{rounds},"seen":{}}}"#,
        seen.len()
    );
    0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = |i: usize| -> u64 { args.get(i).and_then(|s| s.parse().ok()).unwrap_or(100_000) };
    let code = match args.first().map(String::as_str) {
        None | Some("checks") => checks(),
        Some("int80") => int80(),
        Some("x32") => x32(),
        Some("bench") => bench(libc::SYS_getppid, [0; 6], "getppid", count(1)),
        Some("bench-denied") => bench(
            libc::SYS_ptrace,
            [0xffff, 0, 0, 0, 0, 0],
            "ptrace-denied",
            count(1),
        ),
        Some("bench-mmap") => bench(
            libc::SYS_mmap,
            [0, 0, 3, 0x22, usize::MAX, 0],
            "mmap-einval",
            count(1),
        ),
        Some("bench-close") => bench(
            libc::SYS_close,
            [usize::MAX, 0, 0, 0, 0, 0],
            "close-ebadf",
            count(1),
        ),
        Some("bench-map-exec") => bench_map_exec(count(1)),
        Some("ops") => ops(&args[1..]),
        Some("unknown-flood") => unknown_flood(count(1)),
        Some("exit42") => 42,
        Some("thief") => thief(
            count(1),
            args.get(2).map_or("", String::as_str),
            args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1),
            args.get(4).map_or("", String::as_str),
        ),
        Some(other) => {
            eprintln!(
                "probe: unknown mode {other:?} \
                 (checks|int80|x32|bench N|bench-denied N|bench-mmap N|bench-close N|\
                 unknown-flood N|ops OP...|exit42|thief SECS NEEDLE ANCESTOR)"
            );
            2
        }
    };
    std::process::exit(code);
}
