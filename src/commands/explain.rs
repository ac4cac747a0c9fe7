//! `tooljail explain`: the fully resolved Policy, for a person (default) or as JSON (`--json`,
//! the same document `run` hashes into the report).

use crate::cli::ExplainArgs;
use crate::error::Result;
use crate::host::RealHost;
use crate::policy::resolve::errno_name;
use crate::policy::size::format_size;
use crate::policy::{Access, FileKind, IsolationMode, NetMode, Policy, SeccompAction, Wall};
use std::fmt::Write;

pub fn explain(args: &ExplainArgs) -> Result<i32> {
    let opts = crate::policy::resolve::Options::default();
    let policy = match crate::profile::resolve_args(&RealHost, &args.policy, opts) {
        Ok(p) => p,
        Err(mut errors) => {
            // Show every error, one line each; `main` renders the last.
            let last = errors
                .pop()
                .expect("resolution fails with at least one error");
            for e in &errors {
                crate::shown::say(&e.to_string());
            }
            return Err(last);
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&policy).expect("Policy serializes")
        );
    } else {
        print!("{}", render(&policy));
    }
    Ok(0)
}

fn dur(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "unlimited".to_string(), f)
}

/// The human-readable form: one section per concern, in the order of the profile format.
pub fn render(p: &Policy) -> String {
    let mut o = String::new();
    let w = &mut o;
    header(w, p);
    isolation(w, p);
    filesystem(w, p);
    network(w, p);
    syscalls(w, p);
    command(w, p);
    landlock(w, p);
    limits(w, p);
    environment(w, p);
    export(w, p);
    output(w, p);
    budget(w, p);
    audit(w, p);
    o
}

/// The profile, its hash and the profiles merged into it.
fn header(w: &mut String, p: &Policy) {
    let _ = writeln!(w, "profile: {} ({})", p.name(), p.description);
    let _ = writeln!(w, "policy hash: {}", p.hash());
    let _ = writeln!(w, "\nprofiles (merged in this order):");
    for s in &p.profiles {
        let _ = writeln!(w, "  {:<16} {}", s.name, s.origin);
    }
}

/// The isolation mode and the walls it has or lacks.
fn isolation(w: &mut String, p: &Policy) {
    let _ = writeln!(w, "\nisolation: {}", p.isolation.mode.name());
    match p.isolation.mode {
        IsolationMode::Full => {
            let _ = writeln!(
                w,
                "  namespaces (user, mount, pid, ipc, uts, cgroup; net unless host), a new root, Landlock, seccomp, rlimits"
            );
        }
        IsolationMode::Landlock => {
            let _ = writeln!(
                w,
                "  no namespaces: Landlock, seccomp, rlimits, no capabilities, no_new_privs; it lacks:"
            );
            for wall in Wall::lacking(p.isolation.mode) {
                let _ = writeln!(w, "  - {}: {}", wall.name(), wall.without());
            }
        }
    }
    if !p.isolation.requires.is_empty() {
        let names: Vec<&str> = p.isolation.requires.iter().map(|r| r.name()).collect();
        let _ = writeln!(w, "  requires: {}", names.join(", "));
    }
}

/// The binds, the scratch and the devices.
fn filesystem(w: &mut String, p: &Policy) {
    match p.isolation.mode {
        IsolationMode::Full => {
            let _ = writeln!(w, "\nfilesystem (nothing else exists inside):");
        }
        IsolationMode::Landlock => {
            let _ = writeln!(
                w,
                "\nfilesystem (host paths; Landlock denies everything else, which still exists; the scratch is a fresh host directory at run time):"
            );
        }
    }
    for b in &p.filesystem.binds {
        let access = match b.access {
            Access::ReadOnly => "ro",
            Access::ReadWrite => "rw",
        };
        let exec = if b.exec { "exec" } else { "noexec" };
        let from = if b.source == b.target {
            String::new()
        } else {
            format!(" <- {}", b.source.display())
        };
        let _ = writeln!(
            w,
            "  {access} {exec:<6} {:<4} {}{from}    [{}]",
            match b.kind {
                FileKind::Dir => "dir",
                FileKind::File => "file",
            },
            b.target.display(),
            b.origin
        );
    }
    let s = &p.filesystem.scratch;
    let mut also = Vec::new();
    if s.tmp {
        also.push("/tmp");
    }
    if s.shm {
        also.push("/dev/shm");
    }
    let _ = writeln!(
        w,
        "\nscratch: {} tmpfs, {}, {}{}",
        s.path.display(),
        format_size(s.size),
        if s.exec { "exec" } else { "noexec" },
        if also.is_empty() {
            String::new()
        } else {
            format!(", also {}", also.join(" and "))
        }
    );
    let devices: Vec<String> = p
        .filesystem
        .devices
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    let _ = writeln!(w, "devices: {}", none_if_empty(&devices));
}

