//! The tools file: `[[tool]]` tables, each a name, a description, the profile it runs under, an
//! argv template and the JSON Schema of its arguments. Loading checks everything that does not
//! depend on the host (fail closed: one positioned error, nothing served); [`availability`]
//! then says, per tool, whether its profile resolves and can be enforced here.

use super::schema::Schema;
use crate::cli::PolicyArgs;
use crate::error::{Error, Location, Result};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Default cap of each of stdout and stderr returned to the client.
pub const DEFAULT_OUTPUT_MAX: &str = "64K";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tool: Vec<RawTool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    name: String,
    description: String,
    #[serde(default)]
    title: Option<String>,
    profile: OneOrMany,
    argv: Vec<String>,
    #[serde(default)]
    input: Option<toml::Value>,
    #[serde(default)]
    stdin: Option<String>,
    #[serde(default)]
    limits: BTreeMap<String, toml::Value>,
    #[serde(default)]
    output_max: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// One element of a tool's argv: literal, or the string value of an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Literal(String),
    Param(String),
}

/// A tool as loaded and checked.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    /// `-p` values; a relative path is taken from the tools file's directory.
    pub profiles: Vec<String>,
    pub argv: Vec<Arg>,
    /// The schema as written, for `tools/list`.
    pub input: Value,
    pub schema: Schema,
    pub stdin: Option<String>,
    /// `--limit KEY=VALUE` for each override.
    pub limits: Vec<String>,
    pub output_max: String,
}

impl Tool {
    /// The Policy arguments a call of this tool runs with.
    pub fn policy_args(&self) -> PolicyArgs {
        PolicyArgs {
            profiles: self.profiles.clone(),
            limit: self.limits.clone(),
            ..PolicyArgs::default()
        }
    }
}

/// Load and check the tools file at `path`.
pub fn load(path: &Path) -> Result<Vec<Tool>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!(
            "cannot read the tools file {}: {e}",
            path.display()
        ))
        .with_hint("name an existing TOML file: tooljail mcp --tools FILE")
    })?;
    parse(&text, path)
}

/// Parse the tools file's `text` (read from `path`).
pub fn parse(text: &str, path: &Path) -> Result<Vec<Tool>> {
    let file = path.display().to_string();
    let at = |offset: usize| {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        Location::Span {
            file: file.clone(),
            line,
            col,
        }
    };
    let raw: File = toml::from_str(text).map_err(|e| {
        let loc = e
            .span()
            .map_or(Location::Named { what: file.clone() }, |s| at(s.start));
        Error::profile(loc, e.message().trim().to_string())
            .with_hint("see docs/mcp.md for the tools file format")
    })?;
    // A tool's position, for errors found after parsing: the line of its `name = "..."`.
    let position = |name: &str| {
        let needle = format!("\"{name}\"");
        text.find(&needle)
            .map_or(Location::Named { what: file.clone() }, at)
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut tools: Vec<Tool> = Vec::new();
    for t in raw.tool {
        let loc = position(&t.name);
        let tool = check(t, &dir)
            .map_err(|(message, hint)| Error::profile(loc.clone(), message).with_hint(hint))?;
        if tools.iter().any(|o| o.name == tool.name) {
            return Err(
                Error::profile(loc, format!("tool \"{}\" is defined twice", tool.name))
                    .with_hint("give each [[tool]] its own name"),
            );
        }
        tools.push(tool);
    }
    if tools.is_empty() {
        return Err(Error::profile(
            Location::Named { what: file },
            "the tools file defines no [[tool]]",
        )
        .with_hint("add a [[tool]] table (docs/mcp.md)"));
    }
    Ok(tools)
}

type Refusal = (String, String);

fn check(t: RawTool, dir: &Path) -> Result<Tool, Refusal> {
    let name = t.name;
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid_name {
        return Err((
            format!("tool name {name:?} is not 1-64 of A-Z a-z 0-9 _ - ."),
            "rename the tool".into(),
        ));
    }
    let refuse = |m: String, h: &str| (format!("tool \"{name}\": {m}"), h.to_string());
    let input = match t.input {
        Some(v) => {
            serde_json::to_value(v).map_err(|e| refuse(e.to_string(), "fix [tool.input]"))?
        }
        None => serde_json::json!({ "type": "object", "properties": {} }),
    };
    let schema = Schema::compile(&input).map_err(|m| {
        refuse(
            format!("[tool.input]: {m}"),
            "use the JSON Schema keywords docs/mcp.md lists",
        )
    })?;
    if schema.kind() != Some("object") {
        return Err(refuse(
            "[tool.input] must have type = \"object\"".into(),
            "MCP tool arguments are an object",
        ));
    }
    if t.argv.is_empty() {
        return Err(refuse("argv is empty".into(), "name the command to run"));
    }
    let mut argv = Vec::new();
    for (i, a) in t.argv.into_iter().enumerate() {
        let param = a
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .filter(|p| !p.is_empty() && !p.contains(['{', '}']));
        match param {
            Some(_) if i == 0 => {
                return Err(refuse(
                    "argv[0] must be a literal command, not an argument".into(),
                    "name the program; pass the argument after it",
                ))
            }
            Some(p) if !schema.has_property(p) => {
                return Err(refuse(
                    format!("argv element {a:?} names no property of [tool.input]"),
                    "declare it under [tool.input.properties]",
                ))
            }
            Some(p) => argv.push(Arg::Param(p.to_string())),
            None => argv.push(Arg::Literal(a)),
        }
    }
    if let Some(s) = &t.stdin {
        if !schema.has_property(s) {
            return Err(refuse(
                format!("stdin = {s:?} names no property of [tool.input]"),
                "declare it under [tool.input.properties]",
            ));
        }
    }
    let mut limits = Vec::new();
    for (k, v) in t.limits {
        let v = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            other => {
                return Err(refuse(
                    format!("limit {k} = {other} is neither a string nor an integer"),
                    "write it as in [limits], e.g. \"10s\" or \"256M\"",
                ))
            }
        };
        let arg = format!("{k}={v}");
        crate::policy::resolve::check_limit(&arg)
            .map_err(|(m, h)| refuse(format!("[tool.limits]: {m}"), &h))?;
        limits.push(arg);
    }
    let output_max = t.output_max.unwrap_or_else(|| DEFAULT_OUTPUT_MAX.into());
    if crate::policy::size::parse_size(&output_max).is_err() {
        return Err(refuse(
            format!("output_max = {output_max:?} is not a size"),
            "write a size such as \"64K\" or \"1M\"",
        ));
    }
    let profiles = match t.profile {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    };
    if profiles.is_empty() {
        return Err(refuse(
            "profile is empty".into(),
            "name at least one profile",
        ));
    }
    let profiles = profiles
        .into_iter()
        .map(|p| {
            let path = PathBuf::from(&p);
            if p.contains('/') && path.is_relative() {
                dir.join(path).display().to_string()
            } else {
                p
            }
        })
        .collect();
    Ok(Tool {
        name,
        title: t.title,
        description: t.description,
        profiles,
        argv,
        input,
        schema,
        stdin: t.stdin,
        limits,
        output_max,
    })
}

