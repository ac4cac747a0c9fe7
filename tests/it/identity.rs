//! `--user`: root runs the jail as a named unprivileged user, whose host permissions (files it
//! creates, files it may not read) apply inside; a non-root caller cannot choose; root is
//! never a target. The report and audit record carry both the invoking and the jail identity.
//! Root-only cases are recorded as skipped (support::skip) when the tests do not run as root.

use crate::support::{each_identity, run, tempdir, Ctx, Who};
use serde_json::Value;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

const TEST_USER: &str = "tooljail-test";

/// Root and the test user's (uid, gid), or None (with a note) when a case cannot run here.
fn as_root() -> Option<(Ctx, u32, u32)> {
    if !crate::support::root_or_skip("--user needs the tests to run as root") {
        return None;
    }
    let Ok(Some(u)) = nix::unistd::User::from_name(TEST_USER) else {
        panic!("the test user {TEST_USER} is missing: run tests/setup.sh");
    };
    Some((Ctx { who: Who::Root }, u.uid.as_raw(), u.gid.as_raw()))
}

#[test]
fn files_the_command_creates_belong_to_the_user() {
    let Some((root, uid, gid)) = as_root() else {
        return;
    };
    let dir = crate::support::records_dir();
    let d = dir.path().to_str().unwrap();
    let file = dir.path().join("made-by-the-jail");
    let script = format!("id -u; id -g; echo data > {}", file.display());
    let r = run(root.tooljail([
        "run",
        "--audit-log",
        "/dev/null",
        "--user",
        TEST_USER,
        "--rw",
        d,
        "--",
        "sh",
        "-c",
        &script,
    ]));
    r.expect(0);
    assert_eq!(r.stdout, format!("{uid}\n{gid}\n"), "{}", r.dump());
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid), "{}", r.dump());
    // The same by uid.
    let r = run(root.tooljail([
        "run",
        "--audit-log",
        "/dev/null",
        "--user",
        &uid.to_string(),
        "--",
        "id",
        "-u",
    ]));
    r.expect(0);
    assert_eq!(r.stdout.trim(), uid.to_string());
}

#[test]
fn host_permissions_apply_inside_even_on_exposed_paths() {
    let Some((root, _uid, gid)) = as_root() else {
        return;
    };
    let dir = tempdir(0o755);
    let secret = dir.path().join("root-only");
    std::fs::write(&secret, "TOP SECRET").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A file of the user's group with mode 0640 is readable: the jail runs with that gid.
    let shared = dir.path().join("group-readable");
    std::fs::write(&shared, "GROUP DATA").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    nix::unistd::chown(&shared, None, Some(nix::unistd::Gid::from_raw(gid))).unwrap();
    let d = dir.path().to_str().unwrap();
    let probe = format!(
        "import errno\n\
         try:\n    open({s:?}).read(); print('READ')\n\
         except OSError as e:\n    print(errno.errorcode[e.errno])\n\
         print(open({g:?}).read())",
        s = secret.to_str().unwrap(),
        g = shared.to_str().unwrap()
    );
    let r = run(root.tooljail([
        "run",
        "--audit-log",
        "/dev/null",
        "--user",
        TEST_USER,
        "--ro",
        d,
        "--",
        "/usr/bin/python3",
        "-c",
        &probe,
    ]));
    r.expect(0);
    assert_eq!(r.stdout, "EACCES\nGROUP DATA\n", "{}", r.dump());
}

/// The gid of group `name` from the host's user database (NSS, through getent).
fn group_gid(name: &str) -> u32 {
    let out = std::process::Command::new("getent")
        .args(["group", name])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    match line.split(':').nth(2).and_then(|g| g.trim().parse().ok()) {
        Some(gid) => gid,
        None => panic!("group {name} is missing: run tests/setup.sh"),
    }
}

