//! Request and response bodies of the v1 API (DESIGN.md "HTTP API"), shared by the HTTP
//! server and `triage classify`, so both speak exactly the same JSON.
//!
//! Enumerated fields (`channel`, `intent_set`) arrive as strings and are checked by the
//! classifier: an unknown value then gets its own error code (422) instead of a generic
//! JSON error.

use crate::model::{EmotionResult, IntentResult};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    pub id: Option<String>,
    /// e.g. `vip`, `gold`, `standard`.
    pub tier: Option<String>,
}

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
    pub suggest: Option<bool>,
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
    pub channel: String,
    pub lang: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    pub model: ModelInfo,
    pub timing_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchClassifyResponse {
    /// One result per input, in input order.
    pub results: Vec<ClassifyResponse>,
    pub model: ModelInfo,
    pub timing_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EmbedRequest {
    pub inputs: Vec<String>,
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
