//! The scratch side: walk the export directory from the O_PATH fd of the scratch that pid 1
//! handed over, never following a symlink (every directory is opened with openat2
//! RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS below the one before it, and entries are looked at with
//! AT_SYMLINK_NOFOLLOW), and list the entries the patterns name. When this runs, every process
//! of the jail is gone (the supervisor reaped pid 1, and the kernel kills the rest of the pid
//! namespace first), and the tmpfs is reachable only through that fd: nothing changes under us.

pub use super::rules::Kind;
use super::rules::Rules;
use crate::sys::mount::open_beneath;
use nix::fcntl::AtFlags;
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// Deepest directory the walk enters, and most entries it looks at: a scratch built to make
/// the walk slow stops it with a warning, not a hang.
pub const MAX_DEPTH: usize = 64;
pub const MAX_ENTRIES: usize = 200_000;

/// An entry the patterns name.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its path below the export directory, as bytes.
    pub raw: Vec<u8>,
    /// The same, lossy UTF-8 (what the patterns and the report see).
    pub rel: String,
    pub kind: Kind,
    pub size: u64,
    pub nlink: u64,
    pub ino: u64,
}

/// Open the directory `from` (relative, may be empty) below the scratch for reading.
pub fn open_dir(scratch: BorrowedFd<'_>, from: &str) -> io::Result<OwnedFd> {
    let path = if from.is_empty() { "." } else { from };
    let c = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    open_beneath(scratch, &c, libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

/// Every entry below `dir` that the patterns name, sorted by path; and a warning when the walk
/// stopped at [`MAX_DEPTH`] or [`MAX_ENTRIES`].
pub fn walk(dir: BorrowedFd<'_>, rules: &Rules) -> io::Result<(Vec<Found>, Option<String>)> {
    let mut found = Vec::new();
    let mut seen = 0usize;
    let mut warning = None;
    // (path below `dir`, depth); the root is "".
    let mut todo: Vec<(Vec<u8>, usize)> = vec![(Vec::new(), 0)];
    while let Some((prefix, depth)) = todo.pop() {
        let fd = if prefix.is_empty() {
            open_beneath(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?
        } else {
            let c = CString::new(prefix.clone())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            match open_beneath(dir, &c, libc::O_RDONLY | libc::O_DIRECTORY, 0) {
                Ok(fd) => fd,
                // A directory the jail's user cannot read is skipped (said below).
                Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                    warning.get_or_insert_with(|| {
                        // Quoted and escaped: the name is the jail's, and may hold a terminal
                        // escape.
                        format!(
                            "export: directory {:?} in the scratch is not readable; skipped",
                            String::from_utf8_lossy(&prefix)
                        )
                    });
                    continue;
                }
                Err(e) => return Err(e),
            }
        };
        let dirfd = fd.as_raw_fd();
        let mut listing = nix::dir::Dir::from_fd(fd.into_raw_fd())?;
        for entry in listing.iter() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            seen += 1;
            if seen > MAX_ENTRIES {
                warning = Some(format!(
                    "export: the scratch holds more than {MAX_ENTRIES} entries; the rest were not looked at"
                ));
                return Ok((sorted(found), warning));
            }
            let st = nix::sys::stat::fstatat(
                Some(dirfd),
                entry.file_name(),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )?;
            let mut raw = prefix.clone();
            if !raw.is_empty() {
                raw.push(b'/');
            }
            raw.extend_from_slice(name);
            let kind = match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR => {
                    if depth + 1 >= MAX_DEPTH {
                        warning.get_or_insert_with(|| {
                            format!(
                                "export: directories deeper than {MAX_DEPTH} were not looked at"
                            )
                        });
                    } else {
                        todo.push((raw, depth + 1));
                    }
                    continue;
                }
                libc::S_IFREG => Kind::File,
                libc::S_IFLNK => Kind::Symlink,
                libc::S_IFIFO => Kind::Fifo,
                libc::S_IFCHR | libc::S_IFBLK => Kind::Device,
                _ => Kind::Socket,
            };
            let rel = OsStr::from_bytes(&raw).to_string_lossy().into_owned();
            if rules.wanted(&rel) {
                found.push(Found {
                    rel,
                    raw,
                    kind,
                    size: u64::try_from(st.st_size).unwrap_or(0),
                    nlink: st.st_nlink,
                    ino: st.st_ino,
                });
            }
        }
    }
    Ok((sorted(found), warning))
}

fn sorted(mut v: Vec<Found>) -> Vec<Found> {
    v.sort_by(|a, b| a.raw.cmp(&b.raw));
    v
}

/// Open a found regular file for reading, and check it is still the file the walk saw (a
/// regular file, the same inode, one link).
pub fn open_file(dir: BorrowedFd<'_>, f: &Found) -> io::Result<std::fs::File> {
    let c = CString::new(f.raw.clone()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let fd = open_beneath(
        dir,
        &c,
        libc::O_RDONLY | libc::O_NOCTTY | libc::O_NONBLOCK,
        0,
    )?;
    let st = nix::sys::stat::fstat(fd.as_fd().as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_ino != f.ino || st.st_nlink != 1 {
        return Err(io::Error::other(
            "the file changed since the scratch was listed",
        ));
    }
    Ok(std::fs::File::from(fd))
}
