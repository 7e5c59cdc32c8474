//! Every error a caller can cause or meet, as one enum. The HTTP layer maps it to a status
//! and a stable `code` in exactly one place (`server/error.rs`); the CLI prints it.
//!
//! Errors keep what caused them. A variant made from another error holds that error
//! (`InvalidPolicy(PolicyError)`, `MemoryUnavailable(StoreError)`, `Unexpected(Cause)`),
//! not its text, so logs and the CLI can show the whole chain (`source()`). The enum
//! is `Clone` because [`EngineError`] is: the engine answers every caller of a failed
//! batch with one error, cloned per caller. An underlying error that is not `Clone`
//! (`io::Error`, `RedisError`, a `JoinError`) is therefore shared behind an `Arc`:
//! [`Cause`], or [`Detail`] where a message of ours stands beside it (see
//! [`crate::cause`]).
//!
//! The messages (`Display`) are part of the API, the HTTP body's `message`: a variant
//! that now holds an error says exactly what its `String` said before (the error's
//! text, inside the same words), and `source()` comes in addition. Variants whose
//! `String` is a message we write (validation, "not found") stay `String`.

pub use crate::cause::{Cause, Detail};
use crate::engine::EngineError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TriageError {
    #[error("text is empty")]
    EmptyText { index: Option<usize> },
    #[error("text is {bytes} bytes; the limit is {max}")]
    TextTooLarge {
        bytes: usize,
        max: usize,
        index: Option<usize>,
    },
    #[error("{items} inputs in one request; the limit is {max}")]
    BatchTooLarge { items: usize, max: usize },
    #[error("request body is larger than {max} bytes")]
    PayloadTooLarge { max: usize },
    #[error("unknown channel {value:?}: expected one of chat, voice, email, social")]
    UnknownChannel { value: String, index: Option<usize> },
    #[error("unknown intent set {value:?}: this model has {available}")]
    UnknownIntentSet { value: String, available: String },
    /// A request's `model` names no bundle this server loaded.
    #[error("unknown model {value:?}: this server serves {available}")]
    UnknownModel { value: String, available: String },
    #[error("{0}")]
    InvalidRequest(String),
    /// `customer.id` too long or with control characters, or a `customer.tier` outside
    /// the configured set: both are stored with every turn.
    #[error("{0}")]
    InvalidCustomer(String),
    /// The client did not send the request body within `limits.body_timeout_ms`.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("malformed JSON: {0}")]
    InvalidJson(String),
    #[error("request body is not valid UTF-8")]
    InvalidUtf8,
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No API key, or one the server does not know.
    #[error("{0}")]
    Unauthorized(String),
    /// A known API key whose role may not call this route.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the model is still loading")]
    NotReady,
    #[error("{0}")]
    NotFound(String),
    /// A policy file that does not load; the previous policy stays in force. Never
    /// [`PolicyError::Store`](crate::policy::PolicyError::Store): that one is
    /// `MemoryUnavailable` (see the `From` impl).
    #[error(transparent)]
    InvalidPolicy(crate::policy::PolicyError),
    /// The conversation store cannot be reached right now.
    #[error(transparent)]
    MemoryUnavailable(crate::policy::StoreError),
    /// No conversation with this id (never seen, or expired), where one is required.
    #[error("no conversation {0:?}: unknown, or expired after memory.ttl_secs")]
    UnknownConversation(String),
    /// Feedback names a suggestion that was never shown in the conversation and is not
    /// an article of the knowledge base.
    #[error("{0}")]
    UnknownSuggestion(String),
    /// A label that the intent head does not have (a corrected intent, for example).
    #[error("{0}")]
    UnknownLabel(String),
    /// Suggestions are switched off, or the knowledge base did not load.
    #[error("{0}")]
    KbUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// An unexpected failure underneath (a blocking task that panicked, a tokenizer that
    /// failed): answered as `Internal` is, with the same words around the error's text,
    /// and the error kept as the source. Made with [`TriageError::internal`].
    #[error("internal error: {0}")]
    Unexpected(#[source] Cause),
}

impl From<crate::policy::PolicyError> for TriageError {
    fn from(e: crate::policy::PolicyError) -> Self {
        match e {
            crate::policy::PolicyError::Store(s) => s.into(),
            other => TriageError::InvalidPolicy(other),
        }
    }
}

impl From<crate::policy::StoreError> for TriageError {
    fn from(e: crate::policy::StoreError) -> Self {
        TriageError::MemoryUnavailable(e)
    }
}

/// A blocking task (`spawn_blocking`) that panicked or was cancelled.
impl From<tokio::task::JoinError> for TriageError {
    fn from(e: tokio::task::JoinError) -> Self {
        TriageError::internal(e)
    }
}

impl TriageError {
    /// An unexpected failure of `e`: `internal error: {e}`, keeping `e` as the source.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        TriageError::Unexpected(Cause::new(e))
    }

    /// Stable, machine-readable code for clients (`error.code` in the JSON body).
    pub fn code(&self) -> &'static str {
        match self {
            TriageError::EmptyText { .. } => "empty_text",
            TriageError::TextTooLarge { .. } => "text_too_large",
            TriageError::BatchTooLarge { .. } => "batch_too_large",
            TriageError::PayloadTooLarge { .. } => "payload_too_large",
            TriageError::UnknownChannel { .. } => "unknown_channel",
            TriageError::UnknownIntentSet { .. } => "unknown_intent_set",
            TriageError::UnknownModel { .. } => "unknown_model",
            TriageError::InvalidRequest(_) => "invalid_request",
            TriageError::InvalidCustomer(_) => "invalid_customer",
            TriageError::RequestTimeout(_) => "request_timeout",
            TriageError::InvalidJson(_) => "invalid_json",
            TriageError::InvalidUtf8 => "invalid_utf8",
            TriageError::UnsupportedMediaType(_) => "unsupported_media_type",
            TriageError::Unauthorized(_) => "unauthorized",
            TriageError::Forbidden(_) => "forbidden",
            TriageError::Engine(EngineError::Overloaded { .. }) => "overloaded",
            TriageError::Engine(EngineError::TooLarge { .. }) => "request_too_large",
            TriageError::Engine(EngineError::Closed) => "shutting_down",
            TriageError::Engine(EngineError::Backend(_)) => "inference_failed",
            TriageError::NotReady => "not_ready",
            TriageError::NotFound(_) => "not_found",
            TriageError::InvalidPolicy(_) => "invalid_policy",
            TriageError::MemoryUnavailable(_) => "memory_unavailable",
            TriageError::UnknownConversation(_) => "unknown_conversation",
            TriageError::UnknownSuggestion(_) => "unknown_suggestion",
            TriageError::UnknownLabel(_) => "unknown_label",
            TriageError::KbUnavailable(_) => "kb_unavailable",
            TriageError::Internal(_) | TriageError::Unexpected(_) => "internal",
        }
    }

    /// Which input of a batch the error is about, so a client can fix that one.
    pub fn index(&self) -> Option<usize> {
        match self {
            TriageError::EmptyText { index }
            | TriageError::TextTooLarge { index, .. }
            | TriageError::UnknownChannel { index, .. } => *index,
            _ => None,
        }
    }

    pub fn at(self, i: usize) -> Self {
        match self {
            TriageError::EmptyText { .. } => TriageError::EmptyText { index: Some(i) },
            TriageError::TextTooLarge { bytes, max, .. } => TriageError::TextTooLarge {
                bytes,
                max,
                index: Some(i),
            },
            TriageError::UnknownChannel { value, .. } => TriageError::UnknownChannel {
                value,
                index: Some(i),
            },
            other => other,
        }
    }
}

impl From<TriageError> for crate::kb::EmbedError {
    fn from(e: TriageError) -> Self {
        crate::kb::EmbedError(crate::cause::Detail::of(e))
    }
}
