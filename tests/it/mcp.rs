//! `tooljail mcp` driven by the official MCP Python SDK (pinned in tests/mcp/requirements.txt,
//! in a venv under target/ made once, by tests/setup.sh or here under a lock), and by raw
//! JSON-RPC lines where the SDK would not send what is tested (malformed messages).

use crate::support::{each_identity, records_dir, run_for, skip, tempdir, Ctx};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The venv's python, made from tests/mcp/requirements.txt when it is missing or stale; None
/// (recorded as a skip) when it cannot be made here (no network to PyPI).
pub fn sdk_python() -> Option<PathBuf> {
    static VENV: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let got = VENV.get_or_init(|| made("venv", "mcp-venv").map(|d| d.join("bin/python")));
    match got {
        Ok(p) => Some(p.clone()),
        Err(why) => {
            skip("mcp-sdk", why);
            None
        }
    }
}

/// The npm MCP server's install directory (tests/mcp/node), made when missing or stale; None
/// (recorded as a skip) without npm.
pub fn node_server() -> Option<PathBuf> {
    static DIR: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let got = DIR.get_or_init(|| {
        if std::process::Command::new("npm")
            .arg("--version")
            .output()
            .is_err()
        {
            return Err("npm is not installed".into());
        }
        made("node", "mcp-node")
    });
    match got {
        Ok(p) => Some(p.clone()),
        Err(why) => {
            skip("npm", why);
            None
        }
    }
}

/// `tests/mcp/make.sh KIND target/NAME`, under a lock across test processes (the debug and
/// release passes); the script does nothing when NAME is up to date.
fn made(kind: &str, name: &str) -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target").join(name);
    let lock = std::fs::File::create(root.join(format!("target/{name}.lock")))
        .map_err(|e| e.to_string())?;
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e.to_string())?;
    let out = std::process::Command::new("bash")
        .arg(root.join("tests/mcp/make.sh"))
        .arg(kind)
        .arg(&dir)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "tests/mcp/make.sh {kind} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(dir)
}

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py")
}

/// Run the SDK client `scenario` as this identity against `tooljail ARGS...`; its JSON.
pub fn client(
    ctx: &Ctx,
    python: &Path,
    scenario: &str,
    args: &[&str],
    env: &[(&str, String)],
) -> Value {
    let (mut cmd, bin) = ctx.program(python);
    cmd.arg(client_script()).arg(scenario).arg(&bin).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run_for(cmd, Duration::from_secs(240));
    r.expect(0);
    let last = r.stdout.lines().last().unwrap_or_default().to_string();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}\n{}", r.dump()))
}

/// A tools file (and the profiles it names) every identity can read.
fn tools_file(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("budget.toml"),
        "extends = [\"default\"]\n[budget]\nsession_calls = 2\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("elsewhere.toml"),
        "extends = [\"default\"]\n[filesystem]\nread_only = [\"/nonexistent-on-this-host/data\"]\n",
    )
    .unwrap();
    let path = dir.join("tools.toml");
    std::fs::write(
        &path,
        r#"
[[tool]]
name = "echo"
description = "Print the text"
profile = "default"
argv = ["echo", "{text}"]
[tool.input]
type = "object"
required = ["text"]
properties = { text = { type = "string", maxLength = 100 } }

[[tool]]
name = "count"
description = "Count the bytes of the text (given on stdin)"
profile = "default"
argv = ["wc", "-c"]
stdin = "text"
limits = { wall_time = "20s" }
[tool.input]
type = "object"
properties = { text = { type = "string" } }

[[tool]]
name = "fail"
description = "Exit with the status"
profile = "default"
argv = ["sh", "-c", "echo failing >&2; exit \"$1\"", "sh", "{status}"]
[tool.input]
type = "object"
required = ["status"]
properties = { status = { type = "integer", minimum = 0, maximum = 255 } }

[[tool]]
name = "sleep"
description = "Sleep the seconds given"
profile = "default"
argv = ["sleep", "{seconds}"]
[tool.input]
type = "object"
properties = { seconds = { type = "integer" } }

[[tool]]
name = "budgeted"
description = "Two calls per session"
profile = "./budget.toml"
argv = ["true"]

[[tool]]
name = "elsewhere"
description = "Needs a directory this host does not have"
profile = "./elsewhere.toml"
argv = ["ls", "/nonexistent-on-this-host/data"]
"#,
    )
    .unwrap();
    path
}

