//! Transient jail uids: started as root without `--user`, each call runs its jail as a uid/gid
//! of its own, taken from a documented range that no account uses (as systemd's DynamicUser
//! does), so no two concurrent jails and no host daemon ever share the jail's uid.
//!
//! The range is `TOOLJAIL_UID_RANGE=FIRST-LAST` when set, else [`DEFAULT_RANGE`]. A uid is held
//! with an open-file-description lock (F_OFD_SETLK) on its byte of one root-owned lock file,
//! [`LOCK_FILE`]: the kernel drops the lock when the last fd of that open file is closed, i.e.
//! when the supervisor is gone, however it ends (pid 1 closes the copy it inherits with every
//! other fd it does not need). The supervisor releases the lease only after it has reaped pid 1;
//! only when tooljail itself is killed does the lock go first, and pid 1 then dies of
//! PR_SET_PDEATHSIG right after. Nothing is left to clean up, and a crashed call never leaks a
//! uid.
//!
//! What makes a leased uid the jail's alone: the lock keeps other calls off it, and no process
//! of a call outlives it (the full jail's pid namespace dies with its pid 1; in landlock mode
//! the supervisor is the subreaper that kills what the command leaves). The range must be left
//! to tooljail: no account and no service may run with those ids (docs/security.md).

use crate::error::{Error, Result};
use nix::fcntl::{FcntlArg, OFlag};
use nix::sys::stat::Mode;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// The uids (and the gids of the same numbers) transient jails take by default: 65536 ids at
/// 0x7F000000, far above the ranges distributions give to accounts (below 60000), systemd's
/// DynamicUser (61184-65519) and container subordinate ranges (commonly from 100000, 65536 a
/// user).
pub const DEFAULT_RANGE: UidRange = UidRange {
    first: 0x7F00_0000,
    last: 0x7F00_FFFF,
};
/// The directory of the lock file (root's, 0700).
pub const LOCK_DIR: &str = "/run/tooljail";
/// One byte per uid of the range: a held byte is a uid in use.
pub const LOCK_FILE: &str = "transient-uids.lock";
/// The variable that overrides [`DEFAULT_RANGE`].
pub const RANGE_VAR: &str = "TOOLJAIL_UID_RANGE";

/// An inclusive range of host uids (and gids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidRange {
    pub first: u32,
    pub last: u32,
}

impl std::fmt::Display for UidRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl UidRange {
    /// Parse `FIRST-LAST`. Refused: a reversed range, and any range holding 0 (root) or 65534
    /// (nobody), which are never a jail's own.
    pub fn parse(s: &str) -> std::result::Result<UidRange, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("\"{s}\" is not FIRST-LAST"))?;
        let num = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("\"{t}\" is not a uid"))
        };
        let r = UidRange {
            first: num(a)?,
            last: num(b)?,
        };
        if r.first > r.last {
            return Err(format!("{r}: the first uid is above the last"));
        }
        if r.contains(0) || r.contains(65534) || r.last >= u32::MAX - 1 {
            return Err(format!(
                "{r} holds uid 0, 65534 (nobody) or -1, which a jail never takes"
            ));
        }
        Ok(r)
    }

    pub fn contains(&self, uid: u32) -> bool {
        (self.first..=self.last).contains(&uid)
    }

    /// How many ids the range holds (never 0: `first <= last`).
    pub fn count(&self) -> u64 {
        u64::from(self.last - self.first) + 1
    }

    /// The range in force: `TOOLJAIL_UID_RANGE` when set, else the default.
    pub fn configured() -> Result<UidRange> {
        match std::env::var(RANGE_VAR) {
            Err(std::env::VarError::NotPresent) => Ok(DEFAULT_RANGE),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Error::usage(format!("{RANGE_VAR} is not valid UTF-8")))
            }
            Ok(v) => UidRange::parse(&v).map_err(|why| {
                Error::usage(format!("{RANGE_VAR}={v}: {why}"))
                    .with_hint("give FIRST-LAST, a range of unused uids, or unset it")
            }),
        }
    }

    /// Whether every id of the range exists in this process's user namespace, by the text of
    /// `/proc/self/uid_map` (or gid_map): in a container that maps only part of the id space
    /// (rootless podman maps 65536), an unmapped uid cannot be taken.
    pub fn mapped_in(&self, id_map: &str) -> bool {
        id_map.lines().any(|line| {
            let f: Vec<u64> = line
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
            matches!(f.as_slice(), [inside, _, count]
                if *inside <= u64::from(self.first)
                    && u64::from(self.last) < inside + count)
        })
    }
}

/// A uid of the range held for this call (its gid is the same number). The lock goes with the
/// last fd of the lock file, held by the supervisor, which drops the lease after it has reaped
/// the jail's pid 1 (src/pipeline/record.rs).
#[derive(Debug)]
pub struct Lease {
    pub uid: u32,
    _lock: OwnedFd,
}

/// Take a free uid of `range`: one whose byte in the lock file nobody holds and that
/// /etc/passwd and /etc/group do not name. Fails closed when the range is not mapped in this user
/// namespace, the lock file is not root's own, or every uid is taken.
pub fn allocate(range: UidRange) -> Result<Lease> {
    for file in ["uid_map", "gid_map"] {
        let map = crate::sys::read_text_at(format!("/proc/self/{file}"))
            .map_err(|e| Error::setup(format!("read /proc/self/{file}"), &e))?;
        if !range.mapped_in(&map) {
            return Err(Error::setup(
                format!("take a transient jail uid from {range}"),
                libc::EINVAL,
            )
            .with_hint(format!(
                "the range is not mapped in this user namespace (/proc/self/{file}); set \
                 {RANGE_VAR}=FIRST-LAST to unused ids that are, or run with --user NAME"
            )));
        }
    }
    let lock = open_lock_file()?;
    let known = known_ids();
    let start = start_offset(range.count());
    for i in 0..range.count() {
        let offset = (start + i) % range.count();
        let uid = range.first + u32::try_from(offset).expect("offset is below the range's length");
        if known.contains(&uid) {
            continue;
        }
        if try_lock(&lock, offset)? {
            return Ok(Lease { uid, _lock: lock });
        }
    }
    Err(Error::setup(
        format!("take a transient jail uid from {range}"),
        libc::EAGAIN,
    )
    .with_hint(format!(
        "all {} uids are held by running calls; wait, or widen {RANGE_VAR}",
        range.count()
    )))
}

