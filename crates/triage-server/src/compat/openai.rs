//! OpenAI's embeddings API: `POST /v1/embeddings`, so the `openai` SDKs (and what is
//! built on them: LangChain's `OpenAIEmbeddings`, LlamaIndex, vector databases' OpenAI
//! integrations) embed with triage by pointing `base_url` at `http://host:port/v1`.
//!
//! `model` must name a served bundle (`GET /info` lists them; absent, the bundle is
//! picked by the texts' language as on `/v1/embed`): an OpenAI model name is refused
//! rather than answered with vectors of another space. `encoding_format: "base64"` is
//! the little-endian f32 bytes of each vector, as OpenAI sends them. `dimensions` other
//! than the encoder's, and token-id inputs, are refused. Texts longer than the encoder
//! reads are refused, as OpenAI refuses texts beyond its context length. Errors have
//! OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

use super::tei::check_dimensions;
use super::{embed_texts, read_json, Failure, Truncate};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use triage_core::error::TriageError;

#[derive(Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize)]
struct ErrorDetail {
    message: String,
    #[serde(rename = "type")]
    kind: &'static str,
    param: Option<&'static str>,
    code: Option<&'static str>,
}

/// A failure in OpenAI's shape: bad input is a 400 `invalid_request_error` (OpenAI does
/// not use 422), an unknown model a 404 `model_not_found`, a full queue a 429, anything
/// on the server's side a 5xx `server_error`.
fn error_response(f: Failure) -> Response {
    f.log("openai");
    let status = f.status();
    let (status, kind, code) = match &f {
        Failure::Core(TriageError::UnknownModel { .. }) => (
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
        ),
        Failure::Core(TriageError::PayloadTooLarge { .. }) => {
            (status, "invalid_request_error", f.code())
        }
        Failure::TooLong { .. } => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "context_length_exceeded",
        ),
        _ if status == StatusCode::TOO_MANY_REQUESTS => {
            (status, "rate_limit_error", "rate_limit_exceeded")
        }
        _ if status.is_server_error() => (status, "server_error", f.code()),
        _ => (StatusCode::BAD_REQUEST, "invalid_request_error", f.code()),
    };
    let param = f.param();
    let body = ErrorBody {
        error: ErrorDetail {
            message: f.message(),
            kind,
            param,
            code: Some(code),
        },
    };
    (status, Json(body)).into_response()
}

#[derive(Debug, Deserialize)]
struct EmbeddingsRequest {
    input: Value,
    model: Option<String>,
    encoding_format: Option<String>,
    dimensions: Option<usize>,
    /// OpenAI's end-user id: accepted, not used.
    #[allow(dead_code)]
    user: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct Embedding {
    object: &'static str,
    embedding: Vector,
    index: usize,
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: usize,
    total_tokens: usize,
}

#[derive(Serialize)]
struct EmbeddingsResponse {
    object: &'static str,
    data: Vec<Embedding>,
    model: String,
    usage: Usage,
}

/// `input`: a string or a list of strings; token ids (lists of integers) are refused,
/// since they would be ids of OpenAI's tokenizer, not this model's.
fn texts(input: Value) -> Result<Vec<String>, Failure> {
    let token_ids = || Failure::Unsupported {
        param: "input",
        message: "token-id inputs are not supported: send the text".into(),
    };
    let shape = || Failure::Unsupported {
        param: "input",
        message: "`input` must be a string or a list of strings".into(),
    };
    match input {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) if items.is_empty() => Err(Failure::Empty {
            param: "input",
            message: "`input` cannot be an empty list".into(),
        }),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                Value::Number(_) | Value::Array(_) => Err(token_ids()),
                _ => Err(shape()),
            })
            .collect(),
        _ => Err(shape()),
    }
}

/// Each vector's f32 values as little-endian bytes, base64 (standard alphabet, padded):
/// what the OpenAI SDKs decode with `np.frombuffer(base64.b64decode(s), dtype="float32")`.
fn base64_f32(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `POST /v1/embeddings`.
#[utoipa::path(post, path = "/v1/embeddings", tag = "compatibility", request_body(content = Object, description = "OpenAI's embeddings body: `input` (a text or a list), `model` (a served bundle, or absent), `encoding_format` (`float` or `base64`), `dimensions`"), responses((status = 200, description = "OpenAI's list of embeddings with usage"), (status = 400, description = "Malformed or empty input, in the family's own error shape"), (status = 413, description = "Text longer than the encoder reads"), (status = 422, description = "A field or option triage does not support")))]
pub(crate) async fn embeddings(State(state): State<AppState>, req: Request) -> Response {
    match run(state, req).await {
        Ok(r) => Json(r).into_response(),
        Err(f) => error_response(f),
    }
}

async fn run(state: AppState, req: Request) -> Result<EmbeddingsResponse, Failure> {
    let body: EmbeddingsRequest = read_json(req, &state).await?;
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(Failure::Unsupported {
                param: "encoding_format",
                message: format!(
                    "`encoding_format` must be \"float\" or \"base64\", not {other:?}"
                ),
            })
        }
    };
    let texts = texts(body.input)?;
    let max = state.config.limits.max_batch_items;
    if texts.len() > max {
        return Err(TriageError::BatchTooLarge {
            items: texts.len(),
            max,
        }
        .into());
    }
    let dimensions = body.dimensions;
    let embedded = embed_texts(&state, texts, body.model, Truncate::No, move |c| {
        check_dimensions(c, dimensions)
    })
    .await?;
    let tokens: usize = embedded.tokens.iter().sum();
    let data = embedded
        .vectors
        .outer_iter()
        .enumerate()
        .map(|(index, row)| Embedding {
            object: "embedding",
            embedding: if base64 {
                Vector::Base64(base64_f32(&row.to_vec()))
            } else {
                Vector::Float(row.to_vec())
            },
            index,
        })
        .collect();
    Ok(EmbeddingsResponse {
        object: "list",
        data,
        model: embedded.classifier.manifest.name.clone(),
        usage: Usage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::base64_f32;
    use base64::Engine as _;

    #[test]
    fn base64_is_little_endian_f32() {
        let s = base64_f32(&[1.0, -0.5]);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&s)
            .unwrap();
        assert_eq!(bytes, [0, 0, 128, 63, 0, 0, 0, 191]);
    }
}
