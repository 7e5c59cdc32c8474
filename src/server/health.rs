//! Liveness and readiness. `/health` is 200 as long as the process serves HTTP;
//! `/ready` is 503 until the model is loaded and warmed up, so a load balancer sends no
//! traffic to a replica that would only answer `not_ready`. A knowledge base that did not
//! load does not make a replica unready (classification still works); `/ready` says so
//! under `kb` for monitoring.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

#[utoipa::path(get, path = "/health", responses((status = 200, description = "Process is up")))]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/ready", responses(
    (status = 200, description = "Model loaded and warmed up; `kb` summarises the knowledge base"),
    (status = 503, description = "Still loading")))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.classifier() {
        Ok(c) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "model": c.model_info(),
            "queue_depth": c.engine().queue_depth(),
            "kb": state.kb_status().map(|k| json!({
                "state": k.state, "articles": k.articles,
                "generation": k.generation, "issues": k.issues.len(),
                "error": k.error,
            }))})),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "loading", "model": state.config.model})),
        ),
    }
}
