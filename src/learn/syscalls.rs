//! A learning run's syscalls -> the profile's allow-list: the named groups the run used in
//! full, `@default` and `@basic-io` always, and the other calls by name.

use crate::policy::syscalls::{expand, GROUPS};
use std::collections::{BTreeMap, BTreeSet};

/// Always allowed, used or not, with why: what the loader and libc need, and the calls that
/// happen only by timing (`rt_sigreturn` after a signal, `restart_syscall` after an
/// interrupted sleep, a contended `futex`), which one run can miss and another needs; and I/O
/// on descriptors already open (an error message written on a path the learning run did not
/// take must still reach the caller).
pub const ALWAYS: &[(&str, &str)] = &[
    (
        "@default",
        "always: the loader's and libc's calls, and those that come by timing (signal return, \
         restarted sleeps, futex wake-ups)",
    ),
    (
        "@basic-io",
        "always: I/O on descriptors already open (so an error the learning run did not meet \
         can still be written)",
    ),
];

/// The allow-list: groups (name -> why) and single calls (name -> why). `used`: syscall name
/// -> architecture -> calls; `allowed`: what the learning run's Policy allowed (a group is
/// chosen only inside it).
pub fn choose(
    used: &BTreeMap<String, BTreeMap<String, u64>>,
    allowed: &BTreeSet<String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let names: BTreeSet<&str> = used.keys().map(String::as_str).collect();
    let mut groups: BTreeMap<String, String> = ALWAYS
        .iter()
        .map(|(g, why)| (g.to_string(), why.to_string()))
        .collect();
    let mut covered: BTreeSet<String> = expand(&groups.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .collect();
    // Larger groups first, so a group inside a used one is not listed again.
    let mut candidates: Vec<(&str, Vec<String>)> = GROUPS
        .iter()
        .filter(|g| ALWAYS.iter().all(|(a, _)| *a != g.name))
        .filter_map(|g| Some((g.name, expand(&[g.name.to_string()]).ok()?)))
        .filter(|(_, m)| !m.is_empty() && m.iter().all(|n| allowed.contains(n)))
        .collect();
    candidates.sort_by_key(|(name, m)| (std::cmp::Reverse(m.len()), *name));
    for (name, members) in candidates {
        let here: Vec<&String> = members
            .iter()
            .filter(|m| names.contains(m.as_str()))
            .collect();
        // Every member the run's architecture has was used (a name of another architecture
        // only cannot have been).
        let all = members
            .iter()
            .filter(|m| crate::policy::syscalls::Arch::NATIVE.number(m).is_some())
            .all(|m| names.contains(m.as_str()));
        if all && !here.is_empty() && members.iter().any(|m| !covered.contains(m)) {
            groups.insert(
                name.to_string(),
                format!("the run used all {} of its calls", here.len()),
            );
            covered.extend(members);
        }
    }
    let mut single = BTreeMap::new();
    for (name, arches) in used {
        if covered.contains(name) {
            continue;
        }
        let counts: Vec<String> = arches.iter().map(|(a, n)| format!("{a} x{n}")).collect();
        single.insert(name.clone(), format!("used: {}", counts.join(", ")));
    }
    (groups, single)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(names: &[&str]) -> BTreeMap<String, BTreeMap<String, u64>> {
        names
            .iter()
            .map(|n| (n.to_string(), BTreeMap::from([("x86_64".to_string(), 2)])))
            .collect()
    }

    #[test]
    fn default_always_whole_groups_by_name_and_the_rest_singly() {
        let allowed: BTreeSet<String> = expand(&["@system-service".to_string()])
            .unwrap()
            .into_iter()
            .collect();
        let sync = expand(&["@sync".to_string()]).unwrap();
        let mut names: Vec<&str> = vec!["openat", "read", "getdents64"];
        names.extend(sync.iter().map(String::as_str));
        let (groups, single) = choose(&used(&names), &allowed);
        assert!(groups.contains_key("@default") && groups.contains_key("@basic-io"));
        assert!(groups.contains_key("@sync"), "{groups:?}");
        assert_eq!(
            single.keys().map(String::as_str).collect::<Vec<_>>(),
            vec!["getdents64", "openat", "read"]
                .into_iter()
                .filter(
                    |n| !expand(&["@default".to_string(), "@basic-io".to_string()])
                        .unwrap()
                        .iter()
                        .any(|d| d == n)
                )
                .collect::<Vec<_>>()
        );
        assert_eq!(
            single.get("openat").map(String::as_str),
            Some("used: x86_64 x2")
        );
        // A group the run did not use in full is not chosen.
        assert!(!groups.contains_key("@file-system"));
    }
}
