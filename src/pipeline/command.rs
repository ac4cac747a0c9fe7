//! Stage `command`, only when the Policy has `[command]` rules: the command line judged against
//! them before anything runs. A refused call runs nothing: outcome `refused`, exit 125,
//! `stopped_by.kind` `command_rule` naming the rule (and the profile line it was written on),
//! and its audit record like any other call.
//!
//! argv[0] is resolved as the jail will resolve it: each place the jail's PATH would try
//! (`plan::exec_candidates`), looked up on the host through the bind that shows it in the jail.

use super::resolve::Resolved;
use super::Call;
use crate::error::{Error, ErrorKind, Result};
use crate::policy::command::Refusal;
use crate::policy::resolve::lexical;
use crate::policy::{Place, Policy};
use crate::report::StoppedBy;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub fn judge(call: &mut Call<'_>, resolved: &Resolved) -> Result<()> {
    let policy = &resolved.policy;
    if policy.command.is_default() {
        return Ok(());
    }
    let argv: Vec<String> = call
        .args
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let which = |name: &str| which(policy, name);
    let Err(refusal) = policy.command.judge(&argv, &which) else {
        return Ok(());
    };
    let (name, origin, evidence, remedy) = match &refusal {
        Refusal::Denied { rule, line } => (
            rule.pattern.clone(),
            rule.origin.clone(),
            format!("`{line}` matches [command] deny \"{}\"", rule.pattern),
            format!(
                "remove \"{}\" from [command] deny ({}) if the tool may run this",
                rule.pattern, rule.origin
            ),
        ),
        Refusal::NotAllowed { line } => {
            let origins: Vec<&str> = policy
                .command
                .allow
                .iter()
                .map(|r| r.origin.as_str())
                .collect();
            (
                "allow".to_string(),
                origins.first().copied().unwrap_or_default().to_string(),
                format!("`{line}` matches no [command] allow rule"),
                format!(
                    "add a rule that matches it to [command] allow ({})",
                    origins.join(", ")
                ),
            )
        }
    };
    call.report.stopped_by = Some(StoppedBy {
        kind: "command_rule".into(),
        name: name.clone(),
        evidence: evidence.clone(),
        remedy: remedy.clone(),
        liftable: Some(true),
        retry_after_ms: None,
        used: None,
        limit: None,
    });
    let key = match refusal {
        Refusal::Denied { .. } => "deny",
        Refusal::NotAllowed { .. } => "allow",
    };
    // Located at the rule's line (for a refusal by `allow`, the first allow rule's).
    Err(Error::new(
        ErrorKind::Refused,
        origin,
        format!("[command] {key}: {evidence}"),
    )
    .with_hint(remedy))
}

/// The path inside the jail that `name` runs: the first place the jail's PATH tries that holds
/// an executable file, seen on the host through the bind that shows it. The scratch starts
/// empty, so nothing in it runs at the start.
fn which(policy: &Policy, name: &str) -> Option<String> {
    let path = policy.env.get("PATH").map(String::as_str);
    crate::plan::exec_candidates(name.as_bytes(), path)
        .into_iter()
        .filter_map(|c| String::from_utf8(c).ok())
        .map(|c| lexical(&policy.cwd.join(c)))
        .find(|jail| host_file(policy, jail).is_some_and(|h| executable(&h)))
        .map(|p| p.display().to_string())
}

/// The host file that shows at `jail` inside the jail, through its innermost bind.
fn host_file(policy: &Policy, jail: &Path) -> Option<PathBuf> {
    match policy.place_of(jail)? {
        Place::Bind(b) => Some(b.source.join(jail.strip_prefix(&b.target).ok()?)),
        Place::Scratch(_) => None,
    }
}

fn executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::lexical;
    use std::path::Path;

    #[test]
    fn candidates_are_taken_lexically() {
        assert_eq!(lexical(Path::new("/w/./a/../git")), Path::new("/w/git"));
        assert_eq!(lexical(Path::new("/../x")), Path::new("/x"));
    }
}
