//! `extends`: loading a profile and everything it builds on, in order, and merging the layers.
//!
//! Order: a profile's `extends` entries are loaded depth-first, left to right, then the profile
//! itself; a profile reached twice (a diamond) is merged once, at its first place. Several `-p`
//! on the command line behave like one profile extending them in order.
//!
//! Merge rule, applied layer by layer in that order:
//! - single values (scalars, `description` aside): a later layer that sets the key wins;
//! - lists (paths, devices, syscalls, env keep, export patterns): union in order, duplicates
//!   dropped; an entry written `"!VALUE"` removes VALUE from what the earlier layers built (it
//!   is an error when there is nothing to remove, so a typo cannot keep access open);
//! - ports: union;
//! - `[env] set`: per key, a later layer wins; `[env] unset` removes keys from `set` and `keep`.

use super::schema::{Item, Layer, PortEntry};
use super::search;
use super::source::{parse, Sources};
use crate::error::{Error, Location};
use crate::host::Host;
use crate::policy::ProfileSource;

/// Deepest `extends` chain accepted; a bound so that a pathological set of files cannot
/// recurse without end even if two spellings of one file escaped de-duplication.
const MAX_DEPTH: usize = 32;

/// All the profiles one resolution merged, and the result.
#[derive(Debug, Clone)]
pub struct Merged {
    pub sources: Sources,
    /// The merged profiles in merge order (the ones named on the command line last).
    pub profiles: Vec<ProfileSource>,
    /// The `description` of the last profile named (not inherited).
    pub description: String,
    pub layer: Layer,
}

struct Loader<'a> {
    host: &'a dyn Host,
    sources: Sources,
    /// Ids of profiles being loaded (for cycle detection), with their names.
    stack: Vec<(String, String)>,
    /// Ids of profiles already merged.
    done: Vec<String>,
    layers: Vec<Layer>,
    profiles: Vec<ProfileSource>,
    errors: Vec<Error>,
    /// A profile could not be read at all (not found, or a syntax error): there is no sound
    /// layer to resolve. (An extends cycle or depth error skips only the entry that names it.)
    unreadable: bool,
}

/// Load `names` (from the command line; empty means `default`) with everything they extend,
/// and merge them. Returns every error found (one per file that does not parse, plus merge
/// errors).
pub fn load(host: &dyn Host, names: &[String]) -> Result<Merged, Vec<Error>> {
    match load_all(host, names) {
        (Some(merged), errors) if errors.is_empty() => Ok(merged),
        (_, errors) => Err(errors),
    }
}

/// [`load`], keeping going past the errors that leave the profiles readable: the merged layer
/// of what could be read (structural errors blank out their entries, see
/// [`super::source::parse`]) with every error found, so resolution can add the semantic ones.
/// `None` when a profile could not be read at all (not found, or a syntax error).
pub fn load_all(host: &dyn Host, names: &[String]) -> (Option<Merged>, Vec<Error>) {
    let default = ["default".to_string()];
    let names = if names.is_empty() {
        &default[..]
    } else {
        names
    };
    let mut l = Loader {
        host,
        sources: Sources::default(),
        stack: Vec::new(),
        done: Vec::new(),
        layers: Vec::new(),
        profiles: Vec::new(),
        errors: Vec::new(),
        unreadable: false,
    };
    let mut description = String::new();
    for name in names {
        let before = l.layers.len();
        l.visit(name, None);
        if l.layers.len() > before {
            description = l
                .layers
                .last()
                .and_then(|la| la.description.as_ref())
                .map(|d| d.value.lines().next().unwrap_or("").trim().to_string())
                .unwrap_or_default();
        }
    }
    // A profile that could not be read leaves nothing sound to merge.
    if l.unreadable {
        return (None, l.errors);
    }
    let mut layer = Layer::default();
    for next in std::mem::take(&mut l.layers) {
        merge(&mut layer, next, &l.sources, &mut l.errors);
    }
    let merged = Merged {
        sources: l.sources,
        profiles: l.profiles,
        description,
        layer,
    };
    (Some(merged), l.errors)
}

