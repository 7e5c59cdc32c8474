//! triage-lab: triage's offline work (data sets, augmentation, training, evaluation),
//! built on `triage-core` and never linked by the server. The `triage` binary's `train`
//! and `eval` commands, the examples and the benches are its users; what they do not
//! name is crate-private.
//!
//! # Modules, in data-path order
//!
//! * [`data`]: data-set adapters into the canonical record;
//! * [`augment`]: voice- and social-style noise for training and channel evaluation;
//! * `metrics`: classification, calibration, out-of-scope and retrieval metrics, shared
//!   by training and evaluation (depends on nothing above it);
//! * [`train`]: head-only training, fine-tuning, calibration, model cards;
//! * [`eval`]: `triage eval`: suites, runner, gate and reports.

#![warn(unreachable_pub)]

pub mod augment;
pub mod data;
pub mod eval;
mod metrics;
pub mod train;
