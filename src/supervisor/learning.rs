//! What a learning run (`tooljail learn`) records: every syscall the command made, by name and
//! architecture; every file it opened, executed, mapped executable, created, wrote or looked
//! at, and how; every inet address it connected to. The filter of a learning run shows the
//! supervisor every allowed call (`plan::seccomp`, `observe_all`); [`Learning::record`] looks
//! at each one here and lets it go on unchanged.
//!
//! This is observation, not enforcement. The path a call names is read from the caller's
//! memory (process_vm_readv, or /proc/PID/mem) and resolved inside the jail's root while the
//! caller waits; another thread of the command could change the string between this read and
//! the kernel's (the TOCTOU of seccomp user notification). A tool that does that on purpose can
//! hide a path from the learning run; it cannot gain access: the learned profile is enforced by
//! the mount namespace, Landlock and the filter, which never look at this record. The record
//! goes into the report's `observed` section, which `src/learn/` turns into a profile.

use super::observe::{
    inet_address, int_arg, open_fd, open_in, open_link_in, read_bytes, read_cstring,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Distinct paths a record keeps; past it, paths are only counted (`paths_dropped`).
pub const MAX_PATHS: usize = 65_536;

/// How a run used one path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Use {
    /// Opened for reading, or looked up (stat, access, readlink, chdir).
    #[serde(default, skip_serializing_if = "is_false")]
    pub read: bool,
    /// Opened for writing, truncated, removed, renamed, its metadata changed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub write: bool,
    /// A directory in which the run created, removed or renamed an entry.
    #[serde(default, skip_serializing_if = "is_false")]
    pub create: bool,
    /// Executed (execve, execveat) or mapped executable (a shared library's text).
    #[serde(default, skip_serializing_if = "is_false")]
    pub exec: bool,
    /// A directory opened (to list it) or the place of a create: its contents are needed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dir: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Use {
    /// The union of two uses.
    pub fn merge(&mut self, o: Use) {
        self.read |= o.read;
        self.write |= o.write;
        self.create |= o.create;
        self.exec |= o.exec;
        self.dir |= o.dir;
    }
}

/// The record of one learning run (the report's `observed`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// Syscall name -> architecture -> how many calls.
    pub syscalls: BTreeMap<String, BTreeMap<String, u64>>,
    /// Each path as the jail sees it (absolute), and how it was used.
    pub paths: BTreeMap<PathBuf, Use>,
    /// Each inet address connected to (`ip:port`, `[ip6]:port`).
    pub connects: BTreeSet<String>,
    /// Whether the command used its working directory: named a path relative to it, or asked
    /// for it (getcwd). Else the learned profile need not start it in the caller's directory.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cwd_used: bool,
    /// Threads (and processes) that made a call, in all.
    #[serde(default)]
    pub threads: u64,
    /// Paths not kept because [`MAX_PATHS`] was reached.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub paths_dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The recorder the notifier of a learning run holds.
#[derive(Debug, Default)]
pub struct Learning {
    observed: Observed,
    /// Threads seen; and those whose executable is to be read at their next call (new, or
    /// after an exec): the first exec of the command is made by tooljail's own process,
    /// whose memory the supervisor may not read, so each program is also taken from
    /// /proc/PID/exe once it runs.
    seen: std::collections::HashSet<u32>,
    exe_due: std::collections::HashSet<u32>,
}

/// What one call does to the path it names.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// open/openat/openat2 with these flags.
    Open(i32),
    /// Looked up only (stat, access, readlink, chdir).
    Look,
    Exec,
    /// Made a new entry (mkdir, symlink, link, mknod).
    Make,
    /// Removed or renamed away an entry: its directory is changed.
    Remove,
    /// Changed a file in place (truncate, chmod, utimes, xattrs).
    Change,
}

