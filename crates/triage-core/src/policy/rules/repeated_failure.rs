//! `repeated_failure`: this turn failed too, after a streak of failed turns (the bot
//! asked to clarify or did not understand, `StoredTurn::is_failure`): hand off. Whether
//! this turn failed is what the rules before it fired (the action they ask for so far is
//! `clarify`, or ambiguity or low confidence fired), so this rule runs last.

use super::outcome::Fired;
use super::{Facts, Params, Rule};
use crate::policy::decision::{Action, ReasonCode, Severity};

pub(super) struct RepeatedFailure;

impl Rule for RepeatedFailure {
    fn apply(&self, f: &Facts, p: &Params, fired: &mut Vec<Fired>) {
        let rf = &f.config.repeated_failure;
        let action = fired.iter().map(|x| x.action).max().unwrap_or(Action::Bot);
        let failing = action == Action::Clarify
            || fired.iter().any(|x| {
                matches!(
                    x.reason.code,
                    ReasonCode::LowConfidence | ReasonCode::Ambiguous
                )
            });
        if !rf.enabled || !failing {
            return;
        }
        let streak = 1 + f.recent.iter().rev().take_while(|t| t.is_failure()).count();
        if streak >= p.failure_turns {
            fired.push(Fired::new(
                ReasonCode::RepeatedFailure,
                format!(
                    "{streak} consecutive turns not understood (>= {})",
                    p.failure_turns
                ),
                Action::Handoff,
                rf.priority,
                Severity::Basic,
                None,
            ));
        }
    }
}
