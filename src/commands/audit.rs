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
    if args.verify {
        return verify(&path);
    }
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

/// `tooljail audit --verify`: the chain's verdict on stdout; 0 when whole, 1 at a break.
fn verify(path: &std::path::Path) -> Result<i32> {
    let file = std::fs::File::open(path).map_err(|e| {
        Error::usage(format!("audit log {}: {e}", path.display()))
            .with_hint("pass --log PATH to the audit log to verify")
    })?;
    let verdict = audit::chain::verify(std::io::BufReader::new(file)).map_err(|e| {
        Error::usage(format!("audit log {}: {e}", path.display()))
            .with_hint("pass --log PATH to a readable audit log")
    })?;
    match verdict {
        Ok(v) => {
            let old = if v.unchained > 0 {
                format!(
                    ", after {} unchained record(s) of a tooljail that did not chain",
                    v.unchained
                )
            } else {
                String::new()
            };
            let head = v.head.map_or(String::new(), |(seq, h)| {
                format!("; last record {seq}, sha256 {}", audit::chain::hex(&h))
            });
            println!(
                "{}: whole: {} chained record(s){old}{head}",
                path.display(),
                v.records
            );
            Ok(0)
        }
        Err(b) => {
            println!("{}:{}: chain broken: {}", path.display(), b.line, b.what);
            Ok(1)
        }
    }
}
