//! One `tools/call`: the tool's argv with the arguments put in, run as `tooljail run` by a
//! fresh tooljail process. The supervisor must be single-threaded when it clones, and the
//! server is not (it reads requests while calls run), so each call re-executes the tooljail
//! binary: the call gets the whole pipeline (resolve, preflight, call state, the jail, the
//! report and audit record) exactly as `tooljail run` would, in a process of its own.

use super::tools::{Arg, Tool};
use serde_json::{json, Map, Value};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// What every call of one server shares.
pub struct Server {
    /// The tooljail binary to re-execute.
    pub exe: PathBuf,
    /// A directory only this server's user can write, for the calls' reports.
    pub reports: PathBuf,
    pub session: String,
    pub agent: Option<String>,
    pub audit_log: Option<PathBuf>,
    pub state: Option<String>,
    pub calls: AtomicU64,
}

/// A call's outcome as an MCP `CallToolResult`.
pub fn call(
    server: &Server,
    tool: &Tool,
    args: &Map<String, Value>,
    client: &Value,
    started: impl FnOnce(u32),
) -> Value {
    if let Err(e) = tool.schema.validate(&Value::Object(args.clone())) {
        return refused(format!("invalid arguments for tool \"{}\": {e}", tool.name));
    }
    let argv = match argv(tool, args) {
        Ok(a) => a,
        Err(e) => return refused(e),
    };
    let stdin = tool
        .stdin
        .as_ref()
        .and_then(|p| args.get(p))
        .map(scalar)
        .transpose();
    let stdin = match stdin {
        Ok(s) => s.flatten(),
        Err(e) => return refused(e),
    };
    let n = server.calls.fetch_add(1, Ordering::Relaxed);
    let report_path = server.reports.join(format!("call-{n}.json"));
    let mut cmd = Command::new(&server.exe);
    cmd.arg("run");
    for p in &tool.profiles {
        cmd.arg("--profile").arg(p);
    }
    for l in &tool.limits {
        cmd.arg("--limit").arg(l);
    }
    cmd.arg("--report").arg(&report_path);
    cmd.arg("--tool").arg(&tool.name);
    cmd.arg("--session").arg(&server.session);
    let agent = server
        .agent
        .clone()
        .or_else(|| client.get("name").and_then(Value::as_str).map(String::from));
    if let Some(a) = agent {
        cmd.arg("--agent").arg(a);
    }
    cmd.arg("--client").arg(client.to_string());
    if let Some(a) = &server.audit_log {
        cmd.arg("--audit-log").arg(a);
    }
    if let Some(s) = &server.state {
        cmd.arg("--state").arg(s);
    }
    cmd.arg("--stdout-max").arg(&tool.output_max);
    cmd.arg("--stderr-max").arg(&tool.output_max);
    cmd.arg("--").args(&argv);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot start {}: {e}", server.exe.display())),
    };
    started(child.id());
    let feeder = child.stdin.take().map(|mut w| {
        let data = stdin.unwrap_or_default();
        std::thread::spawn(move || {
            // A command that does not read its stdin closes the pipe: not an error of the call.
            let _ = w.write_all(data.as_bytes());
        })
    });
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let status = child.wait();
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let report = std::fs::read(&report_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let _ = std::fs::remove_file(&report_path);
    let code = status.ok().and_then(|s| s.code());
    let mut content = vec![json!({ "type": "text", "text": stdout })];
    if !stderr.is_empty() {
        content.push(json!({ "type": "text", "text": format!("stderr:\n{stderr}") }));
    }
    match report {
        Some(r) if r.is_object() => json!({
            "content": content,
            "structuredContent": r,
            "isError": code != Some(0),
        }),
        _ => {
            content
                .push(json!({ "type": "text", "text": "tooljail wrote no report for this call" }));
            json!({ "content": content, "isError": true })
        }
    }
}

/// The argv of a call: each `{param}` replaced by its argument's value as one whole element;
/// an absent optional argument drops its element.
fn argv(tool: &Tool, args: &Map<String, Value>) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(tool.argv.len());
    for a in &tool.argv {
        match a {
            Arg::Literal(s) => out.push(s.clone()),
            Arg::Param(p) => {
                if let Some(v) = args.get(p).map(scalar).transpose()?.flatten() {
                    out.push(v);
                }
            }
        }
    }
    Ok(out)
}

/// An argument as one argv element or stdin: a string as it is, a number or boolean as JSON
/// writes it, null as absent; arrays and objects are refused.
fn scalar(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::String(s) if s.contains('\0') => {
            Err("an argument holds a NUL byte, which no argv element can".into())
        }
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Null => Ok(None),
        Value::Array(_) | Value::Object(_) => {
            Err("an array or object argument cannot be one argv element or stdin".into())
        }
    }
}

fn reader<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A call refused before anything ran (its arguments): a tool error the model can correct.
fn refused(message: String) -> Value {
    json!({
        "content": [{ "type": "text", "text": message }],
        "structuredContent": { "outcome": "refused", "retryable": false, "error": message },
        "isError": true,
    })
}

/// A call tooljail could not start: the host's problem, maybe transient.
fn failed(message: String) -> Value {
    json!({
        "content": [{ "type": "text", "text": message }],
        "structuredContent": { "outcome": "setup_error", "retryable": true, "error": message },
        "isError": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tool() -> Tool {
        super::super::tools::parse(
            r#"
[[tool]]
name = "t"
description = "d"
profile = "default"
argv = ["echo", "{a}", "--", "{b}"]
[tool.input]
type = "object"
properties = { a = { type = "string" }, b = {} }
"#,
            Path::new("t.toml"),
        )
        .unwrap()
        .remove(0)
    }

    #[test]
    fn each_argument_is_one_whole_element_never_split() {
        let t = tool();
        let args = json!({"a": "x; rm -rf / $(id) 'q'", "b": 3})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            argv(&t, &args).unwrap(),
            ["echo", "x; rm -rf / $(id) 'q'", "--", "3"]
        );
        let args = json!({"b": true}).as_object().unwrap().clone();
        assert_eq!(argv(&t, &args).unwrap(), ["echo", "--", "true"]);
        for bad in [
            json!({"b": [1]}),
            json!({"b": {"x": 1}}),
            json!({"a": "a\u{0}b"}),
        ] {
            assert!(argv(&t, bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }
}
