//! Policy and knowledge-base administration: `GET /admin/policy` shows the policy in
//! force and the last reload error; `POST /admin/policy/reload` re-reads the file now. An
//! invalid file is answered 422 `invalid_policy` and the running policy stays.
//! `GET /admin/kb` and `POST /admin/kb/reload` do the same for the knowledge base. These
//! routes change how every conversation is routed: they need an `admin` key, and every
//! call is written to the audit log (as is the reload it causes, with the file hashes
//! before and after).

use super::auth::Principal;
use super::error::ApiError;
use super::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use triage_core::api::ErrorBody;
use triage_core::error::TriageError;
use triage_core::kb::KbStatus;
use triage_core::policy::{PolicyConfig, PolicyStatus, Reloaded};

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PolicyView {
    status: PolicyStatus,
    store: &'static str,
    /// The policy in force, every default filled in.
    #[schema(value_type = Object)]
    policy: PolicyConfig,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ReloadResponse {
    result: Reloaded,
    status: PolicyStatus,
}

#[utoipa::path(get, path = "/admin/policy", responses(
    (status = 200, description = "The policy in force and its reload status", body = PolicyView)))]
pub(crate) async fn policy(State(state): State<AppState>) -> Result<Json<PolicyView>, ApiError> {
    let h = state.handoff()?;
    Ok(Json(PolicyView {
        status: h.policy().status(),
        store: h.store().kind(),
        policy: h.policy().get().config().clone(),
    }))
}

#[utoipa::path(post, path = "/admin/policy/reload", responses(
    (status = 200, description = "Reloaded, or unchanged", body = ReloadResponse),
    (status = 422, description = "The file is invalid; the previous policy stays in force", body = ErrorBody)))]
pub(crate) async fn reload(
    State(state): State<AppState>,
    caller: Principal,
) -> Result<Json<ReloadResponse>, ApiError> {
    let h = state.handoff()?.clone();
    let by = caller.name;
    let result = tokio::task::spawn_blocking(move || {
        h.policy().reload_by(&by).map(|r| (r, h.policy().status()))
    })
    .await
    .map_err(TriageError::internal)?
    .map_err(TriageError::from)?;
    Ok(Json(ReloadResponse {
        result: result.0,
        status: result.1,
    }))
}

#[utoipa::path(get, path = "/admin/kb", responses(
    (status = 200, description = "The knowledge base serving now: state (`indexing` while it is first loaded in the background), articles, version, articles left out with file and line, last error", body = KbStatus),
    (status = 503, description = "Model still loading", body = ErrorBody)))]
pub(crate) async fn kb(State(state): State<AppState>) -> Result<Json<KbStatus>, ApiError> {
    state.classifier()?;
    state
        .kb_status()
        .map(Json)
        .ok_or(ApiError(TriageError::NotReady))
}

/// Checks the article files now rather than at the next watch interval (and retries a
/// base that did not load): for a deployment that must see an edit at once. Every
/// bundle's index is refreshed; the answer is the default bundle's status. While a base
/// is first indexed this returns at once with `indexing`: that load reads the files as
/// they are now.
#[utoipa::path(post, path = "/admin/kb/reload", responses(
    (status = 200, description = "Reloaded if anything changed; the status afterwards", body = KbStatus),
    (status = 503, description = "Model loading, or suggestions disabled", body = ErrorBody)))]
pub(crate) async fn kb_reload(
    State(state): State<AppState>,
    caller: Principal,
) -> Result<Json<KbStatus>, ApiError> {
    let bundles = state.bundles()?.clone();
    let kb = state.kb().cloned().ok_or_else(|| {
        TriageError::KbUnavailable("suggestions are disabled (suggest.enabled = false)".into())
    })?;
    let status = tokio::task::spawn_blocking(move || {
        for other in bundles.all().iter().skip(1) {
            if let Some(k) = &other.kb {
                k.refresh_by(&caller.name);
            }
        }
        kb.refresh_by(&caller.name)
    })
    .await
    .map_err(TriageError::internal)?;
    Ok(Json(status))
}
