//! Bench helper: the default profile's seccomp allow-list built with the `seccompiler` crate
//! instead of tooljail's own compiler, installed, then CMD exec'd. It exists to measure the
//! per-syscall cost of the two programs side by side (benches/seccomp.sh); it is not a jail.
//!
//!     seccompiler_launch -- CMD ARGS...
//!
//! What seccompiler can say is built: the same allowed syscall numbers, and the argument rules
//! that fit its one-action-per-filter model (ioctl without TIOCSTI/TIOCLINUX, clone without
//! CLONE_NEW* flags). Everything else gets EPERM. What it cannot say (a user-notification
//! listener, per-rule errnos, the x32 kill, the supervisor's shadow program) is why tooljail
//! does not build its filter with it: docs/seccomp.md, "Why not seccompiler".

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use tooljail::plan::seccomp::{CLONE_NEW_MASK, TIOCLINUX, TIOCSTI};
use tooljail::policy::syscalls::{self, Arch};

fn die(msg: &str) -> ! {
    eprintln!("seccompiler_launch: {msg}");
    std::process::exit(125)
}

fn cond(arg: u8, op: SeccompCmpOp, value: u32) -> SeccompCondition {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, u64::from(value))
        .unwrap_or_else(|e| die(&e.to_string()))
}

fn main() {
    let argv: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
    if argv.is_empty() {
        die("usage: seccompiler_launch -- CMD ARGS...");
    }
    let allow = syscalls::expand(&["@system-service".to_string()])
        .unwrap_or_else(|e| die(&format!("{e:?}")));
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = allow
        .iter()
        .filter_map(|name| Arch::NATIVE.number(name))
        .map(|nr| (i64::from(nr), Vec::new()))
        .collect();
    let rule = |conds| SeccompRule::new(conds).unwrap_or_else(|e| die(&e.to_string()));
    rules.insert(
        libc::SYS_ioctl,
        vec![rule(vec![
            cond(1, SeccompCmpOp::Ne, TIOCSTI),
            cond(1, SeccompCmpOp::Ne, TIOCLINUX),
        ])],
    );
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![cond(
            0,
            SeccompCmpOp::MaskedEq(u64::from(CLONE_NEW_MASK)),
            0,
        )])],
    );
    rules.remove(&libc::SYS_clone3);
    let arch = TargetArch::try_from(std::env::consts::ARCH).unwrap_or_else(|e| die(&e.to_string()));
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM.unsigned_abs()),
        SeccompAction::Allow,
        arch,
    )
    .unwrap_or_else(|e| die(&e.to_string()));
    let prog: BpfProgram = filter
        .try_into()
        .unwrap_or_else(|e: seccompiler::BackendError| die(&e.to_string()));
    eprintln!("seccompiler_launch: {} instructions", prog.len());
    nix::sys::prctl::set_no_new_privs().unwrap_or_else(|e| die(&e.to_string()));
    seccompiler::apply_filter(&prog).unwrap_or_else(|e| die(&e.to_string()));
    let e = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
    die(&format!("exec {}: {e}", argv[0]))
}
