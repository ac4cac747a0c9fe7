//! Stage `begin`: the call's report is started (argv, caller, labels) and the `--report` sink is
//! opened first, with the invoking user's rights, so that a bad `--report` fails before
//! anything runs. A bad `--report` is still a refused call: it leaves an audit record like any
//! other failure.

use super::Call;
use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::report::{OpenSink, Report, Sink};

/// The report begun and the sink opened; the `Result` says whether the sink could be opened
/// (if not, the call goes straight to the record stage).
pub fn begin(args: &RunArgs) -> (Call<'_>, Result<()>) {
    let started = std::time::Instant::now();
    let argv: Vec<String> = args
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut report = Report::begin(argv);
    let caller = nix::unistd::getuid();
    report.identity.caller_uid = caller.as_raw();
    report.identity.caller_user = crate::host::caller_account().map(|u| u.name.clone());
    report.identity.session = args.session.clone();
    report.identity.agent = args.agent.clone();
    report.identity.tool = args.tool.clone();
    let client = args.client.as_deref().map(parse_client).transpose();
    if let Ok(c) = &client {
        report.identity.client = c.clone();
    }
    let (sink, opened) = match args.report.as_deref().map(open_sink).transpose() {
        Ok(sink) => (sink, client.map(|_| ())),
        Err(e) => (None, Err(e)),
    };
    let call = Call {
        args,
        report,
        started,
        sink,
        audit: None,
        root_helper: None,
        uid_lease: None,
        state: None,
        pid1: None,
    };
    (call, opened)
}

/// Refuse to run with an effective uid or gid other than the real one (a setuid or setgid
/// binary): every path the caller names would be opened with the file owner's rights.
pub fn refuse_setid() -> Result<()> {
    let ids = nix::unistd::getresuid().and_then(|u| Ok((u, nix::unistd::getresgid()?)));
    let (uid, gid) = ids.map_err(|e| {
        Error::usage(format!(
            "cannot read this process's uids and gids: {}",
            e.desc()
        ))
        .with_hint("run tooljail on Linux with /proc mounted")
    })?;
    if uid.real != uid.effective || gid.real != gid.effective {
        let path = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "PATH".into());
        return Err(Error::usage(format!(
            "tooljail must not be setuid/setgid (real uid {} gid {}, effective uid {} gid {})",
            uid.real, gid.real, uid.effective, gid.effective
        ))
        .with_hint(format!("remove the bit: chmod u-s,g-s {path}")));
    }
    Ok(())
}

/// `--client JSON`: the MCP client's identity, a JSON object.
fn parse_client(text: &str) -> Result<serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(
            Error::usage(format!("--client {text:?} is not a JSON object"))
                .with_hint("pass an object such as {\"name\":\"my-agent\",\"version\":\"1.0\"}"),
        ),
    }
}

fn open_sink(spec: &str) -> Result<OpenSink> {
    let sink: Sink = spec.parse().map_err(|m| {
        Error::usage(format!("--report {m}")).with_hint("use FILE, `-` (stdout) or fd:N")
    })?;
    sink.open()
}
