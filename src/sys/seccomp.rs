//! Raw seccomp(2), the user-notification ioctls and the SCM_RIGHTS hand-off of the listener.
//!
//! Each function is a thin safe wrapper; the contract is written above it. None of them
//! allocates, so they can run in a freshly forked child.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `SECCOMP_SET_MODE_FILTER` (linux/seccomp.h).
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Set `PR_SET_NO_NEW_PRIVS` on the calling thread (idempotent; required to install a filter
/// without CAP_SYS_ADMIN). Errors are returned, never ignored.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes no pointers; it only sets a flag
    // on the calling thread.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    cvt(r.into()).map(|_| ())
}

/// Install `filter` on every thread of the calling process (`SECCOMP_FILTER_FLAG_TSYNC`, with
/// `TSYNC_ESRCH` as the kernel requires next to `NEW_LISTENER`: ESRCH when some thread cannot
/// be synchronised) and return the listener fd (`SECCOMP_FILTER_FLAG_NEW_LISTENER`; the kernel
/// opens it O_CLOEXEC). `WAIT_KILLABLE_RECV` (Linux 5.19): once the supervisor has taken a
/// notification, the caller waits for the answer killably only, so a signal cannot restart the
/// denied call and have it counted twice. The caller checked the program with the
/// verifier rules of `plan::seccomp::bpf::check`; the kernel checks again and returns EINVAL.
/// EBUSY means a filter with a listener is already installed (tooljail inside tooljail).
pub fn install_filter_with_listener(filter: &[libc::sock_filter]) -> io::Result<OwnedFd> {
    let len = u16::try_from(filter.len())
        .ok()
        .filter(|l| *l > 0)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let prog = libc::sock_fprog {
        len,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points to `len` initialised sock_filter entries that outlive the call;
    // the kernel copies the program and never writes through the pointer (the cast to *mut is
    // only the C type).
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
                | libc::SECCOMP_FILTER_FLAG_TSYNC
                | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH
                | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
            &prog as *const libc::sock_fprog,
        )
    };
    let fd = cvt(r)?;
    let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: on success seccomp(2) returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Room for one `SCM_RIGHTS` control message carrying one fd, aligned for `cmsghdr`.
#[repr(C)]
union CmsgBuf {
    _align: libc::cmsghdr,
    bytes: [u8; 64],
}

/// `sizeof(int)`, the SCM_RIGHTS payload of one fd, as the CMSG_* macros take it.
const INT_LEN: u32 = 4;
const _: () = assert!(size_of::<libc::c_int>() == 4);

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

