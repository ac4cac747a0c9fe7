//! Egress by domain (`[network] allow_domains`, src/net/): the command's only way out is the
//! supervisor's proxy, which connects to allowed names only. Every server here is started by
//! the test on the host's loopback; test names reach it through the documented `[network]
//! hosts` pins, so no outside network is needed. As root and as the unprivileged test user,
//! bounded in time. Needs curl, python3 and openssl (tests/setup.sh).

use crate::support::profiles::{workdir, TOOL_TIMEOUT};
use crate::support::{each_identity, profile_file, records_dir, run_for, Ctx, KillOnDrop, Run};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An HTTP server on 127.0.0.1 that answers each request with its own head (`ok` for a path
/// holding `quiet`): what the proxy sent is what the test reads. Returns the port and every
/// head received.
fn echo_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(&stream);
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
                line.clear();
            }
            seen.lock().unwrap().push(head.clone());
            let body = match head.lines().next() {
                Some(first) if first.contains("quiet") => "ok",
                _ => head.as_str(),
            };
            let _ = write!(
                stream,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, heads)
}

/// A TLS server (`openssl s_server -www`, a self-signed certificate for pkg.test) on
/// 127.0.0.1; its port. Killed when `guard` is dropped.
fn tls_server(guard: &mut KillOnDrop, dir: &Path) -> u16 {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=pkg.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is needed (apt-get install -y openssl)");
    assert!(made.success(), "openssl req failed");
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    guard.child(child);
    let up = crate::support::wait_until(Duration::from_secs(10), || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
    });
    assert!(up, "openssl s_server did not start");
    port
}

/// One jailed `sh -c script` under `profile`, with `env` in tooljail's environment: the run,
/// its report and its audit record.
fn egress(ctx: &Ctx, profile: &Path, env: &[(&str, &str)], script: &str) -> (Run, Value, Value) {
    egress_in(ctx, profile, env, &[], script)
}

/// [`egress`] in a working directory holding `files`.
fn egress_in(
    ctx: &Ctx,
    profile: &Path,
    env: &[(&str, &str)],
    files: &[(&str, &str)],
    script: &str,
) -> (Run, Value, Value) {
    let out = records_dir();
    let (report, audit) = (out.path().join("r.json"), out.path().join("a.jsonl"));
    let dir = workdir(files);
    let script = script.replace("@DIR@", dir.path().to_str().unwrap());
    let mut cmd = ctx.tooljail([
        "run",
        "--ro",
        dir.path().to_str().unwrap(),
        "-p",
        profile.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--audit-log",
        audit.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    cmd.current_dir(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = run_for(cmd, TOOL_TIMEOUT);
    let read = |p: &Path, last_line: bool| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|t| {
                let text = if last_line {
                    t.lines().last().unwrap_or("")
                } else {
                    &t
                };
                serde_json::from_str(text).ok()
            })
            .unwrap_or(Value::Null)
    };
    let (report, audit) = (read(&report, false), read(&audit, true));
    (run, report, audit)
}

fn dump(run: &Run, report: &Value) -> String {
    format!("{}\n--- network\n{:#}", run.dump(), report["network"])
}

/// The report's connections with `host` and `kind`.
fn conns<'a>(report: &'a Value, host: &str, kind: &str) -> Vec<&'a Value> {
    report["network"]["connections"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| c["host"] == host && c["kind"] == kind)
                .collect()
        })
        .unwrap_or_default()
}

/// Exactly one connection to `host` of `kind` with `verdict` and `rule`.
#[track_caller]
fn one<'a>(
    report: &'a Value,
    run: &Run,
    host: &str,
    kind: &str,
    verdict: &str,
    rule: &str,
) -> &'a Value {
    let found: Vec<_> = conns(report, host, kind)
        .into_iter()
        .filter(|c| c["verdict"] == verdict && c["rule"] == rule)
        .collect();
    assert!(
        found.len() == 1,
        "want one {kind} to {host}: {verdict} by {rule}\n{}",
        dump(run, report)
    );
    found[0]
}

/// What the command printed after `label` on a line of its own.
#[track_caller]
fn labelled(run: &Run, label: &str) -> String {
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} line\n{}", run.dump()))
        .to_string()
}

fn profile(body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    profile_file(&format!(
        "description = \"egress test\"\nextends = [\"base\"]\n{body}"
    ))
}

