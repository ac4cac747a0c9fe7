//! Exact error positions (line and column) for every kind of mistake.

use super::*;

// ---- error positions ------------------------------------------------------------------------

#[test]
fn misspelt_keys_are_positioned_with_a_suggestion() {
    assert_eq!(
        err("extends = [\"base\"]\n\n[filesystem]\n  rw_paths = [\"/tmp\"]\n"),
        "/p/t.toml:4:3: unknown key \"rw_paths\" in [filesystem]; did you mean \"read_write\"?"
    );
    assert_eq!(
        err("extend = [\"base\"]\n"),
        "/p/t.toml:1:1: unknown key \"extend\" in the top level; did you mean \"extends\"?"
    );
    assert_eq!(
        err("[filesystem.scratch]\nsise = \"1M\"\n"),
        "/p/t.toml:2:1: unknown key \"sise\" in [filesystem.scratch]; did you mean \"size\"?"
    );
    assert_eq!(
        err("[limits]\nwall_time = \"1s\"\n memroy = \"1G\"\n"),
        "/p/t.toml:3:2: unknown key \"memroy\" in [limits]; did you mean \"memory\"?"
    );
    assert_eq!(
        err("[env]\nzzz = 1\n"),
        "/p/t.toml:2:1: unknown key \"zzz\" in [env]; valid keys here: keep, set, unset"
    );
}

#[test]
fn every_section_names_itself_in_unknown_key_errors() {
    for (section, keys) in crate::profile::schema::SECTIONS {
        let text = match *section {
            "the top level" => "qqqq = 1\n".to_string(),
            // This array of tables has required keys.
            s @ "[[budget.rate]]" => {
                format!("{s}\nper = []\nlimit = 1\nwindow = \"1m\"\nqqqq = 1\n")
            }
            s => format!("{s}\nqqqq = 1\n"),
        };
        let e = err(&text);
        assert!(
            e.contains(&format!("unknown key \"qqqq\" in {section}")),
            "{e}"
        );
        assert!(
            e.contains(&format!("valid keys here: {}", keys.join(", "))),
            "{e}"
        );
    }
}

#[test]
fn wrong_types_and_values_are_positioned() {
    assert_eq!(
        err("[filesystem]\nread_only = \"/usr\"\n"),
        "/p/t.toml:2:13: invalid type: string \"/usr\", expected a sequence; see docs/profile-format.md for the type of each key"
    );
    assert_eq!(
        err("[network]\nmode = \"hots\"\n"),
        "/p/t.toml:2:8: unknown value \"hots\"; did you mean \"host\"?"
    );
    assert_eq!(
        err("[landlock]\nmode = \"sometimes\"\n"),
        "/p/t.toml:2:8: unknown value \"sometimes\"; use one of: required, best-effort"
    );
    assert_eq!(
        err("[audit]\nenabled = \"yes\"\n"),
        "/p/t.toml:2:11: invalid type: string \"yes\", expected a boolean; see docs/profile-format.md for the type of each key"
    );
    assert_eq!(
        err("[network]\nmode = \"host\"\ntcp_connect = [70000]\n"),
        "/p/t.toml:3:16: invalid value: integer \"70000\", expected a port number (1-65535), or \"!N\" to remove port N that an extended profile lists; see docs/profile-format.md for the type of each key"
    );
    assert_eq!(
        err("[limits\nmemory = 1\n"),
        "/p/t.toml:1:8: invalid TOML: invalid table header: expected \".\", \"]\"; fix the syntax at this position"
    );
    assert_eq!(
        err("[env]\nkeep = []\nkeep = []\n"),
        "/p/t.toml:3:1: duplicate key \"keep\" in table \"env\"; write each key once per table"
    );
}

#[test]
fn malformed_sizes_durations_and_counts_are_positioned() {
    let e = errs_on(
        &host_with("[syscalls]\nallow = [\"read\"]\n[limits]\nmemory = \"12X\"\nwall_time = \"30\"\nprocesses = 0\ncpu_time = \"soon\"\n[filesystem.scratch]\nsize = -1\n"),
        &args(&["/p/t.toml"]),
    );
    // In reading order, as `check` prints them.
    assert_eq!(
        e,
        [
            "/p/t.toml:4:10: invalid size \"12X\"; unknown unit \"x\"; use B, K, M, G or T (powers of 1024)",
            "/p/t.toml:5:13: invalid duration \"30\"; a duration needs a unit, e.g. \"30s\" or \"30ms\"",
            "/p/t.toml:6:13: invalid count 0; use a number of at least 1, or \"unlimited\"",
            "/p/t.toml:7:12: invalid duration \"soon\"; expected number at 0; write a duration like \"30s\", \"5m\" or \"1h 30m\"",
            "/p/t.toml:9:8: invalid size -1; sizes cannot be negative",
        ]
    );
}

