//! `tooljail run`: one call through the pipeline ([`crate::pipeline`]).

use crate::cli::{GlobalArgs, RunArgs};
use crate::error::Result;

pub fn run(args: &RunArgs, _global: &GlobalArgs) -> Result<i32> {
    // Before any sink is opened: installed setuid/setgid, tooljail would open the caller's
    // --report and --audit-log paths with the owner's rights.
    crate::pipeline::refuse_setid()?;
    crate::pipeline::run(args)
}
