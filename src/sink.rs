//! Every host path tooljail writes goes through here: the `--report` file, the audit log (named
//! or default), and the directories tooljail creates for them. Nothing else in tooljail opens a
//! host file for writing. A new sink (export, a state database) takes a [`Dir`] from
//! [`Dir::open`] or [`ensure_dir`] and opens its files with [`Dir::create_file`] or
//! [`Dir::replacement`].
//!
//! tooljail may run as root, and another process of the jail's uid (or any other user) may try
//! to steer what it writes. So a path is resolved here, not by the kernel's ordinary lookup:
//!
//! - one component at a time from `/` (a relative path from the working directory, made
//!   absolute with `..` removed lexically, which is exact because no component may be a link),
//!   each opened with openat2 `RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS` (an `O_NOFOLLOW`
//!   walk where openat2 is missing, [`crate::sys::mount::open_beneath`]): a symbolic link in ANY
//!   component, the last one included, is refused, never followed;
//! - every directory on the way, `/` included, must be owned by the caller or by root and not
//!   writable by its group or by others, unless it is sticky (`/tmp`): in a sticky directory
//!   nobody but an entry's owner can rename or remove it, and what tooljail finds there must be
//!   the caller's or root's anyway, so another user can at most make the call fail;
//! - the file itself must be a regular file with one link, owned by the caller or root, or the
//!   null device (to discard), or absent (then it is created 0600);
//! - anything else is refused with a [`SinkError`] that names the component and the fix (exit
//!   125 through [`SinkError::into_error`]).
//!
//! "The caller" is the real uid of tooljail (a setuid tooljail refuses to run at all). The walk
//! keeps the directory open, so a file is created in the directory that was checked even if the
//! path is renamed meanwhile.

use crate::error::Error;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Why a sink was not opened.
#[derive(Debug)]
pub enum SinkError {
    /// `path` (a component of the sink's path, or the file) is a symbolic link.
    Symlink(PathBuf),
    /// `dir` could be changed by someone other than the caller and root: `why`.
    Untrusted { dir: PathBuf, why: String },
    /// The file exists but another user could have chosen it or could rewrite it.
    Refused(String),
    /// An errno at `path` (a missing directory, no permission, ...).
    Io { path: PathBuf, err: io::Error },
}

impl SinkError {
    /// The one-line error for the sink `what` (`--report`, `audit log`) at `path`, with its fix;
    /// `open_hint` is the fix when the file cannot be opened at all.
    pub fn into_error(self, what: &str, path: &Path, open_hint: &str) -> Error {
        let at = format!("{what} {}", path.display());
        match self {
            SinkError::Symlink(p) if p == path => Error::usage(format!(
                "{at}: is a symbolic link, which tooljail does not follow"
            ))
            .with_hint("name the real file (or a new one in a directory you own)"),
            SinkError::Symlink(p) => Error::usage(format!(
                "{at}: {} is a symbolic link, which tooljail does not follow in any component",
                p.display()
            ))
            .with_hint("name the path without symbolic links (realpath shows it)"),
            SinkError::Untrusted { dir, why } => Error::usage(format!(
                "{at}: refused: {why}, so another user could replace what tooljail writes there"
            ))
            .with_hint(format!(
                "name a file in a directory that only you (or root) can write, or run chmod \
                 go-w {}",
                dir.display()
            )),
            SinkError::Refused(why) => Error::usage(format!("{at}: refused: {why}"))
                .with_hint("remove it and let tooljail create it, or name a file you own"),
            SinkError::Io { path: p, err } if p == path => {
                Error::usage(format!("{at}: cannot open: {err}")).with_hint(open_hint)
            }
            SinkError::Io { path: p, err } => {
                Error::usage(format!("{at}: cannot open {}: {err}", p.display()))
                    .with_hint(open_hint)
            }
        }
    }
}

