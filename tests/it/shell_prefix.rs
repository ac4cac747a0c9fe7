//! `tooljail -c STRING` as Claude Code's `CLAUDE_CODE_SHELL_PREFIX` runs it: the Bash tool's
//! command string (`eval 'CMD' < /dev/null`, quoted by the `shell-quote` package's rules) put
//! after the prefix by `formatShellPrefixCommand` (the prefix split at its last " -", the
//! executable quoted, the flag kept, the command string quoted) and the result run by the
//! user's shell as `bash -c RESULT`. Each of 20 commands must print the same stdout and end
//! with the same status under `tooljail -c` as under `/bin/sh -c` outside.

use crate::support::{each_identity, records_dir, run_for, Ctx};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// shell-quote's `quote([s])` (npm shell-quote 1.8, which Claude Code uses): single quotes
/// when the string has whitespace, `"` or `\` and no `'`; double quotes, with `"`, `\`, `$`,
/// `` ` `` and `!` escaped, when it has `'`; else each special character backslash-escaped.
fn quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let special_space = s
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_whitespace());
    if special_space && !s.contains('\'') {
        return format!("'{s}'");
    }
    if s.chars()
        .any(|c| c == '"' || c == '\'' || c.is_whitespace())
    {
        let mut out = String::from("\"");
        for c in s.chars() {
            if matches!(c, '"' | '\\' | '$' | '`' | '!') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        return out;
    }
    let mut out = String::new();
    for c in s.chars() {
        if "#!\"$&'()*,:;<=>?@[\\]^`{|}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Claude Code's `formatShellPrefixCommand(prefix, command)`.
fn format_shell_prefix_command(prefix: &str, command: &str) -> String {
    match prefix.rfind(" -") {
        Some(i) if i > 0 => format!(
            "{} {} {}",
            quote(&prefix[..i]),
            &prefix[i + 1..],
            quote(command)
        ),
        _ => format!("{} {}", quote(prefix), quote(command)),
    }
}

/// The Bash tool's command string for `cmd` (without the shell snapshot and the cwd file,
/// which need bash and the caller's home: docs/jail.md says what to bind for them).
fn bash_tool_string(cmd: &str) -> String {
    format!("eval {} < /dev/null", quote(cmd))
}

const COMMANDS: &[&str] = &[
    "echo hello",
    "echo 'single quoted $HOME'",
    "echo \"double $((1+2))\"",
    "printf '%s\\n' a b c | sort -r | head -n 2",
    "echo $(echo nested $(echo deeper))",
    "x=5; [ \"$x\" -gt 3 ] && echo big || echo small",
    "exit 7",
    "false && echo no; echo after $?",
    "cat <<'EOF'\nline $HOME `x`\n  indented\nEOF",
    "cat <<EOF\nsum $((2*21))\nEOF",
    "for i in 1 2 3; do printf \"%s-\" \"$i\"; done; echo",
    "echo \"it's\" 'a \"quote\"'",
    "test -d / && echo dir",
    "echo a\\ b \\\"c\\\"",
    "sh -c 'exit 3'; echo \"status $?\"",
    "seq 1 5 | awk '{s+=$1} END {print s}'",
    "f() { echo \"fn $1\"; }; f arg; exit 0",
    "printf 'a\\tb\\n' | tr '\\t' _",
    "echo 'to stderr' >&2; echo out; exit 42",
    "echo \"!bang\" 'and $dollar' | wc -c",
    "case foo in f*) echo matched;; esac; sh -c 'kill -TERM $$'; echo \"killed $?\"",
];

fn through_prefix(ctx: &Ctx, prefix_exe: &Path, cmd: &str, records: &Path) -> (String, i32) {
    let (mut c, bin) = ctx.program("/bin/bash");
    let exe = if prefix_exe.as_os_str().is_empty() {
        bin
    } else {
        prefix_exe.to_path_buf()
    };
    let outer =
        format_shell_prefix_command(&format!("{} -c", exe.display()), &bash_tool_string(cmd));
    c.arg("-c").arg(outer);
    c.env(
        "TOOLJAIL_AUDIT_LOG",
        records.join(format!("audit-{}.log", ctx.own_uid())),
    );
    let r = run_for(c, Duration::from_secs(60));
    let code = r
        .status
        .and_then(|s| s.code())
        .unwrap_or_else(|| panic!("{}", r.dump()));
    (r.stdout, code)
}

#[test]
fn claude_codes_quoting_gives_the_same_stdout_and_status_as_sh_outside() {
    assert!(COMMANDS.len() >= 20);
    let records = records_dir();
    each_identity(|ctx| {
        for cmd in COMMANDS {
            let outside = through_prefix(ctx, Path::new("/bin/sh"), cmd, records.path());
            let jailed = through_prefix(ctx, Path::new(""), cmd, records.path());
            assert_eq!(jailed, outside, "command {cmd:?} as {:?}", ctx.who);
        }
    });
}

#[test]
fn the_prefix_quoting_is_claude_codes() {
    // The shapes formatShellPrefixCommand produces (from its own examples).
    assert_eq!(format_shell_prefix_command("bash", "ls"), "bash ls");
    assert_eq!(
        format_shell_prefix_command("/usr/bin/tooljail -c", "echo 'a b'"),
        "/usr/bin/tooljail -c \"echo 'a b'\""
    );
    assert_eq!(
        format_shell_prefix_command("/opt/my tools/tooljail -c", "echo hi"),
        "'/opt/my tools/tooljail' -c 'echo hi'"
    );
    assert_eq!(quote("a$b"), "a\\$b");
    assert_eq!(quote("it's $x!"), "\"it's \\$x\\!\"");
}

#[test]
fn settings_come_from_the_environment_and_stdout_is_the_commands_own() {
    let records = records_dir();
    each_identity(|ctx| {
        let work = crate::support::tempdir(0o755);
        crate::support::profiles::give_to_jail(ctx, work.path());
        let report = records
            .path()
            .join(format!("report-{}.json", ctx.own_uid()));
        let mut c = ctx.tooljail(["-c", "echo made > out.txt; cat out.txt; exit 5"]);
        c.current_dir(work.path())
            .env("TOOLJAIL_PROFILE", "shell")
            .env("TOOLJAIL_RW", work.path())
            .env("TOOLJAIL_REPORT", &report)
            .env("TOOLJAIL_TOOL", "prefix-test")
            .env(
                "TOOLJAIL_AUDIT_LOG",
                records.path().join(format!("audit-{}.log", ctx.own_uid())),
            );
        let r = run_for(c, Duration::from_secs(60));
        r.expect(5);
        assert_eq!(r.stdout, "made\n", "{}", r.dump());
        assert_eq!(
            std::fs::read_to_string(work.path().join("out.txt")).unwrap(),
            "made\n"
        );
        let rep: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert!(
            rep["profiles"]
                .as_array()
                .unwrap()
                .contains(&json!("shell")),
            "{rep:#}"
        );
        assert_eq!(rep["identity"]["tool"], "prefix-test");
        assert_eq!(rep["argv"][0], "/bin/sh");
        assert_eq!(rep["argv"][1], "-c");

        // A report on stdout would mix with the command's output: refused, nothing runs.
        let mut c = ctx.tooljail(["-c", "echo ran"]);
        c.env("TOOLJAIL_REPORT", "-");
        let r = run_for(c, Duration::from_secs(30));
        r.expect(125);
        assert_eq!(r.stdout, "", "{}", r.dump());
        assert!(r.stderr.contains("nothing to stdout"), "{}", r.dump());
    });
}
