//! `tooljail mcp`: serve a tools file's jailed tools over stdio, or `--check` it ([`crate::mcp`]).

use crate::cli::McpArgs;
use crate::error::Result;

pub fn mcp(args: &McpArgs) -> Result<i32> {
    crate::pipeline::refuse_setid()?;
    match (&args.check, &args.tools) {
        (Some(file), _) => crate::mcp::check(file),
        (None, Some(file)) => crate::mcp::serve(args, file),
        // clap requires one of them.
        (None, None) => Ok(crate::error::exit::FAILED),
    }
}