/// How [`Dir::create_file`] leaves the file it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Emptied, for a file written from the start.
    Truncate,
    /// Kept, every write appended (`O_APPEND`), for a log; readable too.
    Append,
}

/// A directory that passed the walk, held open: files are created relative to it.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// `path` made absolute (from the working directory) with `.` and `..` removed lexically.
fn normalize(path: &Path) -> io::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

fn cstring(name: &OsStr, at: &Path) -> Result<CString, SinkError> {
    CString::new(name.as_bytes()).map_err(|_| SinkError::Io {
        path: at.to_path_buf(),
        err: io::Error::from_raw_os_error(libc::EINVAL),
    })
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> SinkError + '_ {
    move |err| {
        if err.raw_os_error() == Some(libc::ELOOP) {
            SinkError::Symlink(path.to_path_buf())
        } else {
            SinkError::Io {
                path: path.to_path_buf(),
                err,
            }
        }
    }
}

/// Why the directory `dir` (fstat `st`) cannot hold a sink, if it cannot.
fn untrusted(dir: &Path, st: &libc::stat, caller: u32) -> Option<SinkError> {
    if st.st_uid != 0 && st.st_uid != caller {
        return Some(SinkError::Untrusted {
            dir: dir.to_path_buf(),
            why: format!(
                "{} is owned by uid {}, not by the caller (uid {caller}) or root",
                dir.display(),
                st.st_uid
            ),
        });
    }
    let sticky = st.st_mode & libc::S_ISVTX != 0;
    if st.st_mode & 0o022 != 0 && !sticky {
        let by = if st.st_mode & 0o002 != 0 {
            "anyone"
        } else {
            "its group"
        };
        return Some(SinkError::Untrusted {
            dir: dir.to_path_buf(),
            why: format!(
                "{} is writable by {by} (mode {:04o})",
                dir.display(),
                st.st_mode & 0o7777
            ),
        });
    }
    None
}

fn fstat(fd: &impl AsRawFd, at: &Path) -> Result<libc::stat, SinkError> {
    nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| SinkError::Io {
        path: at.to_path_buf(),
        err: e.into(),
    })
}

/// Walk `path` from `/`, checking every directory; `create`: make a missing one with this mode.
fn walk(path: &Path, create: Option<u32>) -> Result<Dir, SinkError> {
    let caller = nix::unistd::getuid().as_raw();
    let abs = normalize(path).map_err(io_at(path))?;
    let mut at = PathBuf::from("/");
    let mut fd: OwnedFd = File::open("/").map_err(io_at(&at))?.into();
    if let Some(e) = untrusted(&at, &fstat(&fd, &at)?, caller) {
        return Err(e);
    }
    for name in abs.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n),
        _ => None,
    }) {
        at.push(name);
        let cname = cstring(name, &at)?;
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let opened = match crate::sys::mount::open_beneath(fd.as_fd(), &cname, flags, 0) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create.is_some() => {
                let mode = nix::sys::stat::Mode::from_bits_truncate(create.unwrap_or(0o700));
                match nix::sys::stat::mkdirat(Some(fd.as_raw_fd()), cname.as_c_str(), mode) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(io_at(&at)(e.into())),
                }
                crate::sys::mount::open_beneath(fd.as_fd(), &cname, flags, 0)
            }
            r => r,
        };
        let next = opened.map_err(io_at(&at))?;
        if let Some(e) = untrusted(&at, &fstat(&next, &at)?, caller) {
            return Err(e);
        }
        fd = next;
    }
    Ok(Dir { fd, path: at })
}

/// The directory `path`, which must exist, every component checked (see the module's rules).
pub fn open_dir(path: &Path) -> Result<Dir, SinkError> {
    walk(path, None)
}

/// The directory `path`, its missing components created with `mode` (as the caller), every
/// component checked (see the module's rules): for default locations tooljail owns, such as
/// the default audit directory. A directory the user named is opened with [`open_dir`]:
/// tooljail, perhaps running as root, creates no directory a user chose.
pub fn ensure_dir(path: &Path, mode: u32) -> Result<Dir, SinkError> {
    walk(path, Some(mode))
}

