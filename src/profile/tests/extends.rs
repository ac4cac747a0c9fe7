//! `extends`, several `-p`, removal, cycles, the search path and the listing.

use super::*;

// ---- extends ----------------------------------------------------------------------------------

fn family() -> FakeHost {
    let mut h = FakeHost::debian();
    h.dir("/p");
    h.file("/p/root.toml", "description = \"root\"\nhostname = \"root\"\n[filesystem]\nread_only = [\"/etc/passwd\", \"/etc/group\"]\n[syscalls]\nallow = [\"@system-service\"]\n[env]\nset = { A = \"1\", B = \"2\" }\nkeep = [\"TERM\"]\n");
    h.file(
        "/p/left.toml",
        "extends = [\"root.toml\"]\nhostname = \"left\"\n[filesystem]\nread_only = [\"/data\"]\n",
    );
    h.file("/p/right.toml", "extends = [\"/p/root.toml\"]\n[filesystem]\nread_only = [\"!/etc/group\", \"/out\"]\n[env]\nset = { B = \"3\" }\nunset = [\"A\"]\n");
    h.file("/p/child.toml", "extends = [\"left.toml\", \"right.toml\"]\ndescription = \"child\"\n[syscalls]\ndeny = [\"ptrace\"]\n");
    h
}

#[test]
fn extends_merges_in_order_with_removal() {
    let h = family();
    let p = resolve_on(&h, &args(&["/p/child.toml"]), Options::default()).unwrap();
    let names: Vec<&str> = p.profiles.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["root", "left", "right", "child"],
        "a diamond merges root once"
    );
    assert_eq!(p.description, "child");
    assert_eq!(
        p.hostname, "left",
        "scalars: the later layer that sets a key wins"
    );
    let targets: Vec<&str> = p
        .filesystem
        .binds
        .iter()
        .map(|b| b.target.to_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        ["/data", "/etc/passwd", "/out"],
        "lists: union, with !/etc/group removed"
    );
    assert_eq!(
        p.filesystem.binds[1].origin, "/p/root.toml:4:14",
        "origin stays in the file that wrote it"
    );
    assert_eq!(p.env.get("A"), None);
    assert_eq!(p.env["B"], "3");
    assert_eq!(p.env["TERM"], "xterm");
    assert_eq!(p.syscalls.allow, ["execve", "openat", "read", "write"]);
}

#[test]
fn a_named_profile_without_description_does_not_inherit_one() {
    let h = family();
    let p = resolve_on(&h, &args(&["/p/left.toml"]), Options::default()).unwrap();
    assert_eq!(p.description, "");
}

#[test]
fn several_profiles_on_the_command_line_merge_like_extends() {
    let h = family();
    let p = resolve_on(
        &h,
        &args(&["/p/root.toml", "/p/left.toml", "/p/root.toml"]),
        Options::default(),
    )
    .unwrap();
    let names: Vec<&str> = p.profiles.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["root", "left"]);
    assert_eq!(p.name(), "left");
}

#[test]
fn removing_what_is_not_inherited_is_an_error() {
    let mut h = family();
    h.file("/p/bad.toml", "extends = [\"root.toml\"]\n[filesystem]\nread_only = [\n  \"!/etc/grupo\"]\n[env]\nunset = [\"ZZ\"]\n");
    let e = errs_on(&h, &args(&["/p/bad.toml"]));
    assert_eq!(
        e,
        [
            "/p/bad.toml:4:3: nothing to remove: \"/etc/grupo\" is not in the list this profile inherits; check the spelling against the extended profile (`tooljail explain -p NAME`)",
            "/p/bad.toml:6:10: nothing to unset: \"ZZ\" is not in [env] set or keep; check the spelling, or remove this entry",
        ]
    );
}

#[test]
fn cycles_are_named_and_positioned() {
    let mut h = FakeHost::debian();
    h.dir("/p");
    h.file("/p/a.toml", "extends = [\"b.toml\"]\n");
    h.file(
        "/p/b.toml",
        "description = \"b\"\nextends = [\"./c.toml\"]\n",
    );
    h.file("/p/c.toml", "extends = [\"base\", \"/p/a.toml\"]\n");
    h.file("/p/self.toml", "extends = [\"self.toml\"]\n");
    assert_eq!(
        errs_on(&h, &args(&["/p/a.toml"])),
        ["/p/c.toml:1:20: extends cycle: a -> b -> c -> a; remove one of these extends entries"]
    );
    assert_eq!(
        errs_on(&h, &args(&["/p/self.toml"])),
        ["/p/self.toml:1:12: extends cycle: self -> self; remove one of these extends entries"]
    );
}