impl Loader<'_> {
    /// Load profile `arg`; `from` is the `extends` entry naming it (`None`: command line).
    fn visit(&mut self, arg: &str, from: Option<&Item<String>>) {
        let (location, dir) = match from {
            Some(item) => (
                self.sources.at(item),
                self.sources.files[item.src].dir.clone(),
            ),
            None => (Location::from(format!("-p {arg}")), None),
        };
        let file = match search::find(self.host, arg, dir.as_deref(), &location) {
            Ok(f) => f,
            Err(e) => {
                self.unreadable = true;
                return self.errors.push(e);
            }
        };
        if let Some(i) = self.stack.iter().position(|(id, _)| *id == file.id) {
            let mut cycle: Vec<&str> = self.stack[i..].iter().map(|(_, n)| n.as_str()).collect();
            cycle.push(&file.name);
            let e = Error::profile(
                location.clone(),
                format!("extends cycle: {}", cycle.join(" -> ")),
            )
            .with_hint("remove one of these extends entries");
            return self.errors.push(e);
        }
        if self.done.contains(&file.id) {
            return;
        }
        if self.stack.len() >= MAX_DEPTH {
            let e = Error::profile(
                location.clone(),
                format!("extends nested deeper than {MAX_DEPTH}"),
            )
            .with_hint("flatten the chain of profiles");
            return self.errors.push(e);
        }
        let (id, name, origin) = (file.id.clone(), file.name.clone(), file.origin.clone());
        let shadows_builtin = !origin.starts_with("builtin:")
            && search::builtin_text(&name).is_some_and(|t| t != file.text);
        let src = self.sources.add(file);
        // Every structural error of the file; resolution goes on with what is left of it, so
        // its semantic errors are reported in the same run.
        let (layer, errors) = parse(&self.sources, src);
        self.errors.extend(errors);
        let Some(layer) = layer else {
            self.unreadable = true;
            return;
        };
        self.stack.push((id.clone(), name.clone()));
        for parent in &layer.extends {
            self.visit(&parent.value, Some(parent));
        }
        self.stack.pop();
        self.done.push(id);
        self.profiles.push(ProfileSource {
            name,
            origin,
            shadows_builtin,
        });
        self.layers.push(layer);
    }
}

