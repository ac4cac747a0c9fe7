//! `tooljail run` as a pipeline of stages. Each stage takes what the stages before it produced,
//! adds its own part of the report, and hands its result on; none reads anything produced after
//! it. A failing stage ends the pipeline with an error, and the record stage writes the audit
//! record and the report whatever happened.
//!
//! ```text
//!   begin      argv, caller, labels, the --report sink        -> Call
//!   resolve    Policy, jail identity, the audit log           -> Resolved   (report: profiles, hash)
//!   command    [command] rules over argv (refuse: nothing runs) -> (Resolved) (report: stopped_by)
//!   preflight  kernel features, cgroup or rlimits             -> Checked    (report: warnings)
//!   state      call rules: admit and record as started, clamp  -> (Checked)  (report: stopped_by) [budget] only
//!   egress     credentials read, proxy variables, placeholders -> net::Egress             [allow_domains] only
//!   plan       everything computed before clone               -> Plan       (report: isolation)
//!   export     open `to`; a root caller's writer process      -> Exporter   (before the drop)
//!   launch     supervisor: clone, wait, output relays, proxy  -> Ran        (report: resources, denials, output)
//!   egress     the proxy's account                            ->            (report: network)        [allow_domains] only
//!   classify   outcome, exit status, what stopped the command -> exit code  (report: outcome)
//!   export     files out of the scratch by the export policy  -> exit code  (report: export)
//!   record     the call's use in the state store, audit record, report sink (always)
//! ```
//!
//! A new stage (call state, export, ...) is a module here, one line in [`stages`], and its own
//! section of the report; docs/architecture.md says where each kind of stage goes.

mod begin;
mod classify;
mod command;
mod egress;
mod export;
mod launch;
mod preflight;
mod record;
mod resolve;
mod state;

use crate::audit::AuditLog;
use crate::cli::RunArgs;
use crate::error::Result;
use crate::report::{OpenSink, Report};
use std::mem::ManuallyDrop;
use std::time::Instant;

pub use begin::refuse_setid;
pub use classify::{classify, Classified};

/// One call as it passes through the pipeline: its arguments, the report being filled in, and
/// the sinks that receive the report and its audit record at the end.
pub struct Call<'a> {
    pub args: &'a RunArgs,
    pub report: Report,
    pub started: Instant,
    /// The `--report` sink, opened by [`begin`] before anything else.
    sink: Option<OpenSink>,
    /// The audit log, once [`resolve`] has opened it (a later failure is recorded there too).
    audit: Option<AuditLog>,
    /// A root caller's helper that stays root to put a report file in place
    /// ([`crate::supervisor::root_helper`]), from `launch`
    /// on: it renames the report into place.
    root_helper: Option<crate::supervisor::root_helper::RootHelper>,
    /// The jail's pid 1 while it exits, after its last word said nothing else of the jail
    /// runs: the record stage overlaps the kernel's teardown of the namespaces, and reaps it
    /// before the transient uid goes (from `launch` on). Declared before `uid_lease`: a `Call`
    /// dropped without `record` reaps it first too.
    pid1: Option<crate::supervisor::wait::Exiting>,
    /// The transient uid the jail runs as (root callers without `--user`), held until the call
    /// is recorded: the jail's processes are gone by then.
    uid_lease: Option<crate::supervisor::transient::Lease>,
    /// The call state store, when the Policy has call rules ([`state`]).
    state: Option<state::Held>,
}

/// Run one call: the stages in order, then the record (for failed and refused calls too).
pub fn run(args: &RunArgs) -> Result<i32> {
    let (mut call, opened) = begin::begin(args);
    let result = opened.and_then(|()| stages(&mut call));
    record::record(call, result)
}

/// The stages between the opened sinks and the record, in order.
fn stages(call: &mut Call<'_>) -> Result<i32> {
    let resolved = resolve::resolve(call)?;
    command::judge(call, &resolved)?;
    let mut checked = preflight::preflight(call, resolved)?;
    tracing::debug_span!("state admit").in_scope(|| state::admit(call, &mut checked))?;
    let egress = egress::prepare(&mut checked)?;
    // Kept, not freed: the clone of pid 1 leaves every heap page write-protected, and freeing
    // the plan would write the allocator's list pointers across them, each first write a page
    // fault (a copy while pid 1 lives). It is plain data (no descriptor, no process) and the
    // process ends with the call; with the report, about 10 page faults per call.
    let plan = ManuallyDrop::new(launch::plan(call, checked)?);
    let exporter = export::prepare(&plan)?;
    let mut ran = launch::launch(call, &plan, egress)?;
    egress::apply(
        call,
        plan.plan.policy.network.egress.as_ref(),
        ran.taken.egress.take(),
    );
    let scratch = ran.taken.scratch.take();
    let end = ran.outcome.end.clone();
    let code = classify::apply(call, &plan, ran)?;
    export::apply(call, exporter, scratch, &end, code)
}
