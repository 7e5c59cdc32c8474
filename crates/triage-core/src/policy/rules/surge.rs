//! `surge`: many conversations about one watched issue type within the window, as the
//! store counted them (`TurnInput::surge_count`): a major incident for the incident team.

use super::outcome::{Fired, TeamRank};
use super::{Facts, Params, Rule};
use crate::policy::config::PolicyConfig;
use crate::policy::decision::{ReasonCode, Severity};

pub(super) struct Surge;

/// Whether a surge of this issue type is watched (and so worth counting).
pub(super) fn watched(c: &PolicyConfig, issue: &str) -> bool {
    c.surge.enabled && c.surge.issues.iter().any(|i| i == issue)
}

impl Rule for Surge {
    fn apply(&self, f: &Facts, _: &Params, fired: &mut Vec<Fired>) {
        let sg = &f.config.surge;
        if let (Some(count), Some(issue)) = (f.turn.surge_count, f.issue) {
            if watched(f.config, issue) && count >= sg.min_conversations {
                fired.push(Fired::new(
                    ReasonCode::Surge,
                    format!(
                        "{issue} in {count} conversations within {} s (>= {}): major incident",
                        sg.window_secs, sg.min_conversations
                    ),
                    sg.action,
                    sg.priority,
                    Severity::Major,
                    Some((TeamRank::Surge, sg.skill_group.clone())),
                ));
            }
        }
    }
}
