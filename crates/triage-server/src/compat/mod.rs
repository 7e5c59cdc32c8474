//! Routes that speak other servers' APIs, so that what a team already runs talks to
//! triage without a custom client: Hugging Face TEI (`/predict`, `/embed`, `/rerank`,
//! `/tokenize`), OpenAI embeddings (`/v1/embeddings`), Rasa's external NLU
//! (`/model/parse`) and a Dialogflow CX webhook (`/integrations/dialogflow-cx`). One file
//! per family; each answers in its own family's JSON, errors included (README
//! "Compatibility" lists the differences from the originals).
//!
//! They run the same pipeline as `/v1/*`: the same routing between bundles, the same
//! normalisation, the same engine queue, the same heads and policy. What is shared
//! between the families lives here: reading the body, embedding texts, classifying one
//! message, and the [`Failure`] every family turns into its own error shape.

pub(crate) mod dialogflow;
pub(crate) mod openai;
pub(crate) mod rasa;
pub(crate) mod tei;

use crate::error::{status_of, ApiError, ApiJson};
use crate::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use ndarray::Array2;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Instant;
use triage_core::api::{ClassifyRequest, ClassifyResponse};
use triage_core::classify::Classifier;
use triage_core::error::TriageError;
use triage_core::tenant::Tenant;

/// What went wrong on a compatibility route, before its family puts it into its own
/// wire shape and status.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Anything triage's own API reports (its status is [`status_of`]'s).
    Core(TriageError),
    /// A field the original API offers that triage cannot honour (sentence pairs, token
    /// ids, unnormalised vectors, another dimension): refused rather than answered with
    /// something else.
    Unsupported {
        param: &'static str,
        message: String,
    },
    /// A text longer than the encoder reads while the client asked not to truncate.
    TooLong { index: Option<usize>, max: usize },
    /// Nothing to work on (an empty batch): TEI's own error type.
    Empty {
        param: &'static str,
        message: String,
    },
}

impl From<TriageError> for Failure {
    fn from(e: TriageError) -> Self {
        Failure::Core(e)
    }
}

impl Failure {
    fn invalid(message: impl Into<String>) -> Self {
        Failure::Core(TriageError::InvalidRequest(message.into()))
    }

    /// triage's own status for it, before a family maps it.
    fn status(&self) -> StatusCode {
        match self {
            Failure::Core(e) => status_of(e),
            Failure::Unsupported { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Failure::TooLong { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::Empty { .. } => StatusCode::BAD_REQUEST,
        }
    }

    /// The stable code of triage's own API (`invalid_request`, `batch_too_large`, ...).
    fn code(&self) -> &'static str {
        match self {
            Failure::Core(e) => e.code(),
            Failure::Unsupported { .. } => "unsupported",
            Failure::TooLong { .. } => "text_too_long",
            Failure::Empty { .. } => "empty",
        }
    }

    /// The request field it is about, where one is.
    fn param(&self) -> Option<&'static str> {
        match self {
            Failure::Unsupported { param, .. } | Failure::Empty { param, .. } => Some(param),
            Failure::TooLong { .. } => Some("input"),
            Failure::Core(TriageError::UnknownModel { .. }) => Some("model"),
            Failure::Core(_) => None,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Core(e) => e.to_string(),
            Failure::Unsupported { message, .. } | Failure::Empty { message, .. } => {
                message.clone()
            }
            Failure::TooLong { index, max } => match index {
                Some(i) => format!("input {i} is longer than the {max} tokens the model reads"),
                None => format!("the input is longer than the {max} tokens the model reads"),
            },
        }
    }

    /// Server-side failures are logged once, as triage's own errors are.
    fn log(&self, family: &str) {
        if self.status().is_server_error() {
            tracing::error!(family, code = self.code(), error = %self.message(), "request failed");
        }
    }
}

