//! Dropping every capability, and checking with the kernel that none is left.

use crate::error::{Error, Result};
use caps::CapSet;

/// Drop all five capability sets (bounding first, while CAP_SETPCAP is still effective; then
/// ambient, inheritable, effective, permitted) and verify in /proc/self/status that CapBnd,
/// CapAmb, CapInh, CapEff and CapPrm are all zero. The kernel's view is checked rather than the
/// caps crate's, so a capability newer than the crate knows about also fails closed.
///
/// `bounding_needs_setpcap`: without namespaces (`isolation = "landlock"`) the command is an
/// unprivileged process of the host, which may not clear its bounding set (that needs
/// CAP_SETPCAP). Then, and only when CAP_SETPCAP is not effective, the bounding set is left as
/// it is: it limits what an execve could gain, and no_new_privs (set next, and checked) already
/// makes execve gain nothing. The four other sets are still cleared and checked.
pub fn drop_all(bounding_needs_setpcap: bool) -> Result<()> {
    let keep_bounding = bounding_needs_setpcap
        && !caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).unwrap_or(false);
    let sets: &[CapSet] = if keep_bounding {
        &[
            CapSet::Ambient,
            CapSet::Inheritable,
            CapSet::Effective,
            CapSet::Permitted,
        ]
    } else {
        &[
            CapSet::Bounding,
            CapSet::Ambient,
            CapSet::Inheritable,
            CapSet::Effective,
            CapSet::Permitted,
        ]
    };
    for &set in sets {
        let cleared = match set {
            // One PR_CAPBSET_DROP per capability, without first asking whether it is there
            // (what caps::clear does: twice the syscalls). Dropping one already gone succeeds;
            // one this kernel does not know fails, and then it is asked: not there, nothing to
            // drop. The status check below sees whatever is left, known to the crate or not.
            CapSet::Bounding => caps::all().into_iter().try_for_each(|cap| {
                caps::drop(None, CapSet::Bounding, cap).or_else(|e| {
                    match caps::has_cap(None, CapSet::Bounding, cap) {
                        Ok(true) => Err(e),
                        _ => Ok(()),
                    }
                })
            }),
            _ => caps::clear(None, set),
        };
        cleared.map_err(|e| {
            Error::setup(format!("drop capabilities ({set:?})"), libc::EPERM)
                .with_hint(format!("the kernel refused: {e}"))
        })?;
    }
    let status = crate::sys::read_text_at("/proc/self/status")
        .map_err(super::step("read /proc/self/status to verify capabilities"))?;
    let mut left = remaining(&status);
    if keep_bounding {
        left.retain(|l| !l.starts_with("CapBnd"));
    }
    if !left.is_empty() {
        return Err(Error::setup("verify capabilities are dropped", libc::EPERM)
            .with_hint(format!("still set after dropping: {}", left.join(", "))));
    }
    Ok(())
}

/// The capability lines of a /proc/PID/status text that are not all zero (or missing).
fn remaining(status: &str) -> Vec<String> {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .filter_map(|name| {
            let value = status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim);
            match value.map(|v| u64::from_str_radix(v, 16)) {
                Some(Ok(0)) => None,
                Some(Ok(_)) => Some(format!("{name}: {}", value.unwrap_or_default())),
                _ => Some(format!("{name}: unreadable")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_nonzero_or_missing_set_is_reported() {
        let zero = "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n\
                    CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\n";
        assert!(remaining(zero).is_empty());
        let bnd = zero.replace("CapBnd:\t0000000000000000", "CapBnd:\t0000010000000000");
        assert_eq!(remaining(&bnd), ["CapBnd: 0000010000000000"]);
        assert_eq!(remaining("CapInh:\t0\n").len(), 4);
    }
}