#[test]
fn a_real_client_lists_exactly_the_enforceable_tools_and_calls_them() {
    let Some(python) = sdk_python() else { return };
    let dir = tempdir(0o755);
    let tools = tools_file(dir.path());
    let records = records_dir();
    each_identity(|ctx| {
        // The store's directory is its user's alone (tooljail refuses one others can write).
        let store = tempdir(0o700);
        crate::support::profiles::give_to_jail(ctx, store.path());
        let state = store.path().join("state.db");
        let audit = records.path().join(format!("audit-{}.log", ctx.own_uid()));
        let calls = json!([
            ["echo", {"text": "a b; $(id) 'q' *"}, {"trace": "t-1"}],
            ["count", {"text": "hello"}, null],
            ["fail", {"status": 3}, null],
            ["echo", {}, null],
            ["echo", {"text": 5}, null],
            ["budgeted", {}, null],
            ["budgeted", {}, null],
            ["budgeted", {}, null]
        ]);
        let seen = client(
            ctx,
            &python,
            "tools",
            &[
                "mcp",
                "--tools",
                tools.to_str().unwrap(),
                "--state",
                &format!("sqlite:{}", state.display()),
                "--audit-log",
                audit.to_str().unwrap(),
                "--session",
                "s-42",
            ],
            &[
                ("CALLS", calls.to_string()),
                ("UNLISTED", "elsewhere".into()),
            ],
        );
        assert_eq!(seen["server"], "tooljail");
        assert_eq!(
            seen["tools"],
            json!(["budgeted", "count", "echo", "fail", "sleep"]),
            "{seen:#}"
        );
        let c = &seen["calls"];
        // Arguments go to argv whole: no shell ever sees them.
        assert_eq!(c[0]["is_error"], false, "{seen:#}");
        assert_eq!(c[0]["text"][0], "a b; $(id) 'q' *\n");
        let rep = &c[0]["structured"];
        assert_eq!(rep["outcome"], "exited");
        assert_eq!(rep["identity"]["tool"], "echo");
        assert_eq!(rep["identity"]["session"], "s-42");
        assert_eq!(rep["identity"]["agent"], "tooljail-tests");
        assert_eq!(
            rep["identity"]["client"],
            json!({"name": "tooljail-tests", "version": "7.1", "meta": {"trace": "t-1"}})
        );
        assert_eq!(c[1]["text"][0], "5\n", "stdin = \"text\"");
        // A failing command: isError, its stderr, the report with retryable.
        assert_eq!(c[2]["is_error"], true);
        assert_eq!(c[2]["structured"]["exit_code"], 3);
        assert_eq!(c[2]["structured"]["retryable"], false);
        assert!(
            c[2]["text"][1].as_str().unwrap().contains("failing"),
            "{seen:#}"
        );
        // Arguments outside the schema: refused before anything runs.
        for bad in [&c[3], &c[4]] {
            assert_eq!(bad["is_error"], true, "{seen:#}");
            assert!(
                bad["text"][0]
                    .as_str()
                    .unwrap()
                    .contains("invalid arguments"),
                "{bad}"
            );
        }
        // [budget] session_calls = 2 holds across the server's calls.
        assert_eq!(c[5]["is_error"], false, "{seen:#}");
        assert_eq!(c[6]["is_error"], false);
        assert_eq!(c[7]["is_error"], true);
        assert_eq!(c[7]["structured"]["outcome"], "refused", "{seen:#}");
        assert_eq!(
            c[7]["structured"]["stopped_by"]["kind"], "budget",
            "{seen:#}"
        );
        // A tool not listed is not callable: a protocol error, as for a name never defined.
        assert_eq!(
            seen["unlisted"]["protocol_error"]["code"], -32602,
            "{seen:#}"
        );

        // The audit log holds each call that reached tooljail, with the client in it.
        let records: Vec<Value> = std::fs::read_to_string(&audit)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 6, "echo, count, fail, 3 x budgeted");
        for r in &records {
            assert_eq!(r["identity"]["client"]["name"], "tooljail-tests", "{r:#}");
            assert_eq!(r["identity"]["session"], "s-42");
        }
    });
}

