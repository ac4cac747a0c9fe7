use crate::cli::CheckArgs;
use crate::error::{Error, Result};

pub fn check(_args: &CheckArgs) -> Result<i32> {
    Err(Error::usage("`check` is not built yet"))
}
