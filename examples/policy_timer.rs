//! The supervisor's own work before the jail exists, in process and warm: resolving the default
//! profile into a Policy (`tooljail::profile::policy_from_args`: the profiles parsed and merged,
//! paths resolved, syscall groups expanded) and compiling its seccomp program. docs/startup.md
//! gives the figures; `benches/startup.sh` measures whole calls.
//!
//! Usage: cargo run --release --example policy_timer [ROUNDS]   (default 2000)

use std::time::Instant;

fn per_round(n: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let args = tooljail::cli::PolicyArgs::default();
    let policy = tooljail::profile::policy_from_args(&args).expect("the default profile resolves");
    let resolve = per_round(n, || {
        let p = tooljail::profile::policy_from_args(&args).expect("resolves");
        std::hint::black_box(p);
    });
    let compile = per_round(n, || {
        let p = tooljail::plan::seccomp::compile(&policy).expect("compiles");
        std::hint::black_box(p);
    });
    println!("default profile, {n} rounds, mean per round:");
    println!("  resolve the Policy          {resolve:7.1} us");
    println!("  compile the seccomp program {compile:7.1} us");
}
