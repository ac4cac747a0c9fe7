//! `${CWD}` safety and command-line overrides.

use super::*;

// ---- variables and ${CWD} -------------------------------------------------------------------

#[test]
fn cwd_profiles_refuse_root_and_home_but_the_command_line_may_name_them() {
    let text = "extends = [\"base\"]\ncwd = \"${CWD}\"\n[filesystem]\nread_write = [\"${CWD}\"]\n";
    let mut h = host_with(text);
    let p = resolve_on(&h, &args(&["/p/t.toml"]), Options::default()).unwrap();
    assert_eq!(p.cwd, PathBuf::from("/home/ann/proj"));
    for (cwd, what) in [
        ("/home/ann", "your home directory"),
        ("/home", "your home directory"),
        ("/", "the whole file system"),
    ] {
        h.cwd = cwd.into();
        let e = errs_on(&h, &args(&["/p/t.toml"]));
        assert_eq!(
            e,
            [format!("/p/t.toml:4:15: ${{CWD}} is {cwd}, which would expose {what}; cd into the project directory and run again, or name the path explicitly with --ro/--rw")],
        );
        assert!(resolve_on(&h, &args(&["/p/t.toml"]), Options { check_only: true }).is_ok());
    }
    h.cwd = "/home/ann".into();
    let mut a = args(&["/p/t.toml"]);
    a.rw = vec![".".into()];
    let p = resolve_on(&h, &a, Options::default()).unwrap();
    let b = p
        .filesystem
        .binds
        .iter()
        .find(|b| b.target.as_path() == std::path::Path::new("/home/ann"))
        .unwrap();
    assert_eq!((b.access, b.origin.as_str()), (Access::ReadWrite, "--rw"));
}

// ---- command-line overrides -------------------------------------------------------------------

#[test]
fn overrides_apply_on_top_of_the_profile() {
    let mut h =
        host_with("extends = [\"default\"]\n[network]\nmode = \"host\"\ntcp_connect = [443]\n");
    h.cwd = "/home/ann".into();
    let mut a = args(&["/p/t.toml"]);
    a.ro = vec!["proj".into(), "/etc/passwd".into()];
    a.rw = vec!["/data".into()];
    a.net = Some(NetArg::Loopback);
    a.timeout = Some("5m".into());
    a.memory = Some("512M".into());
    a.env = vec!["X=1=2".into(), "LANG=C".into()];
    a.keep_env = vec!["TERM".into(), "ABSENT".into()];
    a.cwd = Some("/home/ann/proj".into());
    let p = resolve_on(&h, &a, Options::default()).unwrap();
    let find = |t: &str| {
        p.filesystem
            .binds
            .iter()
            .find(|b| b.target.as_path() == std::path::Path::new(t))
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            find("/home/ann/proj").access,
            find("/home/ann/proj").origin.as_str()
        ),
        (Access::ReadOnly, "--ro")
    );
    assert_eq!(
        find("/etc/passwd").origin,
        "--ro",
        "the command line replaces the profile's rule"
    );
    assert_eq!(
        p.filesystem
            .binds
            .iter()
            .filter(|b| b.target.as_path() == std::path::Path::new("/etc/passwd"))
            .count(),
        1
    );
    assert_eq!(
        (find("/data").access, find("/data").origin.as_str()),
        (Access::ReadWrite, "--rw")
    );
    assert_eq!(
        p.network,
        Network {
            mode: NetMode::Loopback,
            tcp_connect: vec![],
            tcp_bind: vec![],
            egress: None
        }
    );
    assert_eq!(p.limits.wall_time, Duration::from_secs(300));
    assert_eq!(p.limits.memory, Some(512 << 20));
    assert_eq!(p.env["X"], "1=2");
    assert_eq!(p.env["LANG"], "C");
    assert_eq!(p.env["TERM"], "xterm");
    assert!(!p.env.contains_key("ABSENT"));
    assert_eq!(p.cwd, PathBuf::from("/home/ann/proj"));
}