#[test]
fn errors_in_extended_files_point_at_that_file() {
    let mut h = FakeHost::debian();
    h.dir("/p");
    h.file(
        "/p/parent.toml",
        "extends = [\"base\"]\n\n[limits]\nmemory = \"1Q\"\n",
    );
    h.file("/p/typo.toml", "[network]\nmoed = \"none\"\n");
    h.file(
        "/p/child.toml",
        "extends = [\"parent.toml\", \"missing\", \"typo.toml\"]\n",
    );
    assert_eq!(
        errs_on(&h, &args(&["/p/child.toml"])),
        [
            "/p/child.toml:1:27: profile \"missing\" not found; looked for missing.toml in /home/ann/.config/tooljail/profiles, /etc/tooljail/profiles, /usr/share/tooljail/profiles; run `tooljail profiles` to list what exists",
            "/p/typo.toml:2:1: unknown key \"moed\" in [network]; did you mean \"mode\"?",
        ]
    );
    h.file("/p/child.toml", "extends = [\"parent.toml\"]\n");
    assert_eq!(
        errs_on(&h, &args(&["/p/child.toml"])),
        ["/p/parent.toml:4:10: invalid size \"1Q\"; unknown unit \"q\"; use B, K, M, G or T (powers of 1024)"]
    );
}

#[test]
fn search_path_files_shadow_builtins_and_builtin_prefix_reaches_them() {
    let mut h = FakeHost::debian();
    h.env.insert("XDG_CONFIG_HOME".into(), "/cfg".into());
    h.dir("/cfg")
        .dir("/cfg/tooljail")
        .dir("/cfg/tooljail/profiles");
    h.file(
        "/cfg/tooljail/profiles/default.toml",
        "description = \"mine\"\nextends = [\"builtin:default\"]\nhostname = \"mine\"\n",
    );
    let p = resolve_on(&h, &args(&[]), Options::default()).unwrap();
    assert_eq!(p.description, "mine");
    assert_eq!(p.hostname, "mine");
    assert_eq!(
        p.limits.memory,
        Some(1 << 30),
        "the built-in default is underneath"
    );
    assert_eq!(
        p.profiles.last().unwrap().origin,
        "/cfg/tooljail/profiles/default.toml"
    );
    let e = errs_on(&h, &args(&["defualt2"]));
    assert!(
        e[0].starts_with("-p defualt2: profile \"defualt2\" not found; did you mean \"default\"?"),
        "{e:?}"
    );
    let e = errs_on(&h, &args(&["builtin:nope"]));
    let names: Vec<&str> = crate::profile::search::BUILTINS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(names[..2], ["default", "base"]);
    assert_eq!(
        e,
        [format!(
            "-p builtin:nope: no built-in profile \"nope\"; built-in profiles: {}",
            names.join(", ")
        )]
    );
}

#[test]
fn unsearchable_config_dirs_are_skipped_but_unreadable_profiles_are_errors() {
    let mut h = FakeHost::debian();
    h.env.insert("HOME".into(), "/root".into());
    h.dir("/root")
        .dir("/root/.config")
        .dir("/root/.config/tooljail")
        .dir("/root/.config/tooljail/profiles");
    h.file(
        "/root/.config/tooljail/profiles/default.toml",
        "hostname = \"roots\"\n",
    );
    h.unsearchable.push("/root".into());
    let p = resolve_on(&h, &args(&[]), Options::default()).unwrap();
    assert_eq!(p.profiles.last().unwrap().origin, "builtin:default");
    h.unsearchable.clear();
    h.unreadable
        .push("/root/.config/tooljail/profiles/default.toml".into());
    assert_eq!(
        errs_on(&h, &args(&[])),
        ["-p default: cannot read profile \"/root/.config/tooljail/profiles/default.toml\": permission denied; fix its permissions or remove it from the search path"]
    );
}

#[test]
fn profiles_listing_shows_shadowing() {
    let mut h = FakeHost::debian();
    h.dir("/a").dir("/b");
    h.file("/a/default.toml", "description = \"mine\\nmore\"\n");
    h.file("/b/default.toml", "description = \"theirs\"\n");
    h.file("/b/tool.toml", "not toml [");
    let dirs = vec![PathBuf::from("/a"), PathBuf::from("/b")];
    let found = crate::profile::search::list(&h, &dirs, |d| {
        let names: Vec<String> = h
            .files
            .keys()
            .filter(|p| p.parent() == Some(d.as_path()))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names
    });
    let rows: Vec<(&str, &str, &str, Option<&str>, bool)> = found
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.origin.as_str(),
                f.description.as_str(),
                f.shadows.as_deref(),
                f.shadowed,
            )
        })
        .collect();
    // The other built-ins (the tool profiles) follow, none shadowed here.
    let (rows, rest) = rows.split_at(5);
    assert_eq!(rest.len(), crate::profile::search::BUILTINS.len() - 2);
    assert!(rest.iter().all(|r| r.1 == "builtin" && !r.4), "{rest:?}");
    assert_eq!(
        rows,
        [
            ("default", "/a/default.toml", "mine", Some("/b/default.toml"), false),
            ("default", "/b/default.toml", "theirs", None, true),
            ("tool", "/b/tool.toml", "(invalid TOML: run `tooljail check` on it)", None, false),
            ("default", "builtin", "Strict default: system binaries only, no caller files, no network, scratch as HOME", None, true),
            ("base", "builtin", "Foundation for other profiles: system binaries read-only, scratch tmpfs, no network", None, false),
        ]
    );
}

