//! Parse, run, render an error once, exit. This is the only place that picks an exit code.

// The C runtime calls tooljail's `main` directly: see it.
#![no_main]

use clap::Parser;
use std::ffi::{c_char, c_int};
use tooljail::cli::Cli;

/// The process's entry point, called by the C runtime without Rust's own start-up, which costs
/// every call about 20 system calls and 6 page faults (docs/startup.md) for what tooljail does
/// not use: an alternate signal stack and handlers that name a stack overflow (one is still a
/// crash), the main thread's stack bounds read from /proc/self/maps, SIGPIPE ignored (tooljail
/// wants it default). What of it tooljail needs is done here: stdio descriptors that are closed
/// get /dev/null, and `std::process::exit` flushes stdout as a return from Rust's main does.
/// The arguments are read through `std::env::args`, which glibc hands to the Rust runtime
/// before `main` in either case.
#[allow(
    unsafe_code,
    reason = "no_mangle: the one `main` symbol the C runtime calls"
)]
#[no_mangle]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    tooljail::sys::process::default_sigpipe();
    if let Err(e) = tooljail::sys::process::open_closed_stdio() {
        tooljail::shown::say(&format!(
            "open /dev/null for a closed stdio descriptor: {e}"
        ));
        std::process::exit(tooljail::error::exit::FAILED);
    }
    std::process::exit(run())
}

fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if let Some((word, fixed)) = forgot_the_separator(&e) {
                tooljail::shown::say(&format!(
                    "\"{word}\" is not a tooljail subcommand; to run it in a jail, \
                     put the command after `--`: {fixed}"
                ));
                return exit_code(tooljail::error::exit::FAILED);
            }
            // --help and --version are not failures; usage errors are tooljail's own (125).
            let code = if e.use_stderr() {
                tooljail::error::exit::FAILED
            } else {
                0
            };
            if code == 0 {
                let _ = e.print();
            } else {
                tooljail::shown::say(&usage_error_line(&e));
            }
            return exit_code(code);
        }
    };
    let verbose = cli.global.verbose;
    init_logging(verbose, cli.global.log_format);
    let code = match tooljail::commands::dispatch(cli) {
        Ok(code) => exit_code(code),
        Err(e) => {
            tooljail::shown::say(&e.to_string());
            if verbose > 0 {
                let errno = e.errno.map(|n| format!(", errno {n}")).unwrap_or_default();
                tooljail::shown::say(&format!(
                    "({:?} error{errno}, retryable: {})",
                    e.kind, e.retryable
                ));
            }
            exit_code(e.exit_code())
        }
    };
    // Nothing tooljail holds may outlive its memory: a process that exits loses its address
    // space before its descriptors, and in between any process of the same uid may take them
    // (pidfd_getfd, /proc/PID/fd: with no memory left the kernel checks the uid alone). So the
    // report, the audit log and every other descriptor above stderr are closed first.
    let _ = tooljail::sys::process::close_range(3, 0);
    code
}

/// A usage error as one line, like every other error of tooljail's: clap's message, its tips
/// and the usage, each part after "; " (clap prints them on several lines).
fn usage_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut parts: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with("For more information") {
            continue;
        }
        if line.starts_with(' ') {
            if let Some(last) = parts.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
                continue;
            }
        }
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let line = line.strip_prefix("tip: ").unwrap_or(line);
        let line = line.replacen("Usage: ", "usage: ", 1);
        parts.push(line);
    }
    parts.push("see --help".into());
    parts.join("; ")
}

/// When clap refused a word that is no option (`tooljail ls -l`), the word and the command
/// line with the `--` the caller most likely forgot: `tooljail -- ls -l`.
fn forgot_the_separator(e: &clap::Error) -> Option<(String, String)> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::UnknownArgument | ErrorKind::InvalidSubcommand
    ) {
        return None;
    }
    let word = match e
        .get(ContextKind::InvalidArg)
        .or_else(|| e.get(ContextKind::InvalidSubcommand))?
    {
        ContextValue::String(s) => s.clone(),
        _ => return None,
    };
    let args: Vec<String> = std::env::args().collect();
    if word.starts_with('-') || args.iter().any(|a| a == "--") {
        return None;
    }
    let at = args.iter().skip(1).position(|a| *a == word)? + 1;
    let mut fixed = args;
    fixed[0] = "tooljail".into();
    fixed.insert(at, "--".into());
    Some((word, fixed.join(" ")))
}

/// An exit status as the process's exit code (statuses are 0..=255 by construction).
fn exit_code(code: i32) -> i32 {
    code.clamp(0, 255)
}

/// Diagnostics on stderr. Quiet by default; `-v` shows tooljail's debug events (each setup
/// step), `-vv` also every span's duration when it closes, so start-up time can be read off.
/// `TOOLJAIL_LOG` (a tracing filter) overrides the level. The subscriber writes synchronously
/// and starts no thread: the supervisor must be single-threaded when it clones.
fn init_logging(verbose: u8, format: tooljail::cli::LogFormat) {
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "tooljail=debug",
        _ => "tooljail=trace",
    };
    let filter =
        EnvFilter::try_from_env("TOOLJAIL_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let spans = if verbose >= 2 {
        FmtSpan::CLOSE
    } else {
        FmtSpan::NONE
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = match format {
        tooljail::cli::LogFormat::Text => builder.try_init(),
        tooljail::cli::LogFormat::Json => builder.json().try_init(),
    };
}