/// The network mode, and the egress proxy's names, ports and credentials.
fn network(w: &mut String, p: &Policy) {
    let n = &p.network;
    let mode = match (n.mode, p.isolation.mode) {
        (NetMode::None, IsolationMode::Full) => "none (private namespace, only lo)",
        (NetMode::Loopback, IsolationMode::Full) => "loopback (private namespace, only lo)",
        (NetMode::None | NetMode::Loopback, IsolationMode::Landlock) => {
            "none (no network namespace: seccomp refuses AF_INET and AF_INET6 sockets, Landlock every TCP bind and connect)"
        }
        (NetMode::Host, _) => "host (the host's network)",
    };
    let _ = writeln!(w, "\nnetwork: {mode}");
    if n.mode == NetMode::Host {
        let _ = writeln!(w, "  tcp connect: {}", ports(&n.tcp_connect));
        let _ = writeln!(w, "  tcp bind:    {}", ports(&n.tcp_bind));
    }
    if let Some(e) = &n.egress {
        let _ = writeln!(
            w,
            "  egress proxy: 127.0.0.1:{} and a resolver on 127.0.0.1:53, to these names only:",
            crate::policy::PROXY_PORT
        );
        let _ = writeln!(w, "    domains: {}", e.domains.join(" "));
        let _ = writeln!(w, "    ports:   {}", ports(&e.ports));
        for (name, ip) in &e.hosts {
            let _ = writeln!(w, "    host {name} = {ip}");
        }
        for c in &e.credentials {
            let over = if c.terminate_tls {
                "plain HTTP and HTTPS (TLS terminated with a per-call CA the jail trusts)"
            } else {
                "plain HTTP"
            };
            let _ = writeln!(
                w,
                "    credential {}: placeholder in the jail; the real value in {} of {over} requests to {}",
                c.env,
                c.header,
                c.hosts.join(" ")
            );
        }
        for ca in &e.upstream_ca {
            let _ = writeln!(w, "    upstream CA: {}", ca.display());
        }
    }
}

/// The seccomp allow-list and what happens to any other call.
fn syscalls(w: &mut String, p: &Policy) {
    let action = match p.syscalls.action {
        SeccompAction::Errno(e) => format!("fail with errno {e} ({})", errno_name(e)),
        SeccompAction::Kill => "kill the process".into(),
        SeccompAction::Log => "allow and log (profile-writing mode)".into(),
    };
    let _ = writeln!(
        w,
        "\nsyscalls: {} allowed; any other: {action}",
        p.syscalls.allow.len()
    );
    let _ = writeln!(
        w,
        "  allowed: {}",
        wrap(&none_if_empty(&p.syscalls.allow), 11, 96)
    );
    let _ = writeln!(
        w,
        "  hardening turned off (unsafe_allow): {}",
        none_if_empty(&p.syscalls.unsafe_allow)
    );
}

/// The command-line rules, when the profile has any.
fn command(w: &mut String, p: &Policy) {
    if !p.command.is_default() {
        let _ = writeln!(
            w,
            "\ncommand lines (checked before anything runs; deny wins):"
        );
        for (key, rules) in [("allow", &p.command.allow), ("deny", &p.command.deny)] {
            for r in rules {
                let _ = writeln!(w, "  {key:<6} {:<30} {}", r.pattern, r.origin);
            }
        }
    }
}

/// The Landlock rules exactly as the jail applies them.
fn landlock(w: &mut String, p: &Policy) {
    // The rules exactly as the jail applies them (same function), and what of them this kernel
    // cannot enforce: a right it does not know is listed above but enforced nowhere.
    let landlock = crate::plan::landlock::plan(p);
    let _ = write!(w, "\n{landlock}");
    match crate::preflight::kernel_abi() {
        Some(abi) => {
            let beyond: Vec<String> = landlock
                .beyond_abi(abi)
                .iter()
                .map(|(name, needs)| format!("{name} (needs ABI {needs})"))
                .collect();
            if !beyond.is_empty() {
                let _ = writeln!(
                    w,
                    "  not enforced by this kernel (Landlock ABI {abi}): {}",
                    beyond.join(", ")
                );
            }
        }
        None => {
            let _ = writeln!(w, "  not enforced: this kernel has no Landlock");
        }
    }
}

/// Each limit.
fn limits(w: &mut String, p: &Policy) {
    let m = &p.limits;
    let _ = writeln!(w, "\nlimits:");
    let _ = writeln!(
        w,
        "  wall time:    {} (then SIGKILL after {})",
        dur(m.wall_time),
        dur(m.kill_after)
    );
    let _ = writeln!(w, "  cpu time:     {}", opt(m.cpu_time, dur));
    let _ = writeln!(w, "  memory:       {}", opt(m.memory, format_size));
    let _ = writeln!(w, "  processes:    {}", opt(m.processes, |v| v.to_string()));
    let _ = writeln!(
        w,
        "  open files:   {}",
        opt(m.open_files, |v| v.to_string())
    );
    let _ = writeln!(w, "  file size:    {}", opt(m.file_size, format_size));
    let _ = writeln!(
        w,
        "  cgroup:       {}",
        if m.require_cgroup {
            "required"
        } else {
            "preferred (rlimits otherwise)"
        }
    );
}

