//! Text tooljail shows a person or an agent, one line per message. What a message quotes may
//! come from the jail (a path the command wrote to, a name it looked up, a file it left in the
//! scratch), from a profile or from the command line. Every control character in it (a line
//! break, an escape, BEL, DEL, the C1 range) and every character that reorders or breaks a line
//! on screen (the bidirectional controls, the line and paragraph separators) is written as an
//! escape (`\n`, `\u{1b}`): a message is one line, whole, that no quoted text can end early or
//! continue with a line that reads as another message.
//!
//! The command's own stdout and stderr are its own, passed on as written (they are the caller's
//! descriptors). What this guards is tooljail's word: its lines about a run, and what `why`,
//! `audit` and `learn` show an operator later, on a terminal the command never had, where a
//! path from the jail could otherwise set the title, clear the screen or forge a reason.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is written escaped.
pub(crate) fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with every [`hidden`] character escaped: `\n`, `\r`, `\t`, or `\u{HEX}`.
pub fn one_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Write `tooljail: TEXT` to stderr as one line ([`one_line`]).
pub fn say(text: &str) {
    eprintln!("tooljail: {}", one_line(text));
}

/// Write `tooljail: warning: TEXT` to stderr as one line.
pub fn warn(text: &str) {
    say(&format!("warning: {text}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_break_escape_and_reordering_character_is_escaped() {
        assert_eq!(
            one_line("a\tb\x1b[31m\nc\r\u{7f}\u{85}\u{7}\0"),
            "a\\tb\\u{1b}[31m\\nc\\r\\u{7f}\\u{85}\\u{7}\\u{0}"
        );
        assert_eq!(
            one_line("x\u{2028}y\u{2029}\u{202e}gpj.exe\u{2066}\u{200f}"),
            "x\\u{2028}y\\u{2029}\\u{202e}gpj.exe\\u{2066}\\u{200f}"
        );
        // Text that needs nothing is not copied, and other characters stay as written.
        assert!(matches!(
            one_line("/usr/bin/ä ö 文字 -- \"quoted\""),
            Cow::Borrowed(_)
        ));
        for c in ('\0'..='\u{10ffff}').filter(|c| hidden(*c)) {
            let shown = one_line(&c.to_string()).into_owned();
            assert!(!shown.chars().any(hidden), "{c:?} shown as {shown:?}");
        }
    }
}