/// The file `path` opened (or created 0600) for writing in a checked directory:
/// [`open_dir`] of its parent, then [`Dir::create_file`].
pub fn create_file(path: &Path, mode: FileMode) -> Result<File, SinkError> {
    let (dir, name) = split(path)?;
    open_dir(&dir)?.create_file(&name, mode)
}

/// `path` as its (absolute) directory and its last component.
pub fn split(path: &Path) -> Result<(PathBuf, OsString), SinkError> {
    let abs = normalize(path).map_err(io_at(path))?;
    match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => Ok((dir.to_path_buf(), name.to_os_string())),
        _ => Err(SinkError::Refused("not a file name".into())),
    }
}

/// Is `st` the null device (1,3)? Nobody but root can make device nodes, and writing to it does
/// nothing: the one non-regular file a sink accepts (`--audit-log /dev/null` discards).
fn is_null_device(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3)
}

/// The file checks: a regular file with one link owned by the caller or root.
fn refuse_foreign(st: &libc::stat) -> Result<(), SinkError> {
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(SinkError::Refused(
            "not a regular file (nor /dev/null)".into(),
        ));
    }
    let caller = nix::unistd::getuid().as_raw();
    if st.st_uid != caller && st.st_uid != 0 {
        return Err(SinkError::Refused(format!(
            "owned by uid {}, not by the caller (uid {caller}) or root",
            st.st_uid
        )));
    }
    if st.st_nlink != 1 {
        return Err(SinkError::Refused(format!(
            "it has {} hard links (another name may belong to somebody else)",
            st.st_nlink
        )));
    }
    Ok(())
}

impl Dir {
    /// The checked directory's absolute path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open `name` (one component) in this directory for writing, creating it 0600 if absent:
    /// never through a symbolic link (ELOOP), never blocking on a FIFO (`O_NONBLOCK`: ENXIO
    /// without a reader), never truncating before the checks; then, on the open descriptor (no
    /// race with a rename), the file must be the null device, or a regular file with one link
    /// owned by the caller or root; only then is it emptied ([`FileMode::Truncate`]).
    pub fn create_file(&self, name: &OsStr, mode: FileMode) -> Result<File, SinkError> {
        let at = self.path.join(name);
        let cname = cstring(name, &at)?;
        let mut flags = libc::O_CREAT | libc::O_NONBLOCK | libc::O_NOCTTY;
        flags |= match mode {
            FileMode::Truncate => libc::O_WRONLY,
            // A log is read back too: its last line is linked to by the next record.
            FileMode::Append => libc::O_RDWR | libc::O_APPEND,
        };
        let fd = crate::sys::mount::open_beneath(self.fd.as_fd(), &cname, flags, 0o600)
            .map_err(|e| self.explain_open(&at, &cname, e))?;
        let st = fstat(&fd, &at)?;
        let file = File::from(fd);
        if is_null_device(&st) {
            return Ok(file);
        }
        refuse_foreign(&st)?;
        if mode == FileMode::Truncate {
            file.set_len(0).map_err(io_at(&at))?;
        }
        Ok(file)
    }

