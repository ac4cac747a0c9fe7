use crate::cli::ExplainArgs;
use crate::error::Result;

pub fn explain(args: &ExplainArgs) -> Result<i32> {
    let policy = crate::profile::policy_from_args(&args.policy)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&policy).expect("Policy serializes")
    );
    Ok(0)
}
