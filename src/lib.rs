//! triage: a customer-service NLU inference server. Data flows one way:
//! text → normalise ([`text`]) → tokenize → batch/encode ([`engine`], [`model`]) →
//! heads → response ([`classify`]), where the handoff [`policy`] decides bot, clarify or
//! human and conversation memory keeps the turn; served over HTTP by [`server`].

pub mod api;
pub mod bundles;
pub mod classify;
pub mod cli;
pub mod config;
pub mod data;
pub mod engine;
pub mod error;
pub mod eval;
pub mod kb;
pub mod model;
pub mod policy;
pub mod server;
pub mod suggest;
pub mod text;
pub mod train;
