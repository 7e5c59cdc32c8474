//! `ambiguous`: the model is torn between two intents, close together and holding most
//! of the probability between them, so the bot can offer both.

use super::outcome::Fired;
use super::{Facts, Params, Rule};
use crate::policy::decision::{ReasonCode, Severity};

pub(super) struct Ambiguity;

impl Rule for Ambiguity {
    fn apply(&self, f: &Facts, _: &Params, fired: &mut Vec<Fired>) {
        let c = &f.config.ambiguity;
        let Some(i) = f.intent else {
            return;
        };
        if !c.enabled || i.out_of_scope {
            return;
        }
        if let (Some(a), Some(b)) = (i.top.first(), i.top.get(1)) {
            if a.score - b.score < c.margin && a.score + b.score >= c.min_top_two {
                fired.push(Fired::new(
                    ReasonCode::Ambiguous,
                    format!(
                        "{} {:.2} vs {} {:.2}: margin {:.2} < {:.2}",
                        a.label,
                        a.score,
                        b.label,
                        b.score,
                        a.score - b.score,
                        c.margin
                    ),
                    c.action,
                    c.priority,
                    Severity::Basic,
                    None,
                ));
            }
        }
    }
}