#[test]
fn check_says_why_each_missing_tool_is_missing() {
    let dir = tempdir(0o755);
    let tools = tools_file(dir.path());
    each_identity(|ctx| {
        let r = run_for(
            ctx.tooljail(["mcp", "--check", tools.to_str().unwrap()]),
            Duration::from_secs(60),
        );
        r.expect(1);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines.len(), 6, "{}", r.dump());
        assert!(
            lines.iter().any(|l| l.starts_with("served   echo")),
            "{}",
            r.dump()
        );
        let missing = lines
            .iter()
            .find(|l| l.starts_with("missing  elsewhere"))
            .unwrap();
        assert!(
            missing.contains("/nonexistent-on-this-host/data"),
            "{missing}"
        );

        let bad = dir.path().join(format!("bad-{}.toml", ctx.own_uid()));
        std::fs::write(&bad, "[[tool]]\nname = \"x\"\ndescription = \"d\"\nprofile = \"default\"\nargv = [\"echo\", \"{y}\"]\n").unwrap();
        let r = run_for(
            ctx.tooljail(["mcp", "--tools", bad.to_str().unwrap()]),
            Duration::from_secs(30),
        );
        r.expect(125);
        assert_eq!(r.stdout, "", "nothing but protocol on stdout\n{}", r.dump());
        assert!(
            r.stderr.contains(&format!("{}:2:", bad.display())),
            "{}",
            r.dump()
        );
        assert!(r.stderr.contains("names no property"), "{}", r.dump());
    });
}

