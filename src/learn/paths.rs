//! A learning run's paths -> the profile's binds: what the parent already gives is left out,
//! secrets are never written, files are folded into their directory where the run needed the
//! directory itself (listed it, created or removed an entry in it) or every entry of it, and
//! never into a parent the run did not need. Each bind gets the rights the run used: writable
//! only if written, executable only where something was executed or mapped executable.

use crate::host::Host;
use crate::policy::{Access, FileKind, Policy};
use crate::supervisor::learning::Use;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One bind of the learned profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    pub write: bool,
    pub exec: bool,
    /// What the run did that needs it, in words.
    pub why: String,
}

/// Entries a directory may hold for [`holds_secret`] to look through all of them; a larger
/// tree is not folded (its files are listed one by one instead).
const SECRET_WALK_MAX: usize = 20_000;

/// Names that look like credentials: a directory of them anywhere in a path, or a file name.
const SECRET_DIRS: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".password-store",
    ".kube",
    ".docker",
    ".azure",
    "keyrings",
    "gcloud",
    ".terraform.d",
];
const SECRET_FILES: &[&str] = &[
    ".env",
    ".netrc",
    ".git-credentials",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    "credentials",
    "credentials.json",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "id_ed25519_sk",
    "id_ecdsa_sk",
    "credentials.toml",
    ".vault-token",
    ".s3cfg",
    ".boto",
    ".my.cnf",
];
/// File name endings of keys and secret variables.
const SECRET_SUFFIXES: &[&str] = &[".pem", ".key", ".tfvars"];
/// Files whose name alone is common, secret only in their directory: (directory, file).
/// (`.docker/config.json` and `.kube/config` are in [`SECRET_DIRS`] already.)
const SECRET_IN: &[(&str, &str)] = &[("gh", "hosts.yml")];

/// Whether `path` looks like a secret: a component named like a credentials directory, or a
/// file named like a key or a `.env` (`.env.local` too).
pub fn is_secret(path: &Path) -> bool {
    let in_dir = SECRET_IN.iter().any(|(d, f)| {
        path.file_name().is_some_and(|n| n == *f)
            && path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == *d)
    });
    in_dir
        || path.components().any(|c| {
            let c = c.as_os_str().to_string_lossy();
            SECRET_DIRS.contains(&c.as_ref())
                || SECRET_FILES.contains(&c.as_ref())
                || c.starts_with(".env.")
                || SECRET_FILES
                    .iter()
                    .filter(|f| f.starts_with("id_"))
                    .any(|f| c.starts_with(&format!("{f}.")))
                || SECRET_SUFFIXES
                    .iter()
                    .any(|x| c.len() > x.len() && c.ends_with(x))
        })
}

/// The first secret-looking entry in the tree below `dir` (or `dir` itself when the tree is
/// too large to tell); `None` when there is none.
pub fn holds_secret(host: &dyn Host, dir: &Path) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0usize;
    while let Some(d) = stack.pop() {
        let Ok(names) = host.list_dir(&d) else {
            continue;
        };
        for n in names {
            seen += 1;
            if seen > SECRET_WALK_MAX {
                return Some(dir.to_path_buf());
            }
            let p = d.join(&n);
            if is_secret(Path::new(&n)) {
                return Some(p);
            }
            if host.kind(&p).is_ok_and(|k| k == FileKind::Dir)
                && host.canonicalize(&p).is_ok_and(|c| c == p)
            {
                stack.push(p);
            }
        }
    }
    None
}

/// What the learned profile needs of each path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Need {
    read: bool,
    write: bool,
    create: bool,
    exec: bool,
    listed: bool,
}

impl Need {
    fn merge(&mut self, o: Need) {
        self.read |= o.read;
        self.write |= o.write;
        self.create |= o.create;
        self.exec |= o.exec;
        self.listed |= o.listed;
    }
    fn writes(&self) -> bool {
        self.write || self.create
    }
    /// In words, for the comment.
    fn words(&self, count: usize) -> String {
        let mut w = Vec::new();
        if self.listed {
            w.push("listed it");
        }
        if self.create {
            w.push("created or removed entries in it");
        }
        if self.write {
            w.push("wrote");
        }
        if self.exec {
            w.push("executed or mapped executable");
        }
        if self.read && w.is_empty() {
            w.push("read");
        }
        let mut s = w.join(", ");
        if count > 1 {
            s.push_str(&format!(" ({count} paths below it used)"));
        }
        s
    }
}

