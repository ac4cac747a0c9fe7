//! Resolution of the rules around the command: network, environment, isolation, hostname,
//! `[server]` and budget.

use super::*;

impl Resolver<'_> {
    pub(super) fn network(&mut self, m: &Merged, ov: &Overrides) -> Network {
        let n = &m.layer.network;
        let mode = ov
            .net
            .or(n.mode.as_ref().map(|i| i.value))
            .unwrap_or(NetMode::None);
        let mut ports = |items: &Vec<Item<PortEntry>>, what: &str| -> Vec<u16> {
            if ov.net.is_some_and(|m| m != NetMode::Host) {
                return Vec::new(); // --net none/loopback on the command line drops port rules
            }
            let mut out = Vec::new();
            for i in items {
                let at = self.src.at(i);
                // Removals were applied when the profiles were merged (and one with nothing to
                // remove was reported there).
                let PortEntry::Port(port) = i.value else {
                    continue;
                };
                if port == 0 {
                    self.err(
                        at,
                        format!("port 0 in {what}"),
                        "use a port between 1 and 65535",
                    );
                } else if mode != NetMode::Host {
                    self.err(
                        at,
                        format!("{what} has no effect unless mode = \"host\""),
                        "set [network] mode = \"host\", or remove the ports",
                    );
                    break;
                } else {
                    out.push(port);
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        };
        let tcp_connect = ports(&n.tcp_connect, "tcp_connect");
        let tcp_bind = ports(&n.tcp_bind, "tcp_bind");
        let egress = self.egress(m, ov, mode);
        Network {
            mode,
            tcp_connect,
            tcp_bind,
            egress,
        }
    }

    pub(super) fn env(
        &mut self,
        m: &Merged,
        ov: &Overrides,
        scratch: &Scratch,
    ) -> BTreeMap<String, String> {
        let e = &m.layer.env;
        let mut env = BTreeMap::new();
        for (k, item) in &e.set {
            if let Err(why) = check_env_key(k) {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!("invalid variable name \"{k}\" in [env] set: {why}"),
                    "use a name like \"LANG\"",
                );
            } else if let Some((v, _)) = self.expand(item) {
                env.insert(k.clone(), v);
            }
        }
        for item in &e.keep {
            if let Err(why) = check_env_key(&item.value) {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!(
                        "invalid variable name \"{}\" in [env] keep: {why}",
                        item.value
                    ),
                    "use a name like \"TERM\"",
                );
            } else if let Some(v) = self.host.env(&item.value) {
                env.insert(item.value.clone(), v);
            }
        }
        for k in &ov.keep_env {
            if let Err(why) = check_env_key(k) {
                self.cli_err(
                    "--keep-env",
                    format!("invalid variable name \"{k}\": {why}"),
                    "use a name like \"TERM\"",
                );
            } else if let Some(v) = self.host.env(k) {
                env.insert(k.clone(), v);
            }
        }
        for kv in &ov.env {
            match kv.split_once('=') {
                Some((k, v)) if check_env_key(k).is_ok() => {
                    env.insert(k.into(), v.into());
                }
                _ => self.cli_err(
                    "--env",
                    format!("\"{kv}\" is not KEY=VALUE"),
                    "write it as --env KEY=VALUE",
                ),
            }
        }
        env.entry("HOME".into())
            .or_insert_with(|| scratch.path.display().to_string());
        env.entry("PATH".into())
            .or_insert_with(|| DEFAULT_PATH.into());
        env
    }

    /// The isolation mode (the flag wins over the profile) and the profile's requirements. A
    /// mode that lacks a required wall, or that cannot place a bind where the profile says, is
    /// refused here, before anything is built: never a silent fallback.
    pub(super) fn isolation(&mut self, m: &Merged, ov: &Overrides, binds: &[Bind]) -> Isolation {
        let l = &m.layer;
        let mode = ov
            .isolation
            .or(l.isolation.as_ref().map(|i| i.value))
            .unwrap_or_default();
        let asked = if ov.isolation.is_some() {
            "--isolation landlock".to_string()
        } else {
            "isolation = \"landlock\"".to_string()
        };
        let lacking = Wall::lacking(mode);
        let mut requires = Vec::new();
        for item in &l.requires {
            if lacking.contains(&item.value) {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!(
                        "profile \"{}\" requires {}, which {asked} does not give ({})",
                        m.profiles.last().map_or("default", |p| p.name.as_str()),
                        item.value.name(),
                        item.value.without()
                    ),
                    "run it in the full jail (drop --isolation landlock) on a host that allows namespaces; `tooljail doctor` says why this one does not",
                );
            }
            requires.push(item.value);
        }
        if mode == IsolationMode::Landlock {
            // Without a mount namespace a path is where it is on the host: a bind cannot put
            // it anywhere else. A target that already leads to the source on the host (/bin
            // to /usr/bin on a merged-/usr system) is the same path.
            let elsewhere = |b: &&Bind| {
                b.source != b.target
                    && self.host.canonicalize(&b.target).ok().as_ref() != Some(&b.source)
            };
            let moved: Vec<&Bind> = binds.iter().filter(elsewhere).collect();
            for b in moved {
                self.cli_err(
                    "--isolation landlock",
                    format!(
                        "{} would appear at {} inside the jail, which needs a mount namespace",
                        b.source.display(),
                        b.target.display()
                    ),
                    "bind it at its own path, or run in the full jail",
                );
            }
        }
        Isolation { mode, requires }
    }

    pub(super) fn hostname(&mut self, m: &Merged) -> String {
        let Some(item) = &m.layer.hostname else {
            return "tooljail".into();
        };
        let h = &item.value;
        let ok = !h.is_empty()
            && h.len() <= 64
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            let at = self.src.at(item);
            self.err(
                at,
                format!("invalid hostname \"{h}\""),
                "use 1 to 64 letters, digits, '-' or '.'",
            );
        }
        h.clone()
    }

    /// `[server]`: the state directory (already bound read-write by `binds`) must be the only
    /// writable host path, and no output cap may stand between the server and its client.
    pub(super) fn server(
        &mut self,
        m: &Merged,
        binds: &[crate::policy::Bind],
        output: &Output,
        env: &mut BTreeMap<String, String>,
    ) -> Option<crate::policy::Server> {
        let item = m.layer.server.state.as_ref()?;
        let at = self.src.at(item);
        let (state, _) = self.path(item, "state directory")?;
        let missing = !binds.iter().any(|b| b.target == state);
        for b in binds {
            if b.access == crate::policy::Access::ReadWrite && b.target != state {
                self.err(
                    at.clone(),
                    format!(
                        "a server profile's only writable host path is its state directory, \
                         but {} is writable too ({})",
                        b.source.display(),
                        b.origin
                    ),
                    "bind it read-only, or keep what the server writes below [server] state",
                );
            }
        }
        if output.stdout.is_some() || output.stderr.is_some() {
            self.err(
                at.clone(),
                "a server's stdio is its protocol and passes straight through: it takes no \
                 output cap",
                "remove [output] stdout_max/stderr_max and --stdout-max/--stderr-max",
            );
        }
        env.insert("STATE_DIRECTORY".into(), state.display().to_string());
        Some(crate::policy::Server { state, missing })
    }

    /// `[budget]`: the call rules, each value checked where it is written.
    pub(super) fn budget(&mut self, b: &crate::profile::schema::BudgetLayer) -> Budget {
        let duration = |r: &mut Self, item: &Option<Item<String>>| {
            item.as_ref().and_then(|i| r.duration(i, true)).flatten()
        };
        let rate = b
            .rate
            .iter()
            .flatten()
            .filter_map(|t| {
                let per = t
                    .per
                    .iter()
                    .filter_map(|l| match Label::ALL.iter().find(|x| x.name() == l.value) {
                        Some(x) => Some(*x),
                        None => {
                            let at = self.src.at(l);
                            self.err(
                                at,
                                format!("unknown label \"{}\"", l.value),
                                "use \"user\", \"agent\", \"session\" or \"tool\"",
                            );
                            None
                        }
                    })
                    .collect();
                let limit = self.budget_count(Some(&t.limit));
                let window = self.duration(&t.window, false).flatten();
                Some(RateRule {
                    per,
                    limit: limit?,
                    window: window?,
                })
            })
            .collect();
        let state = b.state.as_ref().and_then(|i| {
            let v = &i.value;
            if v.starts_with("sqlite:")
                || v.starts_with("postgres://")
                || v.starts_with("postgresql://")
            {
                Some(v.clone())
            } else {
                let at = self.src.at(i);
                self.err(
                    at,
                    format!("invalid state store \"{v}\""),
                    "use \"sqlite:/path/state.db\" or \"postgres://user@host/db\"",
                );
                None
            }
        });
        Budget {
            calls_per_minute: self.budget_count(b.calls_per_minute.as_ref()),
            rate,
            max_identical_calls: self.budget_count(b.max_identical_calls.as_ref()),
            identical_window: duration(self, &b.identical_window)
                .unwrap_or(Budget::IDENTICAL_WINDOW),
            session_calls: self.budget_count(b.session_calls.as_ref()),
            session_cpu: duration(self, &b.session_cpu),
            session_wall: duration(self, &b.session_wall),
            state,
        }
    }

    pub(super) fn budget_count(&mut self, item: Option<&Item<Scalar>>) -> Option<u32> {
        let n = self.count(item?).flatten()?;
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                let at = self.src.at(item?);
                self.err(
                    at,
                    format!("{n} is too large"),
                    "use a number below 4294967296, or \"unlimited\"",
                );
                None
            }
        }
    }
}
