//! The host side of an export: the `to` directory, opened without following a symlink in any
//! component, and the files created in it. Each file is created under a temporary name with
//! O_EXCL (never through a name that exists, never through a symlink: openat2
//! RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS below the directory's fd), given mode 0644 whatever the
//! umask, filled, then renamed to its name with RENAME_NOREPLACE unless `overwrite` is set (a
//! plain rename replaces a file or a symlink itself, never what a symlink points to).
//!
//! This is deliberately small and self-contained, so it can move onto a shared safe-sink module
//! later without changing its callers.

use crate::sys::mount::{open_beneath, open_host_dir};
use nix::fcntl::{AtFlags, RenameFlags};
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;
use std::ffi::CString;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// Why a file was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutError {
    /// A file of that name is in the way and `overwrite` is off.
    Exists,
    /// Anything else, in words.
    Failed(String),
}

/// An open export directory.
pub struct Dest {
    dir: OwnedFd,
    overwrite: bool,
    seq: u64,
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

impl Dest {
    /// Open `to` (absolute, canonical) as an O_PATH directory from `/`, every component
    /// refused if it is a symlink: a directory swapped for a link since the Policy was
    /// resolved is not followed.
    pub fn open(to: &Path, overwrite: bool) -> io::Result<Dest> {
        let root = open_host_dir(c"/")?;
        let rel = to.strip_prefix("/").unwrap_or(to);
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let rel = CString::new(rel.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let dir = open_beneath(root.as_fd(), &rel, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        Ok(Dest {
            dir,
            overwrite,
            seq: 0,
        })
    }

    /// The directory's owner and group (`fstat` of the open directory).
    pub fn owner(&self) -> io::Result<(u32, u32)> {
        let st = nix::sys::stat::fstat(self.dir.as_raw_fd())?;
        Ok((st.st_uid, st.st_gid))
    }

    /// The open directory (for the writer process, which keeps only it).
    pub fn fd(&self) -> &OwnedFd {
        &self.dir
    }

    /// Write `size` bytes from `src` to `rel` (a checked relative path: no `..`, no control
    /// characters) below the directory, creating missing parent directories (0755).
    pub fn put(&mut self, rel: &str, src: &mut dyn Read, size: u64) -> Result<(), PutError> {
        let failed = |what: &str, e: io::Error| PutError::Failed(format!("{what}: {e}"));
        let (parents, name) = match rel.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, rel),
        };
        let parent = match parents {
            None => None,
            Some(p) => Some(self.subdir(p).map_err(|e| {
                let e = if e.raw_os_error() == Some(libc::ELOOP) {
                    io::Error::other("a symlink is in the way")
                } else {
                    e
                };
                failed(&format!("destination directory {p}"), e)
            })?),
        };
        let at = parent.as_ref().unwrap_or(&self.dir);
        let cname = cstr(name).map_err(|e| failed("name", e))?;
        let taken = nix::sys::stat::fstatat(
            Some(at.as_raw_fd()),
            cname.as_c_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        );
        if taken.is_ok() && !self.overwrite {
            return Err(PutError::Exists);
        }
        self.seq += 1;
        let tmp = cstr(&format!(
            ".tooljail-export.{}.{}.tmp",
            std::process::id(),
            self.seq
        ))
        .map_err(|e| failed("name", e))?;
        let fd = open_beneath(
            at.as_fd(),
            &tmp,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            0o644,
        )
        .map_err(|e| failed("create a temporary file", e))?;
        let unlink = || {
            let _ = nix::unistd::unlinkat(
                Some(at.as_raw_fd()),
                tmp.as_c_str(),
                UnlinkatFlags::NoRemoveDir,
            );
        };
        let written = fill(fd, src, size);
        if let Err(e) = written {
            unlink();
            return Err(failed("write", e));
        }
        let renamed = if self.overwrite {
            nix::fcntl::renameat(
                Some(at.as_raw_fd()),
                tmp.as_c_str(),
                Some(at.as_raw_fd()),
                cname.as_c_str(),
            )
        } else {
            nix::fcntl::renameat2(
                Some(at.as_raw_fd()),
                tmp.as_c_str(),
                Some(at.as_raw_fd()),
                cname.as_c_str(),
                RenameFlags::RENAME_NOREPLACE,
            )
        };
        match renamed {
            Ok(()) => Ok(()),
            Err(nix::errno::Errno::EEXIST) => {
                unlink();
                Err(PutError::Exists)
            }
            Err(e) => {
                unlink();
                Err(failed("rename into place", e.into()))
            }
        }
    }

    /// Open (making what is missing) the directory `rel` below the export directory, one
    /// component at a time, none of them a symlink.
    fn subdir(&self, rel: &str) -> io::Result<OwnedFd> {
        let mut at: Option<OwnedFd> = None;
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            let c = cstr(part)?;
            let base = at.as_ref().unwrap_or(&self.dir);
            match nix::sys::stat::mkdirat(
                Some(base.as_raw_fd()),
                c.as_c_str(),
                Mode::from_bits_truncate(0o755),
            ) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => return Err(e.into()),
            }
            let fd = open_beneath(base.as_fd(), &c, libc::O_PATH | libc::O_DIRECTORY, 0)?;
            at = Some(fd);
        }
        at.ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
    }
}

/// Mode 0644 exactly (the umask may have taken bits away; no special bit is ever set), then
/// exactly `size` bytes from `src`.
fn fill(fd: OwnedFd, src: &mut dyn Read, size: u64) -> io::Result<()> {
    nix::sys::stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(0o644))?;
    let mut file = std::fs::File::from(fd);
    let n = io::copy(&mut src.take(size), &mut file)?;
    if n != size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{n} of {size} bytes arrived"),
        ));
    }
    Ok(())
}
