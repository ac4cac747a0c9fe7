//! `tooljail check PROFILE...`: validate profiles (names or paths) as `run` would resolve them.
//! Every error is shown, one line each with its position; `main` renders the last one, so this
//! prints the others itself (each exactly once).

use crate::cli::CheckArgs;
use crate::error::Result;
use crate::host::RealHost;

pub fn check(args: &CheckArgs) -> Result<i32> {
    let mut errors = Vec::new();
    for name in &args.profiles {
        match crate::profile::check(&RealHost, name) {
            Ok(policy) => {
                let origin = policy
                    .profiles
                    .last()
                    .map_or(String::new(), |p| p.origin.clone());
                println!("{name}: ok ({origin})");
            }
            Err(errs) => errors.extend(errs),
        }
    }
    match errors.pop() {
        None => Ok(0),
        Some(last) => {
            for e in &errors {
                crate::shown::say(&e.to_string());
            }
            Err(last)
        }
    }
}
