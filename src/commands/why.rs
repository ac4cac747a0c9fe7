//! `tooljail why REPORT | --last`: read the report or the caller's last audit record, and say
//! what was denied and what allows it ([`crate::why`]).

use crate::audit::{self, Filter};
use crate::cli::WhyArgs;
use crate::error::{Error, Result};
use crate::report::Report;

pub fn why(args: &WhyArgs) -> Result<i32> {
    let report = match &args.report {
        Some(path) => read_report(path)?,
        None => last_record(args.log.as_deref())?,
    };
    let answer = crate::why::explain(&report);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).expect("the answer serializes")
        );
    } else {
        print!("{}", crate::why::render(&answer));
    }
    Ok(0)
}

fn read_report(path: &std::path::Path) -> Result<Report> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!("report {}: {e}", path.display()))
            .with_hint("pass the file `tooljail run --report FILE` wrote, or --last")
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::usage(format!(
            "report {}: not a tooljail report ({e})",
            path.display()
        ))
        .with_hint("pass the file `tooljail run --report FILE` wrote, or --last")
    })
}

/// The last record in the audit log that the calling user made.
fn last_record(log: Option<&std::path::Path>) -> Result<Report> {
    let path = match log {
        Some(p) => p.to_path_buf(),
        None => audit::caller_default_path().ok_or_else(|| {
            Error::usage("no default audit log: HOME is not set").with_hint("pass --log PATH")
        })?,
    };
    let uid = nix::unistd::getuid().as_raw();
    let (records, _) = audit::query(&path, &Filter::default())?;
    records
        .into_iter()
        .rev()
        .find(|r| r.identity.caller_uid == uid)
        .ok_or_else(|| {
            Error::usage(format!(
                "audit log {}: no record of a run by uid {uid}",
                path.display()
            ))
            .with_hint("run something first, or pass --log PATH to the log your runs go to")
        })
}
