//! `sensitive_operation`: an operation the bot never performs on its own
//! (`[[sensitive]]`), by intent or phrase: handed to a person (`mode = "handoff"`) or
//! confirmed with the customer first (`mode = "confirm"`, action `clarify`). Every
//! matching operation fires, in file order.

use super::outcome::{Fired, TeamRank};
use super::{group_match, Facts, Params, Rule};
use crate::policy::config::SensitiveMode;
use crate::policy::decision::{Action, ReasonCode};

pub(super) struct SensitiveOperation;

impl Rule for SensitiveOperation {
    fn apply(&self, f: &Facts, _: &Params, fired: &mut Vec<Fired>) {
        for (s, hit) in f.config.sensitive.iter().zip(&f.m.sensitive) {
            if let Some(why) = group_match(f.intent, &s.intents, s.min_confidence, hit.as_ref()) {
                let (action, what) = match s.mode {
                    SensitiveMode::Handoff => (Action::Handoff, "always handled by a person"),
                    SensitiveMode::Confirm => {
                        (Action::Clarify, "needs the customer's confirmation")
                    }
                };
                fired.push(Fired::new(
                    ReasonCode::SensitiveOperation,
                    format!("{} {what}: {why}", s.name),
                    action,
                    s.priority,
                    s.severity,
                    Some((TeamRank::SensitiveOperation, s.skill_group.clone())),
                ));
            }
        }
    }
}