/// Where the search starts: spread by pid and time so concurrent calls rarely try the same byte
/// first (the lock, not this, is what keeps them apart).
fn start_offset(len: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    (u64::from(std::process::id()).wrapping_mul(2_654_435_761) ^ nanos) % len
}

/// The ids /etc/passwd and /etc/group give to accounts and groups (their third field). Read
/// from the files, not through NSS: a lookup of a transient id through NSS modules (systemd's
/// userdb, sssd) costs milliseconds per call; ids such services hand out are theirs to keep
/// out of the range (documented).
fn known_ids() -> std::collections::HashSet<u32> {
    ["/etc/passwd", "/etc/group"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.split(':').nth(2).and_then(|id| id.parse().ok()))
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Open (creating them if missing) [`LOCK_DIR`] and [`LOCK_FILE`], never through a symlink, and
/// check both are root's and writable by root alone: a lock file another user could open would
/// let them hold (or release) uids.
fn open_lock_file() -> Result<OwnedFd> {
    let fail = |what: &str, e: nix::errno::Errno| {
        Error::setup(format!("{what} {LOCK_DIR}/{LOCK_FILE}"), e as i32)
            .with_hint("transient jail uids need a root-owned /run/tooljail; check /run")
    };
    match nix::unistd::mkdir(LOCK_DIR, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(fail("create the directory of", e)),
    }
    let dir = nix::fcntl::open(
        LOCK_DIR,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
        Mode::empty(),
    )
    .map_err(|e| fail("open the directory of", e))?;
    let dir = crate::sys::fd::claim(dir);
    root_only(&dir, LOCK_DIR)?;
    let file = nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        LOCK_FILE,
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| fail("open", e))?;
    let file = crate::sys::fd::claim(file);
    root_only(&file, &format!("{LOCK_DIR}/{LOCK_FILE}"))?;
    Ok(file)
}

/// Refuse `fd` unless root owns it and no one else can write it.
fn root_only(fd: &OwnedFd, name: &str) -> Result<()> {
    let st = nix::sys::stat::fstat(fd.as_raw_fd())
        .map_err(|e| Error::setup(format!("stat {name}"), e as i32))?;
    if st.st_uid != 0 || st.st_mode & 0o022 != 0 {
        return Err(
            Error::setup(format!("check {name}"), libc::EPERM).with_hint(format!(
                "{name} must be root's and writable by root alone (it is uid {}, mode {:o}); \
             remove it",
                st.st_uid,
                st.st_mode & 0o7777
            )),
        );
    }
    Ok(())
}

/// Try to take byte `offset` of the lock file with an exclusive open-file-description lock.
fn try_lock(file: &OwnedFd, offset: u64) -> Result<bool> {
    let lock = libc::flock {
        l_type: libc::c_short::try_from(libc::F_WRLCK).expect("F_WRLCK fits a short"),
        l_whence: libc::c_short::try_from(libc::SEEK_SET).expect("SEEK_SET fits a short"),
        l_start: i64::try_from(offset).expect("offsets fit i64"),
        l_len: 1,
        l_pid: 0,
    };
    match nix::fcntl::fcntl(file.as_raw_fd(), FcntlArg::F_OFD_SETLK(&lock)) {
        Ok(_) => Ok(true),
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => Ok(false),
        Err(e) => Err(Error::setup(
            format!("lock {LOCK_DIR}/{LOCK_FILE}"),
            e as i32,
        )),
    }
}

/// For `doctor`: the range, whether it is mapped here, and where the locks live.
pub fn describe(range: UidRange) -> String {
    let mapped = ["uid_map", "gid_map"].iter().all(|f| {
        std::fs::read_to_string(format!("/proc/self/{f}"))
            .map(|m| range.mapped_in(&m))
            .unwrap_or(false)
    });
    format!(
        "{range} ({} ids{}; held with locks on {})",
        range.count(),
        if mapped {
            ""
        } else {
            ", NOT mapped in this user namespace"
        },
        Path::new(LOCK_DIR).join(LOCK_FILE).display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_refuse_root_nobody_and_reversed() {
        assert_eq!(
            UidRange::parse("100000-100099"),
            Ok(UidRange {
                first: 100000,
                last: 100099
            })
        );
        for bad in [
            "0-10",
            "65000-66000",
            "9-3",
            "x-3",
            "7",
            "4294967294-4294967295",
        ] {
            assert!(UidRange::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(UidRange::parse("5-5").unwrap().count(), 1);
    }

    #[test]
    fn mapping_must_hold_the_whole_range() {
        let full = "         0          0 4294967295\n";
        let rootless = "         0       1000          1\n         1     100000      65536\n";
        assert!(DEFAULT_RANGE.mapped_in(full));
        assert!(!DEFAULT_RANGE.mapped_in(rootless));
        let inside = UidRange::parse("60000-60009").unwrap();
        assert!(inside.mapped_in(rootless));
        let straddles = UidRange::parse("65535-65537").unwrap();
        assert!(!straddles.mapped_in(rootless));
    }
}
