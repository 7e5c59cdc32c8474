//! Training: linear heads on a frozen encoder (`--head-only`), their calibration on dev
//! splits, and the model card that records both.

pub mod cache;
pub mod calibrate;
pub mod card;
pub mod fit;
pub mod head_only;
