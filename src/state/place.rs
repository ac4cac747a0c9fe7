//! Where the SQLite store lives on the host, opened by the same rules as every other sink: no
//! symbolic link in any component (openat2 RESOLVE_NO_SYMLINKS), a directory only its owner
//! can write, a regular file of the caller's (or root's) with no other link, mode 0600. Small
//! and on its own so it can move onto a shared safe-sink module.

use nix::sys::stat::{fstat, Mode};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// The checked store file. SQLite opens it by this path (with `SQLITE_OPEN_NOFOLLOW`) right
/// after the checks; every directory on the way was just seen to be no symbolic link, and the
/// last one is writable by its owner only, so nobody else can plant its -wal or -shm.
pub struct Place {
    pub path: PathBuf,
}

/// The default store: `$XDG_STATE_HOME/tooljail/state.db` (else `~/.local/state/...`) for a
/// user, `/var/lib/tooljail/state.db` for root.
pub fn default_path() -> Option<PathBuf> {
    if nix::unistd::geteuid().is_root() {
        return Some(PathBuf::from("/var/lib/tooljail/state.db"));
    }
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => {
            PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".local/state")
        }
    };
    Some(base.join("tooljail/state.db"))
}

/// Open (creating when `create`) the store file at `path`: its missing directories are made
/// 0700; the last directory must belong to the caller (or root) and be writable by its owner
/// only; the file is created 0600 and must be a regular file of the caller's with one link.
pub fn open(path: &Path, create: bool) -> Result<Place, String> {
    let path = std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a file name", path.display()))?
        .to_string();
    let parent = path.parent().unwrap_or(Path::new("/"));
    let mut dir =
        open_at(None, "/", libc::O_PATH | libc::O_DIRECTORY).map_err(|e| format!("/: {e}"))?;
    let mut walked = PathBuf::from("/");
    for c in parent.components() {
        let Component::Normal(c) = c else { continue };
        walked.push(c);
        let c = c
            .to_str()
            .ok_or_else(|| format!("{}: not UTF-8", walked.display()))?;
        let next = match open_at(Some(&dir), c, libc::O_PATH | libc::O_DIRECTORY) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create => {
                // Another call may have made it since (EEXIST): then it is opened and checked
                // like any existing directory.
                match nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), c, Mode::S_IRWXU) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(format!("{}: cannot create: {e}", walked.display())),
                }
                open_at(Some(&dir), c, libc::O_PATH | libc::O_DIRECTORY)
            }
            other => other,
        };
        dir = next.map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => format!("{}: a symbolic link (refused)", walked.display()),
            _ => format!("{}: {e}", walked.display()),
        })?;
    }
    let me = nix::unistd::geteuid().as_raw();
    let st = fstat(dir.as_raw_fd()).map_err(|e| format!("{}: {e}", parent.display()))?;
    if st.st_uid != me && st.st_uid != 0 {
        return Err(format!(
            "{}: owned by uid {}, not by you (uid {me}) or root",
            parent.display(),
            st.st_uid
        ));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(format!(
            "{}: writable by others than its owner (mode {:o})",
            parent.display(),
            st.st_mode & 0o7777
        ));
    }
    let flags =
        libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CLOEXEC | if create { libc::O_CREAT } else { 0 };
    let file = open_at(Some(&dir), &name, flags).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => format!("{}: a symbolic link (refused)", path.display()),
        _ => format!("{}: {e}", path.display()),
    })?;
    let st = fstat(file.as_raw_fd()).map_err(|e| format!("{}: {e}", path.display()))?;
    let problem = if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        Some("not a regular file".to_string())
    } else if st.st_uid != me {
        Some(format!("owned by uid {}, not by you (uid {me})", st.st_uid))
    } else if st.st_nlink != 1 {
        Some(format!(
            "has {} links (a hard link to it exists)",
            st.st_nlink
        ))
    } else if st.st_mode & 0o077 != 0 {
        Some(format!(
            "readable or writable by others (mode {:o}); chmod 600 it",
            st.st_mode & 0o7777
        ))
    } else {
        None
    };
    if let Some(p) = problem {
        return Err(format!("{}: {p}", path.display()));
    }
    Ok(Place { path })
}

fn open_at(dir: Option<&OwnedFd>, path: &str, flags: i32) -> std::io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // openat2 wants no mode without O_CREAT.
    let mode = if flags & libc::O_CREAT != 0 { 0o600 } else { 0 };
    match dir {
        Some(d) => crate::sys::mount::openat2_no_symlinks(d.as_fd(), &c, flags, mode),
        None => {
            let cwd = std::fs::File::open("/")?;
            crate::sys::mount::openat2_no_symlinks(cwd.as_fd(), &c, flags, mode)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn creates_owner_only_and_refuses_links_and_shared_dirs() {
        let t = tempfile::tempdir().unwrap();
        let db = t.path().join("a/b/state.db");
        open(&db, true).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&t.path().join("a/b")), 0o700);
        assert_eq!(mode(&db), 0o600);
        // A symlinked directory on the way, a symlink as the file: refused.
        symlink(t.path().join("a"), t.path().join("link")).unwrap();
        let e = open(&t.path().join("link/b/state.db"), true).err().unwrap();
        assert!(e.contains("symbolic link"), "{e}");
        symlink(&db, t.path().join("a/b/other.db")).unwrap();
        let e = open(&t.path().join("a/b/other.db"), true).err().unwrap();
        assert!(e.contains("symbolic link"), "{e}");
        // A directory others can write: refused.
        std::fs::set_permissions(t.path().join("a/b"), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        let e = open(&db, true).err().unwrap();
        assert!(e.contains("writable by others"), "{e}");
        // Missing and not to be created.
        let e = open(&t.path().join("none/state.db"), false).err().unwrap();
        assert!(e.contains("No such file"), "{e}");
    }
}
