//! `tooljail mcp`: jailed tools served to an MCP client over stdio (JSON-RPC 2.0, one message
//! per line, the MCP revisions of [`PROTOCOLS`]). A front end of the run pipeline: each
//! `tools/call` is one `tooljail run` ([`call`]), with the tool's profile, the client's
//! identity and the server's session in its report and audit record.
//!
//! `tools/list` lists exactly the tools whose profile resolves and can be enforced on this host
//! ([`tools::availability`], decided once at start); a call of any other name is an error, as
//! for a name the file does not have. Only protocol goes to stdout; tooljail's own words go
//! to stderr. A malformed message gets a JSON-RPC error and the server keeps serving.
//!
//! The JSON-RPC layer is written here on serde_json: the official Rust SDK (rmcp) brings an
//! async runtime into a binary that has none, for the four methods served (docs/mcp.md has
//! the measurements).

mod call;
mod schema;
mod tools;

use crate::cli::McpArgs;
use crate::error::{Error, Result};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

/// MCP revisions this server speaks, newest first.
pub const PROTOCOLS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC's range for a server's own errors: here, too many calls waiting.
const BUSY: i64 = -32000;

/// Calls running or waiting for a slot at most; one more is refused at once (each holds a
/// thread), so a client that floods the server cannot make it exhaust threads or memory.
const MAX_PENDING: usize = 1024;

/// `tooljail mcp --check FILE`: each tool, served or missing and why. 0 when all are served.
pub fn check(path: &std::path::Path) -> Result<i32> {
    let tools = tools::load(path)?;
    let mut missing = 0;
    let mut out = String::new();
    for t in &tools {
        match tools::availability(t) {
            Ok(()) => out.push_str(&format!(
                "served   {}  (profile {})\n",
                t.name,
                t.profiles.join(", ")
            )),
            Err(why) => {
                missing += 1;
                out.push_str(&format!("missing  {}  {why}\n", t.name));
            }
        }
    }
    print!("{out}");
    Ok(i32::from(missing > 0))
}

/// `tooljail mcp --tools FILE`: serve until stdin ends; then wait for the calls in flight.
pub fn serve(args: &McpArgs, path: &std::path::Path) -> Result<i32> {
    let all = tools::load(path)?;
    let mut served = Vec::new();
    for t in all {
        match tools::availability(&t) {
            Ok(()) => served.push(t),
            Err(why) => {
                crate::shown::say(&format!("mcp: tool \"{}\" is not served: {why}", t.name))
            }
        }
    }
    let exe = std::env::current_exe().map_err(|e| {
        Error::usage(format!(
            "cannot find the tooljail binary to run calls with: {e}"
        ))
        .with_hint("run tooljail from a path that exists")
    })?;
    let reports = private_dir()?;
    remove_on_signal(&reports.path);
    let server = Arc::new(call::Server {
        exe,
        reports: reports.path.clone(),
        session: args
            .session
            .clone()
            .unwrap_or_else(|| format!("mcp-{}-{}", std::process::id(), now_millis())),
        agent: args.agent.clone(),
        audit_log: args.audit_log.clone(),
        state: args.state.clone(),
        calls: Default::default(),
    });
    let state = Arc::new(Shared {
        out: Mutex::new(std::io::stdout()),
        client: Mutex::new(json!({})),
        slots: Slots::new(usize::from(args.max_calls)),
        running: Mutex::new(HashMap::new()),
    });
    let tools: Arc<Vec<tools::Tool>> = Arc::new(served);
    let mut workers = Vec::new();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                crate::shown::say(&format!("mcp: reading stdin: {e}"));
                break;
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some(w) = handle(&line, &state, &tools, &server) {
            workers.push(w);
        }
        workers.retain(|w| !w.is_finished());
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(0)
}

/// What the reader and the call threads share.
struct Shared {
    out: Mutex<std::io::Stdout>,
    /// `clientInfo` from `initialize`.
    client: Mutex<Value>,
    slots: Slots,
    /// Calls in flight: request id (as JSON text) -> the tooljail process's pid, once started
    /// (0 before), for `notifications/cancelled`; a cancelled call's entry is removed.
    running: Mutex<HashMap<String, u32>>,
}

