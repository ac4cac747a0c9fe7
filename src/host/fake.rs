//! A fake host for unit tests and fuzzing: an in-memory file tree with symlinks, environment, cwd
//! and ids. Pure data, no I/O, so resolution can be exercised without touching the machine.

use super::Host;
use crate::policy::FileKind;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct FakeHost {
    /// Paths that exist: `None` = directory, `Some(text)` = file with that content.
    pub files: BTreeMap<PathBuf, Option<String>>,
    /// Symlinks: link path -> absolute target.
    pub links: BTreeMap<PathBuf, PathBuf>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    /// Directories whose contents cannot be looked up (no search permission).
    pub unsearchable: Vec<PathBuf>,
    /// Files that exist but cannot be read.
    pub unreadable: Vec<PathBuf>,
    pub uid: u32,
    pub gid: u32,
    /// The caller's home in the user database (`None`: no entry).
    pub account_home: Option<PathBuf>,
    /// Owner and mode of paths that are not root's 0755 (directories) / 0644 (files).
    pub owners: BTreeMap<PathBuf, (u32, u32)>,
}

impl FakeHost {
    /// A small merged-/usr Debian: /bin, /lib, /lib64, /sbin are links into /usr; no /lib32.
    /// The caller is ann (1000:1000) in /home/ann/proj.
    pub fn debian() -> Self {
        let mut h = FakeHost {
            cwd: "/home/ann/proj".into(),
            uid: 1000,
            gid: 1000,
            account_home: Some("/home/ann".into()),
            ..Default::default()
        };
        for d in [
            "/",
            "/usr",
            "/usr/bin",
            "/usr/sbin",
            "/usr/lib",
            "/usr/lib64",
            "/etc",
            "/etc/ld.so.conf.d",
            "/etc/alternatives",
            "/home",
            "/home/ann",
            "/home/ann/proj",
            "/tmp",
            "/data",
            "/out",
        ] {
            h.dir(d);
        }
        for f in [
            "/etc/ld.so.cache",
            "/etc/ld.so.conf",
            "/etc/localtime",
            "/etc/nsswitch.conf",
            "/etc/passwd",
            "/etc/group",
            "/usr/bin/python3",
        ] {
            h.file(f, "");
        }
        for (l, t) in [
            ("/bin", "/usr/bin"),
            ("/sbin", "/usr/sbin"),
            ("/lib", "/usr/lib"),
            ("/lib64", "/usr/lib64"),
        ] {
            h.links.insert(l.into(), t.into());
        }
        for (k, v) in [
            ("HOME", "/home/ann"),
            ("USER", "ann"),
            ("TERM", "xterm"),
            ("SECRET", "s3cret"),
        ] {
            h.env.insert(k.into(), v.into());
        }
        h
    }

    pub fn dir(&mut self, p: &str) -> &mut Self {
        self.files.insert(p.into(), None);
        self
    }

    pub fn file(&mut self, p: &str, text: &str) -> &mut Self {
        self.files.insert(p.into(), Some(text.into()));
        self
    }

    /// Resolve symlinks in `p` (one pass over its components; enough for these tests).
    fn follow(&self, p: &Path) -> PathBuf {
        let mut out = PathBuf::from("/");
        for c in p.components().skip(1) {
            out.push(c);
            if let Some(t) = self.links.get(&out) {
                out = t.clone();
            }
        }
        out
    }
}

impl Host for FakeHost {
    fn env(&self, key: &str) -> Option<String> {
        self.env.get(key).cloned()
    }
    fn cwd(&self) -> io::Result<PathBuf> {
        Ok(self.cwd.clone())
    }
    fn uid(&self) -> u32 {
        self.uid
    }
    fn gid(&self) -> u32 {
        self.gid
    }
    fn home(&self) -> Option<PathBuf> {
        self.env.get("HOME").map(PathBuf::from)
    }
    fn account_home(&self) -> Option<PathBuf> {
        self.account_home.clone()
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let real = self.follow(path);
        if self.files.contains_key(&real) {
            Ok(real)
        } else {
            Err(io::Error::from(io::ErrorKind::NotFound))
        }
    }
    fn kind(&self, path: &Path) -> io::Result<FileKind> {
        if self
            .unsearchable
            .iter()
            .any(|d| path.starts_with(d) && path != d)
        {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        match self.files.get(&self.follow(path)) {
            Some(None) => Ok(FileKind::Dir),
            Some(Some(_)) => Ok(FileKind::File),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        let real = self.follow(path);
        if self.unsearchable.iter().any(|d| real.starts_with(d)) {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        if self.unreadable.contains(&real) {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        match self.files.get(&real) {
            Some(Some(text)) => super::profile_text(text.clone().into_bytes()),
            Some(None) => Err(io::Error::other("is a directory")),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
    fn owner_and_mode(&self, path: &Path) -> io::Result<(u32, u32)> {
        let real = self.follow(path);
        if let Some(o) = self.owners.get(&real) {
            return Ok(*o);
        }
        match self.files.get(&real) {
            Some(None) => Ok((0, 0o755)),
            Some(Some(_)) => Ok((0, 0o644)),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let real = self.follow(path);
        if self.files.get(&real) != Some(&None) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(self
            .files
            .keys()
            .filter(|p| p.parent() == Some(real.as_path()))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }
}
