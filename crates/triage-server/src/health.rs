//! Liveness and readiness. `/health` is 200 as long as the process serves HTTP;
//! `/ready` is 503 until every configured bundle is loaded and warmed up, so a load
//! balancer sends no traffic to a replica that would only answer `not_ready` (or answer
//! one language but not the other). A knowledge base neither makes a replica unready
//! nor delays it (classification works without one): it is indexed in the background
//! after the bundles load, which for a large base on a slow CPU takes minutes, and
//! `/ready` says under `kb` whether it is `indexing`, `ready`, `unavailable` (did not
//! load) or `disabled`, for monitoring.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

#[utoipa::path(get, path = "/health", security(()), responses((status = 200, description = "Process is up")))]
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Kubernetes' name for `/health`.
#[utoipa::path(get, path = "/livez", security(()), responses((status = 200, description = "Process is up")))]
pub(crate) async fn livez() -> Json<Value> {
    health().await
}

/// Kubernetes' name for `/ready`.
#[utoipa::path(get, path = "/readyz", security(()), responses(
    (status = 200, description = "As `/ready`"), (status = 503, description = "Still loading")))]
pub(crate) async fn readyz(state: State<AppState>) -> (StatusCode, Json<Value>) {
    ready(state).await
}

#[utoipa::path(get, path = "/ready", security(()), responses(
    (status = 200, description = "Every bundle loaded and warmed up; `model` and `kb` are the default bundle's, `models` lists each with its queue and knowledge base. `kb.state` is `indexing` until a base's first load in the background finishes (suggestions answer `kb_unavailable` meanwhile), then `ready` or `unavailable`; `disabled` when suggestions are off"),
    (status = 503, description = "Still loading")))]
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let Ok(bundles) = state.bundles() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "loading", "model": state.config.model(),
                "models": state.config.models()})),
        );
    };
    let kb = |s: &triage_core::bundles::Served| {
        let k = state.kb_status_of(s);
        json!({
            "state": k.state, "articles": k.articles,
            "generation": k.generation, "issues": k.issues.len(),
            "error": k.error,
        })
    };
    let default = bundles.default_bundle();
    let models: Vec<Value> = bundles
        .all()
        .iter()
        .map(|s| {
            json!({"model": s.classifier.model_info(),
                "queue_depth": s.classifier.engine().queue_depth(), "kb": kb(s)})
        })
        .collect();
    (
        StatusCode::OK,
        Json(
            json!({"status": "ready", "model": default.classifier.model_info(),
            "queue_depth": default.classifier.engine().queue_depth(),
            "kb": kb(default), "models": models}),
        ),
    )
}
