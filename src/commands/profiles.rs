use crate::error::{Error, Result};

pub fn profiles() -> Result<i32> {
    Err(Error::usage("`profiles` is not built yet"))
}