#[test]
fn the_user_gets_its_supplementary_groups_and_no_other() {
    let Some((root, _uid, _gid)) = as_root() else {
        return;
    };
    // tests/setup.sh makes the test user a member of tooljail-test-extra; `adm` (Debian's, in
    // every base system) it is not a member of.
    let extra = group_gid("tooljail-test-extra");
    let foreign = group_gid("adm");
    let dir = tempdir(0o755);
    let mut paths = Vec::new();
    for (name, gid) in [("extra", extra), ("foreign", foreign)] {
        let path = dir.path().join(name);
        std::fs::write(&path, name).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        nix::unistd::chown(&path, None, Some(nix::unistd::Gid::from_raw(gid))).unwrap();
        paths.push(path.to_str().unwrap().to_owned());
    }
    let r = run(root.tooljail([
        "run",
        "--audit-log",
        "/dev/null",
        "--user",
        TEST_USER,
        "--ro",
        dir.path().to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &format!(
            "cat {} && echo; cat {} 2>/dev/null || echo refused",
            paths[0], paths[1]
        ),
    ]));
    r.expect(0);
    assert_eq!(r.stdout, "extra\nrefused\n", "{}", r.dump());
}

#[test]
fn a_non_root_caller_cannot_choose_the_user() {
    each_identity(|ctx| {
        if ctx.is_root() {
            return;
        }
        let r = run(ctx.tooljail([
            "run",
            "--audit-log",
            "/dev/null",
            "--user",
            TEST_USER,
            "--",
            "true",
        ]));
        r.expect(125)
            .expect_stderr_contains("only root can run the jail as another user")
            .expect_stderr_contains("drop --user");
    });
}

#[test]
fn root_is_never_the_jail_user() {
    let Some((root, ..)) = as_root() else { return };
    let dir = crate::support::records_dir();
    let marker = dir.path().join("RAN");
    let touch = format!("touch {}", marker.display());
    let d = dir.path().to_str().unwrap();
    for who in ["root", "0", "no-such-user-xyz", "4000000000"] {
        let r = run(root.tooljail([
            "run",
            "--audit-log",
            "/dev/null",
            "--user",
            who,
            "--rw",
            d,
            "--",
            "sh",
            "-c",
            &touch,
        ]));
        r.expect(125)
            .expect_stderr_contains(&format!("--user {who}:"));
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.dump());
        assert!(!marker.exists(), "the command ran with --user {who}");
    }
    let r = run(root.tooljail([
        "run",
        "--audit-log",
        "/dev/null",
        "--user",
        "0",
        "--",
        "true",
    ]));
    r.expect_stderr_contains("the jail never runs as root");
}

#[test]
fn the_record_carries_the_caller_and_the_jail_identity() {
    let Some((root, uid, _)) = as_root() else {
        return;
    };
    let dir = crate::support::records_dir();
    let log = dir.path().join("audit.jsonl");
    let log_s = log.to_str().unwrap();
    run(root.tooljail([
        "run",
        "--audit-log",
        log_s,
        "--user",
        TEST_USER,
        "--",
        "true",
    ]))
    .expect(0);
    run(root.tooljail(["run", "--audit-log", log_s, "--", "true"])).expect(0);
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let id = &lines[0]["identity"];
    assert_eq!(
        (id["caller_uid"].clone(), id["caller_user"].clone()),
        (0.into(), "root".into())
    );
    assert_eq!(
        (id["jail_uid"].clone(), id["jail_user"].clone()),
        (uid.into(), TEST_USER.into())
    );
    let id = &lines[1]["identity"];
    let transient = id["jail_uid"].as_u64().unwrap() as u32;
    assert!(
        crate::support::api::transient_uids().contains(&transient),
        "{id:#}"
    );
    assert_eq!(id["jail_user"], serde_json::Value::Null);
    // And `tooljail audit --user` finds the run by either identity.
    // root started both runs; the test user is the jail of the first only.
    for (who, n) in [("root", 2), (TEST_USER, 1), (&uid.to_string(), 1)] {
        let r = run(root.tooljail(["audit", "--log", log_s, "--user", who, "--json"]));
        r.expect(0);
        assert_eq!(r.stdout.lines().count(), n, "--user {who}\n{}", r.dump());
    }
    let r = run(root.tooljail(["audit", "--log", log_s, "--user", TEST_USER, "--json"]));
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.dump());
}
