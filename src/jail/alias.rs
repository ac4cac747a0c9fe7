//! Binds that need no mount of their own: a read-only directory whose source lies inside
//! another read-only bind's source, with the same flags, is already in the jail as part of that
//! bind. It becomes a symlink to that place instead (`/bin -> /usr/bin` on a merged-/usr host,
//! as the host has it), which saves a whole mount. The files reached are the same ones, with
//! the same mount flags and the same Landlock rights (a rule on the link's path lands on the
//! directory it names, inside the other bind, which grants exactly the same rights).

use crate::policy::{Access, Bind, FileKind, Policy};
use std::path::{Path, PathBuf};

/// One slot per bind of the Policy: where inside the jail the bind's tree already is, when the
/// bind can be a symlink to it, with the index of the bind that holds it and the path below that
/// bind's source (checked at build time: it must be a real directory there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub holder: usize,
    pub below: PathBuf,
    pub link: PathBuf,
}

/// The aliases of `policy`'s binds (see the module doc). A bind is an alias only when nothing
/// could tell the link from the mount:
/// - both are read-only directories with the same exec flag, and the holder is a top-level
///   bind (its source inside no other bind's source), bound outside /proc and /dev (mounted
///   after the binds);
/// - nothing else is mounted at, below or above the bind's target (a mount below a symlink
///   would have to cross it, which the new root's walk refuses; a mount above would hold the
///   link, and the scratch, /tmp or a writable bind would let the command replace it), and
///   nothing but the holder at or above the place the link names, below the holder's target.
pub fn aliases(policy: &Policy) -> Vec<Option<Alias>> {
    let binds = &policy.filesystem.binds;
    let fs = &policy.filesystem;
    let mut others: Vec<&Path> = binds.iter().map(|b| b.target.as_path()).collect();
    others.push(&fs.scratch.path);
    others.extend(fs.devices.iter().map(PathBuf::as_path));
    others.extend([Path::new("/tmp"), Path::new("/proc"), Path::new("/dev")]);
    let plain = |b: &Bind| b.access == Access::ReadOnly && b.kind == FileKind::Dir;
    // Which binds may hold others, asked once per bind rather than once per pair tried below.
    let holds: Vec<bool> = binds
        .iter()
        .map(|h| {
            plain(h)
                && !h.target.starts_with("/proc")
                && !h.target.starts_with("/dev")
                && !binds
                    .iter()
                    .any(|o| o.source != h.source && h.source.starts_with(&o.source))
        })
        .collect();
    binds
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if !plain(b) || b.target == Path::new("/") {
                return None;
            }
            let (holder, h) = binds.iter().enumerate().find(|(j, h)| {
                *j != i
                    && holds[*j]
                    && h.exec == b.exec
                    && h.source != b.source
                    && b.source.starts_with(&h.source)
            })?;
            let below = b.source.strip_prefix(&h.source).ok()?.to_path_buf();
            let link = h.target.join(&below);
            // Only this bind's own target at its place, nothing mounted below it, and nothing
            // above it: the link is made in the new root's own tmpfs, which is made read-only,
            // never in a writable mount (the scratch, /tmp, a writable bind) where the command
            // could remove it and put something else there.
            let at_or_below = others.iter().filter(|t| t.starts_with(&b.target)).count();
            let above = others
                .iter()
                .any(|t| *t != b.target && b.target.starts_with(t));
            if at_or_below != 1 || above || link.starts_with(&b.target) {
                return None;
            }
            // Nothing but the holder covers the place the link names.
            let covered = binds.iter().enumerate().any(|(k, x)| {
                k != holder && link.starts_with(&x.target) && x.target.starts_with(&h.target)
            });
            let special = [&fs.scratch.path, Path::new("/tmp")]
                .iter()
                .any(|t| link.starts_with(t) && t.starts_with(&h.target));
            (!covered && !special).then_some(Alias {
                holder,
                below,
                link,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(source: &str, target: &str, access: Access, exec: bool, kind: FileKind) -> Bind {
        Bind {
            source: source.into(),
            target: target.into(),
            access,
            exec,
            kind,
            origin: "test".into(),
        }
    }

    fn ro(source: &str, target: &str, exec: bool) -> Bind {
        bind(source, target, Access::ReadOnly, exec, FileKind::Dir)
    }

    /// The shipped default profile on a fake Debian host.
    fn default_policy() -> Policy {
        let host = crate::host::fake::FakeHost::debian();
        let args = crate::cli::PolicyArgs::default();
        crate::profile::resolve_args(&host, &args, Default::default())
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn policy(binds: Vec<Bind>) -> Policy {
        let mut p = default_policy();
        p.filesystem.binds = binds;
        p.filesystem.scratch.path = "/scratch".into();
        p.filesystem.devices = vec!["/dev/null".into()];
        p
    }

    fn links(binds: Vec<Bind>) -> Vec<Option<String>> {
        aliases(&policy(binds))
            .into_iter()
            .map(|a| a.map(|a| a.link.display().to_string()))
            .collect()
    }

    #[test]
    fn merged_usr_directories_become_links_into_usr() {
        let got = aliases(&policy(vec![
            ro("/usr", "/usr", true),
            ro("/usr/bin", "/bin", true),
            ro("/usr/lib", "/lib", true),
        ]));
        assert_eq!(got[0], None);
        assert_eq!(
            got[1],
            Some(Alias {
                holder: 0,
                below: "bin".into(),
                link: "/usr/bin".into()
            })
        );
        assert_eq!(
            got[2].as_ref().map(|a| a.link.clone()),
            Some("/usr/lib".into())
        );
    }

    #[test]
    fn the_holder_may_sit_elsewhere_in_the_jail() {
        assert_eq!(
            links(vec![
                ro("/opt/sdk", "/sdk", true),
                ro("/opt/sdk/bin", "/tools", true)
            ]),
            [None, Some("/sdk/bin".into())]
        );
    }

    #[test]
    fn other_flags_kinds_or_access_keep_their_own_mount() {
        // noexec inside an exec bind: the link would let it execute.
        assert_eq!(
            links(vec![
                ro("/usr", "/usr", true),
                ro("/usr/share", "/share", false)
            ]),
            [None, None]
        );
        // Writable, or a file.
        let rw = bind("/usr/src", "/src", Access::ReadWrite, true, FileKind::Dir);
        assert_eq!(links(vec![ro("/usr", "/usr", true), rw]), [None, None]);
        let file = bind(
            "/usr/share/zoneinfo/UTC",
            "/etc/localtime",
            Access::ReadOnly,
            true,
            FileKind::File,
        );
        assert_eq!(links(vec![ro("/usr", "/usr", true), file]), [None, None]);
        // A writable holder.
        let holder = bind("/srv", "/srv", Access::ReadWrite, true, FileKind::Dir);
        assert_eq!(links(vec![holder, ro("/srv/a", "/a", true)]), [None, None]);
    }

    #[test]
    fn a_mount_at_or_below_the_target_keeps_it_a_mount() {
        assert_eq!(
            links(vec![
                ro("/usr", "/usr", true),
                ro("/usr/lib", "/lib", true),
                ro("/home/me/lib", "/lib/extra", true),
            ]),
            [None, None, None]
        );
        // Two binds at one target.
        assert_eq!(
            links(vec![
                ro("/usr", "/usr", true),
                ro("/usr/lib", "/lib", true),
                ro("/opt/lib", "/lib", true),
            ]),
            [None, None, None]
        );
        // The scratch below it.
        assert_eq!(
            links(vec![
                ro("/srv", "/srv", true),
                ro("/srv/s", "/scratch", true)
            ]),
            [None, None]
        );
    }

    #[test]
    fn a_link_is_never_made_inside_another_mount() {
        // In /tmp or the scratch (writable: the command could replace the link), in another
        // bind, in /dev.
        for target in ["/tmp/bin", "/scratch/bin", "/srv/bin", "/dev/bin"] {
            let got = links(vec![
                ro("/usr", "/usr", true),
                bind("/srv", "/srv", Access::ReadWrite, true, FileKind::Dir),
                ro("/usr/bin", target, true),
            ]);
            assert_eq!(got, [None, None, None], "{target}");
        }
        // A bind at / holds everything.
        assert_eq!(
            links(vec![ro("/", "/", true), ro("/usr/bin", "/bin", true)]),
            [None, None]
        );
    }

    #[test]
    fn a_place_covered_by_another_mount_is_not_the_holders_tree() {
        // /usr/lib is itself bound from elsewhere: /usr/lib in the jail is not the host's.
        assert_eq!(
            links(vec![
                ro("/usr", "/usr", true),
                ro("/opt/lib", "/usr/lib", true),
                ro("/usr/lib", "/lib", true),
            ]),
            [None, None, None]
        );
    }

    #[test]
    fn a_holder_inside_another_bind_is_not_used() {
        // /usr/lib sits inside /usr: /lib/x links nowhere, /usr/lib/x would do, but chains are
        // not followed; /usr holds /usr/lib/x directly.
        let got = links(vec![
            ro("/usr", "/usr", true),
            ro("/usr/lib", "/lib", true),
            ro("/usr/lib/x", "/x", true),
        ]);
        assert_eq!(
            got,
            [None, Some("/usr/lib".into()), Some("/usr/lib/x".into())]
        );
    }

    #[test]
    fn the_shipped_default_profile_links_the_four_merged_usr_directories() {
        let policy = default_policy();
        let mut links: Vec<String> = aliases(&policy)
            .into_iter()
            .flatten()
            .map(|a| a.link.display().to_string())
            .collect();
        links.sort();
        assert_eq!(links, ["/usr/bin", "/usr/lib", "/usr/lib64", "/usr/sbin"]);
    }
}
