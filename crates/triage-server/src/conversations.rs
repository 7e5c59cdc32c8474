//! `GET /v1/conversations/{id}`: the handoff context package, so the agent who takes a
//! conversation over reads what the customer already said and what the bot already tried.
//! Only the caller's tenant's conversations are found: another tenant's is a 404, as if
//! it did not exist.

use super::auth::Principal;
use super::error::ApiError;
use super::AppState;
use axum::extract::{Path, State};
use axum::Json;
use triage_core::api::{ConversationContext, ErrorBody};
use triage_core::error::TriageError;

#[utoipa::path(get, path = "/v1/conversations/{id}",
    params(("id" = String, Path, description = "The conversation_id given to /v1/classify")),
    responses(
        (status = 200, description = "Turns, customer, issue type, latest decision, suggestions shown", body = ConversationContext),
        (status = 404, description = "Unknown or expired conversation", body = ErrorBody),
        (status = 503, description = "Conversation store unreachable, or still starting", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<Json<ConversationContext>, ApiError> {
    let handoff = state.handoff()?.clone();
    let lookup = id.clone();
    let tenant = caller.tenant;
    let now = triage_core::policy::now_ms();
    let context = if handoff.blocking() {
        tokio::task::spawn_blocking(move || handoff.context_of(&tenant, &lookup, now))
            .await
            .map_err(TriageError::internal)?
    } else {
        handoff.context_of(&tenant, &lookup, now)
    }
    .map_err(TriageError::from)?;
    context.map(Json).ok_or_else(|| {
        ApiError(TriageError::NotFound(format!(
            "no conversation {id:?}: unknown, or expired after memory.ttl_secs"
        )))
    })
}
