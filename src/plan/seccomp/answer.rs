//! What the supervisor answers a notification: the shadow program's value for the call, read
//! back as an [`Answer`].

use super::*;

/// Which rule denied a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialRule {
    /// Outside the profile's allow-list: `[syscalls] allow` can permit it.
    Profile,
    /// An always-denied hardening rule: only `[syscalls] unsafe_allow` lifts it.
    Hardening,
}

/// What the supervisor answers one notification (see [`answer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Deny(DenialRule, i32),
    Kill,
    /// Create a memfd with `MFD_NOEXEC_SEAL` and the caller's other flags, and return it.
    MemfdSubstitute,
    /// A limit watch point: look at the caller, then let the call run as it is.
    Watch(WatchPoint),
    /// Look at the call (which file would be executed or mapped executable), then let the
    /// kernel run it.
    Observe,
}

/// What the supervisor answers a notification for `data`, from the shadow program's value.
pub fn answer(shadow: &[Insn], data: &SeccompData) -> Answer {
    match bpf::check(shadow) {
        Ok(()) => answer_checked(shadow, data),
        Err(_) => Answer::Kill,
    }
}

/// A shadow program that passed [`bpf::check`], checked once when the supervisor takes it, not
/// on every notification.
#[derive(Debug)]
pub struct CheckedShadow(Vec<Insn>);

impl CheckedShadow {
    /// `shadow` if it passes [`bpf::check`]; `None` (then every notification is answered
    /// [`Answer::Kill`]) if not.
    pub fn new(shadow: Vec<Insn>) -> Option<CheckedShadow> {
        bpf::check(&shadow).ok().map(|()| CheckedShadow(shadow))
    }

    /// [`answer`] without the check.
    pub fn answer(&self, data: &SeccompData) -> Answer {
        answer_checked(&self.0, data)
    }
}

/// [`answer`] for a shadow program that passed [`bpf::check`].
pub(super) fn answer_checked(shadow: &[Insn], data: &SeccompData) -> Answer {
    let v = bpf::run_checked(shadow, data).unwrap_or(ret::KILL_THREAD);
    let errno = i32::try_from(v & ret::DATA).unwrap_or(libc::EPERM);
    match v & ret::ACTION_FULL {
        ret::TRACE => Answer::Deny(DenialRule::Hardening, errno),
        ret::ERRNO => Answer::Deny(DenialRule::Profile, errno),
        // KILL_THREAD is the shadow's marker for the profile's Kill action (and the fail-closed
        // answer to a program that could not run). A notification the shadow would allow
        // cannot happen for one rule set; it is answered as a profile denial, never let through.
        ret::KILL_THREAD => Answer::Kill,
        ret::TRAP => Answer::MemfdSubstitute,
        // ALLOW is the shadow's marker for a watch point; one it does not know is denied.
        ret::ALLOW => match WatchPoint::from_code(v & ret::DATA) {
            Some(p) => Answer::Watch(p),
            None => Answer::Deny(DenialRule::Profile, libc::EPERM),
        },
        ret::USER_NOTIF => Answer::Observe,
        _ => Answer::Deny(DenialRule::Profile, libc::EPERM),
    }
}