#[test]
fn unknown_variables_point_inside_the_string() {
    assert_eq!(
        err("[filesystem]\nread_only = [\"/usr\", \"${HOME}/a/${HOEM}\"]\n"),
        "/p/t.toml:2:33: unknown variable \"${HOEM}\"; did you mean \"${HOME}\"?"
    );
    assert_eq!(
        err("[filesystem]\nread_only = ['/x/$y']\n"),
        "/p/t.toml:2:18: \"$\" must start a variable like \"${HOME}\"; write \"$$\" for a literal \"$\""
    );
    // With an escape in the string the exact column is unknown: the error points at the string.
    assert_eq!(
        err("[filesystem]\nread_only = [\"/\\u0041${X}\"]\n"),
        "/p/t.toml:2:14: unknown variable \"${X}\"; known variables: ${CWD}, ${HOME}, ${UID}, ${GID}, ${USER}, ${PROFILE_DIR}, ${SCRATCH}"
    );
}

#[test]
fn variables_without_a_value_are_errors() {
    let mut h =
        host_with("[filesystem]\nread_only = [\"${HOME}/x\"]\n[syscalls]\nallow = [\"read\"]\n");
    h.env.remove("HOME");
    assert_eq!(
        errs_on(&h, &args(&["/p/t.toml"])),
        ["/p/t.toml:2:15: \"${HOME}\" has no value: HOME is not set; remove it or use an absolute path"]
    );
    // A built-in profile has no directory: simulate one by dropping the loaded file's dir.
    let h = host_with("[audit]\nlog = \"${PROFILE_DIR}/a.log\"\n[syscalls]\nallow = [\"read\"]\n");
    let mut merged = crate::profile::merge::load(&h, &["/p/t.toml".to_string()]).unwrap();
    merged.sources.files[0].dir = None;
    let e = resolve::resolve_with(
        &h,
        &merged,
        &Default::default(),
        Options::default(),
        &fake_expand,
    )
    .unwrap_err();
    assert_eq!(
        e[0].to_string(),
        "/p/t.toml:2:8: \"${PROFILE_DIR}\" has no value: a built-in profile has no directory; remove it or use an absolute path"
    );
    let e = err("[filesystem.scratch]\npath = \"${SCRATCH}/x\"\n[syscalls]\nallow = [\"read\"]\n");
    assert_eq!(e, "/p/t.toml:2:9: \"${SCRATCH}\" has no value: the scratch path cannot refer to itself; remove it or use an absolute path");
}

#[test]
fn unknown_syscall_names_are_reported_at_their_entry() {
    assert_eq!(
        err("[syscalls]\nallow = [\"read\",\n  \"@sytem-service\"]\n"),
        "/p/t.toml:3:3: unknown syscall group \"@sytem-service\"; docs/seccomp.md (\"Groups\") lists the group names; syscall names are the x86_64 ones, e.g. \"openat\""
    );
    let e = errs_on(
        &host_with(
            "[syscalls]\nallow = [\"read\"]\ndeny = [\"bogus\"]\nunsafe_allow = [\"@nope\"]\n",
        ),
        &args(&["/p/t.toml"]),
    );
    assert_eq!(e.len(), 2);
    assert!(
        e[0].starts_with("/p/t.toml:3:9: unknown syscall \"bogus\""),
        "{}",
        e[0]
    );
    assert!(
        e[1].starts_with("/p/t.toml:4:17: unsafe_allow takes rule names, not groups (\"@nope\")"),
        "{}",
        e[1]
    );
}

