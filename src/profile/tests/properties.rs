//! Property tests (proptest) of the Policy's invariants, over generated profiles, extends
//! chains and command-line overrides on the fake host:
//! - nothing the profiles and flags did not name is bound;
//! - a path named read-only, and nowhere read-write, is never writable (even inside a
//!   read-write bind);
//! - extends order is respected: a later layer's value wins, each profile merged once, in
//!   depth-first order.

use super::*;
use crate::policy::Place;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;

/// Directories of the fake host the generated profiles name (nested, to test nesting).
const PATHS: &[&str] = &[
    "/data",
    "/data/a",
    "/data/a/b",
    "/data/c",
    "/srv",
    "/srv/x",
    "/out",
    "/etc",
];

fn host() -> FakeHost {
    let mut h = FakeHost::debian();
    for p in PATHS {
        h.dir(p);
    }
    h.dir("/p");
    h
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Ro,
    Rw,
    Exec,
}

fn named() -> impl Strategy<Value = Named> {
    prop_oneof![Just(Named::Ro), Just(Named::Rw), Just(Named::Exec)]
}

/// A profile naming `entries` (index into PATHS, how), the syscalls it needs and nothing else.
fn profile_text(entries: &[(usize, Named)]) -> String {
    let list = |want: Named| {
        let v: Vec<String> = entries
            .iter()
            .filter(|(_, n)| *n == want)
            .map(|(i, _)| format!("\"{}\"", PATHS[*i]))
            .collect();
        v.join(", ")
    };
    format!(
        "[filesystem]\nread_only = [{}]\nread_write = [{}]\nexecutable = [{}]\n\
         [syscalls]\nallow = [\"@basic-io\"]\n",
        list(Named::Ro),
        list(Named::Rw),
        list(Named::Exec)
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn only_named_paths_are_bound_and_read_only_stays_read_only(
        entries in proptest::collection::vec((0..PATHS.len(), named()), 0..8),
        flags in proptest::collection::vec((0..PATHS.len(), named()), 0..4),
    ) {
        let mut h = host();
        h.file("/p/t.toml", &profile_text(&entries));
        let mut a = args(&["/p/t.toml"]);
        for (i, n) in &flags {
            let p = PathBuf::from(PATHS[*i]);
            match n {
                Named::Ro => a.ro.push(p),
                Named::Rw => a.rw.push(p),
                Named::Exec => a.exec.push(p),
            }
        }
        let policy = match resolve_on(&h, &a, Options::default()) {
            Ok(p) => p,
            // A path named twice in one list, or both ways in one profile, may be an error:
            // then nothing runs, which is not what these properties are about.
            Err(_) => return Ok(()),
        };
        let all: Vec<(usize, Named)> = entries.iter().chain(&flags).copied().collect();
        let named_paths: BTreeSet<&Path> = all.iter().map(|(i, _)| Path::new(PATHS[*i])).collect();
        for b in &policy.filesystem.binds {
            prop_assert!(
                named_paths.contains(b.target.as_path()),
                "{} is bound but no profile or flag named it", b.target.display()
            );
        }
        let rw: BTreeSet<&str> = all.iter().filter(|(_, n)| *n == Named::Rw).map(|(i, _)| PATHS[*i]).collect();
        for (i, n) in &all {
            let p = PATHS[*i];
            if *n != Named::Ro || rw.contains(p) {
                continue;
            }
            // Named read-only and nowhere read-write: what holds it (and a file in it) is a
            // read-only bind, whatever read-write bind lies around it.
            for probe in [Path::new(p).to_path_buf(), Path::new(p).join("file")] {
                match policy.place_of(&probe) {
                    Some(Place::Bind(b)) => prop_assert_eq!(
                        b.access, Access::ReadOnly, "{} is writable through {:?}", probe.display(), b
                    ),
                    other => prop_assert!(false, "{} is held by {:?}", probe.display(), other),
                }
            }
        }
    }

    #[test]
    fn extends_order_is_respected(
        // Profile i extends the ones listed for it (only later ones: no cycles); each may set
        // the wall time to its own value.
        extends in proptest::collection::vec(proptest::collection::vec(1usize..5, 0..3), 5),
        sets in proptest::collection::vec(any::<bool>(), 5),
    ) {
        let mut h = host();
        for i in 0..5 {
            let parents: Vec<String> = extends[i]
                .iter()
                .filter(|j| **j > i)
                .map(|j| format!("\"/p/p{j}.toml\""))
                .collect();
            let mut text = format!("extends = [{}]\n", parents.join(", "));
            if sets[i] {
                text.push_str(&format!("[limits]\nwall_time = \"{}s\"\n", 10 * (i + 1)));
            }
            if i == 0 {
                text.push_str("[syscalls]\nallow = [\"@basic-io\"]\n");
            }
            h.file(&format!("/p/p{i}.toml"), &text);
        }
        let policy = resolve_on(&h, &args(&["/p/p0.toml"]), Options::default())
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        // The merge order the docs give: depth-first, left to right, each profile at its first
        // place, the profile itself after what it extends.
        fn order(i: usize, extends: &[Vec<usize>], seen: &mut Vec<usize>) {
            if seen.contains(&i) {
                return;
            }
            seen.push(usize::MAX - i); // being loaded
            for &j in extends[i].iter().filter(|j| **j > i) {
                order(j, extends, seen);
            }
            seen.retain(|s| *s != usize::MAX - i);
            seen.push(i);
        }
        let mut want = Vec::new();
        order(0, &extends, &mut want);
        let got: Vec<String> = policy.profiles.iter().map(|p| p.origin.clone()).collect();
        let want_names: Vec<String> = want.iter().map(|i| format!("/p/p{i}.toml")).collect();
        prop_assert_eq!(&got, &want_names);
        // The last profile in merge order that sets the key wins.
        let winner = want.iter().rev().find(|i| sets[**i]);
        let expected = winner.map_or(Duration::from_secs(60), |i| Duration::from_secs(10 * (*i as u64 + 1)));
        prop_assert_eq!(policy.limits.wall_time, expected);
    }
}
