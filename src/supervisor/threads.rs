//! The supervisor's single-thread check: clone3, fork and the capability drop of a root caller
//! act on the calling thread alone.

use crate::error::{Error, Result};
use crate::sys::process;

/// Fail (naming `step`) unless this process runs one thread: clone3 or fork in a
/// multi-threaded process copies only this thread, with other threads' locks held forever in
/// the child.
pub(crate) fn single_threaded(step: &str) -> Result<()> {
    let threads = process::thread_count().map_err(|e| Error::setup("count threads", &e))?;
    if threads != 1 {
        return Err(Error::setup(step, libc::EBUSY).with_hint(format!(
            "{threads} threads are running; this is a tooljail bug"
        )));
    }
    Ok(())
}