#[test]
fn an_allowed_name_works_over_connect_and_plain_http() {
    let mut guard = KillOnDrop::new();
    let certs = crate::support::tempdir(0o700);
    let tls = tls_server(&mut guard, certs.path());
    let (port, heads) = echo_server();
    let (_d, p) = profile(&format!(
        "[network]\nallow_domains = [\"pkg.test\"]\nallow_ports = [{port}, {tls}]\n\
         hosts = {{ \"pkg.test\" = \"127.0.0.1\" }}\n"
    ));
    each_identity(|ctx| {
        heads.lock().unwrap().clear();
        // Plain HTTP through the proxy, the same name written with its trailing dot (the
        // same host: its pin applies), and HTTPS (CONNECT, SNI pkg.test) to the TLS server;
        // then the name from the jail's resolver.
        let script = format!(
            "curl -fsS http://pkg.test:{port}/plain && curl -fsS http://pkg.test.:{port}/dot && \
             curl -fsSk https://pkg.test:{tls}/ | grep -c s_server && getent hosts pkg.test"
        );
        let (run, report, audit) = egress(ctx, &p, &[], &script);
        assert_eq!(run.code(), 0, "{}", dump(&run, &report));
        assert!(
            run.stdout.contains("GET /plain HTTP/1.1"),
            "{}",
            dump(&run, &report)
        );
        assert!(
            run.stdout
                .contains(&format!("GET /dot HTTP/1.1\r\nHost: pkg.test:{port}\r\n")),
            "{}",
            dump(&run, &report)
        );
        assert!(
            run.stdout.contains("127.0.0.1       pkg.test"),
            "{}",
            dump(&run, &report)
        );
        let got = heads.lock().unwrap().clone();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].contains("Connection: close") && !got[0].contains("Proxy-"),
            "{got:?}"
        );
        let plain = conns(&report, "pkg.test", "http");
        assert_eq!(plain.len(), 2, "{}", dump(&run, &report));
        for c in plain {
            assert_eq!(c["address"], "127.0.0.1");
            assert_eq!(c["verdict"], "allowed");
            assert!(c["bytes_sent"].as_u64() > Some(30) && c["bytes_received"].as_u64() > Some(30));
        }
        let tunnels = conns(&report, "pkg.test", "connect");
        assert_eq!(tunnels.len(), 1, "{}", dump(&run, &report));
        assert!(tunnels
            .iter()
            .all(|c| c["verdict"] == "allowed" && c["bytes_received"].as_u64() > Some(100)));
        one(&report, &run, "pkg.test", "dns", "allowed", "pkg.test");
        assert_eq!(report["network"]["refused"], 0, "{}", dump(&run, &report));
        assert_eq!(
            audit["network"]["allowed"], report["network"]["allowed"],
            "the audit record counts them"
        );
        assert!(report["isolation"]["egress_proxy"].is_string());
    });
}

/// DNS questions the jail's resolver gets for what is no host name, under an allowed wildcard:
/// a label holding a line break and then a line that reads as tooljail's own, a terminal
/// escape, a space. Each is refused by the `name` rule (NXDOMAIN, looked up nowhere), the
/// report keeps the name exact, and tooljail's line about it stays one line with no escape. A
/// host name under the same wildcard is judged and answered as before.
#[test]
fn a_question_for_no_host_name_is_refused_and_shown_on_one_line() {
    if !crate::support::need_python() {
        return;
    }
    const FORGED: &str = "tooljail: nothing was refused";
    let (_d, p) = profile(
        "[network]\nallow_domains = [\"*.pkg.test\"]\nhosts = { \"a.pkg.test\" = \"127.0.0.1\" }\n",
    );
    let ask = "import socket, struct\n\
               def ask(labels):\n\
               \x20   q = struct.pack('>HHHHHH', 7, 0x0100, 1, 0, 0, 0)\n\
               \x20   q += b''.join(bytes([len(l)]) + l for l in labels) + b'\\0' + struct.pack('>HH', 1, 1)\n\
               \x20   s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)\n\
               \x20   s.sendto(q, ('127.0.0.1', 53)); a = s.recv(512)\n\
               \x20   return a[3] & 15, a[7]\n\
               for tag, first in [('line', b'a\\ntooljail: nothing was refused'), ('escape', b'x\\x1b]0;t\\x07'),\n\
               \x20                  ('space', b'a b'), ('good', b'a')]:\n\
               \x20   print(tag, *ask([first, b'pkg', b'test']))\n";
    let shown = |first: &str| format!("{first}.pkg.test");
    each_identity(|ctx| {
        let (run, report, _) = egress_in(
            ctx,
            &p,
            &[],
            &[("ask.py", ask)],
            "python3 @DIR@/ask.py 2>/dev/null",
        );
        assert_eq!(run.code(), 0, "{}", dump(&run, &report));
        for tag in ["line", "escape", "space"] {
            // NXDOMAIN, no answer.
            assert_eq!(
                labelled(&run, &format!("{tag} ")),
                "3 0",
                "{}",
                dump(&run, &report)
            );
        }
        assert_eq!(labelled(&run, "good "), "0 1", "{}", dump(&run, &report));
        for name in [
            format!("a\n{FORGED}"),
            "x\u{1b}]0;t\u{7}".to_string(),
            "a b".to_string(),
        ] {
            one(&report, &run, &shown(&name), "dns", "refused", "name");
        }
        one(&report, &run, "a.pkg.test", "dns", "allowed", "*.pkg.test");
        let err = &run.stderr;
        assert!(
            err.contains(&format!(
                "tooljail: network: refused a\\n{FORGED}.pkg.test:53 (name); "
            )) && err
                .contains("tooljail: network: refused x\\u{1b}]0;t\\u{7}.pkg.test:53 (name); "),
            "{}",
            dump(&run, &report)
        );
        assert!(!err.chars().any(|c| c.is_control() && c != '\n'), "{err:?}");
        assert!(
            err.lines()
                .all(|l| l.starts_with("tooljail: ") && !l.starts_with(FORGED)),
            "{err:?}"
        );
    });
}