#[test]
fn ports_are_removed_from_an_extended_profile_with_bang() {
    let parent = "extends = [\"default\"]\n[network]\nmode = \"host\"\ntcp_connect = [80, 443]\n";
    let host = |child: &str| {
        let mut h = host_with(child);
        h.file("/p/parent.toml", parent);
        h
    };
    // A child takes 80 away and adds 8443.
    let h = host("extends = [\"/p/parent.toml\"]\n[network]\ntcp_connect = [\"!80\", 8443]\n");
    let p = resolve_on(&h, &args(&["/p/t.toml"]), Options::default()).unwrap();
    assert_eq!(p.network.tcp_connect, vec![443, 8443]);
    let h = host("extends = [\"/p/parent.toml\"]\n[network]\ntcp_connect = [\"80\"]\n");
    assert_eq!(
        errs_on(&h, &args(&["/p/t.toml"])),
        ["/p/t.toml:3:16: invalid value: string \"80\", expected a port number (1-65535), or \"!N\" to remove port N that an extended profile lists; see docs/profile-format.md for the type of each key"]
    );
    let h = host("extends = [\"/p/parent.toml\"]\n[network]\ntcp_connect = [\"!81\"]\n");
    assert_eq!(
        errs_on(&h, &args(&["/p/t.toml"])),
        ["/p/t.toml:3:16: nothing to remove: port 81 is not in the list this profile inherits; check the port against the extended profile (`tooljail explain -p NAME`)"]
    );
}

#[test]
fn a_bind_made_writable_by_a_child_names_the_childs_entry() {
    let mut h =
        host_with("extends = [\"/p/parent.toml\"]\n[filesystem]\nread_write = [\"/srv/data\"]\n");
    h.dir("/srv/data").file(
        "/p/parent.toml",
        "extends = [\"default\"]\n[filesystem]\nread_only = [\"/srv/data\"]\n",
    );
    let p = resolve_on(&h, &args(&["/p/t.toml"]), Options::default()).unwrap();
    let b = p
        .filesystem
        .binds
        .iter()
        .find(|b| b.target == std::path::Path::new("/srv/data"))
        .unwrap();
    assert_eq!(
        (b.access, b.origin.as_str()),
        (Access::ReadWrite, "/p/t.toml:3:15")
    );
}

/// Issue 13: a profile on the search path is used only when nobody but the caller (or root)
/// could have put it there; the same file with trusted owners and modes is the control.
#[test]
fn search_path_profiles_come_only_from_places_the_caller_trusts() {
    let setup = |owners: &[(&str, (u32, u32))], uid: u32| {
        let mut h = FakeHost::debian();
        h.uid = uid;
        h.env.insert("XDG_CONFIG_HOME".into(), "/cfg".into());
        h.dir("/cfg")
            .dir("/cfg/tooljail")
            .dir("/cfg/tooljail/profiles");
        h.file(
            "/cfg/tooljail/profiles/default.toml",
            "extends = [\"builtin:default\"]\nhostname = \"planted\"\n",
        );
        for (p, o) in owners {
            h.owners.insert(p.into(), *o);
        }
        h
    };
    let hostname = |h: &FakeHost| {
        resolve_on(h, &args(&[]), Options::default())
            .map(|p| p.hostname)
            .map_err(|e| e[0].to_string())
    };
    let file = "/cfg/tooljail/profiles/default.toml";
    // The control: root's files, or the caller's own, are used.
    assert_eq!(hostname(&setup(&[], 1000)).unwrap(), "planted");
    assert_eq!(
        hostname(&setup(
            &[(file, (1000, 0o644)), ("/cfg", (1000, 0o700))],
            1000
        ))
        .unwrap(),
        "planted"
    );
    // A sticky world-writable directory above (like /tmp) does not make it untrusted.
    assert_eq!(
        hostname(&setup(&[("/cfg", (0, 0o1777))], 1000)).unwrap(),
        "planted"
    );
    // Another user's file, a group- or world-writable directory, or (for root) the caller's
    // own: refused, naming why.
    for (owners, uid, why) in [
        (
            vec![(file, (1001, 0o644))],
            1000,
            format!("{file} is owned by uid 1001"),
        ),
        (
            vec![("/cfg/tooljail/profiles", (1000, 0o777))],
            1000,
            "/cfg/tooljail/profiles is writable by anyone (mode 0777)".to_string(),
        ),
        (
            vec![(file, (1000, 0o664))],
            1000,
            format!("{file} is writable by its group (mode 0664)"),
        ),
        (
            vec![(file, (1000, 0o644))],
            0,
            format!("{file} is owned by uid 1000"),
        ),
    ] {
        let e = hostname(&setup(&owners, uid)).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "-p default: profile \"{file}\" is not trusted: {why};"
            )),
            "{e}"
        );
    }
}
