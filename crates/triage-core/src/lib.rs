//! triage-core: the serving path of triage, a customer-service NLU inference server, as a
//! library. Embed it to classify messages in your own process: the pipeline
//! ([`classify::Classifier`]), the served bundles ([`bundles::Bundles`]), the handoff
//! policy ([`policy::Policy`]) and the v1 wire types ([`api`]) are its public API;
//! everything else is crate-private.
//!
//! Data flows one way: text → normalise ([`text`]) → tokenize → batch/encode
//! ([`engine`], [`model`]) → heads → response ([`classify`]), where the handoff
//! [`policy`] decides bot, clarify or human and conversation memory keeps the turn, and
//! the knowledge base ([`kb`], [`suggest`]) adds answers.
//!
//! This crate depends on no other crate of the workspace: the HTTP server
//! (`triage-server`) and the offline work (`triage-lab`: data, training, evaluation)
//! build on it, never the other way (`scripts/check_imports.py` checks it in CI).
//!
//! # Modules, in data-path order
//!
//! * [`text`]: normalisation per channel, PII masking and language routing;
//! * [`model`]: bundles on disk ([`model::Bundle`], its manifest), the tokenizer, the
//!   encoder and the heads;
//! * [`engine`]: the batching queue in front of the encoder;
//! * [`classify`]: [`classify::Classifier`], one bundle's pipeline (prepare → respond →
//!   suggest → decide, a module each);
//! * [`policy`]: the handoff [`policy::Policy`], its [`policy::Decision`]s and the
//!   conversation memory ([`policy::store`]);
//! * [`kb`]: the knowledge base ([`kb::KnowledgeBase`], hot-reloaded as [`kb::LiveKb`]);
//! * [`suggest`]: answers for a message from the knowledge base;
//! * [`bundles`]: the served bundles and which one a request goes to;
//! * [`api`]: the v1 wire types (request and response bodies);
//! * [`config`]: the server configuration file;
//! * [`error`]: [`error::TriageError`], the one error enum every request path returns;
//! * [`cause`]: the source an error keeps (shared, so errors stay `Clone`);
//! * [`audit`]: what reloads of the policy and knowledge base tell an audit log;
//! * [`tenant`]: whose conversations a request may touch;
//! * [`progress`]: progress reporting for long offline jobs, behind a small trait;
//! * [`watch`]: the one helper behind every hot-reloaded file or folder.
//!
//! # Example
//!
//! Load the configured bundle with its handoff policy, then classify one message:
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Instant;
//! use triage_core::api::ClassifyRequest;
//! use triage_core::bundles::{load_classifier, Bundles, Served};
//! use triage_core::config::Config;
//! use triage_core::policy::HandoffService;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The configuration file (`None`: the default location and the environment).
//! let config = Config::load(None)?;
//! // The handoff policy and conversation memory every decision uses.
//! let handoff = Arc::new(HandoffService::from_config(&config, false)?);
//! // A bundle directory or a Hugging Face id, with the policy attached.
//! let classifier = Arc::new(load_classifier(config.model(), &config, &handoff)?);
//! let bundles = Bundles::new(vec![Served { classifier, kb: None }])?;
//!
//! let request = ClassifyRequest {
//!     text: Some("I was charged twice for my order".into()),
//!     ..Default::default()
//! };
//! // Picks the bundle (by name or language), then normalises and checks the request.
//! let routed = bundles.route_item(request)?;
//! let classifier = routed.served().classifier.clone();
//! let prepared = routed.prepare()?;
//! let responses = classifier.classify_blocking(vec![prepared], Instant::now())?;
//! println!("{}", serde_json::to_string_pretty(&responses[0])?);
//! # Ok(())
//! # }
//! ```

#![warn(unreachable_pub)]

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
mod trace;
pub mod watch;
