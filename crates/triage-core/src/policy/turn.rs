//! A message as the policy sees it ([`TurnInput`]) and as conversation memory keeps it
//! ([`StoredTurn`], the JSON written to the store and returned in the handoff context
//! package).

use super::decision::Decision;
use crate::model::{EmotionResult, IntentResult};
use crate::text::Channel;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Everything the pure policy needs about the current message. Built by the pipeline
/// from a classify response, or by hand (tests, evaluation).
#[derive(Debug, Clone, Default)]
pub struct TurnInput {
    /// The normalised text (phrase lists match on it).
    pub text: String,
    pub channel: Channel,
    pub lang: String,
    /// Whether the bundle covers `lang`: if not, the model's intent and emotion scores
    /// are not trusted by the rules (see `model_languages` in the policy file).
    pub model_covers_lang: bool,
    /// The intent with at least its top two labels (for the ambiguity margin).
    pub intent: Option<IntentResult>,
    pub emotion: Option<EmotionResult>,
    pub customer: Option<Customer>,
    /// Conversations with this turn's issue type within the surge window, this one
    /// included, as counted by the store; `None` when not counted.
    pub surge_count: Option<usize>,
    /// The conversation store could not be reached: history is missing.
    pub memory_unavailable: bool,
}

impl TurnInput {
    /// A turn in the bundle's language with the given classifier outputs (tests, eval).
    pub fn new(text: &str, intent: Option<IntentResult>, emotion: Option<EmotionResult>) -> Self {
        Self {
            text: text.to_string(),
            lang: crate::text::detect_lang(text).to_string(),
            model_covers_lang: true,
            intent,
            emotion,
            ..Default::default()
        }
    }

    pub(crate) fn tier(&self) -> Option<&str> {
        self.customer.as_ref()?.tier.as_deref()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    pub id: Option<String>,
    /// e.g. `vip`, `gold`, `standard`.
    pub tier: Option<String>,
}

/// A knowledge-base answer shown to the customer or the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShownSuggestion {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// Offered as the bot's own answer (`bot_answer`), not only to the agent. Set only
    /// when the policy let the bot answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
}

/// The intent of a stored turn: the answer without the top-k list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TurnIntent {
    pub set: String,
    pub label: String,
    confidence: f32,
    out_of_scope: bool,
}

/// The emotion of a stored turn: predicted labels and the derived scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TurnEmotion {
    labels: Vec<String>,
    dominant: String,
    pub sentiment: String,
    sentiment_score: f32,
    frustration: f32,
}

/// One classified message of a conversation, as kept in memory (in-process or Redis) and
/// shown to the agent who takes over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredTurn {
    /// Unix time in milliseconds.
    pub at_ms: u64,
    /// The customer's words (raw, PII-masked or absent: `memory.store_text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub channel: String,
    pub lang: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<TurnIntent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotion: Option<TurnEmotion>,
    /// 0 to 1, what the rising-negativity rule compares across turns.
    #[serde(default)]
    pub negativity: f32,
    pub handoff: Decision,
    #[serde(default)]
    pub suggestions_shown: Vec<ShownSuggestion>,
    /// Name of the bundle that classified the turn (several may be served): feedback on
    /// its intent is checked against that bundle's labels. Absent in turns stored before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl StoredTurn {
    /// Whether the bot failed on this turn: it asked to clarify or did not understand.
    pub(crate) fn is_failure(&self) -> bool {
        self.handoff.policy_action() == super::Action::Clarify
            || self.handoff.has(super::ReasonCode::LowConfidence)
            || self.handoff.has(super::ReasonCode::Ambiguous)
    }
}

impl From<&IntentResult> for TurnIntent {
    fn from(i: &IntentResult) -> Self {
        Self {
            set: i.set.clone(),
            label: i.label.clone(),
            confidence: i.confidence,
            out_of_scope: i.out_of_scope,
        }
    }
}

impl From<&EmotionResult> for TurnEmotion {
    fn from(e: &EmotionResult) -> Self {
        Self {
            labels: e.labels.clone(),
            dominant: e.dominant.clone(),
            sentiment: e.sentiment.label.clone(),
            sentiment_score: e.sentiment.score,
            frustration: e.frustration,
        }
    }
}