    /// A refused open, worded by what is at `name` (the kernel made the refusal; the lstat
    /// only names it): a link, a FIFO or socket (ENXIO), or the errno as it is.
    fn explain_open(&self, at: &Path, cname: &CString, e: io::Error) -> SinkError {
        let st = nix::sys::stat::fstatat(
            Some(self.fd.as_raw_fd()),
            cname.as_c_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        );
        match st {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                SinkError::Symlink(at.to_path_buf())
            }
            Ok(st)
                if st.st_mode & libc::S_IFMT == libc::S_IFIFO
                    || st.st_mode & libc::S_IFMT == libc::S_IFSOCK =>
            {
                SinkError::Refused(format!("not a regular file ({e})"))
            }
            _ => io_at(at)(e),
        }
    }

    /// A file that will replace `name` in this directory all at once ([`Replacement::commit`]:
    /// rename(2) of a temporary file written beside it), so a reader never sees half of it and
    /// nobody can write into it after tooljail: what exists at `name` must pass the same checks
    /// as in [`Dir::create_file`] now. The null device is written in place.
    pub fn replacement(self, name: &OsStr) -> Result<Replacement, SinkError> {
        let at = self.path.join(name);
        let cname = cstring(name, &at)?;
        match nix::sys::stat::fstatat(
            Some(self.fd.as_raw_fd()),
            cname.as_c_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(io_at(&at)(e.into())),
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                return Err(SinkError::Symlink(at))
            }
            Ok(st) if is_null_device(&st) => {
                let file = self.create_file(name, FileMode::Append)?;
                return Ok(Replacement {
                    dir: self,
                    file,
                    temp: None,
                    name: cname,
                });
            }
            Ok(st) => refuse_foreign(&st)?,
        }
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY;
        let mut attempt = 0u32;
        loop {
            let temp = temp_name(name, attempt);
            let ctemp = cstring(&temp, &at)?;
            match crate::sys::mount::open_beneath(self.fd.as_fd(), &ctemp, flags, 0o600) {
                Ok(fd) => {
                    return Ok(Replacement {
                        dir: self,
                        file: File::from(fd),
                        temp: Some(ctemp),
                        name: cname,
                    })
                }
                // Somebody else's file (or link) by that name in a shared directory: another.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) && attempt < 16 => attempt += 1,
                Err(e) => return Err(io_at(&self.path.join(&temp))(e)),
            }
        }
    }
}

/// `.NAME.tooljail-PID-NANOS-N`: hidden beside `name`, unlikely to be taken, never reused
/// (created `O_EXCL`).
fn temp_name(name: &OsStr, attempt: u32) -> OsString {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut t = OsString::from(".");
    t.push(name);
    t.push(format!(
        ".tooljail-{}-{nanos:09}-{attempt}",
        std::process::id()
    ));
    t
}

/// A file being written that replaces its final name only on [`Replacement::commit`]; dropped
/// uncommitted, its temporary file is removed.
#[derive(Debug)]
pub struct Replacement {
    dir: Dir,
    file: File,
    /// The temporary name, or `None` when `file` is the null device written in place.
    temp: Option<CString>,
    name: CString,
}

/// Renames inside a directory for a process that may no longer: tooljail started as root is
/// the jail's user by the time the report is written, and a child that stayed root does the
/// rename (`supervisor::root_helper`).
pub trait Renamer {
    /// `renameat(dir, from, dir, to)`; both names are single components.
    fn rename_in(&mut self, dir: BorrowedFd<'_>, from: &CStr, to: &CStr) -> io::Result<()>;
}

impl Replacement {
    /// Whether [`Replacement::commit`] renames a file (not so for the null device, written in
    /// place).
    pub fn renames(&self) -> bool {
        self.temp.is_some()
    }

    /// Write `bytes` and rename the file over its final name; where
    /// this process may not (EACCES, EPERM), through `renamer`.
    pub fn commit(mut self, bytes: &[u8], renamer: Option<&mut dyn Renamer>) -> io::Result<()> {
        use std::io::Write;
        self.file.write_all(bytes)?;
        let Some(temp) = self.temp.take() else {
            return Ok(());
        };
        let dir = self.dir.fd.as_fd();
        // No fsync before the rename: it would cost every call a disk flush, and a report is
        // the answer to one call, not a record to keep (the audit log is that).
        let renamed = {
            match nix::fcntl::renameat(
                Some(dir.as_raw_fd()),
                temp.as_c_str(),
                Some(dir.as_raw_fd()),
                self.name.as_c_str(),
            ) {
                Ok(()) => Ok(()),
                Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) if renamer.is_some() => {
                    renamer.map_or(Ok(()), |r| r.rename_in(dir, &temp, &self.name))
                }
                Err(e) => Err(e.into()),
            }
        };
        if renamed.is_err() {
            self.temp = Some(temp);
        }
        renamed
    }
}

