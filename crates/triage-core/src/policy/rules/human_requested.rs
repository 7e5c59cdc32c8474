//! `human_requested`: an explicit request for a person, by the intent (confident enough)
//! or a phrase; both are named when both say so.

use super::outcome::{Fired, TeamRank};
use super::{confident, intent_listed, Facts, Params, Rule};
use crate::policy::decision::{Action, ReasonCode, Severity};

pub(super) struct HumanRequested;

impl Rule for HumanRequested {
    fn apply(&self, f: &Facts, _: &Params, fired: &mut Vec<Fired>) {
        let hr = &f.config.human_request;
        if !hr.enabled {
            return;
        }
        let mut why = Vec::new();
        if let Some(i) = f
            .intent
            .filter(|i| confident(i, hr.min_confidence) && intent_listed(&hr.intents, i))
        {
            why.push(format!("intent {} {:.2}", i.label, i.confidence));
        }
        if let Some(hit) = &f.m.human {
            why.push(format!("phrase {:?}", hit.phrase));
        }
        if !why.is_empty() {
            fired.push(Fired::new(
                ReasonCode::HumanRequested,
                why.join("; "),
                Action::Handoff,
                hr.priority,
                Severity::Basic,
                hr.skill_group
                    .clone()
                    .map(|g| (TeamRank::HumanRequested, g)),
            ));
        }
    }
}
