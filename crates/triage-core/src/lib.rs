//! triage-core: the serving path of triage, a customer-service NLU inference server.
//! Data flows one way: text → normalise ([`text`]) → tokenize → batch/encode
//! ([`engine`], [`model`]) → heads → response ([`classify`]), where the handoff
//! [`policy`] decides bot, clarify or human and conversation memory keeps the turn, and
//! the knowledge base ([`kb`], [`suggest`]) adds answers.
//!
//! This crate depends on no other crate of the workspace: the HTTP server
//! (`triage-server`) and the offline work (`triage-lab`: data, training, evaluation)
//! build on it, never the other way (`scripts/check_imports.py` checks it in CI).
//!
//! * [`api`]: the v1 wire types (request and response bodies);
//! * [`audit`]: what reloads of the policy and knowledge base tell an audit log;
//! * [`bundles`]: the served bundles and which one a request goes to;
//! * [`classify`]: [`classify::Classifier`], one bundle's pipeline (prepare → respond →
//!   suggest → decide, a module each);
//! * [`config`]: the server configuration file;
//! * [`error`]: the one error enum every request path returns;
//! * [`cause`]: the source an error keeps (shared, so errors stay `Clone`);
//! * [`progress`]: progress reporting for long offline jobs, behind a small trait;
//! * [`tenant`]: whose conversations a request may touch;
//! * [`watch`]: the one helper behind every hot-reloaded file or folder.

pub mod api;
pub mod audit;
pub mod bundles;
pub mod cause;
pub mod classify;
pub mod config;
pub mod engine;
pub mod error;
pub mod kb;
pub mod model;
pub mod policy;
pub mod progress;
pub mod suggest;
pub mod tenant;
pub mod text;
pub mod trace;
pub mod watch;