/// Whether `tool` can be served on this host: its profile resolves, the kernel enforces all of
/// it (no best-effort Landlock left out), and a cgroup it requires is there. `Err` says why not.
pub fn availability(tool: &Tool) -> std::result::Result<(), String> {
    let policy = crate::profile::policy_from_args(&tool.policy_args())
        .map_err(|e| format!("its profile does not resolve here: {e}"))?;
    let report = crate::preflight::preflight(&policy)
        .map_err(|e| format!("this host cannot enforce its profile: {e}"))?;
    if let Some(w) = report.landlock.warning() {
        return Err(format!(
            "this host would enforce its profile only in part: {w}"
        ));
    }
    if policy.limits.require_cgroup {
        let root = nix::unistd::getuid().is_root() || nix::unistd::geteuid().is_root();
        if let Err(why) = crate::cgroup::for_run(root) {
            return Err(format!(
                "its profile requires a cgroup ([limits] require_cgroup) and none is usable: {why}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Vec<Tool>> {
        parse(text, Path::new("/etc/tools.toml"))
    }

    const GOOD: &str = r#"
[[tool]]
name = "grep"
description = "search"
profile = "search"
argv = ["grep", "-n", "--", "{pattern}", "{file}"]
stdin = "text"
limits = { wall_time = "10s", processes = 16 }
[tool.input]
type = "object"
required = ["pattern"]
properties = { pattern = { type = "string" }, file = { type = "string" }, text = { type = "string" } }
"#;

    #[test]
    fn a_tool_loads_with_its_placeholders_and_limits() {
        let t = &parse_str(GOOD).unwrap()[0];
        assert_eq!(t.profiles, ["search"]);
        assert_eq!(
            t.argv,
            [
                Arg::Literal("grep".into()),
                Arg::Literal("-n".into()),
                Arg::Literal("--".into()),
                Arg::Param("pattern".into()),
                Arg::Param("file".into())
            ]
        );
        assert_eq!(t.limits, ["processes=16", "wall_time=10s"]);
        assert_eq!(t.stdin.as_deref(), Some("text"));
        assert_eq!(t.output_max, "64K");
    }

    #[test]
    fn a_relative_profile_path_is_taken_from_the_files_directory() {
        let text = GOOD.replace("profile = \"search\"", "profile = [\"base\", \"./p.toml\"]");
        let t = &parse_str(&text).unwrap()[0];
        assert_eq!(t.profiles, ["base", "/etc/./p.toml"]);
    }

    #[test]
    fn every_mistake_is_one_positioned_error() {
        for (change, needle) in [
            (
                ("argv = [", "argv = [\"{nope}\", "),
                "argv[0] must be a literal",
            ),
            (("\"{file}\"", "\"{nope}\""), "names no property"),
            (("stdin = \"text\"", "stdin = \"nope\""), "stdin = \"nope\""),
            (("wall_time", "wall_tim"), "[tool.limits]: "),
            (("\"10s\"", "\"10 parsecs\""), "[tool.limits]: "),
            (("name = \"grep\"", "name = \"a b\""), "is not 1-64"),
            (("description", "descripton"), "unknown field `descripton`"),
            (
                ("type = \"object\"", "type = \"array\""),
                "type = \"object\"",
            ),
            (
                (
                    "argv = [\"grep\", \"-n\", \"--\", \"{pattern}\", \"{file}\"]",
                    "argv = []",
                ),
                "argv is empty",
            ),
        ] {
            let text = GOOD.replacen(change.0, change.1, 1);
            let e = parse_str(&text).unwrap_err();
            let s = e.to_string();
            assert!(s.starts_with("/etc/tools.toml:"), "{s}");
            assert!(s.contains(needle), "{needle}: {s}");
        }
        let twice = format!("{GOOD}{GOOD}");
        assert!(parse_str(&twice)
            .unwrap_err()
            .to_string()
            .contains("defined twice"));
        assert!(parse_str("")
            .unwrap_err()
            .to_string()
            .contains("no [[tool]]"));
    }
}
