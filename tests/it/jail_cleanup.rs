//! Nothing stays on the host after a run: no mount, no file in /tmp, no scratch content.
//! The other cases of the suite run meanwhile, but all their temporary files live under the
//! suite's own directory (support::suite_dir), which this check leaves out.

use crate::support::{identities, run, run_for, tmp_entries, unique};
use std::process::Command;
use std::time::Duration;

fn mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn nothing_is_left_on_the_host() {
    crate::support::init();
    let marker = unique("tooljail-scratch-marker-");
    for ctx in identities() {
        eprintln!("--- running as {:?}", ctx.who);
        let mounts_before = mounts();
        let tmp_before = tmp_entries();
        let script = format!(
            "echo x > /scratch/{marker} && echo x > /tmp/{marker} && echo x > /dev/shm/{marker} \
             && mkdir /tmp/{marker}.d && ls /scratch/{marker} /tmp/{marker} /dev/shm/{marker}"
        );
        let r = run(ctx.tooljail(["run", "--", "sh", "-c", &script]));
        r.expect(0).expect_stdout_contains(&marker);
        assert_eq!(
            mounts(),
            mounts_before,
            "host mount table changed\n{}",
            r.dump()
        );
        // Other users of this machine may create files in /tmp meanwhile; what the jail could
        // leave would belong to the jail's uid.
        let new: Vec<_> = tmp_entries()
            .difference(&tmp_before)
            .filter(|(_, uid)| ctx.is_jail_uid(*uid))
            .cloned()
            .collect();
        assert!(
            new.is_empty(),
            "new files in the host's /tmp: {new:?}\n{}",
            r.dump()
        );
    }
    // The scratch markers are nowhere on the host.
    let find = |root: &str| {
        let mut cmd = Command::new("find");
        cmd.args([root, "-xdev", "-name", &format!("{marker}*")]);
        let r = run_for(cmd, Duration::from_secs(120));
        assert!(!r.timed_out, "{}", r.dump());
        r.stdout
    };
    for root in ["/", "/dev/shm", "/run"] {
        let found = find(root);
        assert!(
            found.trim().is_empty(),
            "scratch content left on the host: {found}"
        );
    }
}