/// `(dirfd argument index or none, path argument index, act)` of the file syscalls a run is
/// watched for; the flags of an open are read separately.
fn file_call(name: &str) -> Option<(Option<usize>, usize, Act)> {
    Some(match name {
        "open" => (None, 0, Act::Open(0)),
        "openat" | "openat2" => (Some(0), 1, Act::Open(0)),
        "creat" => (None, 0, Act::Open(libc::O_CREAT | libc::O_WRONLY)),
        "execve" => (None, 0, Act::Exec),
        "execveat" => (Some(0), 1, Act::Exec),
        "stat" | "lstat" | "access" | "readlink" | "chdir" | "chroot" | "getxattr"
        | "lgetxattr" | "listxattr" | "llistxattr" | "statfs" => (None, 0, Act::Look),
        "newfstatat" | "fstatat64" | "statx" | "faccessat" | "faccessat2" | "readlinkat" => {
            (Some(0), 1, Act::Look)
        }
        "mkdir" | "mknod" => (None, 0, Act::Make),
        "mkdirat" | "mknodat" => (Some(0), 1, Act::Make),
        "symlink" | "link" => (None, 1, Act::Make),
        "symlinkat" => (Some(1), 2, Act::Make),
        "linkat" => (Some(2), 3, Act::Make),
        "unlink" | "rmdir" => (None, 0, Act::Remove),
        "unlinkat" => (Some(0), 1, Act::Remove),
        "truncate" | "chmod" | "chown" | "lchown" | "utime" | "utimes" | "setxattr"
        | "lsetxattr" | "removexattr" | "lremovexattr" => (None, 0, Act::Change),
        "fchmodat" | "fchmodat2" | "fchownat" | "utimensat" | "futimesat" => {
            (Some(0), 1, Act::Change)
        }
        _ => return None,
    })
}

impl Learning {
    /// Record one call of thread `pid` (still blocked in it): its name, and what it names.
    /// Called for every allowed call of a learning run, so it costs one map update for most
    /// calls, and reads the caller's memory only for the file, exec, mmap and connect calls.
    pub fn record(&mut self, pid: u32, name: &str, arch: &str, args: &[u64; 6]) {
        *self
            .observed
            .syscalls
            .entry(name.to_string())
            .or_default()
            .entry(arch.to_string())
            .or_default() += 1;
        let new = self.seen.insert(pid);
        if new {
            self.observed.threads += 1;
        }
        if new || self.exe_due.remove(&pid) {
            if let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) {
                self.add(exe, exec());
            }
        }
        if matches!(name, "execve" | "execveat") {
            self.exe_due.insert(pid);
        }
        match name {
            "getcwd" => {
                self.observed.cwd_used = true;
                return;
            }
            "connect" => {
                if let Some(a) = inet_address(pid, args) {
                    self.observed.connects.insert(a.to_string());
                }
                return;
            }
            "mmap" => {
                // PROT_EXEC of a file: its place must allow exec (a library, an extension).
                let fd = int_arg(args[4]);
                if args[2] & u64::from(libc::PROT_EXEC.unsigned_abs()) != 0 && fd >= 0 {
                    if let Some(path) = open_fd(pid, fd).and_then(|f| fd_path(&f)) {
                        self.add(path, exec());
                    }
                }
                return;
            }
            "rename" => {
                self.path_call(pid, None, args[0], Act::Remove);
                self.path_call(pid, None, args[1], Act::Make);
                return;
            }
            "renameat" | "renameat2" => {
                self.path_call(pid, Some(int_arg(args[0])), args[1], Act::Remove);
                self.path_call(pid, Some(int_arg(args[2])), args[3], Act::Make);
                return;
            }
            _ => {}
        }
        let Some((dirfd, path, act)) = file_call(name) else {
            return;
        };
        let act = match (name, act) {
            ("open", Act::Open(_)) => Act::Open(int_arg(args[1])),
            ("openat", Act::Open(_)) => Act::Open(int_arg(args[2])),
            // openat2(dirfd, path, struct open_how *how, size): `flags` is the first u64.
            ("openat2", Act::Open(_)) => match read_bytes(pid, args[2], 8) {
                Some(b) => {
                    let flags = u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
                    Act::Open(int_arg(flags))
                }
                None => return,
            },
            (_, act) => act,
        };
        self.path_call(pid, dirfd.map(|i| int_arg(args[i])), args[path], act);
    }

    /// Record the path at `addr` (relative to `dirfd`, else the cwd) as `act` uses it.
    fn path_call(&mut self, pid: u32, dirfd: Option<i32>, addr: u64, act: Act) {
        let dirfd = dirfd.unwrap_or(libc::AT_FDCWD);
        let Some(name) = read_cstring(pid, addr) else {
            return;
        };
        if name.is_empty() {
            return; // AT_EMPTY_PATH: the fd's file, already recorded when it was opened.
        }
        if dirfd == libc::AT_FDCWD && name.first() != Some(&b'/') {
            self.observed.cwd_used = true;
        }
        let existing = open_in(pid, dirfd, &name).and_then(|f| {
            let st = nix::sys::stat::fstat(f.as_raw_fd()).ok()?;
            Some((fd_path(&f)?, st.st_mode & libc::S_IFMT == libc::S_IFDIR))
        });
        let link = named_link(pid, dirfd, &name);
        let found = match (act, existing) {
            (Act::Open(flags), Some((path, dir))) => {
                let write = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
                let dir = dir || flags & libc::O_DIRECTORY != 0;
                let u = Use {
                    read: !write || flags & libc::O_ACCMODE == libc::O_RDWR,
                    write,
                    dir,
                    ..Use::default()
                };
                Some((path, u))
            }
            (Act::Open(flags), None) if flags & libc::O_CREAT != 0 => {
                return self.created_in(pid, dirfd, &name);
            }
            (Act::Make | Act::Remove, _) => return self.created_in(pid, dirfd, &name),
            // A look-up needs the path to exist, not a directory's contents: `dir` stays false
            // (src/learn/ binds no directory that was only looked at).
            (Act::Look, Some((path, _))) => Some((
                path,
                Use {
                    read: true,
                    ..Use::default()
                },
            )),
            (Act::Exec, Some((path, _))) => Some((path, exec())),
            (Act::Change, Some((path, dir))) => Some((
                path,
                Use {
                    write: true,
                    dir,
                    ..Use::default()
                },
            )),
            _ => None,
        };
        if let Some((path, u)) = found {
            // A path named through a symbolic link needs the link too (a profile that binds
            // only the target leaves the name the tool uses absent). Only the link the kernel
            // finds there (see [`named_link`]), never the name's text: `a/../x` through a
            // link `a` is another file than the text says.
            if let Some(named) = link.filter(|n| *n != path) {
                self.add(named, Use { dir: false, ..u });
            }
            self.add(path, u);
        }
    }

    /// A new, removed or renamed entry `name` (relative to `dirfd`): its directory must exist
    /// and be writable.
    fn created_in(&mut self, pid: u32, dirfd: i32, name: &[u8]) {
        let name = Path::new(OsStr::from_bytes(name));
        let parent = match name.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.as_os_str().as_encoded_bytes().to_vec(),
            _ => b".".to_vec(),
        };
        if let Some(dir) = open_in(pid, dirfd, &parent).and_then(|f| fd_path(&f)) {
            self.add(
                dir,
                Use {
                    create: true,
                    dir: true,
                    ..Use::default()
                },
            );
        }
    }

    fn add(&mut self, path: PathBuf, u: Use) {
        let paths = &mut self.observed.paths;
        if let Some(e) = paths.get_mut(&path) {
            e.merge(u);
        } else if paths.len() < MAX_PATHS {
            paths.insert(path, u);
        } else {
            self.observed.paths_dropped += 1;
        }
    }

    /// The record so far.
    pub fn observed(&self) -> &Observed {
        &self.observed
    }
}