#[test]
fn fifty_concurrent_calls_each_get_their_own_report_and_audit_record() {
    let Some(python) = sdk_python() else { return };
    let dir = tempdir(0o755);
    let tools = tools_file(dir.path());
    let records = records_dir();
    each_identity(|ctx| {
        let audit = records
            .path()
            .join(format!("audit50-{}.log", ctx.own_uid()));
        let started = std::time::Instant::now();
        let seen = client(
            ctx,
            &python,
            "concurrent",
            &[
                "mcp",
                "--tools",
                tools.to_str().unwrap(),
                "--audit-log",
                audit.to_str().unwrap(),
                "--max-calls",
                "8",
            ],
            &[("N", "50".into()), ("TOOL", "echo".into())],
        );
        eprintln!("50 calls as {:?}: {:?}", ctx.who, started.elapsed());
        let calls = seen["calls"].as_array().unwrap();
        assert_eq!(calls.len(), 50);
        let mut run_ids = BTreeSet::new();
        for (i, c) in calls.iter().enumerate() {
            assert_eq!(c["is_error"], false, "{c:#}");
            assert_eq!(
                c["text"][0],
                format!("call-{i}\n"),
                "each call its own output"
            );
            assert_eq!(
                c["structured"]["argv"],
                json!(["echo", format!("call-{i}")])
            );
            assert_eq!(c["structured"]["identity"]["client"]["meta"]["call"], i);
            run_ids.insert(c["structured"]["run_id"].as_str().unwrap().to_string());
        }
        assert_eq!(run_ids.len(), 50, "50 reports, each its own run");
        let logged: BTreeSet<String> = std::fs::read_to_string(&audit)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["run_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(logged, run_ids, "one audit record per call, the same runs");
    });
}

/// The raw protocol: write lines, read one response per request.
struct Raw {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Raw {
    fn start(ctx: &Ctx, tools: &Path) -> Raw {
        Raw::spawn(ctx.tooljail(["mcp", "--tools", tools.to_str().unwrap()]))
    }

    /// A server whose temporary directory (where its report directory goes) is `tmp`.
    fn start_in(ctx: &Ctx, tools: &Path, tmp: &Path) -> Raw {
        let mut cmd = ctx.tooljail(["mcp", "--tools", tools.to_str().unwrap()]);
        cmd.env("TMPDIR", tmp).env_remove("XDG_RUNTIME_DIR");
        Raw::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> Raw {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = loop {
            // The shared binary may be busy for a moment after another thread copied it.
            match cmd.spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                r => break r.expect("spawn tooljail mcp"),
            }
        };
        // Bounded: a server that stops answering is killed, and the read that waits fails.
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watched = done.clone();
        std::thread::spawn(move || {
            let until = std::time::Instant::now() + Duration::from_secs(120);
            while std::time::Instant::now() < until {
                if watched.load(std::sync::atomic::Ordering::SeqCst) {
                    return; // reaped: the pid may belong to another process now
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        });
        let out = BufReader::new(child.stdout.take().unwrap());
        Raw { child, out, done }
    }

    fn send(&mut self, line: &str) {
        let w = self.child.stdin.as_mut().unwrap();
        w.write_all(line.as_bytes()).unwrap();
        w.write_all(b"\n").unwrap();
        w.flush().unwrap();
    }

    /// The next line on stdout, which must be one JSON-RPC 2.0 message.
    fn recv(&mut self) -> Value {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {line:?}"));
        assert_eq!(v["jsonrpc"], "2.0", "{v}");
        v
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // Closed as a client closes it (stdin at its end), so the server removes its report
        // directory; killed if it is still there after a few seconds.
        drop(self.child.stdin.take());
        let ended = crate::support::wait_until(Duration::from_secs(5), || {
            self.child.try_wait().ok().flatten().is_some()
        });
        if !ended {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn malformed_messages_get_errors_and_the_server_keeps_serving() {
    let dir = tempdir(0o755);
    let tools = tools_file(dir.path());
    each_identity(|ctx| {
        let mut s = Raw::start(ctx, &tools);
        for (line, code) in [
            ("this is not json", -32700),
            ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":", -32700),
            ("[{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]", -32600),
            ("{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"ping\"}", -32600),
            ("{\"jsonrpc\":\"2.0\",\"id\":{\"x\":1},\"method\":\"ping\"}", -32600),
            ("{\"jsonrpc\":\"2.0\",\"id\":4}", -32600),
            ("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"no/such\"}", -32601),
            ("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{}}", -32602),
            ("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":[1]}}", -32602),
            ("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":\"x\"}", -32602),
        ] {
            s.send(line);
            let v = s.recv();
            assert_eq!(v["error"]["code"], code, "{line} -> {v}");
        }
        // Invalid UTF-8 is a parse error too.
        s.child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"\xff\"}\n")
            .unwrap();
        assert_eq!(s.recv()["error"]["code"], -32700);
        // A notification gets no answer; the server still serves.
        s.send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
        s.send("{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"ping\"}");
        assert_eq!(s.recv(), json!({"jsonrpc": "2.0", "id": 10, "result": {}}));
        // A call whose command and tooljail both write to stderr: stdout stays protocol.
        s.send("{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{\"name\":\"fail\",\"arguments\":{\"status\":2}}}");
        let v = s.recv();
        assert_eq!(v["id"], 11);
        assert_eq!(v["result"]["isError"], true, "{v}");
        s.send("{\"jsonrpc\":\"2.0\",\"id\":\"last\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"still here\"}}}");
        let v = s.recv();
        assert_eq!(v["id"], "last");
        assert_eq!(v["result"]["content"][0]["text"], "still here\n", "{v}");
        // End of input: the server ends, with nothing more on stdout.
        drop(s.child.stdin.take());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut s.out, &mut rest).unwrap();
        assert_eq!(rest, "");
        let status = s.child.wait().unwrap();
        s.done.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(status.code(), Some(0));
    });
}

/// The fenced blocks of docs/mcp.md whose info string is `lang`.
fn doc_blocks(lang: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mcp.md"))
        .expect("docs/mcp.md");
    let mut out = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in text.lines() {
        match (&mut block, line.strip_prefix("```")) {
            (None, Some(info)) if info.trim() == lang => block = Some(Vec::new()),
            (Some(b), Some(_)) => {
                out.push(b.join("\n") + "\n");
                block = None;
            }
            (Some(b), None) => b.push(line),
            (None, _) => {}
        }
    }
    out
}

#[test]
fn the_docs_tools_file_and_client_configs_work_as_written() {
    let Some(python) = sdk_python() else { return };
    let tools_toml = doc_blocks("toml")
        .into_iter()
        .find(|b| b.starts_with("# tools.toml"))
        .expect("docs/mcp.md has the tools.toml example");
    let dir = tempdir(0o755);
    let tools = dir.path().join("tools.toml");
    std::fs::write(&tools, &tools_toml).unwrap();
    let configs = doc_blocks("json");
    assert_eq!(configs.len(), 2, "VS Code and Claude Desktop");
    each_identity(|ctx| {
        let mut check = ctx.tooljail(["mcp", "--check", tools.to_str().unwrap()]);
        check.current_dir(dir.path());
        let r = run_for(check, Duration::from_secs(60));
        r.expect(0);
        assert!(r.stdout.contains("served   search"), "{}", r.dump());
        assert!(r.stdout.contains("served   word_count"), "{}", r.dump());
        for (config, key) in configs.iter().zip(["servers", "mcpServers"]) {
            let v: Value = serde_json::from_str(config).unwrap_or_else(|e| panic!("{e}\n{config}"));
            let servers = &v[key];
            let memory = &servers["memory"];
            assert!(memory["command"].as_str().unwrap().ends_with("tooljail"));
            assert_eq!(
                memory["args"].as_array().unwrap()[0..3],
                [json!("run"), json!("-p"), json!("mcp-memory")]
            );
            let tools_entry = &servers["jailed-tools"];
            assert!(tools_entry["command"]
                .as_str()
                .unwrap()
                .ends_with("tooljail"));
            let mut args: Vec<String> = tools_entry["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            assert_eq!(args[..2], ["mcp", "--tools"], "{config}");
            args[2] = tools.display().to_string();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let calls = json!([["word_count", {"text": "one two three"}, null]]);
            let seen = client(
                ctx,
                &python,
                "tools",
                &args,
                &[("CALLS", calls.to_string())],
            );
            assert_eq!(seen["tools"], json!(["search", "word_count"]), "{seen:#}");
            assert_eq!(seen["calls"][0]["text"][0], "3\n", "{seen:#}");
        }
    });
}

#[test]
fn a_server_ended_by_a_signal_leaves_no_report_directory() {
    use nix::sys::signal::Signal;
    let dir = tempdir(0o755);
    let tools = tools_file(dir.path());
    each_identity(|ctx| {
        for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
            let tmp = tempdir(0o1777);
            let entries = || std::fs::read_dir(tmp.path()).unwrap().count();
            let mut s = Raw::start_in(ctx, &tools, tmp.path());
            s.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"fail\",\"arguments\":{\"status\":2}}}");
            assert_eq!(s.recv()["id"], 1);
            assert_eq!(entries(), 1, "the server's report directory");
            let pid = nix::unistd::Pid::from_raw(s.child.id() as i32);
            nix::sys::signal::kill(pid, sig).unwrap();
            let ended = crate::support::wait_until(Duration::from_secs(10), || {
                s.child.try_wait().unwrap().is_some()
            });
            assert!(ended, "{sig} did not end the server");
            assert_eq!(entries(), 0, "{sig} left the report directory");
        }
    });
}

#[test]
fn a_cancelled_call_ends_its_jail_and_gets_no_response() {
    let dir = tempdir(0o755);
    let tools = tools_file(dir.path());
    each_identity(|ctx| {
        let mut s = Raw::start(ctx, &tools);
        let marker = crate::support::unique("9");
        let started = std::time::Instant::now();
        s.send(&format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"sleep\",\"arguments\":{{\"seconds\":{marker}}}}}}}"
        ));
        assert!(
            crate::support::wait_until(Duration::from_secs(20), || {
                !crate::support::host_pids_running("sleep", &marker).is_empty()
            }),
            "the call's sleep never started"
        );
        s.send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1,\"reason\":\"test\"}}");
        assert!(
            crate::support::wait_until(Duration::from_secs(20), || {
                crate::support::host_pids_running("sleep", &marker).is_empty()
            }),
            "the cancelled call's jail is still running"
        );
        // The next answer is the ping's: the cancelled call got none.
        s.send("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
        assert_eq!(s.recv()["id"], 2);
        assert!(started.elapsed() < Duration::from_secs(60));
    });
}
