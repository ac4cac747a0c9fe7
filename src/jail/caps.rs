//! Dropping every capability, and checking with the kernel that none is left.

use crate::error::{Error, Result};
use caps::CapSet;

/// Drop all five capability sets (bounding first, while CAP_SETPCAP is still effective; then
/// ambient, inheritable, effective, permitted) and verify in /proc/self/status that CapBnd,
/// CapAmb, CapInh, CapEff and CapPrm are all zero. The kernel's view is checked rather than the
/// caps crate's, so a capability newer than the crate knows about also fails closed.
pub fn drop_all() -> Result<()> {
    for set in [
        CapSet::Bounding,
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| {
            Error::setup(format!("drop capabilities ({set:?})"), libc::EPERM)
                .with_hint(format!("the kernel refused: {e}"))
        })?;
    }
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(super::step("read /proc/self/status to verify capabilities"))?;
    let left = remaining(&status);
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
