//! The host as profile loading and Policy resolution see it: the caller's environment,
//! identity and file system, behind one trait so that unit tests and the fuzzer use
//! [`fake::FakeHost`] instead. Read-only: nothing here changes the machine.

pub mod fake;

use crate::policy::FileKind;
use std::io;
use std::path::{Path, PathBuf};

/// The host as resolution sees it: the caller's environment, identity and file system.
pub trait Host {
    fn env(&self, key: &str) -> Option<String>;
    fn cwd(&self) -> io::Result<PathBuf>;
    fn uid(&self) -> u32;
    fn gid(&self) -> u32;
    /// `$HOME`, as the caller set it (for `${HOME}` in profiles and the config search path).
    fn home(&self) -> Option<PathBuf>;
    /// The caller's home directory from the user database (getpwuid), whatever the environment
    /// says: what the home guard protects, since `env -u HOME` or `HOME=/elsewhere` must not
    /// let a profile expose the real home.
    fn account_home(&self) -> Option<PathBuf>;
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// File or directory (following symlinks).
    fn kind(&self, path: &Path) -> io::Result<FileKind>;
    /// Read a profile file.
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
    /// The owner uid and the permission bits (`st_mode & 0o7777`) of `path`, following
    /// symlinks: whether a profile found on the search path can be trusted.
    fn owner_and_mode(&self, path: &Path) -> io::Result<(u32, u32)>;
    /// The names in directory `path` (GPU device nodes).
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
}

/// The real host.
pub struct RealHost;

/// The caller's entry in the user database (getpwuid of the real uid), looked up once per
/// process: the report names the caller, the home guard protects its home, and a jail that
/// runs as the caller is named after it. None when the database has no entry.
pub fn caller_account() -> Option<&'static nix::unistd::User> {
    static ACCOUNT: std::sync::OnceLock<Option<nix::unistd::User>> = std::sync::OnceLock::new();
    ACCOUNT
        .get_or_init(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
        })
        .as_ref()
}

impl Host for RealHost {
    fn env(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
    fn cwd(&self) -> io::Result<PathBuf> {
        std::env::current_dir()
    }
    fn uid(&self) -> u32 {
        nix::unistd::getuid().as_raw()
    }
    fn gid(&self) -> u32 {
        nix::unistd::getgid().as_raw()
    }
    fn home(&self) -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }
    fn account_home(&self) -> Option<PathBuf> {
        caller_account().map(|u| u.dir.clone())
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
    fn kind(&self, path: &Path) -> io::Result<FileKind> {
        let md = std::fs::metadata(path)?;
        Ok(if md.is_dir() {
            FileKind::Dir
        } else {
            FileKind::File
        })
    }
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn owner_and_mode(&self, path: &Path) -> io::Result<(u32, u32)> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path)?;
        Ok((md.uid(), md.mode() & 0o7777))
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(path)? {
            names.push(e?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }
}