#[test]
fn only_exec_makes_a_writable_bind_executable() {
    let text = "extends = [\"base\"]\ncwd = \"${CWD}\"\n[filesystem]\nread_write = [\"${CWD}\"]\n";
    let mut h = host_with(text);
    h.dir("/home/ann/proj/build").dir("/data").dir("/opt/tool");
    let bind = |a: &PolicyArgs, t: &str| {
        let p = resolve_on(&h, a, Options::default()).unwrap();
        let b = p
            .filesystem
            .binds
            .iter()
            .find(|b| b.target.as_path() == std::path::Path::new(t))
            .unwrap_or_else(|| panic!("no bind of {t}"))
            .clone();
        (b.access, b.exec, b.origin)
    };
    let mut a = args(&["/p/t.toml"]);
    a.rw = vec!["/data".into()];
    a.ro = vec!["/opt/tool".into()];
    // --rw: writable, not executable; --ro: executable (nothing below it can be written).
    assert_eq!(bind(&a, "/data"), (Access::ReadWrite, false, "--rw".into()));
    assert_eq!(
        bind(&a, "/opt/tool"),
        (Access::ReadOnly, true, "--ro".into())
    );
    // The profile's writable ${CWD} is not executable either.
    assert!(!bind(&a, "/home/ann/proj").1);
    // --exec on the same path: that bind becomes executable, keeping its access.
    a.exec = vec!["/data".into(), ".".into()];
    assert_eq!(
        bind(&a, "/data"),
        (Access::ReadWrite, true, "--rw + --exec".into())
    );
    let (access, exec, origin) = bind(&a, "/home/ann/proj");
    assert_eq!((access, exec), (Access::ReadWrite, true));
    assert!(origin.ends_with(" + --exec"), "{origin}");
    // --exec below a writable bind: writable and executable there only.
    let mut a = args(&["/p/t.toml"]);
    a.exec = vec!["build".into(), "/opt/tool".into()];
    assert_eq!(
        bind(&a, "/home/ann/proj/build"),
        (Access::ReadWrite, true, "--exec".into())
    );
    assert!(!bind(&a, "/home/ann/proj").1);
    // --exec outside every bind: read-only and executable.
    assert_eq!(
        bind(&a, "/opt/tool"),
        (Access::ReadOnly, true, "--exec".into())
    );
}

