//! Evaluation for engineers (`triage eval`): how accurate a bundle is, where it is wrong,
//! how far its confidence can be trusted, what channel noise costs and what a handoff
//! threshold will cost, before a model or threshold goes live.
//!
//! * [`suite`]: what to run (`eval/suites/*.toml`): tasks, channels, floors;
//! * `runner`: runs a suite through the serving pipeline ([`scoring`]);
//! * [`intent`], [`emotion`], `retrieval`, `handoff`, [`channels`]: the figures of
//!   each kind of task, all computed by `crate::metrics` (checked against independent
//!   fixtures);
//! * [`language_thresholds`]: a sigmoid head's thresholds for one language, chosen on a
//!   small set as two shifts of the head's own;
//! * `relabel`: a task's `label_map`, gold labels rewritten into the head's vocabulary;
//! * `gate`: floors and ceilings, the CI gate;
//! * [`report`]: `report.json`, `report.md`, `report.html` and Rasa's intent files.
//!
//! To evaluate a handoff policy instead of the bare confidence threshold, implement
//! `handoff::HandoffDecider` and pass it in [`runner::RunOptions::decider`].

pub mod channels;
pub mod emotion;
mod error;
mod gate;
mod handoff;
pub mod intent;
pub mod kb;
pub mod language_thresholds;
mod relabel;
pub mod report;
mod retrieval;
mod runner;
pub mod sample;
pub mod scoring;
mod simulate;
pub mod suite;

/// An f32 threshold as the decimal it was written as (`0.86f32` → `0.86`, not
/// `0.8600000143…`). No f32 lies between the two, so `confidence < threshold` decides the
/// same with either, and reports and sweeps show the number the bundle was given.
fn decimal(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}
use handoff::{HandoffDecider, HandoffRequest};
pub use report::{write_all, EvalReport};
pub use runner::{run_suite, RunOptions};

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_thresholds_decide_like_f32() {
        assert_eq!(super::decimal(0.86), 0.86);
        assert_eq!(super::decimal(0.5), 0.5);
        // Around the threshold, f64(c) < decimal(t) exactly when c < t in f32.
        for t in [0.86f32, 0.8, 0.1, 0.33] {
            let mut c = t;
            for _ in 0..3 {
                c = f32::from_bits(c.to_bits() - 1);
            }
            for _ in 0..7 {
                assert_eq!(f64::from(c) < super::decimal(t), c < t, "{c} vs {t}");
                c = f32::from_bits(c.to_bits() + 1);
            }
        }
    }
}
