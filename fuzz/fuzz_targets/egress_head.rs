//! Bytes a jailed command sends the egress proxy as a request head (the proxy runs in the
//! supervisor, on the host), read as the proxy reads them: never a panic. A head the proxy
//! takes names its host in the one spelling every rule and lookup uses, and the head it sends
//! on is one the origin reads as the same request: it parses again, with the same method, the
//! origin-form path, a `Host` naming exactly the host and port the rules judged, no `Proxy-*`
//! header and `Connection: close`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tooljail::net::http;

fuzz_target!(|data: &[u8]| {
    let _ = http::head_end(data);
    let Some(head) = http::parse(data) else {
        return;
    };
    let _ = head.header("host");
    let Some(target) = head.target() else {
        return;
    };
    assert_eq!(
        http::host_name(&target.host).as_deref(),
        Some(target.host.as_str()),
        "{head:?}"
    );
    assert_ne!(target.port, 0);
    if head.method == "CONNECT" {
        assert!(target.path.is_none(), "{head:?}");
        return;
    }
    let path = target.path.as_deref().expect("a plain request has a path");
    assert!(path.starts_with('/'), "{head:?} -> {path:?}");
    for default_port in [80, 443] {
        let out = head.for_origin(&target, default_port);
        let sent = http::parse(&out)
            .unwrap_or_else(|| panic!("{head:?} sent as {:?}", String::from_utf8_lossy(&out)));
        assert_eq!(sent.method, head.method);
        assert_eq!(sent.target, path);
        let host = sent.header("host").expect("Host is always sent");
        assert_eq!(
            http::authority(host, Some(default_port)),
            Some((target.host.clone(), target.port)),
            "{head:?} sent Host: {host}"
        );
        assert!(
            sent.headers
                .iter()
                .all(|(n, _)| !n.to_ascii_lowercase().starts_with("proxy-")),
            "{sent:?}"
        );
        assert_eq!(sent.header("connection"), Some("close"), "{sent:?}");
    }
});