#[test]
fn everything_else_fails_and_is_reported() {
    if !crate::support::need_python() {
        return;
    }
    let mut guard = KillOnDrop::new();
    let certs = crate::support::tempdir(0o700);
    let tls = tls_server(&mut guard, certs.path());
    let (port, heads) = echo_server();
    // "localhost" is allowed by name but resolves (on the host) to loopback, which no hosts
    // entry pins for it: refused at the address, as a rebinding name would be.
    let (_d, p) = profile(&format!(
        "[network]\nallow_domains = [\"pkg.test\", \"localhost\"]\nallow_ports = [{port}, {tls}]\n\
         hosts = {{ \"pkg.test\" = \"127.0.0.1\" }}\n"
    ));
    // A TLS handshake through a tunnel opened for pkg.test that names another server.
    let sni = format!(
        "import socket, ssl\n\
         s = socket.create_connection(('127.0.0.1', 3128))\n\
         s.sendall(b'CONNECT pkg.test:{tls} HTTP/1.1\\r\\nHost: pkg.test:{tls}\\r\\n\\r\\n')\n\
         print(s.recv(200).split(b'\\r\\n')[0].decode())\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n\
         try:\n    c.wrap_socket(s, server_hostname='evil.test'); print('sni: handshake done')\n\
         except Exception as e:\n    print('sni: refused')\n"
    );
    // The same tunnel, the handshake held back past the proxy's wait (a hello that came late
    // was once let through unchecked).
    let late = format!(
        "import socket, ssl, time\n\
         s = socket.create_connection(('127.0.0.1', 3128))\n\
         s.sendall(b'CONNECT pkg.test:{tls} HTTP/1.1\\r\\nHost: pkg.test:{tls}\\r\\n\\r\\n')\n\
         s.recv(200); time.sleep(3.5)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n\
         try:\n    c.wrap_socket(s, server_hostname='evil.test'); print('late: handshake done')\n\
         except Exception as e:\n    print('late: refused')\n"
    );
    // Request heads the origin could read as another request than the one judged: a bare LF
    // before a second Host, two Host headers.
    let smuggle = format!(
        "import socket\n\
         for extra in [b'X: a\\nHost: evil.test\\r\\n', b'Host: evil.test\\r\\n']:\n\
         \x20   s = socket.create_connection(('127.0.0.1', 3128))\n\
         \x20   s.sendall(b'GET http://pkg.test:{port}/ HTTP/1.1\\r\\nHost: pkg.test:{port}\\r\\n' + extra + b'\\r\\n')\n\
         \x20   print('smuggle', s.recv(200).split(b'\\r\\n')[0].decode())\n"
    );
    // UDP out of the jail, as a tool that ignores every variable would send it.
    let udp = "import socket\n\
               s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
               try:\n    s.connect(('192.0.2.1', 53)); s.send(b'x'); print('udp: sent')\n\
               except OSError as e:\n    print('udp: failed', e.errno)\n";
    each_identity(|ctx| {
        heads.lock().unwrap().clear();
        let script = format!(
            "code() {{ curl -sS -o /dev/null -w '%{{http_code}}\\n' \"$@\"; }}; \
             echo evil $(code http://evil.test:{port}/); \
             echo raw-ip $(code --noproxy '' -p http://127.0.0.1:{port}/); \
             echo port $(code http://pkg.test:1/); \
             echo localhost $(code --noproxy '' http://localhost:{port}/); \
             echo host-header $(code -H 'Host: evil.test' http://pkg.test:{port}/); \
             echo bypass $(code --noproxy '*' http://pkg.test:{port}/); \
             echo bypass-ip $(code --noproxy '*' http://192.0.2.1:{port}/); \
             echo tunnel-http $(code -p http://pkg.test:{port}/); \
             getent hosts evil.test || echo dns: none; \
             python3 @DIR@/sni.py; python3 @DIR@/late.py; python3 @DIR@/smuggle.py; \
             python3 @DIR@/udp.py; true"
        );
        let files = [
            ("sni.py", sni.as_str()),
            ("late.py", late.as_str()),
            ("smuggle.py", smuggle.as_str()),
            ("udp.py", udp),
        ];
        let (run, report, audit) = egress_in(ctx, &p, &[], &files, &script);
        let out = &run.stdout;
        let d = || dump(&run, &report);
        for want in [
            "evil 403",
            "raw-ip 000", // CONNECT refused: curl reports no HTTP code of the origin
            "port 403",
            "localhost 403",
            "host-header 403",
            "bypass 000",
            "bypass-ip 000",
            "dns: none",
            "HTTP/1.1 200 Connection established",
            "sni: refused",
            "tunnel-http 000", // a tunnel carries TLS only: plain HTTP through it is refused
            "late: refused",
            "smuggle HTTP/1.1 400 Bad Request\nsmuggle HTTP/1.1 400 Bad Request",
            "udp: failed 101", // ENETUNREACH: the namespace has no route out
        ] {
            assert!(out.contains(want), "stdout lacks {want:?}\n{}", d());
        }
        // Nothing reached the servers: every refusal happened before a connection out.
        assert!(
            heads.lock().unwrap().is_empty(),
            "{:?}",
            heads.lock().unwrap()
        );
        one(
            &report,
            &run,
            "evil.test",
            "http",
            "refused",
            "allow_domains",
        );
        one(
            &report,
            &run,
            "127.0.0.1",
            "connect",
            "refused",
            "allow_domains",
        );
        one(&report, &run, "pkg.test", "http", "refused", "allow_ports");
        let lo = one(&report, &run, "localhost", "http", "refused", "address");
        assert!(lo["remedy"].as_str().unwrap().contains("hosts"), "{}", d());
        let sni = conns(&report, "pkg.test", "connect");
        assert_eq!(
            sni.iter()
                .filter(|c| c["verdict"] == "refused" && c["rule"] == "sni")
                .count(),
            3,
            "the other name, the late hello, plain HTTP in a tunnel\n{}",
            d()
        );
        one(
            &report,
            &run,
            "evil.test",
            "dns",
            "refused",
            "allow_domains",
        );
        // The direct connects (curl --noproxy, python's UDP) are named in the denials.
        let denials = report["denials"].as_array().cloned().unwrap_or_default();
        for addr in [format!("192.0.2.1:{port}"), "192.0.2.1:53".to_string()] {
            assert!(
                denials.iter().any(|x| x["address"] == addr.as_str()
                    && x["hint"].as_str().unwrap_or("").contains("allow_domains")),
                "no denial for {addr}\n{}",
                d()
            );
        }
        // One stderr line per refused destination, naming it and the key that allows it.
        assert!(
            run.stderr.contains("tooljail: network: refused evil.test:")
                && run.stderr.contains("allow_domains = [\"evil.test\"]"),
            "{}",
            d()
        );
        let refused = report["network"]["refused"].as_u64().unwrap();
        assert!(refused >= 7, "{}", d());
        assert_eq!(
            audit["network"]["refused"], refused,
            "the audit record counts them"
        );
    });
}

