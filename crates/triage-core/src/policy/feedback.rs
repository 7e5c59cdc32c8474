//! What an agent or a bot platform said about a conversation's suggestions and intents,
//! kept beside its turns: accepted and rejected suggestions measure the knowledge base,
//! corrected intents are the labelled data the next training run needs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One feedback event, as stored and as shown in the handoff context package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Feedback {
    /// Unix time in milliseconds when the feedback arrived.
    pub at_ms: u64,
    /// The turn it is about (its `at_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion_id: Option<String>,
    /// Whether the suggestion was used (sent, or judged right) or rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<bool>,
    /// The intent the message really had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_intent: Option<String>,
    /// Intent set of `corrected_intent` (`support` → head `intent.support`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_set: Option<String>,
}

/// Feedback events kept per conversation, newest last; older ones are dropped first. A
/// conversation sees a few per turn at most, so this only bounds a misbehaving client.
pub(crate) const MAX_FEEDBACK: usize = 256;
