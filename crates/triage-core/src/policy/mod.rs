//! Handoff policy and conversation memory: for every message, whether the bot answers,
//! asks the customer to clarify, or hands the conversation to a human, with the reasons,
//! priority, severity and team; and the turns an agent needs so that the customer never
//! repeats themselves.
//!
//! * [`config`]: the declarative policy file (`config/policy.toml`);
//! * `rules`: [`Policy::decide`], a pure function of a turn and its history;
//! * `reload`: the policy in force, swapped on file change or admin call;
//! * [`store`]: conversation memory behind [`ConversationStore`] (in-process or Redis);
//! * `handoff`: [`HandoffService`], which ties them together for the pipeline;
//! * `context`: [`ConversationContext`], the handoff context package an agent gets;
//! * `turn`, `decision`: the domain types (the wire types in [`crate::api`]
//!   re-export them; the policy never imports the wire types).
//!
//! Evaluating the policy offline (`triage eval`'s handoff decider) lives in
//! `triage-lab` (`eval::simulate`).

pub mod config;
mod context;
mod decision;
mod feedback;
mod handoff;
mod phrases;
mod reload;
mod rules;
pub mod store;
mod turn;

pub use config::PolicyConfig;
pub use context::ConversationContext;
pub use decision::{Action, Decision, Priority, Reason, ReasonCode, Severity};
pub use feedback::Feedback;
pub use handoff::{HandoffService, TurnMeta};
pub use reload::{now_ms, PolicyHandle, PolicyStatus, Reloaded};
pub use rules::Policy;
pub use store::{ConversationStore, MemoryStore, RedisStore, StoreError, TurnLock};
pub use turn::{Customer, ShownSuggestion, StoredTurn, TurnEmotion, TurnInput, TurnIntent};

use crate::cause::Cause;
use std::path::PathBuf;

/// Why a policy file does not load. `Clone` (its causes are shared, [`Cause`]): the
/// reload status and the answer to a reload request both carry it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyError {
    /// The file cannot be read; the I/O error is the source.
    #[error("{file}: {source}")]
    Read { file: PathBuf, source: Cause },
    /// Not TOML, or not the policy's shape; the parser's error is the source.
    #[error("{file}: invalid policy: {source}")]
    Syntax { file: PathBuf, source: Cause },
    /// Parsed, but refused by our checks (ranges, names, duplicates): `message` is ours.
    #[error("{file}: invalid policy: {message}")]
    Invalid { file: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}
