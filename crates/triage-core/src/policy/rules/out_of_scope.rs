//! `out_of_scope`: the intent head answered with its out-of-scope label: nothing the
//! support bot knows.

use super::outcome::Fired;
use super::{Facts, Params, Rule};
use crate::policy::decision::{ReasonCode, Severity};

pub(super) struct OutOfScope;

impl Rule for OutOfScope {
    fn apply(&self, f: &Facts, _: &Params, fired: &mut Vec<Fired>) {
        let c = &f.config.out_of_scope;
        if let Some(i) = f.intent.filter(|i| c.enabled && i.out_of_scope) {
            fired.push(Fired::new(
                ReasonCode::OutOfScope,
                format!("intent set {}: {} ({:.2})", i.set, i.label, i.confidence),
                c.action,
                c.priority,
                Severity::Basic,
                None,
            ));
        }
    }
}
