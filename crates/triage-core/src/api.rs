//! Request and response bodies of the v1 API (DESIGN.md "HTTP API"), shared by the HTTP
//! server and `triage classify`, so both speak exactly the same JSON.
//!
//! Enumerated fields (`channel`, `intent_set`) arrive as strings and are checked by the
//! classifier: an unknown value then gets its own error code (422) instead of a generic
//! JSON error.

pub use crate::kb::{Mode, Suggestion};
use crate::model::{EmotionResult, IntentResult};
use crate::policy::TurnInput;
pub use crate::policy::{
    Action, ConversationContext, Customer, Decision, Feedback, Priority, Reason, ReasonCode,
    Severity, ShownSuggestion, StoredTurn,
};
use crate::text::Channel;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One message. Fields other than `text` are optional; unknown fields are ignored so a
/// canonical data record is a valid request too.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ClassifyRequest {
    pub text: Option<String>,
    /// A batch: each item is a string or a request object; the outer fields are the
    /// defaults for every item.
    #[schema(no_recursion)]
    pub inputs: Option<Vec<BatchInput>>,
    /// `chat` (default), `voice`, `email` or `social`.
    pub channel: Option<String>,
    pub lang: Option<String>,
    pub conversation_id: Option<String>,
    pub customer: Option<Customer>,
    /// Intent head to use (`support` → `intent.support`); the server's default if absent.
    pub intent_set: Option<String>,
    pub top_k: Option<usize>,
    /// Add knowledge-base `suggestions` (and a `bot_answer` when one fits) to the result.
    pub suggest: Option<bool>,
    /// Bundle to answer with, by the name in its `bundle.toml` (`GET /info` lists them).
    /// Absent: the first bundle whose `languages` include `lang` (given, or detected),
    /// else the server's default bundle. An unknown name is a 422 `unknown_model`.
    pub model: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BatchInput {
    Text(String),
    Request(Box<ClassifyRequest>),
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClassifyResponse {
    pub intent: Option<IntentResult>,
    pub emotion: Option<EmotionResult>,
    /// The handoff policy's decision (absent only when no policy is attached, as in a
    /// bare library use of the classifier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Decision>,
    pub channel: String,
    pub lang: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// With `suggest: true`: the answers and scripts an agent should see, best first,
    /// an empathy script first when the customer is upset. Empty when nothing fits or
    /// the knowledge base is unavailable (see `/ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Vec<Suggestion>>,
    /// With `suggest: true`: the one answer the bot may send on its own. Absent when the
    /// intent is not confident, no article clears its threshold, or the handoff policy
    /// did not let the bot answer; the `handoff` decision then says what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_answer: Option<Suggestion>,
    pub model: ModelInfo,
    pub timing_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchClassifyResponse {
    /// One result per input, in input order; each names the bundle that answered it.
    pub results: Vec<ClassifyResponse>,
    /// The bundle that answered every input, or the default bundle when the inputs went
    /// to several.
    pub model: ModelInfo,
    pub timing_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct EmbedRequest {
    pub inputs: Vec<String>,
    /// Bundle whose encoder embeds every input (vectors of different bundles are not
    /// comparable, so one request is one bundle). Absent: the first bundle whose
    /// `languages` include `lang`, given or detected over all inputs, else the default.
    pub model: Option<String>,
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EmbedResponse {
    /// L2-normalised sentence embeddings, the bundle's prefix applied.
    pub embeddings: Vec<Vec<f32>>,
    pub model: ModelInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// For batch requests: the input the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

/// `POST /v1/suggest`: knowledge-base answers for one message or a whole conversation.
/// Give exactly one of `text`, `texts` or `conversation_id`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestRequest {
    /// One customer message.
    pub text: Option<String>,
    /// A conversation as its customer messages, oldest first (the newest few are used).
    pub texts: Option<Vec<String>>,
    /// A conversation this server remembers (its turns sent to `/v1/classify`).
    pub conversation_id: Option<String>,
    /// `chat` (default), `voice`, `email` or `social`.
    pub channel: Option<String>,
    pub lang: Option<String>,
    /// Intent head whose prediction boosts matching articles [default: the server's].
    pub intent_set: Option<String>,
    /// `agent` (default): the top `k` answers and scripts, an empathy script first when
    /// the customer is upset; `bot`: at most the one answer a bot may send on its own.
    pub mode: Option<Mode>,
    /// Agent suggestions wanted [default: `suggest.k`; at most `suggest.max_k`].
    pub k: Option<usize>,
    /// Bundle (and so knowledge-base index) to search with, by name. Absent: the first
    /// bundle whose `languages` include `lang`, given or detected on the searched text,
    /// else the default. An unknown name is a 422 `unknown_model`.
    pub model: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SuggestResponse {
    pub mode: Mode,
    /// Best first. In bot mode at most one; empty when no answer is good enough.
    pub suggestions: Vec<Suggestion>,
    /// How the searched text was understood.
    pub intent: Option<IntentResult>,
    pub emotion: Option<EmotionResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Customer messages the query was built from.
    pub turns_used: usize,
    /// Version of the knowledge base that answered; it grows with every reload.
    pub kb_generation: u64,
    pub model: ModelInfo,
    pub timing_ms: f64,
}

/// `POST /v1/feedback`: what happened to a suggestion, and/or the intent a message
/// really had. Needs a conversation the server remembers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub conversation_id: String,
    /// A suggestion's `id`; needs `accepted`.
    pub suggestion_id: Option<String>,
    /// Whether the suggestion was used (true) or rejected (false).
    pub accepted: Option<bool>,
    /// The right intent for the turn: a label of the turn's intent set.
    pub corrected_intent: Option<String>,
    /// The turn the feedback is about, by its `at_ms` in the conversation context
    /// [default: the latest turn].
    pub turn_at_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackResponse {
    pub conversation_id: String,
    /// The event as stored (shown in `GET /v1/conversations/{id}`).
    pub feedback: Feedback,
}

/// The policy's view of a wire response: defined here, beside the wire types, so that the
/// policy never depends on them.
impl TurnInput {
    /// The turn of a classify response, for callers that have the response but not the
    /// pipeline's internals (evaluation). `raw_text` is normalised for the response's
    /// channel as the pipeline does; `model_languages` are the bundle's `languages`. The
    /// response must carry at least two `top` intents for the ambiguity rule (`top_k` ≥ 2).
    pub fn from_response(
        raw_text: &str,
        response: &ClassifyResponse,
        customer: Option<Customer>,
        model_languages: &[String],
    ) -> Self {
        let channel: Channel = response.channel.parse().unwrap_or_default();
        let text =
            crate::text::normalize(raw_text, channel, &crate::text::NormalizeOptions::default());
        Self {
            text,
            channel,
            lang: response.lang.clone(),
            model_covers_lang: model_languages.contains(&response.lang),
            intent: response.intent.clone(),
            emotion: response.emotion.clone(),
            customer,
            surge_count: None,
            memory_unavailable: false,
        }
    }
}
