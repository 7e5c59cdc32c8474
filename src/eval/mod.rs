//! Evaluation: metrics (checked against independent fixtures) and reports.

pub mod metrics;