#[test]
fn deny_removes_from_allow_and_action_parses() {
    let p = ok("[syscalls]\nallow = [\"@system-service\"]\ndeny = [\"@basic-io\"]\naction = \"errno:38\"\n");
    assert_eq!(p.syscalls.allow, ["execve", "openat", "ptrace"]);
    assert_eq!(p.syscalls.action, SeccompAction::Errno(38));
    assert_eq!(
        resolve::parse_action("errno:ENOSYS"),
        Ok(SeccompAction::Errno(libc::ENOSYS))
    );
    assert_eq!(resolve::parse_action("log"), Ok(SeccompAction::Log));
    assert!(resolve::parse_action("errno:0").is_err());
    assert!(resolve::parse_action("errno:4096").is_err());
    assert!(resolve::parse_action("trap").is_err());
    assert_eq!(
        err("[syscalls]\nallow = [\"read\"]\naction = \"errno:EWHAT\"\n"),
        "/p/t.toml:3:10: invalid action \"errno:EWHAT\"; use \"errno:EPERM\", \"errno:N\" (1-4095), \"kill\" or \"log\" (errno names: EPERM, ENOENT, EIO, EAGAIN, EACCES, EINVAL, ENOSYS, EOPNOTSUPP)"
    );
}

#[test]
fn semantic_errors_are_positioned() {
    let cases: &[(&str, &str)] = &[
        ("[filesystem]\nread_only = [\"/nope\"]\n", "/p/t.toml:2:14: path \"/nope\" does not exist; create it, remove it from the profile, or mark it optional with a trailing \"?\""),
        ("[filesystem]\nread_only = [\"usr\"]\n", "/p/t.toml:2:14: path \"usr\" is not absolute; write an absolute path like \"/usr/share\" or \"${CWD}/data\""),
        ("[filesystem]\nread_only = [\"/usr/../etc\"]\n", "/p/t.toml:2:14: path \"/usr/../etc\" contains \"..\"; write an absolute path like \"/usr/share\" or \"${CWD}/data\""),
        ("[filesystem]\nread_only = [\"/tmp\"]\nscratch.path = \"/tmp\"\n", "/p/t.toml:2:14: cannot bind over \"/tmp\": tooljail builds it itself; remove this path; /proc, /dev and the scratch directory are made by the jail"),
        ("[filesystem]\nscratch.path = \"/proc/x\"\n", "/p/t.toml:2:16: scratch path \"/proc/x\" is reserved; use a fresh directory such as \"/scratch\""),
        ("[filesystem]\ndevices = [\"/dev/nul\"]\n", "/p/t.toml:2:12: device \"/dev/nul\" is not allowed; did you mean \"/dev/null\"?"),
        ("[network]\ntcp_connect = [443]\n", "/p/t.toml:2:16: tcp_connect has no effect unless mode = \"host\"; set [network] mode = \"host\", or remove the ports"),
        ("[network]\nmode = \"host\"\ntcp_bind = [0]\n", "/p/t.toml:3:13: port 0 in tcp_bind; use a port between 1 and 65535"),
        ("[env]\nset = { \"A=B\" = \"x\" }\n", "/p/t.toml:2:17: invalid variable name \"A=B\" in [env] set: contains '=' or NUL; use a name like \"LANG\""),
        ("[env]\nkeep = [\"\"]\n", "/p/t.toml:2:9: invalid variable name \"\" in [env] keep: empty; use a name like \"TERM\""),
        ("[export]\npatterns = [\"/etc/*\"]\nto = \"/data\"\n", "/p/t.toml:2:13: export pattern \"/etc/*\" is not relative to the scratch directory; write a relative glob like \"out/*.json\" or \"**/*.csv\""),
        ("[export]\npatterns = [\"a[b\"]\nto = \"/data\"\n", "/p/t.toml:2:13: export pattern \"a[b\" is not a valid glob (unclosed character class; missing ']'); write a relative glob like \"out/*.json\" or \"**/*.csv\""),
        ("[export]\nto = \"/data\"\n", "/p/t.toml:2:6: an export destination without patterns exports nothing; set [export] patterns = [\"*.csv\", ...] (or pass --export PATTERN)"),
        ("[export]\nfrom = \"out/*\"\n", "/p/t.toml:2:8: export directory \"out/*\" is not a plain path relative to the scratch; write a relative directory like \"out\""),
        ("[output]\nstdout_max = 0\n", "/p/t.toml:2:14: an output cap of 0 hides the whole stream; give a size like \"64K\", or leave the cap out"),
        ("[output]\nmode = \"head+tail\"\nstderr_max = \"1G\"\n", "/p/t.toml:3:14: a head+tail cap of 1073741824 bytes is above 16M (the tail is kept in memory); use mode = \"head\" for a larger cap, or a cap of at most 16M"),
        ("[export]\nto = \"/etc/passwd\"\n", "/p/t.toml:2:6: export directory \"/etc/passwd\" is a file; name a directory"),
        ("hostname = \"a b\"\n", "/p/t.toml:1:12: invalid hostname \"a b\"; use 1 to 64 letters, digits, '-' or '.'"),
        ("cwd = \"/elsewhere\"\n", "/p/t.toml:1:7: working directory \"/elsewhere\" does not exist inside the jail; use a directory under the scratch path or under a bound directory"),
        ("[budget]\ncalls_per_minute = 5000000000\n", "/p/t.toml:2:20: 5000000000 is too large; use a number below 4294967296, or \"unlimited\""),
        ("[limits]\nwall_time = \"0s\"\n", "/p/t.toml:2:13: a duration of zero leaves no time to run; use a positive duration like \"30s\""),
        ("[filesystem]\nscratch = { size = 0 }\n", "/p/t.toml:2:20: scratch size 0 leaves no room for the working directory; use a size like \"256M\""),
    ];
    for (text, want) in cases {
        let text = format!("{text}[syscalls]\nallow = [\"read\"]\n");
        assert_eq!(err(&text), *want, "profile:\n{text}");
    }
}

