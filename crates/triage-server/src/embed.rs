//! `POST /v1/embed`: normalised sentence embeddings from one bundle's encoder (`model`,
//! else the bundle for `lang`, given or detected over all inputs): vectors of different
//! bundles live in different spaces, so one request never mixes them.

use super::error::{ApiError, ApiJson};
use super::AppState;
use axum::extract::State;
use axum::Json;
use triage_core::api::{EmbedRequest, EmbedResponse, ErrorBody};
use triage_core::error::TriageError;

#[utoipa::path(post, path = "/v1/embed", request_body = EmbedRequest,
    responses((status = 200, description = "One vector per input; `model` names the bundle", body = EmbedResponse),
              (status = 413, body = ErrorBody),
              (status = 422, description = "Empty input, or `unknown_model`", body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn embed(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EmbedRequest>,
) -> Result<Json<EmbedResponse>, ApiError> {
    let bundles = state.bundles()?.clone();
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
    let (classifier, encs) = tokio::task::spawn_blocking(move || {
        let (served, _) = bundles.route(
            req.model.as_deref(),
            req.lang.as_deref(),
            &req.inputs.join("\n"),
            None,
        )?;
        let c = served.classifier.clone();
        c.encode_texts(&req.inputs).map(|e| (c, e))
    })
    .await
    .map_err(TriageError::internal)??;
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