/// The binds of the learned profile: `paths` (as the jail saw them) minus what `parent`
/// already gives, folded; secrets left out and named in `secrets`. `host` lists directories
/// and says what exists. `roots`: the learning base's binds; a path outside them and `cwd` is
/// dropped, and nothing is folded above them (the run saw no more than their contents,
/// whatever else a parent directory holds).
pub fn rules(
    host: &dyn Host,
    paths: &BTreeMap<PathBuf, Use>,
    parent: &Policy,
    cwd: &Path,
    roots: &[PathBuf],
    secrets: &mut BTreeSet<PathBuf>,
) -> BTreeMap<PathBuf, PathRule> {
    // 1. What the parent does not already give, and is no secret.
    let mut needs: BTreeMap<PathBuf, Need> = BTreeMap::new();
    for (path, u) in paths {
        let need = Need {
            read: u.read,
            write: u.write,
            create: u.create,
            exec: u.exec,
            listed: u.dir && !u.create,
        };
        if provided(parent, path, cwd, need) {
            continue;
        }
        // Only what the learning run could reach: a path outside the learning base's binds and
        // the caller's directory is no file the run used, whatever name the record gives it
        // (a bind is never widened to a host file the jail could not see).
        if !path.starts_with(cwd) && !roots.iter().any(|r| path.starts_with(r)) {
            continue;
        }
        if is_secret(path) {
            secrets.insert(path.clone());
            continue;
        }
        let kind = host.kind(path);
        // A directory only looked at (stat, access): it exists wherever something below it is
        // bound; binding it would give every file in it.
        if kind.as_ref().is_ok_and(|k| *k == FileKind::Dir)
            && !(need.listed || need.create || need.write || need.exec)
        {
            continue;
        }
        if kind.is_err() {
            continue; // gone since (a temporary file): its directory's create says enough
        }
        needs.entry(path.clone()).or_default().merge(need);
    }
    // 2. Fold, deepest directories first: a directory is bound whole when the run needed it
    //    (listed it, created or removed entries in it) or every entry in it, and it holds no
    //    secret.
    let mut candidates: BTreeSet<PathBuf> = BTreeSet::new();
    for p in needs.keys() {
        for a in p.ancestors().skip(1) {
            if a == Path::new("/") {
                break;
            }
            candidates.insert(a.to_path_buf());
        }
        candidates.insert(p.clone());
    }
    let mut folded: BTreeMap<PathBuf, (Need, usize)> = BTreeMap::new();
    let mut by_depth: Vec<PathBuf> = candidates.into_iter().collect();
    by_depth.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for dir in by_depth {
        if !host.kind(&dir).is_ok_and(|k| k == FileKind::Dir)
            || !roots.iter().any(|r| dir.starts_with(r))
        {
            continue;
        }
        let own = needs.get(&dir).copied();
        let needed = own.is_some_and(|n| n.listed || n.create);
        let all = !needed && every_entry_used(host, &dir, &needs, &folded);
        if !(needed || all) || parent_covers_dir(parent, &dir) {
            continue;
        }
        if let Some(secret) = holds_secret(host, &dir) {
            if needed {
                secrets.insert(secret);
            }
            continue;
        }
        let mut need = own.unwrap_or_default();
        let mut count = 0usize;
        // What lies below joins the directory when the directory is written (a file in a
        // writable directory may be replaced; a bind on it would pin the old one) or when it
        // asks for nothing more; anything else stays a bind of its own inside it.
        let below: Vec<(PathBuf, Need)> = needs
            .range(dir.clone()..)
            .take_while(|(p, _)| p.starts_with(&dir))
            .filter(|(p, _)| **p != dir)
            .map(|(p, n)| (p.clone(), *n))
            .collect();
        for (p, n) in below {
            count += 1;
            if need.writes() || (!n.writes() && !n.exec) {
                need.merge(Need { listed: false, ..n });
                needs.remove(&p);
            }
        }
        needs.insert(dir.clone(), need);
        folded.insert(dir, (need, count.max(1)));
    }
    // 3. Emit: each path not already given, with what it needs, by a folded directory above it.
    let mut out = BTreeMap::new();
    for (p, n) in &needs {
        // A directory not folded above (it holds a secret, or a parent bind has it) is not
        // bound: that would be folding it. What below it was used is bound on its own.
        if !folded.contains_key(p) && host.kind(p).is_ok_and(|k| k == FileKind::Dir) {
            continue;
        }
        let covered = p.ancestors().skip(1).any(|a| {
            folded.contains_key(a)
                && needs
                    .get(a)
                    .is_some_and(|an| (an.writes() || !n.writes()) && (an.exec || !n.exec))
        });
        if covered {
            continue;
        }
        let count = folded.get(p).map_or(1, |f| f.1);
        out.insert(
            p.clone(),
            PathRule {
                write: n.writes(),
                exec: n.exec,
                why: n.words(count),
            },
        );
    }
    out
}

