//! Resolution of `[syscalls]`: the allow-list with its groups expanded, the always-denied rules
//! lifted by name, and the action for everything else.

use super::*;

impl Resolver<'_> {
    /// Expand each entry on its own, so an unknown name is reported at the entry that wrote it.
    pub(super) fn expand_syscalls(
        &mut self,
        items: &[Item<String>],
        expander: Expander,
    ) -> Vec<String> {
        // All entries in one expansion (a few hundred names, each once); only when one is
        // unknown are they expanded again one by one, to say which.
        let values: Vec<String> = items.iter().map(|item| item.value.clone()).collect();
        let mut out = match expander(&values) {
            Ok(names) => names,
            Err(_) => self.expand_each(items, expander),
        };
        out.sort();
        out.dedup();
        out
    }

    /// [`Self::expand_syscalls`] entry by entry, with an error at each unknown one.
    fn expand_each(&mut self, items: &[Item<String>], expander: Expander) -> Vec<String> {
        let mut out = Vec::new();
        for item in items {
            match expander(std::slice::from_ref(&item.value)) {
                Ok(names) => out.extend(names),
                Err(name) => {
                    let at = self.src.at(item);
                    let what = if name.starts_with('@') {
                        "syscall group"
                    } else {
                        "syscall"
                    };
                    self.err(at, format!("unknown {what} \"{name}\""), "docs/seccomp.md (\"Groups\") lists the group names; syscall names are the x86_64 ones, e.g. \"openat\"");
                }
            }
        }
        out
    }

    /// `[syscalls] unsafe_allow`: each entry is one hardening rule's key (`ptrace`,
    /// `tty-injection`, `memfd-exec`, ...; see `syscalls::HARDENING`). Anything else is an error
    /// at its entry: a name that lifts nothing must not look as if it did, and a group would lift
    /// rules nobody named (`@system-service` holds clone3, and lifting clone3 quietly defeats
    /// `clone-namespaces`).
    fn hardening_keys(&mut self, items: &[Item<String>]) -> Vec<String> {
        use crate::policy::syscalls::{hardening, HARDENING};
        let mut out = Vec::new();
        for item in items {
            let v = &item.value;
            if hardening(v).is_ok() {
                out.push(v.clone());
            } else if v.starts_with('@') {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!("unsafe_allow takes rule names, not groups (\"{v}\")"),
                    "name each always-denied rule to lift (docs/seccomp.md lists them)",
                );
            } else {
                let keys: Vec<&str> = HARDENING.iter().map(|h| h.key).collect();
                let hint = match crate::profile::source::suggest(v, &keys) {
                    Some(k) => format!("did you mean \"{k}\"?"),
                    None => {
                        "unsafe_allow takes the key of an always-denied rule (docs/seccomp.md), \
                             e.g. \"ptrace\" or \"tty-injection\""
                            .to_string()
                    }
                };
                let at = self.src.at(item);
                self.err(at, format!("\"{v}\" is not an always-denied rule"), hint);
            }
        }
        out.sort();
        out.dedup();
        out
    }

    pub(super) fn syscalls(&mut self, m: &Merged, expander: Expander) -> Syscalls {
        let s = &m.layer.syscalls;
        let allow = self.expand_syscalls(&s.allow, expander);
        let deny = self.expand_syscalls(&s.deny, expander);
        let allow: Vec<String> = allow.into_iter().filter(|n| !deny.contains(n)).collect();
        let unsafe_allow = self.hardening_keys(&s.unsafe_allow);
        if allow.is_empty() && self.errors.is_empty() {
            let at = m
                .profiles
                .last()
                .map_or(String::new(), |p| p.origin.clone());
            self.err(
                Location::from(at),
                "no syscall is allowed, so no command could start",
                "add allow = [\"@system-service\"] to [syscalls], or extend \"base\"",
            );
        }
        let action = match &s.action {
            Some(item) => match parse_action(&item.value) {
                Ok(a) => a,
                Err(why) => {
                    let at = self.src.at(item);
                    self.err(at, format!("invalid action \"{}\"", item.value), why);
                    SeccompAction::Errno(libc::EPERM)
                }
            },
            None => SeccompAction::Errno(libc::EPERM),
        };
        Syscalls {
            allow,
            action,
            unsafe_allow,
            observe_all: false,
        }
    }
}

/// The errno names a profile may use in `action = "errno:NAME"`.
const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EIO", libc::EIO),
    ("EAGAIN", libc::EAGAIN),
    ("EACCES", libc::EACCES),
    ("EINVAL", libc::EINVAL),
    ("ENOSYS", libc::ENOSYS),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
];

/// `"errno:EPERM"`, `"errno:38"`, `"kill"` or `"log"`.
pub fn parse_action(s: &str) -> Result<SeccompAction, String> {
    match s {
        "kill" => return Ok(SeccompAction::Kill),
        "log" => return Ok(SeccompAction::Log),
        _ => {}
    }
    let usage = "use \"errno:EPERM\", \"errno:N\" (1-4095), \"kill\" or \"log\"";
    let Some(e) = s.strip_prefix("errno:") else {
        return Err(usage.into());
    };
    if let Some((_, n)) = ERRNOS.iter().find(|(name, _)| *name == e) {
        return Ok(SeccompAction::Errno(*n));
    }
    match e.parse::<i32>() {
        Ok(n) if (1..=4095).contains(&n) => Ok(SeccompAction::Errno(n)),
        _ => Err(format!(
            "{usage} (errno names: {})",
            ERRNOS.iter().map(|e| e.0).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The name of an errno for display ("EPERM"), or its number.
pub fn errno_name(n: i32) -> String {
    ERRNOS
        .iter()
        .find(|(_, v)| *v == n)
        .map_or_else(|| n.to_string(), |(name, _)| name.to_string())
}
