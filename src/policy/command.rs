//! `[command]`: which command lines a profile lets run. Pure: the rules as resolved from the
//! profile, and the judgement of one command line against them, given how the jail's PATH
//! resolves a program name (the `command` stage of the run pipeline looks that up).
//!
//! A rule is a glob over the command line as one string: argv joined by single spaces, with
//! argv[0] replaced by the program the jail would run (its path inside the jail, found in the
//! jail's PATH). A rule whose first word is a bare name (`git status*`) has that word resolved
//! the same way, so `git status*` matches `git status` and `/usr/bin/git status`, and not
//! `./git status` (a file named git in the working directory). `*` matches any characters,
//! spaces and slashes included. A `deny` rule that matches refuses the call; when `allow` has
//! rules, a call no allow rule matches is refused too. Deny wins over allow.
//!
//! These rules are a statement of intent checked before anything runs, not a wall: they see
//! argv, not what the program does with it (`git -C . push` is not `git push*`; `sh -c '...'`
//! runs whatever the string says). Write allow lists (what may run) rather than deny lists,
//! and keep the mount, Landlock and seccomp walls as the boundary.

use serde::{Deserialize, Serialize};

/// `[command] allow` and `deny`, each rule with the profile line it was written on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRules {
    pub allow: Vec<ArgvRule>,
    pub deny: Vec<ArgvRule>,
}

/// One glob over the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgvRule {
    pub pattern: String,
    /// Where it was written (`file:line:col`).
    pub origin: String,
}

/// Why a command line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A `deny` rule matched.
    Denied { rule: ArgvRule, line: String },
    /// `allow` has rules and none matched.
    NotAllowed { line: String },
}

/// Characters that make a word a glob rather than a program name.
const GLOB_CHARS: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

impl CommandRules {
    pub fn is_default(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Judge `argv` (non-empty; argv[0] as given). `which(name)` is the path inside the jail
    /// that the jail's PATH resolves program `name` (or a path holding '/') to, `None` when
    /// nothing would run. A rule naming a program the jail cannot run matches nothing.
    pub fn judge(
        &self,
        argv: &[String],
        which: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), Refusal> {
        if self.is_default() {
            return Ok(());
        }
        let Some((program, rest)) = argv.split_first() else {
            return Ok(());
        };
        let mut words = vec![which(program).unwrap_or_else(|| program.clone())];
        words.extend(rest.iter().cloned());
        let line = words.join(" ");
        let matches =
            |r: &ArgvRule| rule_glob(&r.pattern, which).is_some_and(|g| g.is_match(&line));
        if let Some(rule) = self.deny.iter().find(|r| matches(r)) {
            return Err(Refusal::Denied {
                rule: rule.clone(),
                line,
            });
        }
        if !self.allow.is_empty() && !self.allow.iter().any(matches) {
            return Err(Refusal::NotAllowed { line });
        }
        Ok(())
    }
}

/// Whether `pattern` is a valid rule (resolution checks each one so a typo is an error with
/// its position, not a rule that never matches).
pub fn check(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("is empty".into());
    }
    glob(pattern).map(|_| ())
}

/// The rule as a matcher over the command line, its first word resolved when it is a bare
/// program name; `None` when that name resolves to nothing in the jail.
fn rule_glob(
    pattern: &str,
    which: &dyn Fn(&str) -> Option<String>,
) -> Option<globset::GlobMatcher> {
    let (first, rest) = match pattern.split_once(' ') {
        Some((f, r)) => (f, Some(r)),
        None => (pattern, None),
    };
    let bare = !first.is_empty() && !first.contains('/') && !first.contains(GLOB_CHARS);
    let pattern = if bare {
        let resolved = escape(&which(first)?);
        match rest {
            Some(r) => format!("{resolved} {r}"),
            None => resolved,
        }
    } else {
        pattern.to_string()
    };
    glob(&pattern).ok()
}

fn glob(pattern: &str) -> Result<globset::GlobMatcher, String> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("is not a valid glob ({})", e.kind()))
}

/// A path as a glob that matches only itself.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if GLOB_CHARS.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], deny: &[&str]) -> CommandRules {
        let r = |v: &[&str]| {
            v.iter()
                .map(|p| ArgvRule {
                    pattern: p.to_string(),
                    origin: "t.toml:1:1".into(),
                })
                .collect()
        };
        CommandRules {
            allow: r(allow),
            deny: r(deny),
        }
    }

    /// The jail's PATH as a table: `git` and `/usr/bin/git` are /usr/bin/git; `./git` is the
    /// working directory's file.
    fn which(name: &str) -> Option<String> {
        match name {
            "git" | "/usr/bin/git" => Some("/usr/bin/git".into()),
            "./git" => Some("/work/git".into()),
            "sh" => Some("/usr/bin/sh".into()),
            _ => None,
        }
    }

    fn judge(r: &CommandRules, argv: &[&str]) -> Result<(), Refusal> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        r.judge(&argv, &which)
    }

    #[test]
    fn allow_list_admits_only_what_it_names() {
        let r = rules(&["git status*", "git log*", "git diff*"], &[]);
        assert!(judge(&r, &["git", "status"]).is_ok());
        assert!(judge(&r, &["/usr/bin/git", "log", "--oneline"]).is_ok());
        assert!(judge(&r, &["git", "diff", "HEAD~1"]).is_ok());
        assert_eq!(
            judge(&r, &["git", "commit", "-m", "x"]),
            Err(Refusal::NotAllowed {
                line: "/usr/bin/git commit -m x".into()
            })
        );
        // A file named git in the working directory is not the jail's git.
        assert!(judge(&r, &["./git", "status"]).is_err());
        assert!(judge(&r, &["sh", "-c", "git status"]).is_err());
    }

    #[test]
    fn deny_wins_and_matches_anywhere_a_glob_says() {
        let r = rules(&["git *"], &["git push*", "* --upload-pack*"]);
        assert!(judge(&r, &["git", "fetch"]).is_ok());
        let Err(Refusal::Denied { rule, line }) = judge(&r, &["git", "push", "origin"]) else {
            panic!("git push was not denied");
        };
        assert_eq!(rule.pattern, "git push*");
        assert_eq!(line, "/usr/bin/git push origin");
        let Err(Refusal::Denied { rule, .. }) =
            judge(&r, &["git", "fetch", "--upload-pack=touch /x", "o"])
        else {
            panic!("--upload-pack was not denied");
        };
        assert_eq!(rule.pattern, "* --upload-pack*");
    }

    #[test]
    fn a_rule_for_a_program_the_jail_lacks_matches_nothing() {
        let r = rules(&["curl *"], &[]);
        assert!(judge(&r, &["curl", "x"]).is_err());
        let r = rules(&[], &["curl *"]);
        assert!(judge(&r, &["curl", "x"]).is_ok());
    }

    #[test]
    fn no_rules_admit_everything_and_bad_globs_are_named() {
        assert!(judge(&CommandRules::default(), &["anything"]).is_ok());
        assert!(check("git [status").is_err());
        assert!(check("  ").is_err());
        assert!(check("git status*").is_ok());
        assert_eq!(escape("/a*b"), "/a\\*b");
    }
}
