//! The Landlock ABI probe: `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`.
//!
//! The `landlock` crate keeps its own probe private (it wants callers to use its compatibility
//! layer, not compare versions). tooljail must compare versions *before* clone, in the
//! supervisor, to fail closed with a useful error, so it asks the kernel directly.

/// `LANDLOCK_CREATE_RULESET_VERSION` from `<linux/landlock.h>`.
const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1 << 0;

/// Returns the highest Landlock ABI version the running kernel supports, or the errno of the
/// probe: `EOPNOTSUPP` when Landlock is built in but not enabled at boot (missing from `lsm=`),
/// `ENOSYS` when the kernel is built without it. Any other errno means something (a seccomp
/// filter of an outer sandbox, say) blocked the probe.
///
/// The call creates nothing: with a NULL attribute and the VERSION flag the kernel only reports
/// its ABI (landlock_create_ruleset(2)).
pub fn abi_version() -> Result<u32, i32> {
    // SAFETY: with LANDLOCK_CREATE_RULESET_VERSION the kernel requires attr == NULL and
    // size == 0 and never dereferences a pointer; no memory is read or written and no file
    // descriptor is created, so there is nothing to own or free.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if ret < 0 {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOSYS))
    } else {
        Ok(u32::try_from(ret).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn probe_answers_a_version_or_a_known_errno() {
        match super::abi_version() {
            Ok(v) => assert!(v >= 1, "ABI versions start at 1, got {v}"),
            Err(e) => assert!(
                e == libc::EOPNOTSUPP || e == libc::ENOSYS,
                "unexpected errno {e}"
            ),
        }
    }
}
