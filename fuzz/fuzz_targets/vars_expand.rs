//! `${NAME}` expansion of a profile's string values: never a panic; an error points at a `$`
//! of the value; text without `$` is unchanged; a value a variable brings in is never
//! expanded again; `$$` is a literal `$`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tooljail::profile::vars::{expand, NAMES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Values that would expand again if expansion ran twice, and one variable without a value.
    let lookup = |name: &str| -> Result<String, String> {
        match name {
            "PROFILE_DIR" => Err("built-in profiles have no directory".into()),
            "HOME" => Ok("/home/$${CWD}".into()),
            other => Ok(format!("<{other}:${{HOME}}>")),
        }
    };
    match expand(text, &lookup) {
        Ok((out, used)) => {
            if !text.contains('$') {
                assert_eq!(out, text);
                assert!(used.is_empty());
            }
            assert!(used.iter().all(|u| NAMES.contains(u)));
            assert!(!used.contains(&"PROFILE_DIR"));
            // Every `$` left in the output is a literal one (`$$`) or came from a value.
            let literal = text.matches("$$").count();
            let from_values: usize = used
                .iter()
                .map(|u| lookup(u).unwrap().matches('$').count())
                .sum();
            assert!(out.matches('$').count() <= literal + from_values);
        }
        Err(e) => {
            assert!(
                text.is_char_boundary(e.at),
                "error index {} inside a char",
                e.at
            );
            assert!(
                text[e.at..].starts_with('$'),
                "error at {} is not a `$`",
                e.at
            );
            assert!(!e.message.is_empty() && !e.hint.is_empty());
        }
    }
});
