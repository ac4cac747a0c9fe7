//! The jail's own sysctls, written by pid 1 through its fresh /proc while /proc/sys is still
//! writable (the new root makes it read-only just after): the IPC namespace's limits and the
//! jail user namespace's inotify caps. Each file is read and, when a value must change, lowered
//! through the same open.

use super::step;
use crate::error::{Error, Result};
use crate::plan::limits::{IpcCaps, UserNsCaps};
use crate::sys::mount;
use std::ffi::CString;
use std::os::fd::BorrowedFd;

/// The IPC namespace's own limits ([`IpcCaps`], planned before clone), written through the fresh
/// proc while /proc/sys is still writable (it is made read-only just after). The kernel lets
/// only the IPC namespace's uid 0 write these (a uid check, not a capability): pid 1, and also
/// the command, whose kernel uid is the same; what stops the command is /proc/sys mounted
/// read-only, and Landlock's read-only rule for /proc behind it.
pub(super) fn limit_ipc(proc: BorrowedFd<'_>, caps: Option<IpcCaps>) -> Result<()> {
    let Some(caps) = caps else {
        return Ok(());
    };
    let per_queue = sysctl(proc, "kernel/msgmnb", |_| true)?[0].max(1);
    // Lower field `i` of `name` to `cap`, leaving the others as they are.
    let lower = |name: &str, i: usize, cap: u64| {
        sysctl(proc, &format!("kernel/{name}"), |values| {
            match values.get_mut(i) {
                Some(field) => {
                    *field = (*field).min(cap);
                    true
                }
                None => false,
            }
        })
        .map(drop)
    };
    lower("shmmax", 0, caps.shmmax)?;
    lower("shmall", 0, caps.shmall_pages)?;
    lower("msgmni", 0, caps.queue_bytes / per_queue)?;
    // kernel.sem is "SEMMSL SEMMNS SEMOPM SEMMNI": SEMMNS counts all semaphores.
    lower("sem", 1, caps.semaphores)
}

/// Read the sysctl /proc/sys/`name` (a line of numbers; kernel.sem has four) through `proc`,
/// let `change` edit the numbers (false: a field it needs is missing, an error), and write them
/// back when they differ, at offset 0 in one write(2), as the kernel parses it: one open for
/// both. Returns the numbers as read. A file this process may not write is read only, and is
/// an error only when a value must change.
fn sysctl(
    proc: BorrowedFd<'_>,
    name: &str,
    change: impl FnOnce(&mut [u64]) -> bool,
) -> Result<Vec<u64>> {
    use std::os::unix::fs::FileExt;
    let what = format!("limit /proc/sys/{name}");
    let path =
        CString::new(format!("sys/{name}")).map_err(|_| Error::setup(&what, libc::EINVAL))?;
    let open = |flags: i32| mount::open_beneath(proc, &path, flags | libc::O_CLOEXEC, 0);
    let (fd, unwritable) = match open(libc::O_RDWR) {
        Ok(fd) => (fd, None),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EACCES | libc::EPERM | libc::EROFS)
            ) =>
        {
            (open(libc::O_RDONLY).map_err(step(&what))?, Some(e))
        }
        Err(e) => return Err(step(&what)(e)),
    };
    let file = std::fs::File::from(fd);
    let line = crate::sys::read_text(&file).map_err(step(&what))?;
    let read = line
        .split_whitespace()
        .map(str::parse)
        .collect::<std::result::Result<Vec<u64>, _>>()
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::setup(format!("{what}: not numbers"), libc::EINVAL))?;
    let mut values = read.clone();
    if !change(&mut values) {
        return Err(Error::setup(
            format!("{what}: too few numbers"),
            libc::EINVAL,
        ));
    }
    if values != read {
        if let Some(e) = unwritable {
            return Err(step(&what)(e));
        }
        let line: Vec<String> = values.iter().map(u64::to_string).collect();
        file.write_all_at(format!("{}\n", line.join(" ")).as_bytes(), 0)
            .map_err(step(&what))?;
    }
    Ok(read)
}

/// The jail user namespace's own caps on what the kernel charges to the host uid (inotify
/// instances and watches), written through the fresh proc while /proc/sys is still writable:
/// `/proc/sys/user/*` shows the writer's user namespace, and pid 1 holds CAP_SYS_RESOURCE in the
/// jail's. Nested namespaces (the command's) are charged up the chain, so this caps the whole
/// jail. A value already below the cap is left as it is.
pub(super) fn limit_user_ns(proc: BorrowedFd<'_>, caps: UserNsCaps) -> Result<()> {
    for (name, cap) in [
        ("max_inotify_instances", caps.inotify_instances),
        ("max_inotify_watches", caps.inotify_watches),
    ] {
        sysctl(proc, &format!("user/{name}"), |values| {
            match values.first_mut() {
                Some(v) => {
                    *v = (*v).min(cap);
                    true
                }
                None => false,
            }
        })?;
    }
    Ok(())
}