#[test]
fn optional_paths_are_skipped_when_absent() {
    let p = ok("[syscalls]\nallow = [\"read\"]\n[filesystem]\nread_only = [\"/lib32?\", \"/etc/passwd?\"]\n");
    assert_eq!(p.filesystem.binds.len(), 1);
    assert_eq!(p.filesystem.binds[0].target, PathBuf::from("/etc/passwd"));
}

#[test]
fn binds_keep_the_written_target_and_the_canonical_source_parents_first() {
    let p = ok("[syscalls]\nallow = [\"read\"]\n[filesystem]\nread_write = [\"/usr/lib/./x?\", \"/data\"]\nexecutable = [\"/lib64/\", \"/usr\"]\nread_only = [\"/usr/bin/python3\"]\n");
    let b: Vec<(&str, &str, FileKind)> = p
        .filesystem
        .binds
        .iter()
        .map(|b| {
            (
                b.target.to_str().unwrap(),
                b.source.to_str().unwrap(),
                b.kind,
            )
        })
        .collect();
    assert_eq!(
        b,
        [
            ("/data", "/data", FileKind::Dir),
            ("/lib64", "/usr/lib64", FileKind::Dir),
            ("/usr", "/usr", FileKind::Dir),
            ("/usr/bin/python3", "/usr/bin/python3", FileKind::File),
        ]
    );
}

// ---- positions and listing --------------------------------------------------------------------

#[test]
fn line_and_column_are_one_based_and_count_characters() {
    use crate::profile::source::line_col;
    let t = "ab\nçd = 1\n\nx";
    assert_eq!(line_col(t, 0), (1, 1));
    assert_eq!(line_col(t, 2), (1, 3));
    assert_eq!(line_col(t, 3), (2, 1));
    assert_eq!(line_col(t, 5), (2, 2), "ç is two bytes, one column");
    assert_eq!(line_col(t, 11), (3, 1));
    assert_eq!(line_col(t, 12), (4, 1));
    assert_eq!(line_col(t, 99), (4, 2));
    assert_eq!(line_col(t, 4), (2, 1), "inside ç: where it starts");
    assert_eq!(line_col("", 0), (1, 1));
    assert_eq!(line_col("\n\n", 2), (3, 1));
    // Sources keeps each file's line starts; every position is the one counted by hand.
    let mut sources = crate::profile::source::Sources::default();
    let src = sources.add(crate::profile::source::SourceFile {
        id: "builtin:t".into(),
        name: "t".into(),
        origin: "builtin:t".into(),
        dir: None,
        text: t.into(),
    });
    for offset in 0..=t.len() + 1 {
        let mut end = offset.min(t.len());
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        let before = &t[..end];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        assert_eq!(line_col(t, offset), (line, col), "offset {offset}");
        let want = crate::error::Location::Span {
            file: "builtin:t".into(),
            line,
            col,
        };
        assert_eq!(sources.locate(src, offset), want, "offset {offset}");
    }
}

