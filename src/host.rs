//! The host as profile loading and Policy resolution see it: the caller's environment,
//! identity and file system, behind one trait so that unit tests and the fuzzer use
//! [`fake::FakeHost`] instead. Read-only: nothing here changes the machine.

pub mod fake;
pub mod userdb;

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
    /// The caller's home directory from the user database (host::userdb), whatever the environment
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

/// The largest profile file tooljail reads: the shipped ones are a few KiB; a file above this is
/// a mistake (a log, a device, a generated file), refused before it is parsed.
pub const MAX_PROFILE_BYTES: usize = 1 << 20;

/// Why a profile file's bytes are not a profile's text, and where in the file: the payload of
/// the `io::Error` [`Host::read_to_string`] returns, so the error can name `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFault {
    /// 1-based line and column (in characters) of the first byte at fault.
    pub line: usize,
    pub col: usize,
    pub what: String,
}

impl std::fmt::Display for FileFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.col, self.what)
    }
}

impl std::error::Error for FileFault {}

/// A profile file's bytes (at most [`MAX_PROFILE_BYTES`] + 1 of them read) as its text:
/// refused, with the position, when it holds more than a profile may or is not UTF-8.
pub fn profile_text(bytes: Vec<u8>) -> io::Result<String> {
    let fault = |offset: usize, what: &str| {
        let line_start = bytes[..offset]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let fault = FileFault {
            line: bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1,
            col: String::from_utf8_lossy(&bytes[line_start..offset])
                .chars()
                .count()
                + 1,
            what: what.to_string(),
        };
        io::Error::new(io::ErrorKind::InvalidData, fault)
    };
    if bytes.len() > MAX_PROFILE_BYTES {
        return Err(fault(
            MAX_PROFILE_BYTES,
            "the file goes on past the 1 MiB a profile may hold",
        ));
    }
    match std::str::from_utf8(&bytes) {
        Ok(_) => Ok(String::from_utf8(bytes).expect("checked UTF-8")),
        Err(e) => Err(fault(e.valid_up_to(), "not UTF-8 text (a profile must be)")),
    }
}

/// The real host.
pub struct RealHost;

/// The caller's entry in the user database (the real uid's, [`userdb`]), looked up once per
/// process: the report names the caller, the home guard protects its home, and a jail that
/// runs as the caller is named after it. None when the database has no entry.
pub fn caller_account() -> Option<&'static userdb::Account> {
    static ACCOUNT: std::sync::OnceLock<Option<userdb::Account>> = std::sync::OnceLock::new();
    ACCOUNT
        .get_or_init(|| {
            userdb::account(userdb::Key::Uid(nix::unistd::getuid().as_raw()))
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
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a fifo named as a profile must not hang the call waiting for a writer
        // (nor a device block it); only a regular file is read, and no more of it than a
        // profile may hold (`-p /dev/zero` would otherwise fill the memory).
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let mut bytes = Vec::new();
        let cap = u64::try_from(MAX_PROFILE_BYTES + 1).unwrap_or(u64::MAX);
        file.take(cap).read_to_end(&mut bytes)?;
        profile_text(bytes)
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
