//! `[filesystem.git]`: the git dir of a work tree whose `.git` is a file, found and bound by
//! tooljail itself (what `git rev-parse --git-dir --git-common-dir` would say), so git works
//! in a linked worktree (`git worktree add`) and in a submodule, where `.git` is a file naming
//! a directory outside the work tree.
//!
//! What is bound, with the access `write` asks for:
//! - a linked worktree (`.git` names `REPO/.git/worktrees/NAME`): that directory (its HEAD,
//!   index and reflog), and of the common dir `REPO/.git` only what a commit writes
//!   (`objects`, `refs`, `logs`) and reads (`config`, `packed-refs`, `info`, `shallow`: read-only
//!   always). The main work tree, the common dir's hooks and every other worktree's directory
//!   stay absent.
//! - a submodule (`.git` names `SUPER/.git/modules/PATH`): that git dir.
//!
//! A `.git` file is followed only when what it names is exactly that, so a tool that could
//! write the work tree cannot make the next run bind something else by rewriting `.git`:
//! no symbolic link anywhere on the way (`.git`, the directory it names, the common dir and
//! its parts, all canonical as written); a worktree's directory must link back to this work
//! tree (its `gitdir` file) and name its own common dir (its `commondir` file: `../..`);
//! a submodule's git dir must lie in `.git/modules/` of a superproject that holds this work
//! tree; and everything bound must belong to the owner of the work tree.

use super::*;
use crate::profile::schema::GitLayer;

/// The largest `.git`, `gitdir` or `commondir` file read (git writes one short line).
const MAX_LINK: usize = 4096;

/// What a `.git` file led to.
#[derive(Debug, PartialEq, Eq)]
enum GitDir {
    /// A linked worktree: its own directory and the common dir.
    Worktree { admin: PathBuf, common: PathBuf },
    /// A submodule's git dir.
    Submodule { dir: PathBuf },
}

impl Resolver<'_> {
    /// The binds `[filesystem.git]` adds (none when the work tree's `.git` is a directory,
    /// which the work tree's own bind shows, or when there is no `.git`).
    pub(super) fn git_binds(&mut self, git: &GitLayer, binds: &mut Vec<Bind>) {
        let Some(item) = &git.work_tree else {
            return;
        };
        let write = git.write.as_ref().is_some_and(|i| i.value);
        let Some((tree, _)) = self.path(item, "git work tree") else {
            return;
        };
        let at = self.src.at(item);
        let found = match find(self.host, &tree) {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(why) => {
                self.err(
                    at,
                    format!("git work tree {}: {why}", tree.display()),
                    "run git on this repository without tooljail's git profile, or repair it \
                     with `git worktree repair` / `git submodule absorbgitdirs`",
                );
                return;
            }
        };
        let access = if write {
            Access::ReadWrite
        } else {
            Access::ReadOnly
        };
        let origin = format!("{at} (the work tree's git dir)");
        let mut add = |source: PathBuf, access: Access, kind: FileKind| {
            binds.retain(|b| b.target != source);
            binds.push(Bind {
                target: source.clone(),
                source,
                access,
                exec: false,
                kind,
                origin: origin.clone(),
            });
        };
        match found {
            GitDir::Submodule { dir } => add(dir, access, FileKind::Dir),
            GitDir::Worktree { admin, common } => {
                add(admin, access, FileKind::Dir);
                for (name, access) in [
                    ("objects", access),
                    ("refs", access),
                    ("logs", access),
                    ("config", Access::ReadOnly),
                    ("packed-refs", Access::ReadOnly),
                    ("info", Access::ReadOnly),
                    ("shallow", Access::ReadOnly),
                ] {
                    let p = common.join(name);
                    // Only what exists, as itself (find checked objects and refs).
                    if self.host.canonicalize(&p).ok().as_ref() != Some(&p) {
                        continue;
                    }
                    if let Ok(kind) = self.host.kind(&p) {
                        add(p, access, kind);
                    }
                }
            }
        }
    }
}