/// Send `fd` over the unix socket `sock` (SCM_RIGHTS) with one payload byte, using exactly the
/// `flags` given (the seccomp filter may allow this sendmsg only for these flags).
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<()> {
    let mut payload = [b'L'];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: an all-zero CmsgBuf is a valid value (plain bytes).
    let mut buf: CmsgBuf = unsafe { zeroed() };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(INT_LEN) };
    // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: taking a raw pointer to the union's bytes, which outlive `msg`'s use.
    msg.msg_control = unsafe { buf.bytes.as_mut_ptr().cast() };
    msg.msg_controllen = usize::try_from(space).map_err(|_| einval())?;
    // SAFETY: msg_control points at `buf` (64 bytes, more than CMSG_SPACE(sizeof(int)) = 24)
    // and msg_controllen says `space`: CMSG_FIRSTHDR returns the start of `buf`.
    let c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    if c.is_null() {
        return Err(einval());
    }
    // SAFETY: `c` points at the start of `buf`, aligned for a cmsghdr (the union's `_align`
    // member) and valid for writes; no other reference to `buf` is live.
    let hdr = unsafe { &mut *c };
    hdr.cmsg_level = libc::SOL_SOCKET;
    hdr.cmsg_type = libc::SCM_RIGHTS;
    // SAFETY: CMSG_LEN only computes a size.
    hdr.cmsg_len = usize::try_from(unsafe { libc::CMSG_LEN(INT_LEN) }).map_err(|_| einval())?;
    // SAFETY: CMSG_DATA points just after the header, inside `buf`.
    let data = unsafe { libc::CMSG_DATA(c) };
    // SAFETY: cmsg_len leaves room for exactly one int at `data`, inside `buf`; unaligned write.
    unsafe { data.cast::<libc::c_int>().write_unaligned(fd.as_raw_fd()) };
    loop {
        // SAFETY: `msg` points to `iov`, `payload` and `buf`, all alive for the call.
        let r = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, flags) };
        match cvt(r as libc::c_long) {
            Ok(_) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Receive one fd sent by [`send_fd`] (marked O_CLOEXEC on arrival). `Ok(None)` when the peer
/// closed the socket without sending one. Blocks unless `sock` is non-blocking.
pub fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    let mut payload = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: all-zero CmsgBuf and msghdr are valid values.
    let mut buf: CmsgBuf = unsafe { zeroed() };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: taking a raw pointer to the union's bytes; the kernel writes at most
    // msg_controllen (64) bytes there.
    msg.msg_control = unsafe { buf.bytes.as_mut_ptr().cast() };
    msg.msg_controllen = 64;
    let n = loop {
        // SAFETY: `msg` points to live buffers of the stated sizes.
        let r = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        match cvt(r as libc::c_long) {
            Ok(n) => break n,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    };
    // SAFETY: CMSG_FIRSTHDR reads msg_control/msg_controllen, which the kernel set to the
    // received control data inside `buf`.
    let c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    if c.is_null() {
        return if n == 0 {
            Ok(None)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "hand-off message carried no fd",
            ))
        };
    }
    // SAFETY: `c` is non-null and points inside `buf`, at an aligned header the kernel wrote.
    let hdr = unsafe { &*c };
    let (level, kind, len) = (hdr.cmsg_level, hdr.cmsg_type, hdr.cmsg_len);
    // SAFETY: CMSG_LEN only computes a size.
    let want = usize::try_from(unsafe { libc::CMSG_LEN(INT_LEN) }).map_err(|_| einval())?;
    if level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS || len != want {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "hand-off message is not exactly one SCM_RIGHTS fd",
        ));
    }
    // SAFETY: the header says one int of SCM_RIGHTS data follows; the kernel installed that fd
    // in our table for us alone, so we own it.
    let data = unsafe { libc::CMSG_DATA(c) };
    // SAFETY: the header's length says one int follows, inside `buf`; unaligned read.
    let fd = unsafe { data.cast::<libc::c_int>().read_unaligned() };
    // SAFETY: see above: a fresh fd owned by nobody else.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// One received notification: `seccomp_notif` (id, pid, flags, seccomp_data).
pub type Notif = libc::seccomp_notif;

/// `SECCOMP_IOCTL_NOTIF_RECV`: wait for (or, after poll said POLLIN, take) one notification.
/// ENOENT means the notifying thread died before we read it; EINTR is returned as is.
pub fn notif_recv(listener: BorrowedFd<'_>) -> io::Result<Notif> {
    // SAFETY: the kernel requires the buffer zeroed; all-zero is a valid seccomp_notif.
    let mut n: Notif = unsafe { zeroed() };
    // SAFETY: `n` is a live, writable seccomp_notif whose size matches the one encoded in the
    // ioctl number; the kernel writes only that struct.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut n as *mut Notif,
        )
    };
    cvt(r.into()).map(|_| n)
}

/// `SECCOMP_IOCTL_NOTIF_SEND`: fail notification `id`'s syscall with `errno` (positive).
/// ENOENT means the target died or the notification is no longer pending.
pub fn notif_deny(listener: BorrowedFd<'_>, id: u64, errno: i32) -> io::Result<()> {
    notif_send(listener, id, -errno, 0)
}

