//! Evaluation for engineers (`triage eval`): how accurate a bundle is, where it is wrong,
//! how far its confidence can be trusted, what channel noise costs and what a handoff
//! threshold will cost, before a model or threshold goes live.
//!
//! * [`suite`]: what to run (`eval/suites/*.toml`): tasks, channels, floors;
//! * [`runner`]: runs a suite through the serving pipeline ([`scoring`]);
//! * [`intent`], [`emotion`], [`handoff`], [`channels`]: the figures of each kind of task,
//!   all computed by [`metrics`] (checked against independent fixtures);
//! * [`gate`]: floors and ceilings, the CI gate;
//! * [`report`]: `report.json`, `report.md`, `report.html` and Rasa's intent files.
//!
//! To evaluate a handoff policy instead of the bare confidence threshold, implement
//! [`handoff::HandoffDecider`] and pass it in [`runner::RunOptions::decider`].

pub mod channels;
pub mod emotion;
pub mod error;
pub mod gate;
pub mod handoff;
pub mod intent;
pub mod metrics;
pub mod report;
pub mod runner;
pub mod sample;
pub mod scoring;
pub mod suite;

pub use error::EvalError;
pub use handoff::{Action, ConfidenceThreshold, HandoffDecider, HandoffRequest};
pub use report::{write_all, EvalReport};
pub use runner::{run_suite, RunOptions};
pub use suite::Suite;
