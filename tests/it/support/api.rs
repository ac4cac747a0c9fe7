//! The library as the tests see it: the one place that names `tooljail::` paths. When a module
//! moves in src/, only these lines change.

pub use tooljail::{cgroup, cli, preflight, profile, report, Error};

/// Profile -> Policy: the resolved data, its syscall groups and the hardening table.
pub mod policy {
    pub use tooljail::policy::*;
}

/// The seccomp compiler (src/plan/) and the notifier that serves the filter's notifications
/// (src/supervisor/).
pub mod seccomp {
    pub use tooljail::plan::seccomp::*;
    pub use tooljail::supervisor::notify::*;
}

/// The Landlock rules a Policy asks for (src/plan/) and `restrict`, applied alone by the layer
/// tests (src/jail/).
pub mod landlock {
    pub use tooljail::jail::landlock::*;
    pub use tooljail::plan::landlock::*;
}

/// The export stage's pieces (src/export/): the scratch walk and the rules, for what a jail
/// cannot make (a device node) but the stage must still refuse.
pub mod export {
    pub use tooljail::export::*;
}

/// The uids root's jails take (tooljail's default transient range).
pub fn transient_uids() -> std::ops::RangeInclusive<u32> {
    let r = tooljail::supervisor::transient::DEFAULT_RANGE;
    r.first..=r.last
}

/// The audit log's lines as `tooljail audit` reads them: the number of records, and the lines
/// that are not records (line number and why).
pub fn audit_records(log: &[u8]) -> (usize, Vec<(usize, String)>) {
    let (records, bad) = tooljail::audit::read_records(log, &tooljail::audit::Filter::default())
        .expect("reading memory");
    (
        records.len(),
        bad.into_iter().map(|b| (b.line, b.error)).collect(),
    )
}

/// Whether the audit log's hash chain holds (`tooljail audit --verify`); the break otherwise.
pub fn audit_chain_holds(log: &[u8]) -> Result<(), String> {
    match tooljail::audit::chain::verify(log).expect("reading memory") {
        Ok(_) => Ok(()),
        Err(b) => Err(format!("line {}: {}", b.line, b.what)),
    }
}