/// Whether the run used every entry of `dir` (directly, or through a folded directory).
fn every_entry_used(
    host: &dyn Host,
    dir: &Path,
    needs: &BTreeMap<PathBuf, Need>,
    folded: &BTreeMap<PathBuf, (Need, usize)>,
) -> bool {
    match host.list_dir(dir) {
        Ok(names) if !names.is_empty() => names.iter().all(|n| {
            let p = dir.join(n);
            needs.contains_key(&p) || folded.contains_key(&p)
        }),
        _ => false,
    }
}

/// Whether `parent` already gives `path` what the run needed of it (a bind above it with
/// those rights), or tooljail makes it (/proc, /dev, the scratch, /tmp, /dev/shm; but not the
/// caller's directory `cwd`, even below /tmp: it is bound on top).
fn provided(parent: &Policy, path: &Path, cwd: &Path, need: Need) -> bool {
    let s = &parent.filesystem.scratch;
    let made = path.starts_with("/proc")
        || path.starts_with("/dev")
        || path.starts_with(&s.path)
        || (s.tmp && path.starts_with("/tmp"));
    if made && !path.starts_with(cwd) {
        return true;
    }
    parent.filesystem.binds.iter().any(|b| {
        path.starts_with(&b.target)
            && (b.access == Access::ReadWrite || !(need.write || need.create))
            && (b.exec || !need.exec)
    })
}

