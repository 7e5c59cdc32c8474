//! `POST /v1/embed`: normalised sentence embeddings from the bundle's encoder.

use super::error::{ApiError, ApiJson};
use super::AppState;
use crate::api::{EmbedRequest, EmbedResponse, ErrorBody};
use crate::error::TriageError;
use axum::extract::State;
use axum::Json;

#[utoipa::path(post, path = "/v1/embed", request_body = EmbedRequest,
    responses((status = 200, body = EmbedResponse), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn embed(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EmbedRequest>,
) -> Result<Json<EmbedResponse>, ApiError> {
    let classifier = state.classifier()?.clone();
    let max = state.config.limits.max_batch_items;
    if req.inputs.is_empty() {
        return Err(TriageError::InvalidRequest("\"inputs\" is empty".into()).into());
    }
    if req.inputs.len() > max {
        return Err(TriageError::BatchTooLarge {
            items: req.inputs.len(),
            max,
        }
        .into());
    }
    let prep = classifier.clone();
    let encs = tokio::task::spawn_blocking(move || prep.encode_texts(&req.inputs))
        .await
        .map_err(|e| TriageError::Internal(e.to_string()))??;
    let emb = classifier
        .engine()
        .embed(encs)
        .await
        .map_err(TriageError::from)?;
    Ok(Json(EmbedResponse {
        embeddings: emb.outer_iter().map(|r| r.to_vec()).collect(),
        model: classifier.model_info(),
    }))
}