/// The git dir `tree/.git` names, when it is a file; `Ok(None)` when `.git` is a directory or
/// absent; an error naming what is wrong when it is a file tooljail will not follow.
fn find(host: &dyn Host, tree: &Path) -> Result<Option<GitDir>, String> {
    let tree = host
        .canonicalize(tree)
        .map_err(|e| format!("cannot be resolved ({e})"))?;
    let dotgit = tree.join(".git");
    match host.kind(&dotgit) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!(".git cannot be read ({e})")),
        Ok(_) if host.canonicalize(&dotgit).ok().as_ref() != Some(&dotgit) => {
            return Err(".git is a symbolic link; tooljail follows none to a git dir".into())
        }
        Ok(FileKind::Dir) => return Ok(None),
        Ok(FileKind::File) => {}
    }
    let named = link(host, &dotgit, "gitdir: ")?;
    let dir = as_itself(host, &tree, &named, ".git names")?;
    let owner = |p: &Path| host.owner_and_mode(p).map(|(uid, _)| uid).ok();
    let tree_owner = owner(&tree);
    let same_owner = |p: &Path, what: &str| {
        if owner(p) == tree_owner {
            Ok(())
        } else {
            Err(format!(
                "{what} {} belongs to another user than the work tree",
                p.display()
            ))
        }
    };
    let parent = dir.parent().unwrap_or(&dir);
    if parent.file_name().is_some_and(|n| n == "worktrees") {
        let common = parent.parent().unwrap_or(parent).to_path_buf();
        // The worktree's directory names its common dir, and links back to this work tree.
        let named = link(host, &dir.join("commondir"), "")?;
        let named_common = as_itself(host, &dir, &named, "its commondir names")?;
        if named_common != common {
            return Err(format!(
                "{} names {} as its common dir, not {}",
                dir.display(),
                named_common.display(),
                common.display()
            ));
        }
        let back = link(host, &dir.join("gitdir"), "")?;
        if host.canonicalize(Path::new(&back)).ok().as_ref() != Some(&dotgit) {
            return Err(format!(
                "{} belongs to another work tree ({back}), not to this one",
                dir.display()
            ));
        }
        is_git_dir(host, &common)?;
        same_owner(&dir, "the worktree's git dir")?;
        same_owner(&common, "the common dir")?;
        return Ok(Some(GitDir::Worktree { admin: dir, common }));
    }
    // A submodule: SUPER/.git/modules/..., with this work tree inside SUPER.
    let components: Vec<_> = dir.components().collect();
    let at = components
        .windows(2)
        .position(|w| w[0].as_os_str() == ".git" && w[1].as_os_str() == "modules");
    if let Some(i) = at {
        let superproject: PathBuf = components[..i].iter().collect();
        if tree.starts_with(&superproject) && tree != superproject {
            is_git_dir(host, &dir)?;
            same_owner(&dir, "the submodule's git dir")?;
            return Ok(Some(GitDir::Submodule { dir }));
        }
    }
    Err(format!(
        ".git names {}, which is neither a linked worktree's directory (REPO/.git/worktrees/NAME) \
         nor the git dir of a submodule in a superproject that holds this work tree \
         (SUPER/.git/modules/...); tooljail binds no other git dir",
        dir.display()
    ))
}

/// The one line of a git link file (`.git`, `gitdir`, `commondir`), after `prefix`.
fn link(host: &dyn Host, file: &Path, prefix: &str) -> Result<String, String> {
    if host.canonicalize(file).ok().as_deref() != Some(file) {
        return Err(format!("{} is missing or a symbolic link", file.display()));
    }
    let text = host
        .read_to_string(file)
        .map_err(|e| format!("{} cannot be read ({e})", file.display()))?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    if text.len() > MAX_LINK || line.contains('\n') || line.contains('\0') {
        return Err(format!("{} is not one line", file.display()));
    }
    let value = line.strip_prefix(prefix).ok_or_else(|| {
        format!(
            "{} does not start with \"{}\"",
            file.display(),
            prefix.trim()
        )
    })?;
    if value.is_empty() {
        return Err(format!("{} names nothing", file.display()));
    }
    Ok(value.to_string())
}

/// `named` (relative to `base`) as an existing canonical path, refused when reaching it takes a
/// symbolic link (its canonical form differs from the path as written, `..` aside).
fn as_itself(host: &dyn Host, base: &Path, named: &str, what: &str) -> Result<PathBuf, String> {
    let written = lexical(&base.join(named));
    match host.canonicalize(&written) {
        Ok(p) if p == written => Ok(p),
        Ok(p) => Err(format!(
            "{what} {} through a symbolic link (to {}); tooljail follows none to a git dir",
            written.display(),
            p.display()
        )),
        Err(e) => Err(format!(
            "{what} {}, which cannot be found ({e})",
            written.display()
        )),
    }
}