#[test]
fn a_credential_reaches_only_its_host_and_never_the_jail() {
    let (port, heads) = echo_server();
    let secret_file = crate::support::tempdir(0o755);
    let file = secret_file.path().join("token");
    std::fs::write(&file, "from-a-file-7731\n").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (_d, p) = profile(&format!(
        "[network]\nallow_domains = [\"api.test\", \"other.test\"]\nallow_ports = [{port}]\n\
         hosts = {{ \"api.test\" = \"127.0.0.1\", \"other.test\" = \"127.0.0.1\" }}\n\
         [[network.credential]]\nenv = \"API_TOKEN\"\nhosts = [\"api.test\"]\nfrom_env = \"REAL_API_TOKEN\"\n\
         [[network.credential]]\nenv = \"FILE_TOKEN\"\nhosts = [\"api.test\"]\nheader = \"X-Key\"\nfrom_file = \"{}\"\n",
        file.display()
    ));
    const REAL: &str = "real-value-5f1c9e";
    // What the jail greps for, written so that the command line (which the report holds) does
    // not contain the value itself.
    let pat = format!("{}[{}]", &REAL[..REAL.len() - 1], &REAL[REAL.len() - 1..]);
    each_identity(|ctx| {
        heads.lock().unwrap().clear();
        let script = format!(
            "echo \"seen: $API_TOKEN\"; \
             curl -fsS -o /dev/null -H \"Authorization: Bearer $API_TOKEN\" -H \"X-Key: $FILE_TOKEN\" http://api.test:{port}/one-quiet && \
             curl -fsS -o /dev/null -H \"Authorization: Bearer $API_TOKEN\" http://other.test:{port}/two && \
             {{ curl -sS -H \"Authorization: Bearer $API_TOKEN\" http://api.test:{port}/echo; echo \"echo: $?\"; }} && \
             (env; cat /proc/self/environ; ls -R /scratch /tmp) | grep -c -e '{pat}' -e 'from-a-fil[e]' || true"
        );
        let (run, report, _) = egress(ctx, &p, &[("REAL_API_TOKEN", REAL)], &script);
        let d = || dump(&run, &report);
        assert_eq!(run.code(), 0, "{}", d());
        let got = heads.lock().unwrap().clone();
        assert_eq!(got.len(), 3, "{got:?}");
        let placeholder = labelled(&run, "seen: ");
        assert!(placeholder.starts_with("tooljail-placeholder-"), "{}", d());
        // The listed host got the real values, in the named headers.
        assert!(
            got[0].contains(&format!("Authorization: Bearer {REAL}\r\n")),
            "{got:?}"
        );
        assert!(got[0].contains("X-Key: from-a-file-7731\r\n"), "{got:?}");
        // Another host got the placeholder, and the report says so.
        assert!(
            got[1].contains(&format!("Authorization: Bearer {placeholder}\r\n")),
            "{got:?}"
        );
        assert!(!got[1].contains(REAL), "{got:?}");
        let one_ = one(&report, &run, "api.test", "http", "allowed", "api.test");
        assert_eq!(
            one_["credentials"],
            serde_json::json!(["API_TOKEN", "FILE_TOKEN"]),
            "{}",
            d()
        );
        let two = one(&report, &run, "other.test", "http", "allowed", "other.test");
        assert_eq!(
            two["placeholders_elsewhere"],
            serde_json::json!(["API_TOKEN"]),
            "{}",
            d()
        );
        // A server that echoes the request would hand the real value back: the proxy cuts the
        // connection before any of it reaches the command (curl prints what it got on stdout,
        // which holds no real value: checked below).
        assert!(got[2].contains(REAL), "{got:?}");
        let echoed = one(&report, &run, "api.test", "http", "failed", "api.test");
        assert!(
            echoed["error"]
                .as_str()
                .is_some_and(|e| e.contains("real value of API_TOKEN back")),
            "{}",
            d()
        );
        assert_eq!(report["network"]["placeholders_elsewhere"], 1);
        // Neither real value is anywhere the command could look: the count printed last is 0.
        assert_eq!(run.stdout.lines().last(), Some("0"), "{}", d());
        assert!(!run.stdout.contains(REAL), "{}", d());
        assert!(
            !serde_json::to_string(&report).unwrap().contains(REAL),
            "{}",
            d()
        );
    });
}

