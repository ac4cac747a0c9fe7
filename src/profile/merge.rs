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

use super::schema::{
    AuditLayer, BudgetLayer, CommandLayer, EnvLayer, ExportLayer, FilesystemLayer, GitLayer, Item,
    LandlockLayer, Layer, LimitsLayer, NetworkLayer, OutputLayer, PortEntry, ScratchLayer,
    ServerLayer, SyscallsLayer,
};
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
    // Every key is named, here and in each section: a new key does not compile until it says
    // how it merges.
    let Layer {
        description,
        // Loaded before this layer ([`load_all`]), not merged.
        extends: _,
        cwd,
        hostname,
        isolation,
        requires,
        filesystem,
        network,
        syscalls,
        landlock,
        limits,
        env,
        export,
        output,
        budget,
        audit,
        command,
        server,
    } = next;
    let a = acc;
    set(&mut a.description, description);
    set(&mut a.cwd, cwd);
    set(&mut a.hostname, hostname);
    set(&mut a.isolation, isolation);
    // Requirements only add up: a profile cannot drop what one it extends requires.
    for item in requires {
        if !a.requires.iter().any(|r| r.value == item.value) {
            a.requires.push(item);
        }
    }
    let mut m = Merge { sources, errors };
    m.filesystem(&mut a.filesystem, filesystem);
    m.network(&mut a.network, network);
    m.syscalls(&mut a.syscalls, syscalls);
    landlock_section(&mut a.landlock, landlock);
    limits_section(&mut a.limits, limits);
    m.env(&mut a.env, env);
    m.export(&mut a.export, export);
    let OutputLayer {
        stdout_max,
        stderr_max,
        mode,
    } = output;
    set(&mut a.output.stdout_max, stdout_max);
    set(&mut a.output.stderr_max, stderr_max);
    set(&mut a.output.mode, mode);
    let ServerLayer { state } = server;
    set(&mut a.server.state, state);
    budget_section(&mut a.budget, budget);
    let AuditLayer { enabled, log } = audit;
    set(&mut a.audit.enabled, enabled);
    set(&mut a.audit.log, log);
    let CommandLayer { allow, deny } = command;
    m.list(&mut a.command.allow, allow);
    m.list(&mut a.command.deny, deny);
}

/// A single value: a later layer that sets it wins.
fn set<T>(a: &mut Option<T>, b: Option<T>) {
    if b.is_some() {
        *a = b;
    }
}

/// The merge of one layer's lists, and the errors of its removals (`"!VALUE"`, `"!N"`, `[env]
/// unset`) that find nothing to remove.
struct Merge<'a> {
    sources: &'a Sources,
    errors: &'a mut Vec<Error>,
}