#[test]
fn bad_overrides_name_the_flag() {
    let h = FakeHost::debian();
    let mut a = args(&[]);
    a.ro = vec!["/nope".into()];
    a.timeout = Some("30".into());
    a.memory = Some("lots".into());
    a.env = vec!["NOEQUALS".into()];
    a.cwd = Some("/elsewhere".into());
    let e = match resolve_on(&h, &a, Options::default()) {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    let shown: Vec<String> = e.iter().map(Error::to_string).collect();
    assert_eq!(
        shown,
        [
            "--ro: path \"/nope\" does not exist; create it or fix the --ro argument",
            "--timeout: invalid duration \"30\"; a duration needs a unit, e.g. \"30s\" or \"30ms\"",
            "--memory: invalid size \"lots\"; expected a number of bytes, optionally with a unit: 1048576, 64K, 512M, 2G",
            "--env: \"NOEQUALS\" is not KEY=VALUE; write it as --env KEY=VALUE",
        ]
    );
    assert!(e
        .iter()
        .all(|e| e.kind == ErrorKind::Usage && e.exit_code() == 125));
    // ... so the cwd is checked on its own (a refused bind silences it: same cause).
    let mut a = args(&[]);
    a.cwd = Some("/elsewhere".into());
    assert_eq!(
        errs_on(&h, &a),
        [
            "--cwd: working directory \"/elsewhere\" does not exist inside the jail; use a directory under the scratch path or under a bound directory",
        ]
    );
}

#[test]
fn errors_stay_on_one_line() {
    let h =
        host_with("[limits]\nwall_time = \"6\\n\\u001b[31m\"\n[syscalls]\nallow = [\"read\"]\n");
    let e = match crate::profile::resolve_args(&h, &args(&["/p/t.toml"]), Options::default()) {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    assert_eq!(
        e[0].to_string(),
        "/p/t.toml:2:13: invalid duration \"6\\n\\u{1b}[31m\"; invalid character at 2; write a duration like \"30s\", \"5m\" or \"1h 30m\""
    );
}

#[test]
fn errors_come_in_reading_order_with_flags_last() {
    let h = host_with("[limits]\nmemory = \"12X\"\n[filesystem]\nread_only = [\"/nope\"]\n[syscalls]\nallow = [\"read\"]\n");
    let mut a = args(&["/p/t.toml"]);
    a.memory = Some("1Q".into());
    let e = match crate::profile::resolve_args(&h, &a, Options::default()) {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    let at: Vec<String> = e.iter().map(|e| e.location.to_string()).collect();
    assert_eq!(at, ["/p/t.toml:2:10", "/p/t.toml:4:14", "--memory"]);
}

#[test]
fn first_error_says_how_many_more() {
    let e = crate::profile::first_error(vec![
        Error::profile("a:1:1", "one"),
        Error::profile("a:2:1", "two"),
    ]);
    assert_eq!(
        e.to_string(),
        "a:1:1: one (and 1 more: `tooljail explain` with the same options lists them all)"
    );
}

// ---- the working directory ----------------------------------------------------------------------

#[test]
fn the_command_starts_in_the_callers_directory_when_a_flag_binds_it() {
    let mut h = host_with("extends = [\"default\"]\n");
    h.dir("/home/ann/proj/src").dir("/home/ann/proj/out");
    h.cwd = "/home/ann/proj".into();
    let scratch = ok("extends = [\"default\"]\n").filesystem.scratch.path;
    let cwd = |h: &FakeHost, ro: &[&str], rw: &[&str], cwd: Option<&str>| {
        let mut a = args(&["/p/t.toml"]);
        a.ro = ro.iter().map(Into::into).collect();
        a.rw = rw.iter().map(Into::into).collect();
        a.cwd = cwd.map(Into::into);
        resolve_on(h, &a, Options::default()).map(|p| p.cwd)
    };
    // Nothing of the caller's bound: the scratch, as before.
    assert_eq!(cwd(&h, &[], &[], None).unwrap(), scratch);
    // The caller's directory bound: start there.
    assert_eq!(
        cwd(&h, &["."], &[], None).unwrap(),
        PathBuf::from("/home/ann/proj")
    );
    // Only another directory bound: the scratch.
    assert_eq!(cwd(&h, &[], &["out"], None).unwrap(), scratch);
    // A relative --cwd is taken from the caller's directory.
    assert_eq!(
        cwd(&h, &[], &["out"], Some("out")).unwrap(),
        PathBuf::from("/home/ann/proj/out")
    );
    // ... and must still be inside the jail.
    let e: Vec<String> = cwd(&h, &[], &[], Some("src"))
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        e,
        ["--cwd: working directory \"/home/ann/proj/src\" does not exist inside the jail; use a directory under the scratch path or under a bound directory"]
    );
    // A directory above the caller's bound: the caller's directory inside it (the deepest
    // bind that holds it decides).
    h.cwd = "/home/ann/proj/src".into();
    assert_eq!(
        cwd(&h, &["/home/ann/proj/src"], &["/home/ann/proj"], None).unwrap(),
        PathBuf::from("/home/ann/proj/src")
    );
    assert_eq!(
        cwd(&h, &[], &["/home/ann/proj"], None).unwrap(),
        PathBuf::from("/home/ann/proj/src")
    );
}

#[test]
fn profile_binds_do_not_move_the_working_directory() {
    // The default profile shows /usr: a caller in /usr/share still starts in the scratch.
    let mut h = host_with("extends = [\"default\"]\n");
    h.dir("/usr/share");
    h.cwd = "/usr/share".into();
    let p = resolve_on(&h, &args(&["/p/t.toml"]), Options::default()).unwrap();
    assert_eq!(p.cwd, p.filesystem.scratch.path);
}

// ---- --limit KEY=VALUE ---------------------------------------------------------------------------

#[test]
fn every_per_call_limit_has_a_flag() {
    let h = host_with("extends = [\"default\"]\n[limits]\nprocesses = 16\n");
    let mut a = args(&["/p/t.toml"]);
    a.timeout = Some("10s".into());
    a.limit = [
        "wall_time=2m",
        "kill_after=5s",
        "cpu_time=unlimited",
        "memory=2G",
        "processes=64",
        "open_files=unlimited",
        "scratch=1G",
    ]
    .map(String::from)
    .to_vec();
    let p = resolve_on(&h, &a, Options::default()).unwrap();
    let l = &p.limits;
    assert_eq!(
        l.wall_time,
        std::time::Duration::from_secs(120),
        "--limit wins over --timeout"
    );
    assert_eq!(l.kill_after, std::time::Duration::from_secs(5));
    assert_eq!(l.cpu_time, None);
    assert_eq!(l.memory, Some(2 << 30));
    assert_eq!(l.processes, Some(64));
    assert_eq!(l.open_files, None);
    // The scratch grows, and file_size (unset in the profile) follows it.
    assert_eq!(p.filesystem.scratch.size, 1 << 30);
    assert_eq!(l.file_size, Some(1 << 30));
    // A later --limit of the same key wins.
    a.limit.push("processes=8".into());
    a.limit.push("file_size=10M".into());
    let p = resolve_on(&h, &a, Options::default()).unwrap();
    assert_eq!(p.limits.processes, Some(8));
    assert_eq!(p.limits.file_size, Some(10 << 20));
}

#[test]
fn bad_limits_are_each_named_in_one_run() {
    let h = host_with("extends = [\"default\"]\n");
    let mut a = args(&["/p/t.toml"]);
    a.limit = [
        "proceses=4",
        "memory=lots",
        "processes=0",
        "wall_time=unlimited",
        "scratch",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        errs_on(&h, &a),
        [
            "--limit: unknown limit \"proceses\"; did you mean \"processes\"? The keys are wall_time, kill_after, cpu_time, memory, file_size, processes, open_files, scratch",
            "--limit: memory: invalid size \"lots\"; expected a number of bytes, optionally with a unit: 1048576, 64K, 512M, 2G",
            "--limit: processes = 0: a count of zero leaves no room to run; give a positive value",
            "--limit: wall_time: invalid duration \"unlimited\"; expected number at 0; write a duration like \"30s\", \"5m\" or \"1h 30m\"",
            "--limit: \"scratch\" is not KEY=VALUE; write it as KEY=VALUE, e.g. --limit processes=64",
        ]
    );
}

#[test]
fn the_home_guard_reads_the_user_database_not_the_environment() {
    let text = "extends = [\"base\"]\ncwd = \"${CWD}\"\n[filesystem]\nread_write = [\"${CWD}\"]\n";
    let mut h = host_with(text);
    h.cwd = "/home/ann".into();
    let refused = "/p/t.toml:4:15: ${CWD} is /home/ann, which would expose your home directory; cd into the project directory and run again, or name the path explicitly with --ro/--rw";
    // HOME unset (`env -u HOME`), or pointing elsewhere: ann's home is still hers.
    h.env.remove("HOME");
    assert_eq!(errs_on(&h, &args(&["/p/t.toml"])), [refused]);
    h.env.insert("HOME".into(), "/tmp".into());
    assert_eq!(errs_on(&h, &args(&["/p/t.toml"])), [refused]);
    // The control: with no account home either, nothing says /home/ann is a home.
    h.account_home = None;
    h.env.remove("HOME");
    assert!(resolve_on(&h, &args(&["/p/t.toml"]), Options::default()).is_ok());
}