impl Drop for Replacement {
    fn drop(&mut self) {
        if let Some(temp) = &self.temp {
            let _ = nix::unistd::unlinkat(
                Some(self.dir.fd.as_raw_fd()),
                temp.as_c_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn dir(mode: u32) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        d
    }

    #[test]
    fn normalize_removes_dots_lexically() {
        assert_eq!(
            normalize(Path::new("/a/./b/../c")).unwrap(),
            Path::new("/a/c")
        );
        assert_eq!(normalize(Path::new("/..")).unwrap(), Path::new("/"));
    }

    #[test]
    fn a_symlink_in_any_component_is_refused() {
        let d = dir(0o700);
        std::fs::create_dir(d.path().join("real")).unwrap();
        std::os::unix::fs::symlink("real", d.path().join("link")).unwrap();
        std::os::unix::fs::symlink("x", d.path().join("real/last")).unwrap();
        let e = create_file(&d.path().join("link/r.json"), FileMode::Truncate).unwrap_err();
        assert!(
            matches!(&e, SinkError::Symlink(p) if p.ends_with("link")),
            "{e:?}"
        );
        let e = create_file(&d.path().join("real/last"), FileMode::Truncate).unwrap_err();
        assert!(
            matches!(&e, SinkError::Symlink(p) if p.ends_with("real/last")),
            "{e:?}"
        );
        assert!(!d.path().join("real/x").exists());
        create_file(&d.path().join("real/ok"), FileMode::Truncate).unwrap();
    }

    #[test]
    fn writable_directories_are_refused_unless_sticky() {
        let d = dir(0o700);
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = create_file(&open.join("r"), FileMode::Truncate).unwrap_err();
        assert!(
            matches!(&e, SinkError::Untrusted { dir, .. } if *dir == open),
            "{e:?}"
        );
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(create_file(&open.join("r"), FileMode::Truncate).is_err());
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        create_file(&open.join("r"), FileMode::Truncate).unwrap();
        // An ancestor too, not only the last directory.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::create_dir(open.join("sub")).unwrap();
        assert!(create_file(&open.join("sub/r"), FileMode::Truncate).is_err());
    }

    #[test]
    fn ensure_dir_creates_missing_directories_with_the_mode() {
        let d = dir(0o700);
        let deep = d.path().join("a/b/c");
        let made = ensure_dir(&deep, 0o750).unwrap();
        assert_eq!(made.path(), deep);
        for p in [d.path().join("a"), d.path().join("a/b"), deep.clone()] {
            assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o750);
        }
        std::os::unix::fs::symlink(d.path().join("a"), d.path().join("l")).unwrap();
        assert!(matches!(
            ensure_dir(&d.path().join("l/new"), 0o750),
            Err(SinkError::Symlink(_))
        ));
        assert!(!d.path().join("a/new").exists());
        assert!(matches!(
            open_dir(&d.path().join("missing")),
            Err(SinkError::Io { .. })
        ));
    }

    #[test]
    fn a_replacement_appears_whole_on_commit_and_leaves_nothing_when_dropped() {
        let d = dir(0o700);
        let path = d.path().join("r.json");
        std::fs::write(&path, "old").unwrap();
        let r = open_dir(d.path())
            .unwrap()
            .replacement(OsStr::new("r.json"))
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        r.commit(b"new", None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let r = open_dir(d.path())
            .unwrap()
            .replacement(OsStr::new("r.json"))
            .unwrap();
        drop(r);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        std::fs::hard_link(&path, d.path().join("other")).unwrap();
        assert!(matches!(
            open_dir(d.path())
                .unwrap()
                .replacement(OsStr::new("r.json")),
            Err(SinkError::Refused(_))
        ));
    }
}