impl Shared {
    fn send(&self, msg: &Value) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = msg.to_string();
        text.push('\n');
        // A client that went away: nothing left to tell it.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    fn error(&self, id: &Value, code: i64, message: impl Into<String>) {
        self.send(&json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": { "code": code, "message": message.into() },
        }));
    }

    fn result(&self, id: &Value, result: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "result": result }));
    }
}

/// One message: answered at once, or a call handed to a thread (returned).
fn handle(
    line: &[u8],
    state: &Arc<Shared>,
    tools: &Arc<Vec<tools::Tool>>,
    server: &Arc<call::Server>,
) -> Option<std::thread::JoinHandle<()>> {
    let msg: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            state.error(&Value::Null, PARSE_ERROR, format!("Parse error: {e}"));
            return None;
        }
    };
    let Some(obj) = msg.as_object() else {
        state.error(
            &Value::Null,
            INVALID_REQUEST,
            "Invalid Request: a message is one JSON object (batches are not part of MCP)",
        );
        return None;
    };
    let id = obj.get("id").cloned();
    let valid_id = matches!(&id, None | Some(Value::String(_) | Value::Number(_)));
    let method = obj.get("method").and_then(Value::as_str);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") || !valid_id {
        state.error(
            &id.filter(|_| valid_id).unwrap_or(Value::Null),
            INVALID_REQUEST,
            "Invalid Request: needs \"jsonrpc\": \"2.0\" and a string or number id",
        );
        return None;
    }
    let Some(method) = method else {
        if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) {
            return None; // a response to nothing this server asked: ignored
        }
        state.error(
            &id.unwrap_or(Value::Null),
            INVALID_REQUEST,
            "Invalid Request: no method",
        );
        return None;
    };
    let params = obj.get("params").cloned().unwrap_or(json!({}));
    let Some(id) = id else {
        notification(method, &params, state);
        return None;
    };
    if !params.is_object() {
        state.error(
            &id,
            INVALID_PARAMS,
            "Invalid params: params must be an object",
        );
        return None;
    }
    match method {
        "initialize" => {
            let info = params.get("clientInfo").cloned().unwrap_or(json!({}));
            *state.client.lock().unwrap_or_else(|e| e.into_inner()) = info;
            let asked = params.get("protocolVersion").and_then(Value::as_str);
            let version = asked
                .filter(|v| PROTOCOLS.contains(v))
                .unwrap_or(PROTOCOLS[0]);
            state.result(
                &id,
                json!({
                    "protocolVersion": version,
                    "capabilities": { "tools": { "listChanged": false } },
                    "serverInfo": { "name": "tooljail", "version": env!("CARGO_PKG_VERSION") },
                    "instructions": "Each tool runs in a tooljail jail built from its profile; \
                        structuredContent is the call's tooljail report (outcome, retryable).",
                }),
            );
            None
        }
        "ping" => {
            state.result(&id, json!({}));
            None
        }
        "tools/list" => {
            let list: Vec<Value> = tools.iter().map(describe).collect();
            state.result(&id, json!({ "tools": list }));
            None
        }
        "tools/call" => start_call(id, &params, state, tools, server),
        other => {
            state.error(&id, METHOD_NOT_FOUND, format!("Method not found: {other}"));
            None
        }
    }
}

