//! The `git` and `git-rw` profiles in a linked worktree and in a submodule, where `.git` is a
//! file naming a git dir outside the work tree: tooljail finds that git dir itself and binds
//! what a commit needs, and nothing else of the main repository (its work tree, hooks and other
//! worktrees stay absent). As root and as the unprivileged test user, with real git.

use crate::profiles_git::{host_git, test_repo};
use crate::support::profiles::{give_to_jail, jail_env};
use crate::support::{each_identity, tempdir};
use std::path::Path;
use std::process::Command;

const IDENT: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "Jailed"),
    ("GIT_AUTHOR_EMAIL", "jailed@example.invalid"),
    ("GIT_COMMITTER_NAME", "Jailed"),
    ("GIT_COMMITTER_EMAIL", "jailed@example.invalid"),
];

fn readable(p: &Path) {
    let ok = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(p)
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn git_rw_commits_in_a_linked_worktree_and_sees_nothing_else_of_the_main_repository() {
    each_identity(|ctx| {
        let main = test_repo();
        let m = main.path();
        let place = tempdir(0o755);
        let wt = place.path().join("wt");
        host_git(
            m,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "feature",
                wt.to_str().unwrap(),
            ],
        );
        host_git(
            m,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "other",
                place.path().join("other").to_str().unwrap(),
            ],
        );
        readable(m);
        readable(place.path());
        give_to_jail(ctx, m);
        give_to_jail(ctx, place.path());
        let md = m.display().to_string();
        let script = format!(
            "echo worktree >> README && git commit -qam 'in the worktree' \
             && git log -1 --format=%s && git status --short --branch; \
             ls -A {md}; ls -A {md}/.git; ls -A {md}/.git/worktrees; \
             test -e {md}/README || echo no-main-work-tree; \
             test -e {md}/.git/hooks || echo no-hooks; \
             test -e {md}/.git/worktrees/other || echo no-other-worktree; \
             echo x > {md}/.git/config || echo config-read-only"
        );
        let r = jail_env(ctx, &wt, "git-rw", &[], &IDENT, &["sh", "-c", &script]);
        r.expect(0)
            .stdout_has("in the worktree\n## feature\n")
            // The main repository: only its git dir, and of it only what a commit needs.
            .stdout_has(".git\n")
            .stdout_has("config\ninfo\nlogs\nobjects\nrefs\nworktrees\nwt\n")
            .stdout_has("no-main-work-tree\nno-hooks\nno-other-worktree\nconfig-read-only\n");
        assert_eq!(
            host_git(m, &["log", "-1", "--format=%an %s", "feature"]),
            "Jailed in the worktree\n"
        );
        // The main work tree is untouched: its branch, its file.
        assert_eq!(
            host_git(m, &["rev-parse", "--abbrev-ref", "HEAD"]),
            "main\n"
        );
        assert!(!m.join("HOOK_RAN").exists(), "the pre-commit hook ran");
        assert_eq!(
            host_git(&wt, &["status", "--short"]),
            "",
            "the worktree's index is the one the commit wrote"
        );

        // The read-only profile reads the worktree and refuses to write its git dir.
        let r = jail_env(
            ctx,
            &wt,
            "git",
            &[],
            &IDENT,
            &[
                "sh",
                "-c",
                "git log --format=%s -2 && echo more >> x; git add x; echo add=$?",
            ],
        );
        r.expect(0)
            .stdout_has("in the worktree\nsecond commit\n")
            .stdout_has("add=128\n");
    });
}

#[test]
fn git_rw_commits_in_a_submodule() {
    each_identity(|ctx| {
        let superproject = test_repo();
        let s = superproject.path();
        let source = test_repo();
        host_git(
            s,
            &[
                "-c",
                "protocol.file.allow=always",
                "submodule",
                "add",
                "-q",
                source.path().to_str().unwrap(),
                "sub",
            ],
        );
        host_git(s, &["commit", "-qm", "add the submodule"]);
        readable(s);
        give_to_jail(ctx, s);
        let sub = s.join("sub");
        assert!(sub.join(".git").is_file(), "the submodule's .git is a file");
        let r = jail_env(
            ctx,
            &sub,
            "git-rw",
            &[],
            &IDENT,
            &[
                "sh",
                "-c",
                "echo sub >> README && git commit -qam 'in the submodule' && git log -1 --format=%s",
            ],
        );
        r.expect(0).stdout_has("in the submodule\n");
        assert_eq!(
            host_git(&sub, &["log", "-1", "--format=%an %s"]),
            "Jailed in the submodule\n"
        );
    });
}

#[test]
fn a_git_file_that_names_another_directory_is_refused() {
    each_identity(|ctx| {
        let repo = test_repo();
        let secret = tempdir(0o755);
        std::fs::create_dir(secret.path().join("objects")).unwrap();
        std::fs::create_dir(secret.path().join("refs")).unwrap();
        let wt = tempdir(0o755);
        std::fs::write(
            wt.path().join(".git"),
            format!("gitdir: {}\n", secret.path().display()),
        )
        .unwrap();
        readable(wt.path());
        give_to_jail(ctx, wt.path());
        let _ = repo;
        let r = jail_env(ctx, wt.path(), "git-rw", &[], &IDENT, &["true"]);
        r.expect(125).stderr_has("tooljail binds no other git dir");
    });
}