impl Merge<'_> {
    fn list(&mut self, acc: &mut Vec<Item<String>>, next: Vec<Item<String>>) {
        merge_list(acc, next, self.sources, self.errors);
    }

    fn filesystem(&mut self, a: &mut FilesystemLayer, b: FilesystemLayer) {
        let FilesystemLayer {
            read_only,
            read_write,
            executable,
            devices,
            scratch,
            git,
            gpu,
            observe_writes,
        } = b;
        self.list(&mut a.read_only, read_only);
        self.list(&mut a.read_write, read_write);
        self.list(&mut a.executable, executable);
        self.list(&mut a.devices, devices);
        let ScratchLayer {
            path,
            size,
            exec,
            tmp,
            shm,
        } = scratch;
        set(&mut a.scratch.path, path);
        set(&mut a.scratch.size, size);
        set(&mut a.scratch.exec, exec);
        set(&mut a.scratch.tmp, tmp);
        set(&mut a.scratch.shm, shm);
        let GitLayer { work_tree, write } = git;
        set(&mut a.git.work_tree, work_tree);
        set(&mut a.git.write, write);
        set(&mut a.gpu, gpu);
        set(&mut a.observe_writes, observe_writes);
    }

    fn network(&mut self, a: &mut NetworkLayer, b: NetworkLayer) {
        let NetworkLayer {
            mode,
            tcp_connect,
            tcp_bind,
            allow_domains,
            allow_ports,
            hosts,
            credential,
            upstream_ca,
        } = b;
        set(&mut a.mode, mode);
        self.list(&mut a.allow_domains, allow_domains);
        a.hosts.extend(hosts);
        a.credential.extend(credential);
        a.upstream_ca.extend(upstream_ca);
        self.ports(&mut a.tcp_connect, tcp_connect);
        self.ports(&mut a.tcp_bind, tcp_bind);
        self.ports(&mut a.allow_ports, allow_ports);
    }

    /// Ports: union; `"!N"` removes port N.
    fn ports(&mut self, a: &mut Vec<Item<PortEntry>>, b: Vec<Item<PortEntry>>) {
        for p in b {
            match p.value {
                PortEntry::Remove(n) => {
                    let before = a.len();
                    a.retain(|x| x.value != PortEntry::Port(n));
                    if a.len() == before {
                        self.errors.push(
                            Error::profile(
                                self.sources.at(&p),
                                format!("nothing to remove: port {n} is not in the list this profile inherits"),
                            )
                            .with_hint("check the port against the extended profile (`tooljail explain -p NAME`)"),
                        );
                    }
                }
                PortEntry::Port(_) => {
                    if !a.iter().any(|x| x.value == p.value) {
                        a.push(p);
                    }
                }
            }
        }
    }

    fn syscalls(&mut self, a: &mut SyscallsLayer, b: SyscallsLayer) {
        let SyscallsLayer {
            allow,
            deny,
            action,
            unsafe_allow,
        } = b;
        self.list(&mut a.allow, allow);
        self.list(&mut a.deny, deny);
        self.list(&mut a.unsafe_allow, unsafe_allow);
        set(&mut a.action, action);
    }

    /// `[env] set`: per key, a later layer wins; `unset` removes keys from `set` and `keep`.
    fn env(&mut self, a: &mut EnvLayer, b: EnvLayer) {
        let EnvLayer { keep, set, unset } = b;
        self.list(&mut a.keep, keep);
        a.set.extend(set);
        for u in unset {
            let in_set = a.set.remove(&u.value).is_some();
            let before = a.keep.len();
            a.keep.retain(|k| k.value != u.value);
            if !in_set && a.keep.len() == before {
                self.errors.push(
                    Error::profile(
                        self.sources.at(&u),
                        format!(
                            "nothing to unset: \"{}\" is not in [env] set or keep",
                            u.value
                        ),
                    )
                    .with_hint("check the spelling, or remove this entry"),
                );
            }
        }
    }

    fn export(&mut self, a: &mut ExportLayer, b: ExportLayer) {
        let ExportLayer {
            to,
            from,
            patterns,
            forbid,
            allow,
            max_bytes,
            max_total_bytes,
            max_files,
            overwrite,
            when,
            strict,
        } = b;
        set(&mut a.to, to);
        set(&mut a.from, from);
        self.list(&mut a.patterns, patterns);
        self.list(&mut a.forbid, forbid);
        self.list(&mut a.allow, allow);
        set(&mut a.max_bytes, max_bytes);
        set(&mut a.max_total_bytes, max_total_bytes);
        set(&mut a.max_files, max_files);
        set(&mut a.overwrite, overwrite);
        set(&mut a.when, when);
        set(&mut a.strict, strict);
    }
}

fn landlock_section(a: &mut LandlockLayer, b: LandlockLayer) {
    let LandlockLayer {
        mode,
        scope_abstract_unix,
        scope_signals,
    } = b;
    set(&mut a.mode, mode);
    set(&mut a.scope_abstract_unix, scope_abstract_unix);
    set(&mut a.scope_signals, scope_signals);
}

fn limits_section(a: &mut LimitsLayer, b: LimitsLayer) {
    let LimitsLayer {
        wall_time,
        kill_after,
        cpu_time,
        memory,
        processes,
        open_files,
        file_size,
        require_cgroup,
    } = b;
    set(&mut a.wall_time, wall_time);
    set(&mut a.kill_after, kill_after);
    set(&mut a.cpu_time, cpu_time);
    set(&mut a.memory, memory);
    set(&mut a.processes, processes);
    set(&mut a.open_files, open_files);
    set(&mut a.file_size, file_size);
    set(&mut a.require_cgroup, require_cgroup);
}

fn budget_section(a: &mut BudgetLayer, b: BudgetLayer) {
    let BudgetLayer {
        calls_per_minute,
        max_identical_calls,
        identical_window,
        session_calls,
        session_cpu,
        session_wall,
        state,
        rate,
    } = b;
    set(&mut a.calls_per_minute, calls_per_minute);
    set(&mut a.max_identical_calls, max_identical_calls);
    set(&mut a.identical_window, identical_window);
    set(&mut a.session_calls, session_calls);
    set(&mut a.session_cpu, session_cpu);
    set(&mut a.session_wall, session_wall);
    set(&mut a.state, state);
    set(&mut a.rate, rate);
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