fn notification(method: &str, params: &Value, state: &Shared) {
    if method != "notifications/cancelled" {
        return; // notifications/initialized and the rest need nothing from a tools server
    }
    let Some(id) = params.get("requestId") else {
        return;
    };
    let pid = state
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id.to_string());
    if let Some(pid) = pid.filter(|p| *p > 0) {
        // tooljail forwards SIGTERM to the jail, which ends with its command; the call's
        // thread then finds its entry gone and sends no response (as MCP asks).
        if let Ok(pid) = i32::try_from(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

/// A tool as `tools/list` shows it.
fn describe(t: &tools::Tool) -> Value {
    let mut v = json!({
        "name": t.name,
        "description": t.description,
        "inputSchema": t.input,
    });
    if let Some(title) = &t.title {
        v["title"] = json!(title);
    }
    v
}

fn start_call(
    id: Value,
    params: &Value,
    state: &Arc<Shared>,
    tools: &Arc<Vec<tools::Tool>>,
    server: &Arc<call::Server>,
) -> Option<std::thread::JoinHandle<()>> {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        state.error(
            &id,
            INVALID_PARAMS,
            "Invalid params: tools/call needs a tool name",
        );
        return None;
    };
    let Some(index) = tools.iter().position(|t| t.name == name) else {
        state.error(&id, INVALID_PARAMS, format!("Unknown tool: {name}"));
        return None;
    };
    let args: Map<String, Value> = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            state.error(
                &id,
                INVALID_PARAMS,
                "Invalid params: arguments must be an object",
            );
            return None;
        }
    };
    let mut client = state
        .client
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if let (Some(meta), Some(c)) = (params.get("_meta"), client.as_object_mut()) {
        c.insert("meta".into(), meta.clone());
    }
    let key = id.to_string();
    {
        let mut running = state.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.len() >= MAX_PENDING {
            drop(running);
            state.error(
                &id,
                BUSY,
                format!("{MAX_PENDING} calls are already running or waiting; retry later"),
            );
            return None;
        }
        running.insert(key.clone(), 0);
    }
    let (state, tools, server) = (state.clone(), tools.clone(), server.clone());
    Some(std::thread::spawn(move || {
        let _slot = state.slots.take();
        let tool = &tools[index];
        let result = call::call(&server, tool, &args, &client, |pid| {
            if let Some(p) = state
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(&key)
            {
                *p = pid;
            }
        });
        let still = state
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key)
            .is_some();
        if still {
            state.result(&id, result);
        }
    }))
}

/// A counting semaphore: at most N calls run at once.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    fn take(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// The calls' reports go to a directory of this server's own (mode 0700), removed at exit.
struct PrivateDir {
    path: PathBuf,
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Clients end a stdio server by closing its stdin (the directory is removed as `serve`
/// returns) or by a signal: SIGTERM, SIGINT or SIGHUP remove it too, then end the server with
/// the signal's status. The signals are blocked in every thread (the threads started later
/// inherit the mask; the calls' processes do not: a spawned child starts with none blocked)
/// and taken by one thread with sigwait. SIGKILL leaves the empty directory behind.
fn remove_on_signal(dir: &std::path::Path) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return; // the default action stays: the directory may be left, nothing else changes
    }
    let dir = dir.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("mcp-signals".into())
        .stack_size(64 << 10)
        .spawn(move || {
            if let Ok(sig) = set.wait() {
                let _ = std::fs::remove_dir_all(&dir);
                std::process::exit(128 + sig as i32);
            }
        });
    if spawned.is_err() {
        let _ = set.thread_unblock();
    }
}

/// A directory of the caller's own for the calls' reports, under `$XDG_RUNTIME_DIR` or the
/// temporary directory: made through the sink walk (no link in any component, every directory
/// the caller's or root's), with a random name, so that another user can neither guess it
/// beforehand nor hand over one of theirs (a foreign directory of that name is refused).
fn private_dir() -> Result<PrivateDir> {
    let name = format!("tooljail-mcp-{}", crate::report::new_run_id());
    let bases = [
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        Some(std::env::temp_dir()),
    ];
    let mut last = None;
    for base in bases.into_iter().flatten() {
        let path = base.join(&name);
        match crate::sink::ensure_dir(&path, 0o700) {
            Ok(_) => return Ok(PrivateDir { path }),
            Err(e) => last = Some((path, e)),
        }
    }
    let hint = "set XDG_RUNTIME_DIR or TMPDIR to a directory of yours that only you can write";
    Err(match last {
        Some((path, e)) => e.into_error("the calls' report directory", &path, hint),
        None => Error::usage("no directory for the calls' reports").with_hint(hint),
    })
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}
