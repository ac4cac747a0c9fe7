//! Long-lived stdio MCP servers under the shipped server profiles (`mcp-python`, `mcp-node`),
//! driven by the official MCP Python SDK: the server's tools work through tooljail's stdio,
//! its state directory (made by tooljail on first use) persists across restarts, and nothing
//! else on the host is writable, tried by the server itself.

use crate::mcp::{client, node_server, sdk_python};
use crate::support::{each_identity, profiles::give_to_jail, tempdir, Ctx};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A profile extending `base` (a shipped server profile) with this test's state directory,
/// the server's code read-only and executable (native modules are mapped executable), `env`; in `dir`, readable by every identity.
fn server_profile(dir: &Path, base: &str, state: &Path, code: &[&Path], env: &str) -> PathBuf {
    let ro: Vec<String> = code
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    let text = format!(
        "extends = [\"{base}\"]\n[server]\nstate = {:?}\n[filesystem]\nexecutable = [{}]\n[env]\nset = {{ {env} }}\n",
        state.display().to_string(),
        ro.join(", ")
    );
    let path = dir.join(format!("{base}-{}.toml", crate::support::unique("p")));
    std::fs::write(&path, text).unwrap();
    path
}

/// Host paths the server must not be able to create: its working directory on the host, the
/// state directory's parent, a world-writable host directory, the server's own code, HOME and
/// /tmp (the jail's are its scratch: a file written there must not appear on the host).
fn forbidden(ctx: &Ctx, home: &Path, open: &Path, parent: &Path, code: &Path) -> Vec<PathBuf> {
    let m = crate::support::unique("w");
    let _ = ctx;
    vec![
        parent.join(format!("beside-state-{m}")),
        open.join(format!("open-{m}")),
        code.join(format!("code-{m}")),
        home.join(format!("home-{m}")),
        PathBuf::from(format!("/tmp/tmp-{m}")),
        PathBuf::from(format!("/var/tmp/vartmp-{m}")),
    ]
}

fn texts(call: &Value) -> String {
    call["text"][0].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_python_sdk_server_keeps_its_state_and_writes_nothing_else() {
    let Some(python) = sdk_python() else { return };
    let venv = python.parent().unwrap().parent().unwrap().to_path_buf();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp");
    let server = scripts.join("notes_server.py");
    let profiles = tempdir(0o755);
    each_identity(|ctx| {
        let root = tempdir(0o755);
        give_to_jail(ctx, root.path());
        let open = tempdir(0o777);
        // Made by tooljail on first use.
        let state = root.path().join("state");
        let profile = server_profile(
            profiles.path(),
            "mcp-python",
            &state,
            &[&venv, &scripts],
            "MARK = \"1\"",
        );
        let args = |extra: &[&str]| -> Vec<String> {
            let mut a = vec![
                "run".into(),
                "-p".into(),
                profile.display().to_string(),
                "--".into(),
            ];
            a.push(python.display().to_string());
            a.push(server.display().to_string());
            a.extend(extra.iter().map(|s| s.to_string()));
            a
        };
        let run = |calls: Value| -> Value {
            let a = args(&[]);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            client(ctx, &python, "server", &a, &[("CALLS", calls.to_string())])
        };
        let first = run(json!([["add_note", {"text": "first"}, null]]));
        assert_eq!(first["server"], "notes");
        assert_eq!(
            first["tools"],
            json!(["add_note", "list_notes", "try_write"])
        );
        assert_eq!(texts(&first["calls"][0]), "saved", "{first:#}");
        let meta = std::fs::metadata(&state).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
            0o700
        );

        let home = match &ctx.who {
            crate::support::Who::User { name, .. } => {
                nix::unistd::User::from_name(name).unwrap().unwrap().dir
            }
            _ => PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())),
        };
        let targets = forbidden(ctx, &home, open.path(), root.path(), &scripts);
        let mut calls = vec![
            json!(["list_notes", {}, null]),
            json!(["add_note", {"text": "second"}, null]),
        ];
        for t in &targets {
            calls.push(json!(["try_write", {"path": t}, null]));
        }
        calls.push(json!(["try_write", {"path": state.join("inside.txt")}, null]));
        let second = run(Value::Array(calls));
        let c = second["calls"].as_array().unwrap();
        assert_eq!(
            texts(&c[0]),
            "first\n",
            "the state survived the restart\n{second:#}"
        );
        assert_eq!(texts(&c[1]), "saved");
        for (t, r) in targets.iter().zip(&c[2..]) {
            assert!(!t.exists(), "{} was created on the host ({r})", t.display());
        }
        assert_eq!(texts(c.last().unwrap()), "written", "{second:#}");
        assert!(state.join("inside.txt").exists());
        assert_eq!(
            std::fs::read_to_string(state.join("notes.txt")).unwrap(),
            "first\nsecond\n"
        );
    });
}

#[test]
fn an_npm_reference_server_keeps_its_memory_across_restarts() {
    let Some(python) = sdk_python() else { return };
    let Some(pkg) = node_server() else { return };
    let entry = pkg.join("node_modules/@modelcontextprotocol/server-memory/dist/index.js");
    let profiles = tempdir(0o755);
    each_identity(|ctx| {
        let root = tempdir(0o755);
        give_to_jail(ctx, root.path());
        let state = root.path().join("memory");
        let file = state.join("memory.jsonl");
        let profile = server_profile(
            profiles.path(),
            "mcp-node",
            &state,
            &[&pkg],
            &format!("MEMORY_FILE_PATH = {:?}", file.display().to_string()),
        );
        let run = |calls: Value| -> Value {
            let p = profile.display().to_string();
            let e = entry.display().to_string();
            client(
                ctx,
                &python,
                "server",
                &["run", "-p", &p, "--", "node", &e],
                &[("CALLS", calls.to_string())],
            )
        };
        let first = run(json!([["create_entities", {"entities": [
            {"name": "tooljail", "entityType": "project", "observations": ["jails tool calls"]}
        ]}, null]]));
        assert_eq!(first["calls"][0]["is_error"], false, "{first:#}");
        assert!(first["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("read_graph")));
        let second = run(json!([["read_graph", {}, null]]));
        let graph = &second["calls"][0]["structured"];
        assert_eq!(graph["entities"][0]["name"], "tooljail", "{second:#}");
        assert_eq!(graph["entities"][0]["observations"][0], "jails tool calls");
        assert!(std::fs::read_to_string(&file)
            .unwrap()
            .contains("jails tool calls"));
    });
}

#[test]
fn a_server_profile_refuses_another_writable_path_and_output_caps() {
    each_identity(|ctx| {
        let dir = tempdir(0o755);
        let r = crate::support::run_for(
            ctx.tooljail([
                "run",
                "-p",
                "mcp-python",
                "--rw",
                dir.path().to_str().unwrap(),
                "--",
                "true",
            ]),
            std::time::Duration::from_secs(30),
        );
        r.expect(125);
        assert!(
            r.stderr
                .contains("only writable host path is its state directory"),
            "{}",
            r.dump()
        );
        let r = crate::support::run_for(
            ctx.tooljail(["run", "-p", "mcp-node", "--stdout-max", "1K", "--", "true"]),
            std::time::Duration::from_secs(30),
        );
        r.expect(125);
        assert!(r.stderr.contains("takes no output cap"), "{}", r.dump());
    });
}
