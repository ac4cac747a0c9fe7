//! The integration tests: one crate, one module per topic, one support module (support/).
//! Every test runs the real binary (or the library layer it names) and is bounded in time.
// The tests make raw syscalls to attack the jail and to give commands a terminal (each unsafe
// block still says why it is sound), and pass C ints around as the kernel sees them; the
// product's own code keeps `unsafe` in src/sys/ and has no lossy casts.
#![allow(
    unsafe_code,
    clippy::multiple_unsafe_ops_per_block,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_lossless,
    clippy::ptr_as_ptr
)]

mod support;

mod audit;
mod cancel;
mod command_rules;
mod containers;
mod doc_examples;
mod egress;
mod export;
mod first_contact;
mod fulljail_landlock;
mod fulljail_seccomp;
mod generated;
mod git_worktrees;
mod gpu;
mod hardening_mem;
mod identity;
mod jail;
mod jail_cleanup;
mod jail_lifecycle;
mod jail_net;
mod landlock_layer;
mod learn;
mod limits;
mod malformed;
mod mcp;
mod mcp_servers;
mod orchestrator;
mod output;
mod profiles_cli;
mod profiles_git;
mod profiles_net;
mod profiles_tools;
mod pty;
mod python;
mod report;
mod report_golden;
mod root_callers;
mod seccomp_probe;
mod seccomp_tools;
mod shell_prefix;
mod sinks;
mod state;
mod stress;
mod supervisor_hardening;
mod terminal;
mod transcripts;
mod why;
