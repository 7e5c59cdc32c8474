//! triage-lab: triage's offline work, built on `triage-core` and never linked by the
//! server.
//!
//! * [`data`]: data-set adapters into the canonical record;
//! * [`augment`]: voice- and social-style noise for training and channel evaluation;
//! * [`metrics`]: classification, calibration, out-of-scope and retrieval metrics,
//!   shared by training and evaluation (depends on nothing above it);
//! * [`train`]: head-only training, fine-tuning, calibration, model cards;
//! * [`eval`]: `triage eval`: suites, runner, gate and reports.

pub mod augment;
pub mod data;
pub mod eval;
pub mod metrics;
pub mod train;
