//! The first bytes a jailed command sends through a CONNECT tunnel, read by the egress proxy
//! (in the supervisor, on the host) as a TLS ClientHello: never a panic. A server name read is
//! in lower case, and a hello that names one is never read as naming another when cut short:
//! any prefix of it is not a hello, garbled, or the same name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tooljail::net::tls::{self, Hello};

fuzz_target!(|data: &[u8]| {
    let hello = tls::client_hello(data);
    let _ = tls::hides_server_name(data);
    let Hello::ServerName(name) = &hello else {
        return;
    };
    if let Some(n) = name {
        assert_eq!(*n, n.to_ascii_lowercase());
    }
    for cut in [0, 5, data.len() / 2, data.len().saturating_sub(1)] {
        match tls::client_hello(&data[..cut.min(data.len())]) {
            Hello::ServerName(other) => assert_eq!(other, *name, "cut at {cut}"),
            Hello::NotTls | Hello::Garbled => {}
        }
    }
});
