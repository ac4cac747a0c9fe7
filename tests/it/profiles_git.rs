//! The `git` and `git-rw` profiles against real git on a repository the test makes: read-only
//! history, diff, grep and status leave the repository byte-for-byte unchanged; commits and
//! checkouts carry the caller's identity; no commit, push, hook, credential or invented identity
//! where the header says so. As root and as the unprivileged test user, bounded in time.

use crate::support::profiles::{give_to_jail, jail, jail_env, snapshot, workdir};
use crate::support::{each_identity, run_for, tempdir};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// git, git-rw

/// Run host git in `dir`, bounded; panics with its output on failure.
pub(crate) fn host_git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(["-c", "safe.directory=*", "-c", "user.name=Test", "-c"])
        .arg("user.email=test@example.invalid")
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir);
    let r = run_for(cmd, Duration::from_secs(30));
    assert_eq!(r.code(), 0, "host git {args:?}\n{}", r.dump());
    r.stdout
}

/// A repository with two commits and an uncommitted change, readable by everyone. Its config
/// names no user, so commits in the jail need the identity from the caller.
pub(crate) fn test_repo() -> tempfile::TempDir {
    let dir = workdir(&[("README", "hello\n"), ("src/lib.txt", "fn one\n")]);
    let p = dir.path();
    host_git(p, &["init", "-q", "-b", "main", "."]);
    host_git(p, &["add", "."]);
    host_git(p, &["commit", "-qm", "first commit"]);
    std::fs::write(p.join("src/lib.txt"), "fn one\nfn two\n").unwrap();
    host_git(p, &["commit", "-qam", "second commit"]);
    std::fs::write(p.join("README"), "hello\nworld\n").unwrap();
    // A hook that would leave a mark if it ran.
    let hook = p.join(".git/hooks/pre-commit");
    std::fs::write(&hook, "#!/bin/sh\ntouch \"$GIT_DIR/../HOOK_RAN\"\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(p)
        .status()
        .unwrap();
    dir
}

#[test]
fn git_reads_log_diff_show_grep_and_status() {
    each_identity(|ctx| {
        let repo = test_repo();
        let before = snapshot(repo.path());
        let r = jail(
            ctx,
            repo.path(),
            "git",
            &[],
            &[
                "sh",
                "-c",
                "git log --format=%s && git diff --stat && git show --format=%s --stat HEAD \
                 && git grep -n two && git status --short && git rev-parse --abbrev-ref HEAD",
            ],
        );
        r.expect(0)
            .stdout_has("second commit\nfirst commit\n")
            .stdout_has(" README | 1 +\n")
            .stdout_has("second commit\n\n src/lib.txt | 1 +\n")
            .stdout_has("src/lib.txt:2:fn two\n")
            .stdout_has(" M README\n")
            .stdout_has("main\n");
        assert!(r.denied().is_empty(), "{}", r.dump());
        // Not even the index was refreshed (GIT_OPTIONAL_LOCKS=0).
        assert_eq!(snapshot(repo.path()), before);
    });
}

#[test]
fn git_may_not_commit_push_or_read_credentials() {
    each_identity(|ctx| {
        let repo = test_repo();
        let before = snapshot(repo.path());
        let r = jail_env(
            ctx,
            repo.path(),
            "git",
            &[],
            &[
                ("GIT_AUTHOR_NAME", "A"),
                ("GIT_AUTHOR_EMAIL", "a@example.invalid"),
            ],
            &[
                "sh",
                "-c",
                "git commit -qam nope; echo commit=$?; \
                 git push -q http://127.0.0.1:9/x.git main; echo push=$?; \
                 ls -d ~/.ssh /root/.ssh ~/.git-credentials; echo creds=$?; \
                 echo \"author=${GIT_AUTHOR_NAME:-unset}\"",
            ],
        );
        r.expect(0)
            .stdout_has("commit=128\npush=128\ncreds=2\nauthor=unset\n")
            .stderr_has("Read-only file system");
        assert_eq!(snapshot(repo.path()), before);
    });
}

#[test]
fn git_rw_commits_and_checks_out_with_the_callers_identity() {
    each_identity(|ctx| {
        let repo = test_repo();
        give_to_jail(ctx, repo.path());
        let ident = [
            ("GIT_AUTHOR_NAME", "Jailed Author"),
            ("GIT_AUTHOR_EMAIL", "author@example.invalid"),
            ("GIT_COMMITTER_NAME", "Jailed Committer"),
            ("GIT_COMMITTER_EMAIL", "committer@example.invalid"),
        ];
        let r = jail_env(
            ctx,
            repo.path(),
            "git-rw",
            &[],
            &ident,
            &[
                "sh",
                "-c",
                "git commit -qam 'third commit' && git checkout -q -b feature \
                 && echo new > new.txt && git add new.txt && git commit -qm 'feature commit' \
                 && git checkout -q main && git log --all --format='%an|%cn|%s' | sort",
            ],
        );
        r.expect(0).stdout_has(
            "Jailed Author|Jailed Committer|feature commit\nJailed Author|Jailed Committer|third commit\nTest|Test|first commit\n",
        );
        assert!(r.denied().is_empty(), "{}", r.dump());
        let p = repo.path();
        assert_eq!(
            host_git(p, &["rev-parse", "--abbrev-ref", "HEAD"]),
            "main\n"
        );
        assert_eq!(
            host_git(p, &["log", "-1", "--format=%an <%ae> %s", "feature"]),
            "Jailed Author <author@example.invalid> feature commit\n"
        );
        assert!(!p.join("new.txt").exists(), "checkout of main removed it");
        assert!(
            !p.join("HOOK_RAN").exists(),
            "the repository's pre-commit hook ran"
        );
    });
}

#[test]
fn git_rw_invents_no_identity_and_cannot_push() {
    // A bare "remote" on the host, writable by everyone: only the missing network stops a push.
    let remote = tempdir(0o777);
    host_git(remote.path(), &["init", "-q", "--bare", "."]);
    Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(remote.path())
        .status()
        .unwrap();
    let remote_before = snapshot(remote.path());
    each_identity(|ctx| {
        let repo = test_repo();
        give_to_jail(ctx, repo.path());
        let url = format!("ssh://git@127.0.0.1:22{}", remote.path().display());
        let script = format!(
            "git commit -qam anon; echo anon=$?; \
             git push -q file://{r} main; echo push-file=$?; \
             git push -q {url} main; echo push-ssh=$?",
            r = remote.path().display()
        );
        let r = jail(ctx, repo.path(), "git-rw", &[], &["sh", "-c", &script]);
        r.expect(0)
            .stdout_has("anon=128\npush-file=128\npush-ssh=128\n")
            .stderr_has("Author identity unknown");
    });
    assert_eq!(snapshot(remote.path()), remote_before);
}

#[test]
fn git_github_fetches_from_github_com_only_through_the_proxy() {
    // The shipped `git-github` reaches github.com through the call's proxy. Here github.com is
    // pinned to a server on loopback (`[network] hosts`, its port allowed) that serves a bare
    // repository over git's "dumb" HTTP protocol (static files); git really fetches through
    // the proxy from "github.com". Another server, by name, is refused and reported.
    let upstream = test_repo();
    host_git(upstream.path(), &["commit", "-qam", "third commit"]);
    let served = tempdir(0o755);
    let bare = served.path().join("repo.git");
    host_git(
        served.path(),
        &[
            "clone",
            "-q",
            "--bare",
            upstream.path().to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    host_git(&bare, &["update-server-info"]);
    Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(served.path())
        .status()
        .unwrap();
    let root = served.path().to_path_buf();
    let (port, hits) = crate::support::profiles::serve(0, move |path| {
        let rel = path.trim_start_matches('/').split(['?', '#']).next()?;
        if rel.split('/').any(|c| c == "..") {
            return None;
        }
        std::fs::read(root.join(rel))
            .ok()
            .map(|b| ("application/octet-stream", b))
    })
    .unwrap();
    let (_p, profile) = crate::support::profile_file(&format!(
        "description = \"git-github with github.com on loopback\"\nextends = [\"git-github\"]\n\
         [network]\nallow_ports = [{port}]\nhosts = {{ \"github.com\" = \"127.0.0.1\" }}\n"
    ));
    let profile = profile.display().to_string();
    each_identity(|ctx| {
        let repo = test_repo();
        give_to_jail(ctx, repo.path());
        let script = format!(
            "git fetch -q http://github.com:{port}/repo.git main && git log --format=%s -1 FETCH_HEAD; \
             git fetch -q http://elsewhere.example:{port}/repo.git main; echo other=$?"
        );
        let r = jail(ctx, repo.path(), &profile, &[], &["sh", "-c", &script]);
        r.expect(0).stdout_has("third commit\nother=128\n");
        let conns = r.report["network"]["connections"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let seen = |host: &str, verdict: &str| {
            conns
                .iter()
                .any(|c| c["host"] == host && c["verdict"] == verdict)
        };
        assert!(seen("github.com", "allowed"), "{}", r.dump());
        assert!(seen("elsewhere.example", "refused"), "{}", r.dump());
    });
    assert!(
        hits.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the server was used"
    );
}
