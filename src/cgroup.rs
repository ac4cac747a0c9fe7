//! cgroup v2: one child cgroup per jail, when the caller's cgroup subtree is delegated to it (for
//! example under `systemd-run --user --scope`) and offers the memory and pids controllers.
//!
//! The file protocol (cgroup-v2.rst in the kernel's admin guide):
//! - the caller's cgroup is the `0::PATH` line of /proc/self/cgroup, below the cgroup2 mount;
//! - controllers available to children are listed in `cgroup.controllers` and enabled for them
//!   by writing `+memory +pids` to `cgroup.subtree_control`; because of the no-internal-process
//!   rule this only works on a cgroup that holds no process itself, so the child is created in a
//!   cgroup whose subtree_control already enables both controllers (the delegated scope's parent
//!   layout that systemd and container runtimes use), and tooljail never moves itself;
//! - limits: `memory.max`, `memory.swap.max` (0: a memory limit that can spill into swap is not a
//!   limit), `pids.max`;
//! - evidence afterwards: `memory.events` (`oom_kill N`), `pids.events` (`max N`), `memory.peak`;
//! - the directory is removed (rmdir) once its processes are gone.
//!
//! Every function takes the cgroupfs root as a path, so tests run the protocol against a
//! temporary directory laid out like cgroupfs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Why cgroup v2 cannot enforce this run's limits (for `doctor`, the report and the error when
/// a profile requires cgroups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What to do when a profile requires cgroup v2 and this host or caller cannot provide it.
pub const FIX: &str = "run tooljail as an unprivileged user inside a delegated cgroup v2 subtree \
     (`systemd-run --user --scope -p Delegate=yes tooljail ...`) on a host whose cgroup2 mount \
     offers the memory and pids controllers, or set require_cgroup = false to accept rlimits";

/// The parent for this run's jail cgroup, or why there is none. `caller_is_root`: tooljail was
/// started by root, and so runs the jail as nobody (or `--user`); that identity can neither move
/// the jail into a cgroup below root's (writing `cgroup.procs` needs write access to the common
/// ancestor's `cgroup.procs`, which root owns) nor remove the directory afterwards (rmdir needs
/// write access to the root-owned parent), so a root-started jail would leak an empty cgroup on
/// every run. Root-started jails therefore use rlimits, and say so (docs/limits.md).
pub fn for_run(caller_is_root: bool) -> Result<PathBuf, Unavailable> {
    if caller_is_root {
        return Err(Unavailable(
            "tooljail started as root runs the jail as an unprivileged user, which cannot join \
             or remove a cgroup below root's"
                .into(),
        ));
    }
    host_parent()
}

/// Find the cgroup2 mount point in a mountinfo text.
pub fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // ... mount_point ... - fstype source options
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        let mount_point = left.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(mount_point))
    })
}

/// The caller's cgroup v2 path (the `0::/path` line of /proc/self/cgroup).
pub fn own_cgroup(proc_self_cgroup: &str) -> Option<PathBuf> {
    proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| PathBuf::from(p.trim()))
}

/// The directory in which a jail cgroup may be created, or why there is none. `mount` is the
/// cgroup2 mount, `own` the caller's cgroup below it.
pub fn find_parent(mount: &Path, own: &Path) -> Result<PathBuf, Unavailable> {
    let own_dir = mount.join(own.strip_prefix("/").unwrap_or(own));
    // The jail cgroup is a sibling of the caller's own cgroup: the caller's cgroup holds a
    // process (tooljail) and so cannot enable controllers for children of its own.
    let parent = own_dir
        .parent()
        .filter(|p| p.starts_with(mount))
        .unwrap_or(&own_dir)
        .to_path_buf();
    let read = |f: &str| fs::read_to_string(parent.join(f)).unwrap_or_default();
    let enabled = read("cgroup.subtree_control");
    let missing: Vec<_> = ["memory", "pids"]
        .into_iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if !missing.is_empty() {
        return Err(Unavailable(format!(
            "{} does not enable the {} controller(s) for its children",
            parent.display(),
            missing.join(" and ")
        )));
    }
    // Without swap accounting (swapaccount=0, or a kernel without it) the memory controller
    // has no memory.swap.max, and a jail could spill past memory.max into swap: then memory.max
    // is not the limit the profile asks for, and the rlimit fallback is the honest choice.
    if !parent.join("memory.swap.max").exists() {
        return Err(Unavailable(format!(
            "{} has no memory.swap.max (swap is not accounted), so memory.max would not bound \
             the jail's memory",
            parent.display()
        )));
    }
    if nix::unistd::access(&parent, nix::unistd::AccessFlags::W_OK).is_err() {
        return Err(Unavailable(format!(
            "{} is not writable by this user (not delegated)",
            parent.display()
        )));
    }
    Ok(parent)
}

/// The real host's candidate parent directory for jail cgroups.
pub fn host_parent() -> Result<PathBuf, Unavailable> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mount = cgroup2_mount(&mountinfo)
        .ok_or_else(|| Unavailable("no cgroup2 file system is mounted".into()))?;
    let own_text = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let own = own_cgroup(&own_text)
        .ok_or_else(|| Unavailable("this process has no cgroup v2 path".into()))?;
    let controllers = fs::read_to_string(mount.join("cgroup.controllers")).unwrap_or_default();
    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
    if !has("memory") || !has("pids") {
        return Err(Unavailable(format!(
            "the cgroup2 mount at {} offers [{}], not memory and pids (they are bound to cgroup v1 hierarchies)",
            mount.display(),
            controllers.trim()
        )));
    }
    find_parent(&mount, &own)
}