#[test]
fn unsafe_allow_takes_hardening_rule_names_only() {
    let p = ok("[syscalls]\nallow = [\"@system-service\"]\n\
                unsafe_allow = [\"tty-injection\", \"memfd-exec\", \"ptrace\"]\n");
    assert_eq!(
        p.syscalls.unsafe_allow,
        ["memfd-exec", "ptrace", "tty-injection"]
    );
    // A group would lift rules nobody named.
    assert_eq!(
        err("[syscalls]\nallow = [\"@system-service\"]\nunsafe_allow = [\"@mount\"]\n"),
        "/p/t.toml:3:17: unsafe_allow takes rule names, not groups (\"@mount\"); name each \
         always-denied rule to lift (docs/seccomp.md lists them)"
    );
    assert_eq!(
        err("[syscalls]\nallow = [\"@system-service\"]\nunsafe_allow = [\"ptrac\"]\n"),
        "/p/t.toml:3:17: \"ptrac\" is not an always-denied rule; did you mean \"ptrace\"?"
    );
    let e = err("[syscalls]\nallow = [\"@system-service\"]\nunsafe_allow = [\"read\"]\n");
    assert!(
        e.starts_with("/p/t.toml:3:17: \"read\" is not an always-denied rule; unsafe_allow takes"),
        "{e}"
    );
}

/// `check` and every resolution report every error of a file in one run: structural ones
/// (unknown key or table, wrong type) and semantic ones (a missing path, a bad size), in
/// reading order, each at its own position.
#[test]
fn every_error_of_every_kind_in_one_run() {
    let text = "extends = [\"default\"]\nhostnme = \"x\"\n\n[filesystem]\nrw_paths = [\"/tmp\"]\nread_only = [\"/no/such/path\"]\n\n[limits]\nmemory = \"lots\"\nprocesess = 4\nwall_time = 5\n\n[filesytem]\nread_only = [\"/etc\"]\n";
    let h = host_with(text);
    assert_eq!(
        errs_on(&h, &args(&["/p/t.toml"])),
        [
            "/p/t.toml:2:1: unknown key \"hostnme\" in the top level; did you mean \"hostname\"?",
            "/p/t.toml:5:1: unknown key \"rw_paths\" in [filesystem]; did you mean \"read_write\"?",
            "/p/t.toml:6:14: path \"/no/such/path\" does not exist; create it, remove it from the profile, or mark it optional with a trailing \"?\"",
            "/p/t.toml:9:10: invalid size \"lots\"; expected a number of bytes, optionally with a unit: 1048576, 64K, 512M, 2G",
            "/p/t.toml:10:1: unknown key \"procesess\" in [limits]; did you mean \"processes\"?",
            "/p/t.toml:11:13: invalid type: integer \"5\", expected a string; see docs/profile-format.md for the type of each key",
            "/p/t.toml:13:2: unknown key \"filesytem\" in the top level; did you mean \"filesystem\"?",
        ]
    );
    // A syntax error still stops the file: nothing after it can be read.
    let h = host_with("hostnme = \"x\"\n[limits\nmemory = 1\n");
    let e = errs_on(&h, &args(&["/p/t.toml"]));
    assert_eq!(e.len(), 1, "{e:?}");
}

#[test]
fn budget_keys_are_positioned() {
    assert_eq!(
        err("extends = [\"base\"]\n[[budget.rate]]\nper = [\"sesion\"]\nlimit = 5\nwindow = \"1m\"\n"),
        "/p/t.toml:3:8: unknown label \"sesion\"; use \"user\", \"agent\", \"session\" or \"tool\""
    );
    assert_eq!(
        err("extends = [\"base\"]\n[[budget.rate]]\nper = []\nlimit = 0\nwindow = \"1m\"\n"),
        "/p/t.toml:4:9: invalid count 0; use a number of at least 1, or \"unlimited\""
    );
    assert_eq!(
        err("extends = [\"base\"]\n[budget]\nsession_cpu = \"2 fortnights\"\n"),
        "/p/t.toml:3:15: invalid duration \"2 fortnights\"; unknown time unit \"fortnights\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations); write a duration like \"30s\", \"5m\" or \"1h 30m\""
    );
    assert_eq!(
        err("extends = [\"base\"]\n[budget]\nstate = \"mysql://x\"\n"),
        "/p/t.toml:3:9: invalid state store \"mysql://x\"; use \"sqlite:/path/state.db\" or \"postgres://user@host/db\""
    );
}
