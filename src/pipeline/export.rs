//! Stage `export`, in two steps around the jail. `prepare`, before launch: the export
//! directory is opened and, for a root caller, the writer process forked, while this process
//! is still the caller (the supervisor gives up root next). `apply`, after classify: the files
//! leave the scratch by the export policy (src/export/). Report: `export`.

use super::Call;
use crate::error::{exit, Error, Result};
use crate::export::Exporter;
use crate::policy::ExportWhen;
use crate::supervisor::End;
use std::os::fd::OwnedFd;

pub fn prepare(planned: &super::launch::Planned) -> Result<Option<Exporter>> {
    Exporter::prepare(&planned.plan.policy.export)
}

/// Export what the policy lets out of `scratch`, given how the command ended, and return the
/// call's exit status: `code`, or 125 when `strict = true` and a file was refused.
pub fn apply(
    call: &mut Call<'_>,
    exporter: Option<Exporter>,
    scratch: Option<OwnedFd>,
    end: &End,
    code: i32,
) -> Result<i32> {
    let Some(exporter) = exporter else {
        return Ok(code);
    };
    let skip = match (exporter.when(), end) {
        (ExportWhen::Always, _) | (ExportWhen::Success, End::Exited(0)) => None,
        (ExportWhen::Success, _) => Some(
            "the command did not exit 0 (when = \"success\"; when = \"always\" exports anyway)"
                .to_string(),
        ),
    };
    let done = tracing::debug_span!("export").in_scope(|| exporter.run(scratch, skip));
    for w in &done.warnings {
        crate::shown::warn(w);
        call.report.warnings.push(w.clone());
    }
    let r = &done.report;
    if !r.refused.is_empty() {
        let list: Vec<String> = r
            .refused
            .iter()
            .take(5)
            .map(|f| format!("{:?} ({})", f.path, f.rule))
            .collect();
        let more = r.refused.len().saturating_sub(5);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        crate::shown::say(&format!(
            "export: {} file(s) refused: {}{more}; the report's export.refused says why",
            r.refused.len(),
            list.join(", ")
        ));
    }
    call.report.export = Some(done.report);
    match done.strict_failure {
        None => Ok(code),
        Some(why) => {
            let e = Error::new(crate::error::ErrorKind::Export, "[export] strict", why)
                .with_hint("the report's export.refused lists each file and the rule");
            crate::shown::say(&e.to_string());
            call.report.error = Some((&e).into());
            Ok(exit::FAILED)
        }
    }
}
