//! Start-up bench helper: times commands side by side, interleaved.
//!
//!     spawn_timer ROUNDS NAME=COMMAND [NAME=COMMAND...]
//!
//! Each round runs every command once, in the order given (so load that changes during the
//! run skews every row alike), with stdin, stdout and stderr on /dev/null, and times it from
//! spawn to reaped exit with a monotonic clock in this process: no shell and no `date` fork in
//! the measurement. COMMAND is split on spaces (no quoting; use a wrapper script for more).
//! A command that fails stops the run (a jail that fails fast would look cheap).
//!
//! Beside the wall time it takes the CPU time (user + system) of the command's whole process
//! tree (getrusage of reaped children), which a loaded machine disturbs far less than the wall
//! time. The timer is a child subreaper and reaps what a command leaves behind before it reads
//! the CPU time, so a process that outlives its parent is counted too (bubblewrap's outer
//! process exits before its jail's last process is reaped). Work the kernel does later in its
//! own threads (a network namespace's teardown) is in neither.
//!
//! Prints one line per row: name, median wall time with its first and third quartile, and the
//! median CPU time, in microseconds; then, when rows named `bare`, `unshare`, `bwrap`, `floor`
//! and `tooljail*` are there, each tooljail row's overhead over `bare` (wall and CPU) as a ratio
//! of bwrap's, unshare's and the floor's (benches/floor.c).

use nix::sys::resource::{getrusage, UsageWho};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// CPU time (user + system) of all reaped children so far, in microseconds.
fn children_cpu() -> u64 {
    let Ok(u) = getrusage(UsageWho::RUSAGE_CHILDREN) else {
        return 0;
    };
    let us = |t: nix::sys::time::TimeVal| {
        u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec()).unwrap_or(0)
    };
    us(u.user_time()) + us(u.system_time())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(rounds) = args.next().and_then(|n| n.parse::<usize>().ok()) else {
        eprintln!("usage: spawn_timer ROUNDS NAME=COMMAND...");
        return ExitCode::from(2);
    };
    let rows: Vec<(String, Vec<String>)> = args
        .filter_map(|a| {
            let (name, cmd) = a.split_once('=')?;
            Some((
                name.to_string(),
                cmd.split(' ').map(str::to_string).collect(),
            ))
        })
        .collect();
    if rows.is_empty() {
        eprintln!("usage: spawn_timer ROUNDS NAME=COMMAND...");
        return ExitCode::from(2);
    }
    // Orphans of a command's process tree come to this process, not to init, so their CPU time
    // is counted: a sandbox whose outer process exits before its jail's last process (bubblewrap
    // does) would otherwise look cheaper than it is.
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        eprintln!("spawn_timer: PR_SET_CHILD_SUBREAPER: {e}");
        return ExitCode::FAILURE;
    }
    let mut samples: Vec<Vec<u64>> = vec![Vec::with_capacity(rounds); rows.len()];
    let mut cpu: Vec<Vec<u64>> = vec![Vec::with_capacity(rounds); rows.len()];
    for _ in 0..rounds {
        for (i, (name, argv)) in rows.iter().enumerate() {
            let c0 = children_cpu();
            let t0 = Instant::now();
            let status = Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let took = t0.elapsed();
            // Descendants the command left behind were handed to us (the subreaper): their CPU
            // counts only once they are reaped.
            while nix::sys::wait::waitpid(None, None).is_ok() {}
            match status {
                Ok(s) if s.success() => {}
                other => {
                    eprintln!("spawn_timer: {name} failed: {other:?} ({})", argv.join(" "));
                    return ExitCode::FAILURE;
                }
            }
            samples[i].push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
            cpu[i].push(children_cpu().saturating_sub(c0));
        }
    }
    let mut medians = Vec::new();
    for (((name, argv), s), c) in rows.iter().zip(&mut samples).zip(&mut cpu) {
        s.sort_unstable();
        c.sort_unstable();
        let q = |v: &[u64], f: usize| v[(v.len() - 1) * f / 4];
        println!(
            "{name:<24} wall {:>6} us (q1 {:>6}, q3 {:>6})  cpu {:>6} us  {}",
            q(s, 2),
            q(s, 1),
            q(s, 3),
            q(c, 2),
            argv.join(" ")
        );
        medians.push((name.as_str(), q(s, 2) as f64, q(c, 2) as f64));
    }
    let get = |n: &str| {
        medians
            .iter()
            .find(|(m, ..)| *m == n)
            .map(|&(_, w, c)| (w, c))
    };
    if let Some((bare_wall, bare_cpu)) = get("bare") {
        for &(name, wall, cpu) in medians.iter().filter(|(n, ..)| n.starts_with("tooljail")) {
            let (over_wall, over_cpu) = (wall - bare_wall, cpu - bare_cpu);
            let mut line =
                format!("{name:<24} overhead wall {over_wall:>6.0} us, cpu {over_cpu:>6.0} us");
            for base in ["bwrap", "unshare", "floor"] {
                if let Some((w, c)) = get(base) {
                    line += &format!(
                        "; {:.2}x {base}'s wall, {:.2}x its cpu",
                        over_wall / (w - bare_wall),
                        over_cpu / (c - bare_cpu)
                    );
                }
            }
            println!("{line}");
        }
    }
    ExitCode::SUCCESS
}