#[test]
fn misconfigurations_stop_the_call_and_calls_without_it_pay_nothing() {
    /// (profile body, tooljail's environment, what stderr says)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case<'_>] = &[
        (
            "[network]\nmode = \"host\"\nallow_domains = [\"pypi.org\"]\n",
            &[],
            "allow_domains needs the jail's private network",
        ),
        (
            "[network]\nallow_domains = [\"a b\"]\n",
            &[],
            "allow_domains entry \"a b\"",
        ),
        (
            "[network]\nallow_ports = [8080]\n",
            &[],
            "has no effect without allow_domains",
        ),
        (
            "[network]\nallow_domains = [\"a.test\"]\n[[network.credential]]\nenv = \"T\"\nhosts = [\"b.test\"]\n",
            &[("T", "x")],
            "credential host \"b.test\" is not in allow_domains",
        ),
        (
            "[network]\nallow_domains = [\"a.test\"]\n[[network.credential]]\nenv = \"T\"\nhosts = [\"a.test\"]\n",
            &[],
            "the caller's environment has no T",
        ),
        (
            "[network]\nallow_domains = [\"a.test\"]\nupstream_ca = [\"/etc/hostname\"]\n",
            &[],
            "upstream_ca has no effect without a credential with terminate_tls = true",
        ),
        (
            "[network]\nallow_domains = [\"a.test\"]\nupstream_ca = [\"/nonexistent/ca.pem\"]\n\
             [[network.credential]]\nenv = \"T\"\nhosts = [\"a.test\"]\nterminate_tls = true\n",
            &[("T", "x")],
            "upstream_ca /nonexistent/ca.pem: cannot read PEM certificates",
        ),
        (
            "isolation = \"landlock\"\n[network]\nallow_domains = [\"a.test\"]\n",
            &[],
            "allow_domains (or --allow-domain) needs the full jail",
        ),
        // The real value may reach the jail by no other way: a kept source variable, a file
        // the jail sees.
        (
            "[env]\nkeep = [\"REAL\"]\n[network]\nallow_domains = [\"a.test\"]\n[[network.credential]]\nenv = \"T\"\nhosts = [\"a.test\"]\nfrom_env = \"REAL\"\n",
            &[("REAL", "real-value-77")],
            "its real value is also in the command's environment, as REAL",
        ),
        (
            "[network]\nallow_domains = [\"a.test\"]\n[[network.credential]]\nenv = \"T\"\nhosts = [\"a.test\"]\nfrom_file = \"/usr/lib/os-release\"\n",
            &[],
            "which the jail sees",
        ),
    ];
    each_identity(|ctx| {
        for (body, env, want) in cases {
            let (_d, p) = profile(body);
            let (run, _, _) = egress(ctx, &p, env, "echo ran");
            assert_eq!(run.code(), 125, "{body}\n{}", run.dump());
            assert!(
                run.stderr.contains(want),
                "{body}: stderr lacks {want:?}\n{}",
                run.dump()
            );
            assert!(!run.stdout.contains("ran"));
        }
        // Without allow_domains: no proxy variables, no proxy, no `network` section.
        let (_d, p) = profile("");
        let (run, report, _) = egress(
            ctx,
            &p,
            &[],
            "env; curl -sS -x http://127.0.0.1:3128 http://a.test/ || echo no-proxy",
        );
        assert_eq!(run.code(), 0, "{}", run.dump());
        assert!(
            !run.stdout.to_ascii_lowercase().contains("_proxy="),
            "{}",
            run.dump()
        );
        assert!(run.stdout.contains("no-proxy"), "{}", run.dump());
        assert!(
            report.get("network").is_none() && report["isolation"].get("egress_proxy").is_none()
        );
        // --allow-domain alone turns it on.
        let mut cmd = ctx.tooljail([
            "run",
            "--allow-domain",
            "pkg.test",
            "--",
            "sh",
            "-c",
            "echo $HTTPS_PROXY",
        ]);
        let dir = workdir(&[]);
        cmd.current_dir(dir.path());
        let r = run_for(cmd, TOOL_TIMEOUT);
        assert_eq!(r.code(), 0, "{}", r.dump());
        assert_eq!(r.stdout.trim(), "http://127.0.0.1:3128");
        // And so does TOOLJAIL_ALLOW_DOMAINS for the command prefix `tooljail -c`.
        let mut cmd = ctx.tooljail(["-c", "echo $https_proxy"]);
        cmd.current_dir(dir.path())
            .env("TOOLJAIL_ALLOW_DOMAINS", "pkg.test, *.example");
        let r = run_for(cmd, TOOL_TIMEOUT);
        assert_eq!(r.code(), 0, "{}", r.dump());
        assert_eq!(r.stdout.trim(), "http://127.0.0.1:3128");
    });
}

