//! triage: a customer-service NLU inference server. Data flows one way:
//! text → normalise ([`text`]) → tokenize → batch/encode ([`engine`], [`model`]) →
//! heads → response ([`classify`]), served over HTTP by [`server`].

pub mod api;
pub mod classify;
pub mod cli;
pub mod config;
pub mod data;
pub mod engine;
pub mod error;
pub mod eval;
pub mod kb;
pub mod model;
pub mod server;
pub mod text;
pub mod train;
