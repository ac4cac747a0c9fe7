//! The scratch of `isolation = "landlock"`: without a mount namespace there is no tmpfs of the
//! jail's own, so the scratch is a fresh host directory. Its name is chosen when the plan is
//! made ([`relocate`], pure: the Landlock rule and the environment need it before the fork); the
//! supervisor creates it as the jail user ([`create`]) and removes it after the command and
//! every process it left are gone ([`remove`]).

use crate::error::{Error, Result};
use crate::policy::Policy;
use std::path::{Path, PathBuf};

/// A name for this run's scratch directory below `tmp` (the caller's temporary directory):
/// unique per supervisor pid and start time; [`create`] fails rather than reuse one.
pub fn host_path(tmp: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    tmp.join(format!(
        "tooljail-scratch-{}-{nanos:09}",
        std::process::id()
    ))
}

/// Points the Policy's scratch at `host`: the scratch path itself, the working directory and
/// every environment value that is the scratch path or below it (HOME, usually). TMPDIR is set
/// to the scratch when the Policy gives /tmp from scratch and TMPDIR is unset or below /tmp,
/// since the host's /tmp is not writable in this mode. Pure.
pub fn relocate(policy: &mut Policy, host: &Path) {
    let old = policy.filesystem.scratch.path.clone();
    let moved = |p: &Path| -> Option<PathBuf> {
        let rest = p.strip_prefix(&old).ok()?;
        Some(if rest.as_os_str().is_empty() {
            host.to_path_buf()
        } else {
            host.join(rest)
        })
    };
    if let Some(cwd) = moved(&policy.cwd) {
        policy.cwd = cwd;
    }
    for value in policy.env.values_mut() {
        if let Some(p) = moved(Path::new(value.as_str())) {
            *value = p.display().to_string();
        }
    }
    if policy.filesystem.scratch.tmp {
        // The jail's /tmp would have been a directory of scratch; the host's is not writable.
        let tmpdir = policy
            .env
            .entry("TMPDIR".into())
            .or_insert_with(|| host.display().to_string());
        if Path::new(tmpdir.as_str()).starts_with("/tmp") {
            *tmpdir = host.display().to_string();
        }
    }
    policy.filesystem.scratch.path = host.to_path_buf();
}

/// Creates the scratch directory, 0700, owned by the calling (jail) user. mkdir(2) never
/// follows a symbolic link in the last component and fails on anything already there, so
/// another user of the temporary directory cannot steer it.
pub fn create(path: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(|e| {
            Error::setup(
                format!("create the scratch directory {}", path.display()),
                &e,
            )
            .with_hint("the temporary directory (TMPDIR) must be writable by the jail's user")
        })?;
    Ok(path.to_path_buf())
}

/// Removes the scratch directory and everything in it (std's remove_dir_all does not follow
/// symbolic links the command left there). A directory the command made unwritable is made
/// writable again first.
pub fn remove(path: &Path) -> std::io::Result<()> {
    if std::fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    make_writable(path);
    std::fs::remove_dir_all(path)
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            make_writable(&e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_paths_move_to_the_host_directory_and_nothing_else_does() {
        let mut p = crate::profile::policy_from_args(&Default::default()).unwrap();
        let old = p.filesystem.scratch.path.clone();
        p.cwd = old.join("work");
        p.env.insert("HOME".into(), old.display().to_string());
        p.env.insert("OTHER".into(), "/usr/scratchy".into());
        p.env.insert(
            "NEAR".into(),
            format!("{}x", old.display()), // a sibling with the same prefix, not below it
        );
        p.env.insert("TMPDIR".into(), "/tmp".into());
        p.filesystem.scratch.tmp = true;
        let host = Path::new("/tmp/tooljail-scratch-1-000000001");
        relocate(&mut p, host);
        assert_eq!(p.filesystem.scratch.path, host);
        assert_eq!(p.cwd, host.join("work"));
        assert_eq!(p.env["HOME"], host.display().to_string());
        assert_eq!(p.env["TMPDIR"], host.display().to_string());
        assert_eq!(p.env["OTHER"], "/usr/scratchy");
        assert_eq!(p.env["NEAR"], format!("{}x", old.display()));
    }

    #[test]
    fn create_refuses_what_is_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("s");
        std::os::unix::fs::symlink("/etc", &target).unwrap();
        assert!(create(&target).is_err());
        let fresh = dir.path().join("t");
        create(&fresh).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::create_dir(fresh.join("locked")).unwrap();
        std::fs::write(fresh.join("locked/f"), "x").unwrap();
        std::fs::set_permissions(fresh.join("locked"), std::fs::Permissions::from_mode(0o0))
            .unwrap();
        remove(&fresh).unwrap();
        assert!(!fresh.exists());
    }
}