/// The Python TLS server of [`https_server`]: answers each GET with "ok" (never echoing what
/// it got, so nothing the proxy put in reaches the jail) and appends each request head to a
/// log the test reads.
const HTTPS_PY: &str = r#"
import http.server, ssl, sys
cert, key, log = sys.argv[1:4]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.requestline + "\r\n" + str(self.headers) + "--\n")
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// A certificate and key (PEM files in `dir`, named `name`) for `names`: signed by `ca`, or
/// self-signed without one.
fn cert_for(
    dir: &Path,
    name: &str,
    names: &[&str],
    ca: Option<&rcgen::Issuer<'_, rcgen::KeyPair>>,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("egress test {name}"));
    let cert = match ca {
        Some(ca) => params.signed_by(&key, ca).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    let (c, k) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

/// The Python TLS server on 127.0.0.1 with `cert`: its port and its log of request heads.
/// Killed when `guard` is dropped.
fn https_server(
    guard: &mut KillOnDrop,
    dir: &Path,
    cert: &Path,
    key: &Path,
) -> (u16, std::path::PathBuf) {
    let log = dir.join(format!(
        "{}.log",
        cert.file_stem().unwrap().to_str().unwrap()
    ));
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(HTTPS_PY)
        .args([cert, key, &log])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 is needed");
    let mut line = String::new();
    let out = child.stdout.take().unwrap();
    guard.child(child);
    BufReader::new(out).read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().expect("the https server's port");
    (port, log)
}

#[test]
fn https_credentials_are_put_in_only_where_a_credential_terminates_tls() {
    let mut guard = KillOnDrop::new();
    let dir = crate::support::tempdir(0o755);
    // The test's CA (trusted by the proxy through upstream_ca) and a server it signs for the
    // listed names; another server whose self-signed certificate nothing trusts.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "egress test CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let ca = rcgen::Issuer::new(ca_params, ca_key);
    let (cert, key) = cert_for(
        dir.path(),
        "good",
        &["api.test", "other.test", "plain.test"],
        Some(&ca),
    );
    let (bad_cert, bad_key) = cert_for(dir.path(), "bad", &["bad.test"], None);
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let f = f.unwrap().path();
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
    let (port, log) = https_server(&mut guard, dir.path(), &cert, &key);
    let (bad_port, bad_log) = https_server(&mut guard, dir.path(), &bad_cert, &bad_key);
    let (_d, p) = profile(&format!(
        "[network]\nallow_domains = [\"api.test\", \"other.test\", \"plain.test\", \"bad.test\"]\n\
         allow_ports = [{port}, {bad_port}]\nupstream_ca = [\"{}\"]\n\
         hosts = {{ \"api.test\" = \"127.0.0.1\", \"other.test\" = \"127.0.0.1\", \"plain.test\" = \"127.0.0.1\", \"bad.test\" = \"127.0.0.1\" }}\n\
         [[network.credential]]\nenv = \"API_TOKEN\"\nhosts = [\"api.test\", \"bad.test\"]\nfrom_env = \"REAL_API_TOKEN\"\nterminate_tls = true\n\
         [[network.credential]]\nenv = \"PLAIN_TOKEN\"\nhosts = [\"plain.test\"]\nfrom_env = \"REAL_PLAIN_TOKEN\"\n",
        ca_file.display()
    ));
    const REAL: &str = "real-https-value-81d2";
    const PLAIN: &str = "real-plain-value-4c07";
    let pat = |v: &str| format!("{}[{}]", &v[..v.len() - 1], &v[v.len() - 1..]);
    each_identity(|ctx| {
        let _ = std::fs::remove_file(&log);
        let _ = std::fs::remove_file(&bad_log);
        let script = format!(
            "echo \"seen: $API_TOKEN\"; echo \"plain: $PLAIN_TOKEN\"; \
             test -r \"$SSL_CERT_FILE\" && test \"$CURL_CA_BUNDLE\" = \"$SSL_CERT_FILE\" || echo no-bundle; \
             c='curl -sS --max-time 20 -o /dev/null'; \
             $c -v -f -H \"Authorization: Bearer $API_TOKEN\" https://api.test:{port}/one https://api.test:{port}/two 2>&1 | grep -i 'issuer:' | sed 's/^/api /'; \
             python3 -c \"import os, urllib.request as u; u.urlopen(u.Request('https://api.test:{port}/py', headers={{'Authorization': 'Bearer ' + os.environ['API_TOKEN']}}), timeout=20).read(); print('python ok')\"; \
             $c -v -f -H \"Authorization: Bearer $API_TOKEN\" https://other.test:{port}/tunnel 2>&1 | grep -i 'issuer:' | sed 's/^/other /'; \
             $c -f -H \"Authorization: Bearer $PLAIN_TOKEN\" https://plain.test:{port}/plain && echo plain ok; \
             $c -f -H \"Authorization: Bearer $API_TOKEN\" https://bad.test:{bad_port}/bad; echo \"bad exit $?\"; \
             (env; cat /proc/self/environ; cat \"$SSL_CERT_FILE\"; ls -R /tmp) | grep -c -e '{}' -e '{}' || true",
            pat(REAL),
            pat(PLAIN)
        );
        let (run, report, audit) = egress(
            ctx,
            &p,
            &[("REAL_API_TOKEN", REAL), ("REAL_PLAIN_TOKEN", PLAIN)],
            &script,
        );
        let d = || dump(&run, &report);
        assert_eq!(run.code(), 0, "{}", d());
        assert!(!run.stdout.contains("no-bundle"), "{}", d());
        let placeholder = labelled(&run, "seen: ");
        let plain_placeholder = labelled(&run, "plain: ");
        let heads = std::fs::read_to_string(&log).unwrap_or_default();
        let heads: Vec<&str> = heads.split("--\n").filter(|h| !h.is_empty()).collect();
        let head = |path: &str| {
            heads
                .iter()
                .find(|h| h.starts_with(&format!("GET {path} ")))
                .copied()
                .unwrap_or_else(|| panic!("the server got no {path}: {heads:?}\n{}", d()))
        };
        // Terminated: curl (two requests in one invocation) and Python got the real value in.
        for path in ["/one", "/two", "/py"] {
            assert!(
                head(path).contains(&format!("Authorization: Bearer {REAL}\n")),
                "{path}: {heads:?}\n{}",
                d()
            );
        }
        assert!(run.stdout.contains("python ok"), "{}", d());
        // ... and saw the per-call CA's leaf; the tunnel's client saw the server's own.
        assert!(
            run.stdout.contains("api ")
                && run
                    .stdout
                    .lines()
                    .filter(|l| l.starts_with("api "))
                    .all(|l| l.contains("tooljail per-call egress CA")),
            "{}",
            d()
        );
        assert!(
            run.stdout
                .lines()
                .any(|l| l.starts_with("other ") && l.contains("egress test CA")),
            "{}",
            d()
        );
        // Not listed (other.test) or not opted in (plain.test): tunnelled, placeholders as sent.
        assert!(
            head("/tunnel").contains(&format!("Authorization: Bearer {placeholder}\n")),
            "{heads:?}"
        );
        assert!(
            head("/plain").contains(&format!("Authorization: Bearer {plain_placeholder}\n")),
            "{heads:?}"
        );
        assert!(run.stdout.contains("plain ok"), "{}", d());
        let api = conns(&report, "api.test", "connect");
        assert_eq!(api.len(), 3, "{}", d());
        for c in &api {
            assert_eq!(c["verdict"], "allowed", "{}", d());
            assert_eq!(c["tls_terminated"], true, "{}", d());
            assert_eq!(
                c["credentials"],
                serde_json::json!(["API_TOKEN"]),
                "{}",
                d()
            );
        }
        for host in ["other.test", "plain.test"] {
            let c = one(&report, &run, host, "connect", "allowed", host);
            assert!(c.get("tls_terminated").is_none(), "{}", d());
            assert!(c.get("credentials").is_none(), "{}", d());
        }
        // An upstream certificate that does not verify: refused, reported, nothing sent.
        assert!(run.stdout.contains("bad exit 22"), "{}", d());
        let bad = one(
            &report,
            &run,
            "bad.test",
            "connect",
            "refused",
            "upstream_certificate",
        );
        assert!(
            bad["remedy"].as_str().unwrap().contains("upstream_ca"),
            "{}",
            d()
        );
        assert!(!bad_log.exists(), "the unverified server got a request");
        assert!(run.stderr.contains("bad.test"), "{}", d());
        // `explain` says which credential is put in HTTPS, and what the proxy trusts.
        let r = run_for(
            ctx.tooljail(["explain", "-p", p.to_str().unwrap()]),
            TOOL_TIMEOUT,
        );
        assert_eq!(r.code(), 0, "{}", r.dump());
        assert!(
            r.stdout.contains("API_TOKEN: placeholder in the jail; the real value in Authorization of plain HTTP and HTTPS (TLS terminated")
                && r.stdout.contains("PLAIN_TOKEN: placeholder in the jail; the real value in Authorization of plain HTTP requests")
                && r.stdout.contains(&format!("upstream CA: {}", ca_file.display())),
            "{}",
            r.dump()
        );
        // The real values are nowhere the command could look, nor in the report or record.
        assert_eq!(run.stdout.lines().last(), Some("0"), "{}", d());
        for v in [REAL, PLAIN] {
            assert!(
                !run.stdout.contains(v) && !run.stderr.contains(v),
                "{}",
                d()
            );
            assert!(!serde_json::to_string(&report).unwrap().contains(v));
            assert!(!serde_json::to_string(&audit).unwrap().contains(v));
        }
    });
}
