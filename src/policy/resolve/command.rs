//! `[command]` allow and deny: each glob checked, each kept with the line it was written on.

use super::*;
use crate::policy::command::{self, ArgvRule, CommandRules};
use crate::profile::schema::CommandLayer;

impl Resolver<'_> {
    pub(super) fn command(&mut self, layer: &CommandLayer) -> CommandRules {
        let rules = |r: &mut Self, items: &[Item<String>], key: &str| -> Vec<ArgvRule> {
            let mut out = Vec::new();
            for item in items {
                let at = r.src.at(item);
                match command::check(&item.value) {
                    Ok(()) => out.push(ArgvRule {
                        pattern: item.value.clone(),
                        origin: at.to_string(),
                    }),
                    Err(why) => r.err(
                        at,
                        format!("[command] {key} rule \"{}\" {why}", item.value),
                        "write a glob over the command line, like \"git status*\"",
                    ),
                }
            }
            out
        };
        CommandRules {
            allow: rules(self, &layer.allow, "allow"),
            deny: rules(self, &layer.deny, "deny"),
        }
    }
}
