//! Training: linear heads on a frozen encoder (`--head-only`), their calibration on dev
//! splits, and the model card that records both.

pub mod adamw;
pub mod cache;
pub mod calibrate;
pub mod card;
pub mod finetune;
pub mod fit;
pub mod head_only;
pub mod mix;
pub mod recipe;
pub mod targets;
