//! The user database, read without NSS modules: /etc/passwd and /etc/group first (what glibc's
//! `files` source reads), then `getent` for an account the files do not hold (LDAP, sssd,
//! systemd's userdb).
//!
//! tooljail never loads an NSS module into its own process: a module is code of the host's
//! choosing run inside a process that may be root, it costs a dlopen per call, and a statically
//! linked tooljail (the packaged one, for start-up time) cannot load one at all. `getent` runs
//! the host's NSS stack in a process of its own, from a fixed path, only when the files do not
//! answer.
//!
//! An account found in /etc/passwd gets its supplementary groups from /etc/group; one found
//! through `getent` gets them from `getent initgroups`. Either way a group the database does
//! not list is never given.

use std::io;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// One account of the user database (the fields tooljail uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// The home directory.
    pub dir: PathBuf,
    /// Where the entry came from: the supplementary groups are read from the same source.
    source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Files,
    Getent,
}

impl Account {
    /// The account with `gid` as its primary group (what getgrouplist(3) is given).
    pub fn with_gid(self, gid: u32) -> Account {
        Account { gid, ..self }
    }
}

/// Which account a lookup asks for.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    Uid(u32),
    Name(&'a str),
}

const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";
/// Fixed paths, never $PATH: tooljail may run as root with the caller's environment.
const GETENT: [&str; 2] = ["/usr/bin/getent", "/bin/getent"];

/// The account `key` names: /etc/passwd, then `getent passwd`. `Ok(None)` when neither knows
/// it; an error when /etc/passwd cannot be read or getent fails for another reason.
pub fn account(key: Key<'_>) -> io::Result<Option<Account>> {
    let text = std::fs::read_to_string(PASSWD)
        .map_err(|e| io::Error::new(e.kind(), format!("{PASSWD}: {e}")))?;
    if let Some(a) = find_account(&text, key, Source::Files) {
        return Ok(Some(a));
    }
    let arg = match key {
        Key::Uid(uid) => uid.to_string(),
        Key::Name(name) => name.to_string(),
    };
    Ok(getent(&["passwd", &arg])?.and_then(|out| find_account(&out, key, Source::Getent)))
}

/// The supplementary groups of `account` (its primary group first), from the source its entry
/// came from: what getgrouplist(3) gives, without loading NSS modules.
pub fn groups(account: &Account) -> io::Result<Vec<u32>> {
    match account.source {
        Source::Files => {
            let text = std::fs::read_to_string(GROUP)
                .map_err(|e| io::Error::new(e.kind(), format!("{GROUP}: {e}")))?;
            Ok(member_of(&text, &account.name, account.gid))
        }
        Source::Getent => {
            let out = getent(&["initgroups", &account.name])?.unwrap_or_default();
            Ok(initgroups(&out, account.gid))
        }
    }
}

/// The entry of passwd(5) text `text` that `key` names. Comment, blank and NIS compat (`+`,
/// `-`) lines and malformed entries are skipped, as glibc's files source skips them.
fn find_account(text: &str, key: Key<'_>, source: Source) -> Option<Account> {
    text.lines().find_map(|line| {
        if line.starts_with(['#', '+', '-']) {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[0].is_empty() {
            return None;
        }
        let account = Account {
            name: f[0].to_string(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            dir: PathBuf::from(f[5]),
            source,
        };
        let hit = match key {
            Key::Uid(uid) => account.uid == uid,
            Key::Name(name) => account.name == name,
        };
        hit.then_some(account)
    })
}

/// `gid` and every group of group(5) text `text` whose member list names `user`, in file order,
/// each once.
fn member_of(text: &str, user: &str, gid: u32) -> Vec<u32> {
    let mut groups = vec![gid];
    for line in text.lines().filter(|l| !l.starts_with(['#', '+', '-'])) {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 {
            continue;
        }
        let Ok(g) = f[2].parse::<u32>() else { continue };
        if f[3].split(',').any(|m| m.trim() == user) && !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
}

/// `gid` and the groups of `getent initgroups NAME`'s line (`NAME   gid gid ...`).
fn initgroups(out: &str, gid: u32) -> Vec<u32> {
    let mut groups = vec![gid];
    for g in out
        .split_whitespace()
        .skip(1)
        .filter_map(|g| g.parse::<u32>().ok())
    {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
}

/// `getent ARGS`'s standard output; `Ok(None)` when the key is not found (exit 2) or no getent
/// is installed (then only the files answer).
fn getent(args: &[&str]) -> io::Result<Option<String>> {
    let Some(bin) = GETENT.iter().find(|p| std::path::Path::new(p).is_file()) else {
        return Ok(None);
    };
    let out = Command::new(bin)
        .arg("--") // a key that starts with `-` is a key, not an option
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{bin}: {e}")))?;
    match out.status.code() {
        Some(0) => String::from_utf8(out.stdout)
            .map(Some)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "getent: not UTF-8")),
        Some(2) => Ok(None),
        _ => Err(io::Error::other(format!(
            "{bin} {}: {}",
            args.join(" "),
            out.status
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD_TEXT: &str = "\
root:x:0:0:root:/root:/bin/bash
# a comment
+nisuser::::::
bad:x:notanumber:1::/nowhere:/bin/sh
short:x:5
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
alice2:x:1001:1000::/home/alice2:/bin/sh
";

    #[test]
    fn accounts_are_found_by_uid_and_by_exact_name() {
        let a = find_account(PASSWD_TEXT, Key::Name("alice"), Source::Files).unwrap();
        assert_eq!(
            (a.uid, a.gid, a.dir.as_path()),
            (1000, 1000, "/home/alice".as_ref())
        );
        let b = find_account(PASSWD_TEXT, Key::Uid(1001), Source::Files).unwrap();
        assert_eq!(b.name, "alice2");
        assert_eq!(
            find_account(PASSWD_TEXT, Key::Uid(0), Source::Files).map(|a| a.name),
            Some("root".into())
        );
        for missing in [
            Key::Name("alic"),
            Key::Name("bad"),
            Key::Name("short"),
            Key::Uid(7),
        ] {
            assert_eq!(find_account(PASSWD_TEXT, missing, Source::Files), None);
        }
        // NIS compat lines are not accounts.
        assert_eq!(
            find_account(PASSWD_TEXT, Key::Name("+nisuser"), Source::Files),
            None
        );
    }

    #[test]
    fn supplementary_groups_are_the_primary_and_exact_memberships() {
        let group = "\
root:x:0:
wheel:x:10:bob,alice
alicia:x:11:alicia
dup:x:1000:alice
tools:x:20: alice ,carol
# staff:x:30:alice
broken:x:xx:alice
";
        assert_eq!(member_of(group, "alice", 1000), vec![1000, 10, 20]);
        assert_eq!(member_of(group, "dave", 500), vec![500]);
    }

    #[test]
    fn getent_initgroups_output_is_parsed() {
        assert_eq!(
            initgroups("alice           1000 27 1000 100\n", 1000),
            vec![1000, 27, 100]
        );
        assert_eq!(initgroups("", 5), vec![5]);
    }

    #[test]
    fn the_real_database_agrees_with_nss_for_root() {
        let root = account(Key::Uid(0))
            .unwrap()
            .expect("root is in /etc/passwd");
        assert_eq!(root.name, "root");
        let by_name = account(Key::Name("root")).unwrap().unwrap();
        assert_eq!(by_name, root);
        assert_eq!(account(Key::Name("no-such-user-tooljail")).unwrap(), None);
    }
}
