use crate::audit::{self, Filter};
use crate::cli::AuditArgs;
use crate::error::{Error, Result};
use std::time::SystemTime;

pub fn audit(args: &AuditArgs) -> Result<i32> {
    let filter = filter(args)?;
    if let Some(url) = &args.state {
        return from_store(args, url, &filter);
    }
    let path = match &args.log {
        Some(p) => p.clone(),
        None => audit::caller_default_path().ok_or_else(|| {
            Error::usage("no default audit log: HOME is not set").with_hint("pass --log PATH")
        })?,
    };
    if args.verify {
        return verify(&path);
    }
    let (records, bad) = audit::query(&path, &filter)?;
    print_records(args, &records);
    for b in &bad {
        crate::shown::say(&format!(
            "{}:{}: not an audit record ({}); skipped",
            path.display(),
            b.line,
            b.error
        ));
    }
    Ok(0)
}

/// `--state URL`: the audit records a store keeps (every host's, for a shared store).
fn from_store(args: &AuditArgs, url: &str, filter: &Filter) -> Result<i32> {
    let url = crate::state::Url::choose(Some(url), None)?;
    let mut store = crate::state::open(&url, false)?;
    let lines = store
        .audit_records()
        .map_err(|e| crate::state::error(&url, e))?;
    let mut records = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<crate::report::Report>(line) {
            Ok(r) if filter.matches(&r) => records.push(r),
            Ok(_) => {}
            Err(e) => crate::shown::say(&format!(
                "{}: record {}: not an audit record ({e}); skipped",
                url.shown(),
                i + 1
            )),
        }
    }
    print_records(args, &records);
    Ok(0)
}

fn print_records(args: &AuditArgs, records: &[crate::report::Report]) {
    if args.json {
        for r in records {
            println!("{}", serde_json::to_string(r).expect("Report serializes"));
        }
    } else {
        print!("{}", audit::table(records));
    }
}

fn filter(args: &AuditArgs) -> Result<Filter> {
    let now = SystemTime::now();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<SystemTime>> {
        v.as_deref()
            .map(|s| audit::parse_time(s, now).map_err(|e| Error::usage(format!("{flag} {e}"))))
            .transpose()
    };
    Ok(Filter {
        user: args.user.clone(),
        since: time("--since", &args.since)?,
        until: time("--until", &args.until)?,
        tool: args.tool.clone(),
        session: args.session.clone(),
        outcome: args.outcome,
    })
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
