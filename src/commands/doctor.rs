use crate::cli::DoctorArgs;
use crate::error::{Error, Result};

pub fn doctor(_args: &DoctorArgs) -> Result<i32> {
    Err(Error::usage("`doctor` is not built yet"))
}