/// The JSON body as `T`, with the checks of triage's own extractor (size, UTF-8, JSON).
async fn read_json<T: DeserializeOwned>(req: Request, state: &AppState) -> Result<T, Failure> {
    ApiJson::<T>::from_request(req, state)
        .await
        .map(|ApiJson(t)| t)
        .map_err(|ApiError(e)| Failure::Core(e))
}

/// The query string as `T`; a malformed one is a validation error of the family.
fn read_query<T: DeserializeOwned + Default>(req: &Request) -> Result<T, Failure> {
    match req.uri().query() {
        None => Ok(T::default()),
        Some(_) => axum::extract::Query::<T>::try_from_uri(req.uri())
            .map(|q| q.0)
            .map_err(|e| Failure::invalid(format!("query string: {}", e.body_text()))),
    }
}

/// What to do with a text longer than the bundle's encoder reads (`max_seq_len` tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truncate {
    /// Refuse it ([`Failure::TooLong`]): TEI's default, and what OpenAI does.
    No,
    /// Keep its first tokens, as `/v1/*` always does.
    Right,
    /// Keep its last tokens: TEI offers it, triage's tokenizer does not, so it is refused
    /// when a text is actually long enough to be cut.
    Left,
}

/// Vectors of some texts from one bundle's encoder, with their token counts.
struct Embedded {
    classifier: Arc<Classifier>,
    /// One L2-normalised row per text, in order.
    vectors: Array2<f32>,
    /// Tokens the encoder read for each text (special tokens included).
    tokens: Vec<usize>,
}

/// Embeds `texts` exactly as `/v1/embed` does (same routing, normalisation, prefix and
/// engine), so the vectors are the same. `check` sees the bundle picked before any
/// encoder work (e.g. to refuse a head or dimension it lacks). The caller checks the
/// batch size: its family words the limit its own way.
async fn embed_texts(
    state: &AppState,
    texts: Vec<String>,
    model: Option<String>,
    truncate: Truncate,
    check: impl FnOnce(&Classifier) -> Result<(), Failure> + Send + 'static,
) -> Result<Embedded, Failure> {
    let bundles = state.bundles()?.clone();
    let (classifier, encs) = tokio::task::spawn_blocking(move || {
        let (served, _) = bundles.route(model.as_deref(), None, &texts.join("\n"), None)?;
        let c = served.classifier.clone();
        check(&c)?;
        let encs = c.encode_texts_checked(&texts)?;
        Ok::<_, Failure>((c, encs))
    })
    .await
    .map_err(TriageError::internal)??;
    if let Some(i) = encs.iter().position(|(_, cut)| *cut) {
        let index = (encs.len() > 1).then_some(i);
        let max = classifier.manifest.max_seq_len;
        match truncate {
            Truncate::Right => {}
            Truncate::No => return Err(Failure::TooLong { index, max }),
            Truncate::Left => {
                return Err(Failure::Unsupported {
                    param: "truncation_direction",
                    message: format!(
                        "triage cuts long texts on the right only; a text is longer than the model's {max} tokens (send `truncation_direction: \"right\"`)"
                    ),
                })
            }
        }
    }
    let tokens = encs.iter().map(|(e, _)| e.len()).collect();
    let vectors = classifier
        .engine()
        .embed(encs.into_iter().map(|(e, _)| e).collect())
        .await
        .map_err(TriageError::from)?;
    Ok(Embedded {
        classifier,
        vectors,
        tokens,
    })
}

/// One message through the whole `/v1/classify` pipeline (routing, heads, policy and
/// conversation memory, knowledge-base suggestions when `suggest` is set): the same
/// function as that handler's, for the default tenant.
async fn classify_one(state: &AppState, req: ClassifyRequest) -> Result<ClassifyResponse, Failure> {
    let started = Instant::now();
    let bundles = state.bundles()?.clone();
    let tenant = Tenant::default();
    let mut results = crate::classify::classify_items(&bundles, vec![req], tenant, started).await?;
    results
        .pop()
        .ok_or_else(|| TriageError::Internal("no result".into()).into())
}
