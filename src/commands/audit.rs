use crate::audit::{self, Filter};
use crate::cli::AuditArgs;
use crate::error::{Error, Result};
use std::time::SystemTime;

pub fn audit(args: &AuditArgs) -> Result<i32> {
    let path = match &args.log {
        Some(p) => p.clone(),
        None => audit::caller_default_path().ok_or_else(|| {
            Error::usage("no default audit log: HOME is not set").with_hint("pass --log PATH")
        })?,
    };
    let now = SystemTime::now();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<SystemTime>> {
        v.as_deref()
            .map(|s| audit::parse_time(s, now).map_err(|e| Error::usage(format!("{flag} {e}"))))
            .transpose()
    };
    let filter = Filter {
        user: args.user.clone(),
        since: time("--since", &args.since)?,
        until: time("--until", &args.until)?,
        tool: args.tool.clone(),
        session: args.session.clone(),
        outcome: args.outcome,
    };
    let (records, bad) = audit::query(&path, &filter)?;
    if args.json {
        for r in &records {
            println!("{}", serde_json::to_string(r).expect("Report serializes"));
        }
    } else {
        print!("{}", audit::table(&records));
    }
    for b in &bad {
        eprintln!(
            "tooljail: {}:{}: not an audit record ({}); skipped",
            path.display(),
            b.line,
            b.error
        );
    }
    Ok(0)
}
