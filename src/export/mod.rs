//! Export: what leaves the jail. After the command is gone, the files of the scratch (or of a
//! directory in it) that `[export] patterns` name are copied to the host directory `to`, each
//! only if every rule lets it: a regular file with one link (never a symlink, a hard link, a
//! fifo, a device or a socket), a name without control characters or `..`, not on a forbid
//! list (the profile's, and the shipped one that refuses executables, libraries and scripts by
//! name and by content), within `max_bytes`, `max_total_bytes` and `max_files`, and not over an
//! existing file unless `overwrite = true`. The report lists every file exported (path, size,
//! sha256) and every one refused, with the rule.
//!
//! ```text
//!   prepare   before the supervisor drops root: open `to`; root forks the writer (writer.rs)
//!   scan      the scratch through pid 1's O_PATH fd, nothing followed         (scan.rs)
//!   rules     patterns, forbid lists, names, content (pure)                  (rules.rs)
//!   dest      temp file with O_EXCL, mode 0644, rename without replacing     (dest.rs)
//! ```

pub mod dest;
pub mod rules;
pub mod scan;
pub mod writer;

use crate::error::Result;
use crate::policy::Export;
use crate::report::{ExportReport, ExportedFile, RefusedFile};
use rules::{Refusal, Rules, CANNOT};
use scan::Found;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use writer::Writer;

/// An export made ready before the jail runs.
pub struct Exporter {
    policy: Export,
    rules: Rules,
    writer: Writer,
}

/// What the export did, for the report, and whether it fails the call (`strict`).
pub struct Exported {
    pub report: ExportReport,
    /// `strict = true` and a file was refused: the call fails with this message.
    pub strict_failure: Option<String>,
    /// Said once on stderr and in the report's warnings.
    pub warnings: Vec<String>,
}

impl Exporter {
    /// `None` when the Policy exports nothing. Opens `to` and, for a root caller, forks the
    /// writer process: call it while this process is still the caller, single-threaded.
    pub fn prepare(x: &Export) -> Result<Option<Exporter>> {
        let Some(to) = &x.to else {
            return Ok(None);
        };
        if x.patterns.is_empty() {
            return Ok(None);
        }
        let rules = Rules::new(x).map_err(|e| {
            crate::error::Error::usage(e)
                .with_hint("this is a tooljail bug: resolution accepted it")
        })?;
        let writer = Writer::prepare(to, x.overwrite)?;
        Ok(Some(Exporter {
            policy: x.clone(),
            rules,
            writer,
        }))
    }

    /// `[export] when`.
    pub fn when(&self) -> crate::policy::ExportWhen {
        self.policy.when
    }

    /// Who the exported files belong to (`None`: the caller).
    pub fn owner(&self) -> Option<(u32, u32)> {
        self.writer.owner()
    }

