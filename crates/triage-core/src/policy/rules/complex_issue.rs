//! `complex_intent`: an issue type a specialist team handles (`[[complex]]`: complaints,
//! disputes, bans, compliance), by intent or phrase. Every matching group fires, in file
//! order.

use super::outcome::{Fired, TeamRank};
use super::{group_match, Facts, Params, Rule};
use crate::policy::decision::ReasonCode;

pub(super) struct ComplexIssue;

impl Rule for ComplexIssue {
    fn apply(&self, f: &Facts, _: &Params, fired: &mut Vec<Fired>) {
        for (g, hit) in f.config.complex.iter().zip(&f.m.complex) {
            if let Some(why) = group_match(f.intent, &g.intents, g.min_confidence, hit.as_ref()) {
                fired.push(Fired::new(
                    ReasonCode::ComplexIntent,
                    format!("{} → {}: {why}", g.name, g.skill_group),
                    g.action,
                    g.priority,
                    g.severity,
                    Some((TeamRank::ComplexIssue, g.skill_group.clone())),
                ));
            }
        }
    }
}
