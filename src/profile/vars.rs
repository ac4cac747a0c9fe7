//! `${NAME}` variables inside profile string values. Expansion runs on each parsed string (never
//! on the raw file), so error positions stay true and a value can never turn into TOML syntax.
//! `$$` is a literal `$`; any other `$` is an error, so a typo cannot pass through as text.

/// The variables a profile may use, in the order the docs list them.
pub const NAMES: &[&str] = &[
    "CWD",
    "HOME",
    "UID",
    "GID",
    "USER",
    "PROFILE_DIR",
    "SCRATCH",
];

/// Why a value could not be expanded: `at` is the byte index in the value where the bad `$`
/// starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarError {
    pub at: usize,
    pub message: String,
    pub hint: String,
}

/// Expand `${NAME}` in `text`. `lookup` returns the value of a known variable, or `Err(why)`
/// when it is known but has no value here (e.g. `${PROFILE_DIR}` in a built-in profile).
/// Returns the expanded text and the names used (in order, possibly repeated).
pub fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(String, Vec<&'static str>), VarError> {
    let mut out = String::with_capacity(text.len());
    let mut used = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        let at = text.len() - rest.len() + i;
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            return Err(VarError {
                at,
                message: "\"$\" must start a variable like \"${HOME}\"".into(),
                hint: "write \"$$\" for a literal \"$\"".into(),
            });
        };
        let Some(end) = body.find('}') else {
            return Err(VarError {
                at,
                message: "unterminated variable: \"${\" without \"}\"".into(),
                hint: "close it, e.g. \"${HOME}\"".into(),
            });
        };
        let name = &body[..end];
        let Some(known) = NAMES.iter().find(|n| **n == name) else {
            let hint = match super::source::suggest(name, NAMES) {
                Some(s) => format!("did you mean \"${{{s}}}\"?"),
                None => format!("known variables: {}", list()),
            };
            return Err(VarError {
                at,
                message: format!("unknown variable \"${{{name}}}\""),
                hint,
            });
        };
        let value = lookup(known).map_err(|why| VarError {
            at,
            message: format!("\"${{{name}}}\" has no value: {why}"),
            hint: "remove it or use an absolute path".into(),
        })?;
        out.push_str(&value);
        used.push(*known);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok((out, used))
}

fn list() -> String {
    NAMES
        .iter()
        .map(|n| format!("${{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(name: &str) -> Result<String, String> {
        match name {
            "HOME" => Ok("/home/ann".into()),
            "CWD" => Ok("/work/proj".into()),
            "UID" => Ok("1000".into()),
            "PROFILE_DIR" => Err("built-in profiles have no directory".into()),
            _ => Ok(format!("<{name}>")),
        }
    }

    #[test]
    fn expands_known_variables_and_reports_use() {
        let (s, used) = expand("${HOME}/.cache/${UID}", &fake).unwrap();
        assert_eq!(s, "/home/ann/.cache/1000");
        assert_eq!(used, ["HOME", "UID"]);
        let (s, used) = expand("/plain/path", &fake).unwrap();
        assert_eq!(s, "/plain/path");
        assert!(used.is_empty());
        assert_eq!(expand("${CWD}", &fake).unwrap().1, ["CWD"]);
    }

    #[test]
    fn double_dollar_is_a_literal_dollar() {
        assert_eq!(expand("a$$b$${HOME}", &fake).unwrap().0, "a$b${HOME}");
    }

    #[test]
    fn errors_point_at_the_dollar() {
        let e = expand("/x/${HOEM}/y", &fake).unwrap_err();
        assert_eq!(e.at, 3);
        assert_eq!(e.message, "unknown variable \"${HOEM}\"");
        assert_eq!(e.hint, "did you mean \"${HOME}\"?");
        let e = expand("ab$c", &fake).unwrap_err();
        assert_eq!(e.at, 2);
        assert!(e.hint.contains("$$"));
        let e = expand("${HOME", &fake).unwrap_err();
        assert_eq!(e.at, 0);
        assert!(e.message.contains("unterminated"));
        let e = expand("${ZZZZZZ}", &fake).unwrap_err();
        assert!(e.hint.starts_with("known variables: ${CWD}"));
        let e = expand("p/${PROFILE_DIR}", &fake).unwrap_err();
        assert_eq!(e.at, 2);
        assert!(e.message.contains("built-in profiles have no directory"));
    }
}
