//! `POST /v1/classify`: one message or a batch, with knowledge-base suggestions for the
//! messages that ask (`suggest: true`).

use super::error::{ApiError, ApiJson};
use super::AppState;
use crate::api::{BatchClassifyResponse, ClassifyRequest, ClassifyResponse, ErrorBody};
use crate::classify::expand;
use crate::error::TriageError;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::time::Instant;

#[utoipa::path(post, path = "/v1/classify", request_body = ClassifyRequest,
    responses(
        (status = 200, description = "One result, or `results` in input order for `inputs`. With `suggest: true`, `suggestions` for the agent and, when one fits and the policy lets the bot answer, `bot_answer`", body = ClassifyResponse),
        (status = 400, description = "Malformed JSON or invalid UTF-8", body = ErrorBody),
        (status = 413, description = "Text, batch or body too large", body = ErrorBody),
        (status = 422, description = "Empty text, unknown channel or intent set", body = ErrorBody),
        (status = 429, description = "Queue full; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "Model still loading", body = ErrorBody)))]
pub async fn classify(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ClassifyRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let classifier = state.classifier()?.clone();
    let (items, batch) = expand(req, state.config.limits.max_batch_items)?;
    if state.config.log_text {
        // Opt-in only, and even then with personal data masked.
        for item in &items {
            let text = crate::text::mask_pii(item.text.as_deref().unwrap_or(""));
            tracing::info!(text = %text, channel = ?item.channel, "classify input");
        }
    }
    // Normalisation and tokenization are CPU work: keep them off the async workers.
    let prep = classifier.clone();
    let prepared = tokio::task::spawn_blocking(move || prep.prepare_all(&items))
        .await
        .map_err(|e| TriageError::Internal(e.to_string()))??;
    let mut results = classifier
        .classify_with(prepared, started, state.kb().cloned())
        .await?;
    ::metrics::counter!("triage_classified_total").increment(results.len() as u64);
    if batch {
        Ok(Json(BatchClassifyResponse {
            results,
            model: classifier.model_info(),
            timing_ms: started.elapsed().as_secs_f64() * 1e3,
        })
        .into_response())
    } else {
        let one = results
            .pop()
            .ok_or_else(|| TriageError::Internal("no result".into()))?;
        Ok(Json(one).into_response())
    }
}
