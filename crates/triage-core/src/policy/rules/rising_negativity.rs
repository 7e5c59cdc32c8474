//! `rising_negativity`: the customer is getting more upset: over the last `turns` recent
//! turns (this one included) negativity rises at every step, and by at least `min_rise`
//! from the first to the last.

use super::outcome::Fired;
use super::{Facts, Params, Rule};
use crate::policy::decision::{ReasonCode, Severity};

pub(super) struct RisingNegativity;

impl Rule for RisingNegativity {
    fn apply(&self, f: &Facts, _: &Params, fired: &mut Vec<Fired>) {
        let rn = &f.config.rising_negativity;
        let recent = f.recent;
        if !rn.enabled || recent.len() + 1 < rn.turns {
            return;
        }
        let mut seq: Vec<f32> = recent[recent.len() + 1 - rn.turns..]
            .iter()
            .map(|t| t.negativity)
            .collect();
        seq.push(f.negativity);
        let rising = seq.windows(2).all(|w| w[1] > w[0]);
        let rise = seq[seq.len() - 1] - seq[0];
        if rising && rise >= rn.min_rise {
            let path: Vec<String> = seq.iter().map(|v| format!("{v:.2}")).collect();
            fired.push(Fired::new(
                ReasonCode::RisingNegativity,
                format!(
                    "negativity {} over {} turns: rise {rise:.2} >= {:.2}",
                    path.join(" → "),
                    rn.turns,
                    rn.min_rise
                ),
                rn.action,
                rn.priority,
                Severity::Basic,
                None,
            ));
        }
    }
}