/// A git dir holds `objects` and `refs` directories, as themselves.
fn is_git_dir(host: &dyn Host, dir: &Path) -> Result<(), String> {
    for part in ["objects", "refs"] {
        let p = dir.join(part);
        let ok = host.canonicalize(&p).ok().as_ref() == Some(&p)
            && matches!(host.kind(&p), Ok(FileKind::Dir));
        if !ok {
            return Err(format!("{} is not a git dir (no {part})", dir.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fake::FakeHost;

    /// /repo (main work tree, its git dir) with a linked worktree /wt, and a superproject
    /// /super with a submodule at /super/sub.
    fn host() -> FakeHost {
        let mut h = FakeHost::debian();
        for d in [
            "/repo",
            "/repo/.git",
            "/repo/.git/objects",
            "/repo/.git/refs",
            "/repo/.git/logs",
            "/repo/.git/hooks",
            "/repo/.git/worktrees",
            "/repo/.git/worktrees/wt",
            "/wt",
            "/super",
            "/super/.git",
            "/super/.git/modules",
            "/super/.git/modules/sub",
            "/super/.git/modules/sub/objects",
            "/super/.git/modules/sub/refs",
            "/super/sub",
            "/home/ann/.ssh",
        ] {
            h.dir(d);
        }
        h.file("/repo/.git/config", "")
            .file("/repo/.git/worktrees/wt/commondir", "../..\n")
            .file("/repo/.git/worktrees/wt/gitdir", "/wt/.git\n")
            .file("/wt/.git", "gitdir: /repo/.git/worktrees/wt\n")
            .file("/super/sub/.git", "gitdir: ../.git/modules/sub\n");
        h
    }

    #[test]
    fn a_linked_worktree_and_a_submodule_are_found() {
        let h = host();
        assert_eq!(
            find(&h, Path::new("/wt")),
            Ok(Some(GitDir::Worktree {
                admin: "/repo/.git/worktrees/wt".into(),
                common: "/repo/.git".into()
            }))
        );
        assert_eq!(
            find(&h, Path::new("/super/sub")),
            Ok(Some(GitDir::Submodule {
                dir: "/super/.git/modules/sub".into()
            }))
        );
        // A .git directory, or none: nothing to add.
        assert_eq!(find(&h, Path::new("/repo")), Ok(None));
        assert_eq!(find(&h, Path::new("/home/ann/proj")), Ok(None));
    }

    #[test]
    fn a_rewritten_git_file_binds_nothing_else() {
        let refused = |h: &FakeHost, tree: &str, why: &str| {
            let e = find(h, Path::new(tree)).expect_err("followed");
            assert!(e.contains(why), "{e}");
        };
        // Anywhere else: not a git dir tooljail binds.
        let mut h = host();
        h.file("/wt/.git", "gitdir: /home/ann/.ssh\n");
        refused(&h, "/wt", "tooljail binds no other git dir");
        // Another worktree's directory (it links back elsewhere).
        let mut h = host();
        h.dir("/repo/.git/worktrees/other")
            .file("/repo/.git/worktrees/other/commondir", "../..\n")
            .file("/repo/.git/worktrees/other/gitdir", "/other/.git\n")
            .file("/wt/.git", "gitdir: /repo/.git/worktrees/other\n");
        refused(&h, "/wt", "belongs to another work tree");
        // A worktree directory whose commondir was turned elsewhere.
        let mut h = host();
        h.file("/repo/.git/worktrees/wt/commondir", "/super/.git\n");
        refused(&h, "/wt", "as its common dir");
        // Through a symbolic link: .git itself, or the directory it names.
        let mut h = host();
        h.links.insert("/wt/.git".into(), "/repo/.git".into());
        refused(&h, "/wt", "symbolic link");
        let mut h = host();
        h.links.insert("/wt/link".into(), "/repo/.git".into());
        h.file("/wt/.git", "gitdir: /wt/link/worktrees/wt\n");
        refused(&h, "/wt", "symbolic link");
        // A submodule git dir of a superproject that does not hold this work tree.
        let mut h = host();
        h.dir("/elsewhere")
            .file("/elsewhere/.git", "gitdir: /super/.git/modules/sub\n");
        refused(&h, "/elsewhere", "tooljail binds no other git dir");
        // Another owner's repository.
        let mut h = host();
        h.owners.insert("/repo/.git".into(), (1000, 0o755));
        refused(&h, "/wt", "another user");
        // Not one line.
        let mut h = host();
        h.file("/wt/.git", "gitdir: /repo/.git/worktrees/wt\nmore\n");
        refused(&h, "/wt", "not one line");
    }
}
