use crate::cli::{GlobalArgs, RunArgs};
use crate::error::{Error, Result};

pub fn run(args: &RunArgs, _global: &GlobalArgs) -> Result<i32> {
    let _policy = crate::profile::policy_from_args(&args.policy)?;
    Err(Error::usage("`run` is not built yet"))
}