/// Whether a bind of `parent` lies at or above `dir` (folding it would only repeat it).
fn parent_covers_dir(parent: &Policy, dir: &Path) -> bool {
    parent
        .filesystem
        .binds
        .iter()
        .any(|b| b.kind == FileKind::Dir && dir.starts_with(&b.target) && dir != b.target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fake::FakeHost;

    #[test]
    fn nothing_is_folded_above_what_the_learning_base_bound() {
        // The project is the only entry of the home directory: every entry of /home/ann is
        // "used", but the learning run saw only the project.
        let mut host = FakeHost::debian();
        host.file("/home/ann/proj/a.txt", "");
        let mut paths = BTreeMap::new();
        paths.insert("/home/ann/proj".into(), use_(|u| u.dir = true));
        paths.insert("/home/ann/proj/a.txt".into(), use_(|u| u.read = true));
        let roots = vec![PathBuf::from("/home/ann/proj")];
        let r = rules(
            &host,
            &paths,
            &parent(),
            Path::new("/home/ann/proj"),
            &roots,
            &mut BTreeSet::new(),
        );
        assert_eq!(
            r.keys().collect::<Vec<_>>(),
            vec![Path::new("/home/ann/proj")],
            "{r:#?}"
        );
        // Without the bound, the fold would climb to the home directory and above.
        let wide = rules(
            &host,
            &paths,
            &parent(),
            Path::new("/home/ann/proj"),
            &[PathBuf::from("/")],
            &mut BTreeSet::new(),
        );
        assert!(
            wide.keys()
                .any(|k| k == Path::new("/home/ann") || k == Path::new("/home")),
            "{wide:#?}"
        );
    }

    #[test]
    fn a_path_outside_the_learning_bases_binds_and_the_cwd_is_never_bound() {
        // A record naming a host file the jail could not see (a `..` name through a link):
        // it exists on the host, was "written", and is still left out.
        let mut host = FakeHost::debian();
        host.file("/home/alice/.bashrc", "");
        host.file("/w/d1/home/alice/.bashrc", "");
        let mut paths = BTreeMap::new();
        paths.insert("/home/alice/.bashrc".into(), use_(|u| u.write = true));
        paths.insert("/w/d1/home/alice/.bashrc".into(), use_(|u| u.write = true));
        let r = rules_in(
            &host,
            &paths,
            &[PathBuf::from("/srv")],
            &mut BTreeSet::new(),
        );
        assert_eq!(
            r.keys().collect::<Vec<_>>(),
            vec![Path::new("/w/d1/home/alice/.bashrc")],
            "{r:#?}"
        );
    }

    #[test]
    fn secrets_are_recognised_by_name() {
        for s in [
            "/home/u/.ssh/id_ed25519",
            "/w/.env",
            "/w/.env.local",
            "/home/u/.aws/credentials",
            "/home/u/.local/share/keyrings/login.keyring",
            "/home/u/.gnupg/pubring.kbx",
            "/w/id_rsa.pub",
            "/home/u/.netrc",
            "/home/u/.cargo/credentials.toml",
            "/home/u/.ssh/id_ed25519_sk",
            "/home/u/id_ecdsa_sk",
            "/w/tls/server.pem",
            "/w/tls/server.key",
            "/home/u/.vault-token",
            "/home/u/.config/gh/hosts.yml",
            "/home/u/.terraform.d/credentials.tfrc.json",
            "/home/u/.s3cfg",
            "/home/u/.boto",
            "/home/u/.my.cnf",
            "/w/prod.tfvars",
            "/home/u/.pgpass",
            "/home/u/.docker/config.json",
            "/home/u/.kube/config",
            "/home/u/.npmrc",
            "/home/u/.pypirc",
            "/home/u/.git-credentials",
        ] {
            assert!(is_secret(Path::new(s)), "{s}");
        }
        for s in [
            "/w/env",
            "/w/.environment",
            "/usr/lib/ssh",
            "/w/src/main.rs",
            "/w/config.json",
            "/w/hosts.yml",
            "/w/.key",
            "/w/keys.rs",
        ] {
            assert!(!is_secret(Path::new(s)), "{s}");
        }
    }

    fn parent() -> Policy {
        crate::profile::resolve_args(
            &FakeHost::debian(),
            &crate::cli::PolicyArgs {
                profiles: vec!["base".into()],
                ..Default::default()
            },
            crate::policy::resolve::Options::default(),
        )
        .unwrap()
    }

    /// [`rules`] against base, `/w` as the caller's directory.
    fn rules_in(
        host: &FakeHost,
        paths: &BTreeMap<PathBuf, Use>,
        roots: &[PathBuf],
        secrets: &mut BTreeSet<PathBuf>,
    ) -> BTreeMap<PathBuf, PathRule> {
        rules(host, paths, &parent(), Path::new("/w"), roots, secrets)
    }

    fn use_(f: impl FnOnce(&mut Use)) -> Use {
        let mut u = Use::default();
        f(&mut u);
        u
    }

    #[test]
    fn folds_a_listed_directory_keeps_writes_apart_and_never_widens() {
        let mut host = FakeHost::debian();
        for d in ["/w", "/w/.git", "/data", "/data/one", "/srv"] {
            host.dir(d);
        }
        for f in [
            "/w/a.py",
            "/w/b.py",
            "/w/.env",
            "/w/.git/index",
            "/data/one/x",
            "/data/one/y",
            "/data/z",
            "/srv/only",
            "/srv/other",
        ] {
            host.file(f, "");
        }
        let mut paths = BTreeMap::new();
        // The project: listed and read; .git written (a lock file created and renamed).
        paths.insert("/w".into(), use_(|u| u.dir = true));
        paths.insert("/w/a.py".into(), use_(|u| u.read = true));
        paths.insert("/w/.env".into(), use_(|u| u.read = true));
        paths.insert(
            "/w/.git".into(),
            use_(|u| {
                u.create = true;
                u.dir = true
            }),
        );
        paths.insert("/w/.git/index".into(), use_(|u| u.write = true));
        // Every entry of /data/one read: folded; /data itself not needed (z unread).
        paths.insert("/data/one/x".into(), use_(|u| u.read = true));
        paths.insert("/data/one/y".into(), use_(|u| u.read = true));
        // One file of /srv: listed as that file.
        paths.insert("/srv/only".into(), use_(|u| u.read = true));
        // What base gives already.
        paths.insert("/usr/bin/python3".into(), use_(|u| u.exec = true));
        paths.insert("/scratch/tmp.txt".into(), use_(|u| u.write = true));
        // The learning base bound /w, /data and /srv; /data/one is the only entry of /data
        // that is a directory, but /data is not folded (z was not used).
        let roots: Vec<PathBuf> = ["/w", "/data", "/srv"].iter().map(PathBuf::from).collect();
        let mut secrets = BTreeSet::new();
        let r = rules_in(&host, &paths, &roots, &mut secrets);
        let got: Vec<(&str, bool, bool)> = r
            .iter()
            .map(|(p, r)| (p.to_str().unwrap(), r.write, r.exec))
            .collect();
        // /w holds .env: never folded; its files are listed, the secret is not.
        assert_eq!(
            got,
            vec![
                ("/data/one", false, false),
                ("/srv/only", false, false),
                ("/w/.git", true, false),
                ("/w/a.py", false, false),
            ],
            "{r:#?}"
        );
        assert!(secrets.contains(Path::new("/w/.env")), "{secrets:?}");
        // Without the secret, the listed project is one read-only bind and .git a writable one
        // inside it.
        host.files.remove(Path::new("/w/.env"));
        paths.remove(Path::new("/w/.env"));
        let r = rules_in(&host, &paths, &roots, &mut BTreeSet::new());
        let w = &r[Path::new("/w")];
        assert!(!w.write && !w.exec, "{r:#?}");
        assert!(r[Path::new("/w/.git")].write);
        assert!(!r.contains_key(Path::new("/w/a.py")));
    }
}
