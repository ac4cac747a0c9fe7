//! A [`Learned`] profile as TOML, every entry on a line of its own with a comment saying what
//! the run did that needs it; and back ([`parse`]), so `learn --merge FILE` can add a run to a
//! profile it wrote before (comments included: they are the record of why).

use super::paths::PathRule;
use super::Learned;
// A comment's text on one line: no command line can end the comment, or make the file one
// TOML refuses.
use crate::shown::one_line;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A TOML string literal, on one line and without a character that hides or reorders text on
/// screen: a path the command used may hold a line break or a bidirectional control, and the
/// learned profile is read by a person before it is used. Such a string is written as a basic
/// string with those characters escaped (`\n`, `\u202E`); its value stays exact.
fn quote(s: &str) -> String {
    if !s.chars().any(crate::shown::hidden) {
        return toml::Value::String(s.to_string()).to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if crate::shown::hidden(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn entry(out: &mut String, value: &str, why: &str) {
    let _ = writeln!(out, "    {},  # {}", value, one_line(why));
}

/// The profile's text.
pub fn render(l: &Learned) -> String {
    let mut o = String::new();
    o.push_str("# Learned by `tooljail learn` from:\n");
    for c in &l.commands {
        let _ = writeln!(o, "#   {}", one_line(c));
    }
    o.push_str(
        "# Each entry says what the run did that needs it. Check it with\n\
         # `tooljail learn --check FILE -- CMD...`; add another run with `--merge FILE`.\n",
    );
    if !l.secrets.is_empty() {
        o.push_str("# Left out: the run used these secret-looking paths (add them by hand only if\n# the tool must have them):\n");
        for s in &l.secrets {
            let _ = writeln!(o, "#   {}", one_line(s));
        }
    }
    if !l.tried.is_empty() {
        o.push_str(
            "# Not learned: the run tried to connect outside, which the learning base's network\n\
             # mode refuses, so each attempt failed. A tool that needs it learns with a base that\n\
             # allows it (e.g. `-p http`), or gets `[network] mode = \"host\"` and `tcp_connect`\n\
             # by hand. Tried:\n",
        );
        for t in &l.tried {
            let _ = writeln!(o, "#   {}", one_line(t));
        }
    }
    let first = l
        .commands
        .first()
        .map(String::as_str)
        .unwrap_or("a command");
    let _ = writeln!(
        o,
        "description = {}",
        quote(&format!("learned from: {first}"))
    );
    let ext: Vec<String> = l.extends.iter().map(|e| quote(e)).collect();
    let _ = writeln!(o, "extends = [{}]", ext.join(", "));
    if l.cwd {
        o.push_str("cwd = \"${CWD}\"  # the command worked in the caller's directory\n");
    }
    o.push_str("\n[filesystem]\n");
    let list = |o: &mut String, key: &str, pick: &dyn Fn(&PathRule) -> bool| {
        let _ = writeln!(o, "{key} = [");
        for (p, r) in &l.paths {
            if pick(r) {
                entry(o, &quote(p), &r.why);
            }
        }
        o.push_str("]\n");
    };
    list(&mut o, "read_only", &|r| !r.write && !r.exec);
    list(&mut o, "read_write", &|r| r.write);
    list(&mut o, "executable", &|r| r.exec);
    if let Some((mode, why)) = &l.network {
        o.push_str("\n[network]\n");
        let _ = writeln!(o, "mode = {}  # {}", quote(mode), one_line(why));
        if !l.tcp_connect.is_empty() {
            o.push_str("tcp_connect = [\n");
            for (p, why) in &l.tcp_connect {
                entry(&mut o, &p.to_string(), why);
            }
            o.push_str("]\n");
        }
    }
    o.push_str("\n[syscalls]\nallow = [\n");
    for r in &l.remove {
        entry(
            &mut o,
            &quote(r),
            "the parent's list, replaced by what the run used",
        );
    }
    for (g, why) in &l.groups {
        entry(&mut o, &quote(g), why);
    }
    for (s, why) in &l.syscalls {
        entry(&mut o, &quote(s), why);
    }
    o.push_str("]\n\n[limits]\n");
    for (k, (v, why)) in &l.limits {
        let value = match k.as_str() {
            "memory" => quote(&format!("{}M", v >> 20)),
            "cpu_time" | "wall_time" => quote(&format!("{v}s")),
            _ => v.to_string(),
        };
        let _ = writeln!(o, "{k} = {value}  # {}", one_line(why));
    }
    o
}

/// Read back a profile [`render`] wrote. `Err` says what is not in that form.
pub fn parse(text: &str) -> Result<Learned, String> {
    let v: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let why = comments(text);
    let why_of = |value: &str| why.get(value).cloned().unwrap_or_default();
    let strings = |t: Option<&toml::Value>| -> Vec<String> {
        t.and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut l = Learned {
        commands: text
            .lines()
            .skip_while(|s| !s.starts_with("# Learned by"))
            .skip(1)
            .take_while(|s| s.starts_with("#   "))
            .map(|s| s["#   ".len()..].to_string())
            .collect(),
        extends: strings(v.get("extends")),
        cwd: v.get("cwd").and_then(|c| c.as_str()) == Some("${CWD}"),
        ..Learned::default()
    };
    if l.extends.is_empty() {
        return Err("no `extends`: not a profile `tooljail learn` wrote".into());
    }
    let fs = v.get("filesystem").and_then(|f| f.as_table());
    for (key, write, exec) in [
        ("read_only", false, false),
        ("read_write", true, false),
        ("executable", false, true),
    ] {
        for p in strings(fs.and_then(|f| f.get(key))) {
            let w = why_of(&quote(&p));
            let r = l.paths.entry(p).or_insert(PathRule {
                write: false,
                exec: false,
                why: w,
            });
            r.write |= write;
            r.exec |= exec;
        }
    }
    if let Some(net) = v.get("network").and_then(|n| n.as_table()) {
        if let Some(mode) = net.get("mode").and_then(|m| m.as_str()) {
            l.network = Some((mode.to_string(), why_of(&format!("mode = {}", quote(mode)))));
        }
        for p in net
            .get("tcp_connect")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            let port = p
                .as_integer()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or("a tcp_connect entry is not a port")?;
            l.tcp_connect.insert(port, why_of(&port.to_string()));
        }
    }
    let allow = strings(
        v.get("syscalls")
            .and_then(|s| s.as_table())
            .and_then(|s| s.get("allow")),
    );
    for a in allow {
        let w = why_of(&quote(&a));
        if a.starts_with('!') {
            l.remove.push(a);
        } else if a.starts_with('@') {
            l.groups.insert(a, w);
        } else {
            l.syscalls.insert(a, w);
        }
    }
    if let Some(lim) = v.get("limits").and_then(|x| x.as_table()) {
        for (k, val) in lim {
            let n = match (k.as_str(), val) {
                ("memory", toml::Value::String(s)) => s
                    .strip_suffix('M')
                    .and_then(|m| m.parse::<u64>().ok())
                    .map(|m| m << 20),
                ("cpu_time" | "wall_time", toml::Value::String(s)) => {
                    s.strip_suffix('s').and_then(|m| m.parse::<u64>().ok())
                }
                (_, toml::Value::Integer(i)) => u64::try_from(*i).ok(),
                _ => None,
            }
            .ok_or_else(|| format!("[limits] {k} is not in the form `tooljail learn` writes"))?;
            l.limits.insert(k.clone(), (n, why_of(&format!("{k} ="))));
        }
    }
    l.secrets = listed_after(text, "# Left out:", 2);
    l.tried = listed_after(text, "# Not learned:", 4);
    Ok(l)
}

/// The `#   ITEM` lines of the header that follow the `lines` lines starting at `heading`.
fn listed_after(text: &str, heading: &str, lines: usize) -> Vec<String> {
    text.lines()
        .skip_while(|s| !s.starts_with(heading))
        .skip(lines)
        .take_while(|s| s.starts_with("#   "))
        .map(|s| s["#   ".len()..].to_string())
        .collect()
}

/// Each commented line's comment, keyed by what precedes it: the entry (`"value"` of a list
/// line, a bare number) or `key = value` / `key =` for the single-value lines.
fn comments(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((value, why)) = line.rsplit_once("  # ") else {
            continue;
        };
        let value = value.trim();
        let key = match value.strip_suffix(',') {
            Some(entry) => entry.to_string(),
            None => value.to_string(),
        };
        out.insert(key.clone(), why.to_string());
        if let Some((k, _)) = key.split_once(" = ") {
            if !k.starts_with('"') {
                out.insert(format!("{k} ="), why.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_with_a_line_break_or_a_bidi_control_is_one_line_and_reads_back_exact() {
        let mut tricky: Vec<String> = [
            "/plain/path",
            "/a\nb",
            "/a\u{202e}txt.exe",
            "/q\"uote\\back'single'''",
            "/x\u{2028}\u{2029}\u{7f}\u{85}\u{0}\u{1b}]0;t\u{7}",
        ]
        .map(String::from)
        .to_vec();
        tricky.extend(
            ('\0'..='\u{ffff}')
                .filter(|c| crate::shown::hidden(*c))
                .map(|c| format!("/p{c}q\"")),
        );
        for s in &tricky {
            let q = quote(s);
            assert!(
                !q.contains('\n') && !q.chars().any(crate::shown::hidden),
                "{s:?} as {q}"
            );
            let t: toml::Table = format!("v = {q}")
                .parse()
                .unwrap_or_else(|e| panic!("{q}: {e}"));
            assert_eq!(t["v"].as_str(), Some(s.as_str()), "{q}");
        }
        // A path the command used, holding a line break before what reads as another entry,
        // and a right-to-left override: one line in the profile, and read back exact.
        let odd = "/tmp/a\n/etc/shadow\u{202e}";
        let mut l = sample();
        l.paths.insert(
            odd.into(),
            PathRule {
                write: true,
                exec: false,
                why: "wrote it".into(),
            },
        );
        let text = render(&l);
        assert!(
            !text.chars().any(|c| c != '\n' && crate::shown::hidden(c)),
            "{text}"
        );
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("/etc")),
            "{text}"
        );
        let back = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(back.paths.contains_key(odd), "{text}");
    }

    #[test]
    fn control_characters_in_a_command_line_are_escaped_and_the_profile_loads() {
        assert_eq!(
            one_line("a\tb\x1b[31m\nc\r\u{7f}\u{85}"),
            "a\\tb\\u{1b}[31m\\nc\\r\\u{7f}\\u{85}"
        );
        let mut l = sample();
        l.commands = vec!["printf 'a\tb\x1b[0m\x0c\x00'".into()];
        let text = render(&l);
        assert!(
            text.lines().all(|line| !line.chars().any(char::is_control)),
            "{text}"
        );
        text.parse::<toml::Table>()
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(parse(&text).is_ok(), "{text}");
    }

    fn sample() -> Learned {
        let mut l = Learned {
            commands: vec!["python3 job.py".into()],
            extends: vec!["base".into()],
            cwd: true,
            remove: vec!["!@system-service".into()],
            secrets: vec!["${CWD}/.env".into()],
            tried: vec!["192.0.2.1:443".into()],
            ..Learned::default()
        };
        l.paths.insert(
            "${CWD}".into(),
            PathRule {
                write: false,
                exec: false,
                why: "listed it".into(),
            },
        );
        l.paths.insert(
            "${CWD}/out".into(),
            PathRule {
                write: true,
                exec: true,
                why: "created entries in it, executed".into(),
            },
        );
        l.groups.insert("@default".into(), "always".into());
        l.syscalls.insert("openat".into(), "used: x86_64 x3".into());
        l.network = Some(("host".into(), "connected to 10.0.0.1:443".into()));
        l.tcp_connect
            .insert(443, "connected to 10.0.0.1:443".into());
        l.limits
            .insert("memory".into(), (64 << 20, "2x ...".into()));
        l.limits
            .insert("processes".into(), (16, "2x the 1 tasks".into()));
        l.limits.insert("wall_time".into(), (10, "4x".into()));
        l
    }

    #[test]
    fn renders_a_commented_profile_and_reads_it_back() {
        let l = sample();
        let text = render(&l);
        assert!(
            text.contains("    \"${CWD}/out\",  # created entries in it, executed\n"),
            "{text}"
        );
        assert!(text.contains("memory = \"64M\"  # 2x ...\n"), "{text}");
        assert!(text.contains("#   ${CWD}/.env\n"), "{text}");
        // Every entry line carries its reason.
        for line in text.lines() {
            let entry = line.starts_with("    ")
                || (line.contains(" = ") && !line.starts_with('#') && !line.ends_with('['));
            let header = line.starts_with("description") || line.starts_with("extends");
            if entry && !header {
                assert!(line.contains("  # "), "no reason: {line}");
            }
        }
        assert_eq!(parse(&text).unwrap(), l);
    }

    #[test]
    fn merge_takes_the_union_and_the_larger_limit() {
        let a = sample();
        let mut b = sample();
        b.commands = vec!["python3 job.py --other".into()];
        b.paths.clear();
        b.paths.insert(
            "${CWD}/out/sub".into(),
            PathRule {
                write: true,
                exec: false,
                why: "wrote".into(),
            },
        );
        b.paths.insert(
            "/etc/ssl/certs".into(),
            PathRule {
                write: false,
                exec: false,
                why: "listed it".into(),
            },
        );
        b.syscalls.insert("getdents64".into(), "used".into());
        b.limits
            .insert("memory".into(), (128 << 20, "bigger".into()));
        b.network = Some(("loopback".into(), "x".into()));
        let m = a.merge(b);
        assert_eq!(m.commands.len(), 2);
        // The sub-directory is covered by the writable ${CWD}/out above it.
        assert!(!m.paths.contains_key("${CWD}/out/sub"));
        assert!(m.paths.contains_key("/etc/ssl/certs"));
        assert!(m.syscalls.contains_key("getdents64") && m.syscalls.contains_key("openat"));
        assert_eq!(m.limits["memory"].0, 128 << 20);
        assert_eq!(m.network.as_ref().unwrap().0, "host");
        assert_eq!(parse(&render(&m)).unwrap(), m);
    }
}
