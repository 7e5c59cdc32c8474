//! Training: linear heads on a frozen encoder (`--head-only`), their calibration on dev
//! splits, and the model card that records both.

mod adamw;
pub mod cache;
mod calibrate;
mod card;
pub mod finetune;
pub mod fit;
pub mod head_only;
pub mod mix;
pub mod recipe;
mod targets;