    /// Export from `scratch` (pid 1's O_PATH fd of the scratch root, `None` when the jail
    /// never got that far). `skip`: why nothing may leave (`when = "success"` and the command
    /// did not exit 0).
    pub fn run(mut self, scratch: Option<OwnedFd>, skip: Option<String>) -> Exported {
        let x = &self.policy;
        let mut out = Exported {
            report: ExportReport {
                to: x
                    .to
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                ..ExportReport::default()
            },
            strict_failure: None,
            warnings: Vec::new(),
        };
        let dir = match (skip, scratch) {
            (Some(why), _) => Err(why),
            (None, None) => Err("the jail ended before its scratch was built".to_string()),
            (None, Some(s)) => scan::open_dir(s.as_fd(), &x.from)
                .map_err(|e| format!("the export directory \"{}\" in the scratch: {e}", x.from)),
        };
        let dir = match dir {
            Ok(d) => d,
            Err(why) => {
                out.report.skipped = Some(why);
                self.writer.finish();
                return out;
            }
        };
        let found = match scan::walk(dir.as_fd(), &self.rules) {
            Ok((found, warning)) => {
                out.warnings.extend(warning);
                found
            }
            Err(e) => {
                out.report.skipped = Some(format!("listing the scratch failed: {e}"));
                self.writer.finish();
                return out;
            }
        };
        // First every rule that needs only the scratch; then, unless strict refuses the lot,
        // the writes (where an existing target can still refuse a file).
        let mut accepted = Vec::new();
        let (mut files, mut total) = (0u64, 0u64);
        for f in found {
            match self.check(dir.as_fd(), &f, files, total) {
                Ok(()) => {
                    files += 1;
                    total += f.size;
                    accepted.push(f);
                }
                Err(r) => out.report.refused.push(refused(&f.rel, r)),
            }
        }
        if x.strict && !out.report.refused.is_empty() {
            let why = format!(
                "strict = true and {} file(s) were refused; nothing was exported",
                out.report.refused.len()
            );
            out.report.skipped = Some(why.clone());
            out.strict_failure = Some(why);
            self.writer.finish();
            return out;
        }
        for f in accepted {
            // Opened again (and checked to be the same file) rather than kept open from the
            // check: thousands of files must not run into the open-file limit.
            let file = match scan::open_file(dir.as_fd(), &f) {
                Ok(file) => file,
                Err(e) => {
                    let r = Refusal::new("error", format!("cannot read it: {e}"), CANNOT);
                    out.report.refused.push(refused(&f.rel, r));
                    continue;
                }
            };
            let mut src = Hashing::new(file);
            match self.writer.put(&f.rel, &mut src, f.size) {
                Ok(()) => {
                    out.report.bytes += f.size;
                    out.report.exported.push(ExportedFile {
                        path: f.rel,
                        size: f.size,
                        sha256: src.hex(),
                    });
                }
                Err(dest::PutError::Exists) => out.report.refused.push(refused(
                    &f.rel,
                    Refusal::new(
                        "exists",
                        "a file of that name is already in the export directory",
                        "[export] overwrite = true, or remove the file",
                    ),
                )),
                Err(dest::PutError::Failed(e)) => out
                    .report
                    .refused
                    .push(refused(&f.rel, Refusal::new("error", e, CANNOT))),
            }
        }
        if x.strict && !out.report.refused.is_empty() {
            out.strict_failure = Some(format!(
                "strict = true and {} file(s) could not be written",
                out.report.refused.len()
            ));
        }
        self.writer.finish();
        out
    }

    /// Every rule that needs only the scratch, in the order the report names the first that
    /// refuses: name, type, links, forbid lists, size, count, total, content.
    fn check(
        &self,
        dir: std::os::fd::BorrowedFd<'_>,
        f: &Found,
        files: u64,
        total: u64,
    ) -> std::result::Result<(), Refusal> {
        let x = &self.policy;
        if let Some(r) = rules::bad_name(&f.raw) {
            return Err(r);
        }
        if let Some(r) = rules::by_type(f.kind, f.nlink) {
            return Err(r);
        }
        if let Some(r) = self.rules.forbidden(&f.rel) {
            return Err(r);
        }
        if f.size > x.max_bytes {
            return Err(Refusal::new(
                "max_bytes",
                format!("{} bytes, above max_bytes = {}", f.size, x.max_bytes),
                "[export] max_bytes",
            ));
        }
        if files >= x.max_files {
            return Err(Refusal::new(
                "max_files",
                format!(
                    "{files} files were already exported (max_files = {})",
                    x.max_files
                ),
                "[export] max_files",
            ));
        }
        if total.saturating_add(f.size) > x.max_total_bytes {
            return Err(Refusal::new(
                "max_total_bytes",
                format!(
                    "{} bytes after {total} would pass max_total_bytes = {}",
                    f.size, x.max_total_bytes
                ),
                "[export] max_total_bytes",
            ));
        }
        let unreadable =
            |e: std::io::Error| Refusal::new("error", format!("cannot read it: {e}"), CANNOT);
        let mut file = scan::open_file(dir, f).map_err(unreadable)?;
        let mut head = [0u8; 4];
        let n = read_up_to(&mut file, &mut head).map_err(unreadable)?;
        match self.rules.content(&f.rel, &head[..n]) {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }
}

fn refused(path: &str, r: Refusal) -> RefusedFile {
    RefusedFile {
        path: path.to_string(),
        rule: r.rule.to_string(),
        detail: r.detail,
        remedy: r.remedy,
    }
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A reader that hashes what passes through it: the sha256 in the report is of the bytes
/// handed to the writer.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn hex(self) -> String {
        self.hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