/// Merge `next` on top of `acc` (see the module docs for the rule).
pub fn merge(acc: &mut Layer, next: Layer, sources: &Sources, errors: &mut Vec<Error>) {
    fn set<T>(a: &mut Option<T>, b: Option<T>) {
        if b.is_some() {
            *a = b;
        }
    }
    let (a, b) = (acc, next);
    set(&mut a.description, b.description);
    set(&mut a.cwd, b.cwd);
    set(&mut a.hostname, b.hostname);
    set(&mut a.isolation, b.isolation);
    // Requirements only add up: a profile cannot drop what one it extends requires.
    for item in b.requires {
        if !a.requires.iter().any(|r| r.value == item.value) {
            a.requires.push(item);
        }
    }

    let (fa, fb) = (&mut a.filesystem, b.filesystem);
    merge_list(&mut fa.read_only, fb.read_only, sources, errors);
    merge_list(&mut fa.read_write, fb.read_write, sources, errors);
    merge_list(&mut fa.executable, fb.executable, sources, errors);
    merge_list(&mut fa.devices, fb.devices, sources, errors);
    set(&mut fa.scratch.path, fb.scratch.path);
    set(&mut fa.scratch.size, fb.scratch.size);
    set(&mut fa.scratch.exec, fb.scratch.exec);
    set(&mut fa.scratch.tmp, fb.scratch.tmp);
    set(&mut fa.scratch.shm, fb.scratch.shm);
    set(&mut fa.git.work_tree, fb.git.work_tree);
    set(&mut fa.git.write, fb.git.write);
    set(&mut fa.gpu, fb.gpu);
    set(&mut fa.observe_writes, fb.observe_writes);

    set(&mut a.network.mode, b.network.mode);
    merge_list(
        &mut a.network.allow_domains,
        b.network.allow_domains,
        sources,
        errors,
    );
    a.network.hosts.extend(b.network.hosts);
    a.network.credential.extend(b.network.credential);
    a.network.upstream_ca.extend(b.network.upstream_ca);
    for (pa, pb) in [
        (&mut a.network.tcp_connect, b.network.tcp_connect),
        (&mut a.network.tcp_bind, b.network.tcp_bind),
        (&mut a.network.allow_ports, b.network.allow_ports),
    ] {
        for p in pb {
            match p.value {
                PortEntry::Remove(n) => {
                    let before = pa.len();
                    pa.retain(|x| x.value != PortEntry::Port(n));
                    if pa.len() == before {
                        errors.push(
                            Error::profile(
                                sources.at(&p),
                                format!("nothing to remove: port {n} is not in the list this profile inherits"),
                            )
                            .with_hint("check the port against the extended profile (`tooljail explain -p NAME`)"),
                        );
                    }
                }
                PortEntry::Port(_) => {
                    if !pa.iter().any(|x| x.value == p.value) {
                        pa.push(p);
                    }
                }
            }
        }
    }

    merge_list(&mut a.syscalls.allow, b.syscalls.allow, sources, errors);
    merge_list(&mut a.syscalls.deny, b.syscalls.deny, sources, errors);
    merge_list(
        &mut a.syscalls.unsafe_allow,
        b.syscalls.unsafe_allow,
        sources,
        errors,
    );
    set(&mut a.syscalls.action, b.syscalls.action);

    set(&mut a.landlock.mode, b.landlock.mode);
    set(
        &mut a.landlock.scope_abstract_unix,
        b.landlock.scope_abstract_unix,
    );
    set(&mut a.landlock.scope_signals, b.landlock.scope_signals);

    let (la, lb) = (&mut a.limits, b.limits);
    set(&mut la.wall_time, lb.wall_time);
    set(&mut la.kill_after, lb.kill_after);
    set(&mut la.cpu_time, lb.cpu_time);
    set(&mut la.memory, lb.memory);
    set(&mut la.processes, lb.processes);
    set(&mut la.open_files, lb.open_files);
    set(&mut la.file_size, lb.file_size);
    set(&mut la.require_cgroup, lb.require_cgroup);

    merge_list(&mut a.env.keep, b.env.keep, sources, errors);
    a.env.set.extend(b.env.set);
    for u in b.env.unset {
        let in_set = a.env.set.remove(&u.value).is_some();
        let before = a.env.keep.len();
        a.env.keep.retain(|k| k.value != u.value);
        if !in_set && a.env.keep.len() == before {
            errors.push(
                Error::profile(
                    sources.at(&u),
                    format!(
                        "nothing to unset: \"{}\" is not in [env] set or keep",
                        u.value
                    ),
                )
                .with_hint("check the spelling, or remove this entry"),
            );
        }
    }

    let (xa, xb) = (&mut a.export, b.export);
    set(&mut xa.to, xb.to);
    set(&mut xa.from, xb.from);
    merge_list(&mut xa.patterns, xb.patterns, sources, errors);
    merge_list(&mut xa.forbid, xb.forbid, sources, errors);
    merge_list(&mut xa.allow, xb.allow, sources, errors);
    set(&mut xa.max_bytes, xb.max_bytes);
    set(&mut xa.max_total_bytes, xb.max_total_bytes);
    set(&mut xa.max_files, xb.max_files);
    set(&mut xa.overwrite, xb.overwrite);
    set(&mut xa.when, xb.when);
    set(&mut xa.strict, xb.strict);
    set(&mut a.output.stdout_max, b.output.stdout_max);
    set(&mut a.output.stderr_max, b.output.stderr_max);
    set(&mut a.output.mode, b.output.mode);
    set(&mut a.server.state, b.server.state);
    set(&mut a.budget.calls_per_minute, b.budget.calls_per_minute);
    set(
        &mut a.budget.max_identical_calls,
        b.budget.max_identical_calls,
    );
    set(&mut a.budget.identical_window, b.budget.identical_window);
    set(&mut a.budget.session_calls, b.budget.session_calls);
    set(&mut a.budget.session_cpu, b.budget.session_cpu);
    set(&mut a.budget.session_wall, b.budget.session_wall);
    set(&mut a.budget.state, b.budget.state);
    set(&mut a.budget.rate, b.budget.rate);
    set(&mut a.audit.enabled, b.audit.enabled);
    set(&mut a.audit.log, b.audit.log);
    merge_list(&mut a.command.allow, b.command.allow, sources, errors);
    merge_list(&mut a.command.deny, b.command.deny, sources, errors);
}

/// The identity of a list entry for de-duplication and removal: an optional path (`/x?`) and
/// the required one (`/x`) are the same entry.
fn key(v: &str) -> &str {
    v.strip_suffix('?').unwrap_or(v)
}

fn merge_list(
    acc: &mut Vec<Item<String>>,
    next: Vec<Item<String>>,
    sources: &Sources,
    errors: &mut Vec<Error>,
) {
    for item in next {
        if let Some(target) = item.value.strip_prefix('!') {
            let before = acc.len();
            acc.retain(|x| key(&x.value) != key(target));
            if acc.len() == before {
                errors.push(
                    Error::profile(
                        sources.at(&item),
                        format!("nothing to remove: \"{target}\" is not in the list this profile inherits"),
                    )
                    .with_hint("check the spelling against the extended profile (`tooljail explain -p NAME`)"),
                );
            }
        } else if let Some(i) = acc.iter().position(|x| key(&x.value) == key(&item.value)) {
            acc[i] = item;
        } else {
            acc.push(item);
        }
    }
}
