//! Credentials put into a plain request's head: each real value in place of its placeholder,
//! in its named header, for the hosts it lists; a placeholder anywhere else is noted.

use crate::net::http::Head;
use crate::net::Secret;

/// Put each credential's real value in place of its placeholder in its header, for a host it
/// lists; note each placeholder that goes anywhere else (left as it is). Returns (credentials
/// used, credentials whose placeholder went elsewhere), by variable name.
pub fn substitute(head: &mut Head, host: &str, secrets: &[Secret]) -> (Vec<String>, Vec<String>) {
    let (mut used, mut elsewhere) = (Vec::new(), Vec::new());
    for s in secrets {
        let listed = s
            .hosts
            .iter()
            .any(|h| crate::policy::domain_matches(h, host));
        let mut seen_elsewhere = head.target.contains(&s.placeholder);
        let mut substituted = false;
        for (name, value) in &mut head.headers {
            if !value.contains(&s.placeholder) {
                continue;
            }
            if listed && name.eq_ignore_ascii_case(&s.header) {
                *value = value.replace(&s.placeholder, &s.value);
                substituted = true;
            } else {
                seen_elsewhere = true;
            }
        }
        if substituted {
            used.push(s.env.clone());
        }
        if seen_elsewhere {
            elsewhere.push(s.env.clone());
        }
    }
    (used, elsewhere)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::echo::tests::secret;
    use crate::net::http;

    #[test]
    fn substitution_only_for_listed_hosts_and_the_named_header() {
        let text = "GET http://api.test/ HTTP/1.1\r\nAuthorization: Bearer tooljail-placeholder-abc\r\nX-Other: tooljail-placeholder-abc\r\n\r\n";
        let mut h = http::parse(text.as_bytes()).unwrap();
        let (used, elsewhere) = substitute(&mut h, "api.test", &[secret()]);
        assert_eq!(used, ["TOKEN"]);
        assert_eq!(
            elsewhere,
            ["TOKEN"],
            "the other header keeps the placeholder and is noted"
        );
        assert_eq!(h.header("authorization"), Some("Bearer real-secret"));
        assert_eq!(h.header("x-other"), Some("tooljail-placeholder-abc"));
        let mut h = http::parse(text.as_bytes()).unwrap();
        let (used, elsewhere) = substitute(&mut h, "evil.test", &[secret()]);
        assert!(used.is_empty());
        assert_eq!(elsewhere, ["TOKEN"]);
        assert_eq!(
            h.header("authorization"),
            Some("Bearer tooljail-placeholder-abc")
        );
    }
}