/// `SECCOMP_IOCTL_NOTIF_SEND` with `SECCOMP_USER_NOTIF_FLAG_CONTINUE`: let notification `id`'s
/// syscall run in the kernel as if no filter had stopped it. Only for calls the filter merely
/// observes: the kernel, not this answer, decides whether they succeed.
pub fn notif_continue(listener: BorrowedFd<'_>, id: u64) -> io::Result<()> {
    let flags = u32::try_from(libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE).map_err(|_| einval())?;
    notif_send(listener, id, 0, flags)
}

fn notif_send(listener: BorrowedFd<'_>, id: u64, error: i32, flags: u32) -> io::Result<()> {
    let resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error,
        flags,
    };
    // SAFETY: `resp` is a fully initialised seccomp_notif_resp the kernel only reads.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &resp as *const libc::seccomp_notif_resp,
        )
    };
    cvt(r.into()).map(|_| ())
}

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (linux/seccomp.h; Linux 6.6).
const USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// `SECCOMP_IOCTL_NOTIF_SET_FLAGS` with `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6): a
/// notification wakes the listener, and its answer the caller, on the CPU the waker runs on,
/// so each round trip is a direct switch between the two tasks instead of a wake-up on
/// another CPU. Only the scheduling changes, never an answer. EINVAL on older kernels.
pub fn notif_sync_wake_up(listener: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: SET_FLAGS takes its flags as the ioctl's integer argument; no memory is passed.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            USER_NOTIF_FD_SYNC_WAKE_UP,
        )
    };
    cvt(r.into()).map(|_| ())
}

/// `SECCOMP_IOCTL_NOTIF_ID_VALID`: whether notification `id` is still pending, i.e. its task
/// is still the one blocked in it (so what was read from `/proc/PID/...` meanwhile was that
/// task's, not a process that took its pid after it died).
pub fn notif_id_valid(listener: BorrowedFd<'_>, id: u64) -> bool {
    // SAFETY: the kernel reads one u64 through the pointer, which is valid for the call.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &id as *const u64,
        )
    };
    r == 0
}

/// `memfd_create("tooljail", flags)`: a new memfd owned by the caller. Errors are the
/// kernel's (EINVAL for flags it does not know, EMFILE, ENOMEM, ...).
pub fn memfd_create(flags: u32) -> io::Result<OwnedFd> {
    // SAFETY: the name is a NUL-terminated literal the kernel only reads; flags are checked by
    // the kernel.
    let fd = unsafe { libc::memfd_create(c"tooljail".as_ptr(), flags) };
    cvt(fd.into())?;
    // SAFETY: memfd_create returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `SECCOMP_IOCTL_NOTIF_ADDFD` with `SECCOMP_ADDFD_FLAG_SEND` (Linux 5.14): install a copy of
/// `fd` in notification `id`'s process (close-on-exec when `cloexec`) and, in the same step,
/// make its pending syscall return the new fd number, which is also returned here. ENOENT
/// means the target died or the notification is no longer pending; EINVAL on kernels without
/// the SEND flag.
pub fn notif_addfd_send(
    listener: BorrowedFd<'_>,
    id: u64,
    fd: BorrowedFd<'_>,
    cloexec: bool,
) -> io::Result<i32> {
    let addfd = libc::seccomp_notif_addfd {
        id,
        flags: u32::try_from(libc::SECCOMP_ADDFD_FLAG_SEND).map_err(|_| einval())?,
        srcfd: u32::try_from(fd.as_raw_fd()).map_err(|_| einval())?,
        newfd: 0,
        newfd_flags: if cloexec {
            u32::try_from(libc::O_CLOEXEC).map_err(|_| einval())?
        } else {
            0
        },
    };
    // SAFETY: `addfd` is a fully initialised seccomp_notif_addfd the kernel only reads; srcfd
    // is a live fd borrowed for the duration of the call.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ADDFD,
            &addfd as *const libc::seccomp_notif_addfd,
        )
    };
    cvt(r.into()).and_then(|n| i32::try_from(n).map_err(|_| einval()))
}
