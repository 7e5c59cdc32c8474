//! `low_confidence`: the model is lost, its intent under the threshold. Ambiguous (torn
//! between two) and low confidence exclude each other, so the bot knows whether to offer
//! two choices or ask to rephrase: this rule runs after [`super::ambiguity`] and stays
//! silent when it fired.

use super::outcome::Fired;
use super::{Facts, Params, Rule};
use crate::policy::decision::{ReasonCode, Severity};

pub(super) struct LowConfidence;

impl Rule for LowConfidence {
    fn apply(&self, f: &Facts, _: &Params, fired: &mut Vec<Fired>) {
        let c = &f.config.low_confidence;
        let Some(i) = f.intent else {
            return;
        };
        let torn = fired.iter().any(|x| x.reason.code == ReasonCode::Ambiguous);
        if !torn && c.enabled && !i.out_of_scope && i.confidence < c.threshold {
            fired.push(Fired::new(
                ReasonCode::LowConfidence,
                format!("{} {:.2} < {:.2}", i.label, i.confidence, c.threshold),
                c.action,
                c.priority,
                Severity::Basic,
                None,
            ));
        }
    }
}
