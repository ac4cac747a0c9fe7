//! The integration tests: one crate, one module per topic, one support module (support/).
//! Every test runs the real binary (or the library layer it names) and is bounded in time.

mod support;

mod audit;
mod fulljail_landlock;
mod fulljail_seccomp;
mod generated;
mod hardening_mem;
mod identity;
mod jail;
mod jail_cleanup;
mod jail_lifecycle;
mod jail_net;
mod landlock_layer;
mod limits;
mod orchestrator;
mod profiles_cli;
mod profiles_git;
mod profiles_net;
mod profiles_tools;
mod pty;
mod report;
mod seccomp_probe;
mod seccomp_tools;
mod sinks;
mod supervisor_hardening;
mod transcripts;
mod unenforced;