fn exec() -> Use {
    Use {
        read: true,
        exec: true,
        ..Use::default()
    }
}

/// The path of an fd the supervisor holds, as the jail sees it.
fn fd_path(f: &std::os::fd::OwnedFd) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())).ok()
}

/// The symbolic link `name` (relative to `dirfd` or the cwd of `pid`) ends in, as the kernel
/// resolves its directories inside the jail's root (the link itself not followed); `None` when
/// the last component is no symbolic link, or the name holds a `..` (the path text then says
/// nothing of where the kernel went: `a/..` through a link `a` is the link's target's parent).
fn named_link(pid: u32, dirfd: i32, name: &[u8]) -> Option<PathBuf> {
    if name.split(|b| *b == b'/').any(|c| c == b"..") {
        return None;
    }
    let f = open_link_in(pid, dirfd, name)?;
    let st = nix::sys::stat::fstat(f.as_raw_fd()).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        return None;
    }
    fd_path(&f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_merge_and_serialize_only_what_happened() {
        let mut u = Use {
            read: true,
            ..Use::default()
        };
        u.merge(Use {
            create: true,
            dir: true,
            ..Use::default()
        });
        let v = serde_json::to_value(u).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"read": true, "create": true, "dir": true})
        );
        let back: Use = serde_json::from_value(v).unwrap();
        assert_eq!(back, u);
    }

    #[test]
    fn file_calls_name_their_path_argument() {
        assert!(matches!(
            file_call("openat"),
            Some((Some(0), 1, Act::Open(_)))
        ));
        assert!(matches!(file_call("linkat"), Some((Some(2), 3, Act::Make))));
        assert!(matches!(
            file_call("symlinkat"),
            Some((Some(1), 2, Act::Make))
        ));
        assert!(matches!(file_call("execve"), Some((None, 0, Act::Exec))));
        assert!(file_call("read").is_none());
    }
}