/// One jail's cgroup.
#[derive(Debug)]
pub struct JailCgroup {
    dir: PathBuf,
}

/// Counters read when the jail ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    pub oom_kill: u64,
    pub pids_max: u64,
    pub memory_peak: Option<u64>,
}

impl JailCgroup {
    /// Create `parent/name` and write the limits into it.
    pub fn create(
        parent: &Path,
        name: &str,
        memory: Option<u64>,
        processes: Option<u64>,
    ) -> io::Result<JailCgroup> {
        let dir = parent.join(name);
        fs::create_dir(&dir)?;
        let cg = JailCgroup { dir };
        let write = |file: &str, value: String| fs::write(cg.dir.join(file), value);
        let result = (|| {
            if let Some(m) = memory {
                write("memory.max", m.to_string())?;
                write("memory.swap.max", "0".into())?;
            }
            if let Some(p) = processes {
                write("pids.max", p.to_string())?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(cg),
            Err(e) => {
                let _ = cg.remove();
                Err(e)
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Move a process into the jail cgroup (the child, while it waits on the sync pipe).
    pub fn add(&self, pid: i32) -> io::Result<()> {
        fs::write(self.dir.join("cgroup.procs"), pid.to_string())
    }

    /// The jail's counters so far (read once the jail has ended; a missing file reads as 0).
    pub fn events(&self) -> Events {
        let read = |f: &str| fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        Events {
            oom_kill: key_value(&read("memory.events"), "oom_kill").unwrap_or(0),
            pids_max: key_value(&read("pids.events"), "max").unwrap_or(0),
            memory_peak: read("memory.peak").trim().parse().ok(),
        }
    }

    /// Remove the cgroup. The kernel refuses while processes remain; the jail's pid namespace is
    /// already dead when this is called, but reaping can lag by a moment, so retry briefly.
    pub fn remove(&self) -> io::Result<()> {
        let mut last = Ok(());
        for _ in 0..50 {
            last = fs::remove_dir(&self.dir);
            match &last {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(_) => break,
            }
        }
        // On a real cgroupfs the interface files vanish with the directory; on a plain directory
        // (tests) they are ordinary files and must go first.
        if self.dir.exists() && !is_cgroupfs(&self.dir) {
            fs::remove_dir_all(&self.dir)?;
            return Ok(());
        }
        last
    }
}

fn is_cgroupfs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// `key N` lines, as in memory.events and pids.events.
fn key_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
25 1 0:23 / / rw,relatime shared:1 - ext4 /dev/vda rw
35 25 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn finds_mount_and_own_cgroup() {
        assert_eq!(
            cgroup2_mount(MOUNTINFO),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(cgroup2_mount("25 1 0:23 / / rw - ext4 /dev/vda rw\n"), None);
        assert_eq!(
            own_cgroup("12:pids:/x\n0::/user.slice/user-1000.slice/tooljail.scope\n"),
            Some(PathBuf::from("/user.slice/user-1000.slice/tooljail.scope"))
        );
    }

    fn fake_tree(enabled: &str) -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let parent = root.path().join("user.slice/app.slice");
        fs::create_dir_all(parent.join("run.scope")).unwrap();
        fs::write(parent.join("cgroup.subtree_control"), enabled).unwrap();
        fs::write(parent.join("memory.swap.max"), "max\n").unwrap();
        (root, parent)
    }

    #[test]
    fn parent_needs_both_controllers_enabled() {
        let (root, parent) = fake_tree("cpu memory pids\n");
        let own = Path::new("/user.slice/app.slice/run.scope");
        assert_eq!(find_parent(root.path(), own), Ok(parent));
        let (root, _) = fake_tree("memory\n");
        let err = find_parent(root.path(), own).unwrap_err();
        assert!(err.0.contains("pids"), "{err:?}");
        // No swap accounting: memory.max alone would not bound the jail.
        let (root, parent) = fake_tree("memory pids\n");
        fs::remove_file(parent.join("memory.swap.max")).unwrap();
        let err = find_parent(root.path(), own).unwrap_err();
        assert!(err.0.contains("memory.swap.max"), "{err:?}");
    }

    #[test]
    fn create_writes_limits_reads_events_and_removes() {
        let (_root, parent) = fake_tree("memory pids\n");
        let cg = JailCgroup::create(&parent, "tooljail-1", Some(64 << 20), Some(32)).unwrap();
        let read = |f: &str| fs::read_to_string(cg.dir().join(f)).unwrap();
        assert_eq!(read("memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("memory.swap.max"), "0");
        assert_eq!(read("pids.max"), "32");
        cg.add(1234).unwrap();
        assert_eq!(read("cgroup.procs"), "1234");
        fs::write(
            cg.dir().join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        fs::write(cg.dir().join("pids.events"), "max 7\n").unwrap();
        fs::write(cg.dir().join("memory.peak"), "1048576\n").unwrap();
        assert_eq!(
            cg.events(),
            Events {
                oom_kill: 1,
                pids_max: 7,
                memory_peak: Some(1 << 20)
            }
        );
        cg.remove().unwrap();
        assert!(!cg.dir().exists());
    }

    #[test]
    fn root_started_jails_never_use_a_cgroup() {
        let err = for_run(true).unwrap_err();
        assert!(err.to_string().contains("started as root"), "{err}");
        assert!(FIX.contains("systemd-run --user --scope -p Delegate=yes"));
    }
}