/// The environment, the working directory and the hostname.
fn environment(w: &mut String, p: &Policy) {
    let _ = writeln!(w, "\nenv (the complete environment):");
    for (k, v) in &p.env {
        let _ = writeln!(w, "  {k}={v}");
    }
    let _ = writeln!(w, "\ncwd: {}", p.cwd.display());
    let _ = writeln!(w, "hostname: {}", p.hostname);
}

/// What leaves the scratch directory, and where to.
fn export(w: &mut String, p: &Policy) {
    let e = &p.export;
    match &e.to {
        Some(to) => {
            let from = if e.from.is_empty() {
                "the scratch"
            } else {
                e.from.as_str()
            };
            let _ = writeln!(
                w,
                "\nexport (when the command {}): {} below {from} -> {} (each at most {}, {} in all, {} files{}{})",
                match e.when {
                    crate::policy::ExportWhen::Success => "exits 0",
                    crate::policy::ExportWhen::Always => "ends, however",
                },
                none_if_empty(&e.patterns),
                to.display(),
                format_size(e.max_bytes),
                format_size(e.max_total_bytes),
                e.max_files,
                if e.overwrite { "; overwrites" } else { "" },
                if e.strict { "; strict" } else { "" },
            );
            let _ = writeln!(
                w,
                "  never: symlinks, hard links, fifos, devices, sockets, names with control characters or \"..\", \
                 ELF files and #! scripts{}; forbidden: {} and the default list{}",
                if e.allow.is_empty() { String::new() } else { format!(" (but for {})", e.allow.join(", ")) },
                none_if_empty(&e.forbid),
                if e.allow.is_empty() { String::new() } else { format!(" (lifted for {})", e.allow.join(", ")) },
            );
        }
        None if !e.patterns.is_empty() => {
            let _ = writeln!(
                w,
                "\nexport: {} (nothing leaves until a destination is given: --export-to DIR)",
                none_if_empty(&e.patterns)
            );
        }
        None => {
            let _ = writeln!(w, "\nexport: nothing leaves the scratch directory");
        }
    }
}

/// The caps on stdout and stderr.
fn output(w: &mut String, p: &Policy) {
    for (name, cap) in [("stdout", p.output.stdout), ("stderr", p.output.stderr)] {
        let _ = match cap {
            Some(c) => writeln!(
                w,
                "output: {name} capped at {} ({}; the rest is dropped and counted)",
                format_size(c.max),
                c.mode.name()
            ),
            None => writeln!(w, "output: {name} uncapped (the caller's own descriptor)"),
        };
    }
}

/// The call budget's rules.
fn budget(w: &mut String, p: &Policy) {
    let b = &p.budget;
    if !b.has_rules() {
        let _ = writeln!(w, "budget: no call rules (no state store is opened)");
    } else {
        let h = |d: std::time::Duration| humantime::format_duration(d).to_string();
        for r in crate::state::rules::rate_rules(b) {
            let _ = writeln!(
                w,
                "budget: at most {} calls per {} per {}",
                r.limit,
                h(r.window),
                crate::state::rules::per_text(&r.per)
            );
        }
        if let Some(n) = b.max_identical_calls {
            let _ = writeln!(
                w,
                "budget: loop guard: at most {n} identical calls per session within {}",
                h(b.identical_window)
            );
        }
        let _ = writeln!(
            w,
            "budget: per session: calls {}, cpu {}, wall {}; store: {}",
            opt(b.session_calls, |v| v.to_string()),
            opt(b.session_cpu, h),
            opt(b.session_wall, h),
            b.state
                .clone()
                .unwrap_or_else(|| "--state, else the default SQLite file".to_string())
        );
    }
}

/// The audit log.
fn audit(w: &mut String, p: &Policy) {
    let a = &p.audit;
    let _ = writeln!(
        w,
        "audit: {}",
        match (a.enabled, &a.log) {
            (false, _) => "off".to_string(),
            (true, None) => "on (default log location)".to_string(),
            (true, Some(l)) => format!("on, log {}", l.display()),
        }
    );
}

fn none_if_empty(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(" ")
    }
}

fn ports(v: &[u16]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.iter().map(u16::to_string).collect::<Vec<_>>().join(" ")
    }
}

/// Break a space-separated list into lines of at most `width` columns, continuation lines
/// indented by `indent` (the long syscall list stays readable in a terminal).
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    for word in text.split(' ') {
        if col > indent && col + 1 + word.len() > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if col > indent {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn long_lists_wrap_under_their_label() {
        assert_eq!(wrap("aa bb cc dd", 2, 8), "aa bb\n  cc dd");
        assert_eq!(wrap("none", 11, 96), "none");
        assert_eq!(
            wrap("averyveryverylongword x", 2, 8),
            "averyveryverylongword\n  x"
        );
    }
}
