//! `GET /console/api/queue`: the conversations the policy handed off or asked to
//! clarify, by priority, then VIP customers, then severity, newest first within each
//! (`policy::store::queue::queue_order`), each with how long it has been waiting.

use super::with_store;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use triage_core::error::TriageError;
use triage_core::policy::store::queue::{queue_order, QueueEntry};

/// Default and largest number of conversations listed.
const DEFAULT_LIMIT: usize = 200;
const MAX_LIMIT: usize = 1_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct Waiting {
    #[serde(flatten)]
    entry: QueueEntry,
    /// Milliseconds since it started waiting for a person.
    waiting_ms: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct QueueResponse {
    now_ms: u64,
    /// The index's stamp when read: `/console/api/events` announces a newer one.
    stamp: u64,
    /// Conversations waiting, of which `conversations` lists the first `limit`.
    waiting: usize,
    conversations: Vec<Waiting>,
}

#[utoipa::path(get, path = "/console/api/queue", tag = "console",
    params(("limit" = Option<usize>, Query, description = "How many to list, 1 to 1,000 (default 200)")),
    responses((status = 200, description = "`{now_ms, stamp, waiting, conversations}`: the caller's tenant's conversations handed off or asked to clarify, by priority, VIP, severity, newest first, each a queue entry (latest decision, intent, emotion, customer, channel, language, preview) with `waiting_ms`"),
        (status = 400, description = "`limit` out of range"), (status = 503, description = "The conversation store is unreachable")))]
pub(crate) async fn queue(
    State(state): State<AppState>,
    caller: Principal,
    Query(params): Query<Params>,
) -> Result<Json<QueueResponse>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(TriageError::InvalidRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))
        .into());
    }
    // The whole index is read: the queue is a subset, ordered differently from the
    // index's newest-first.
    let max = state
        .config
        .memory
        .max_conversations
        .clamp(1, super::OVERVIEW_MAX * 2);
    let now_ms = triage_core::policy::now_ms();
    let tenant = caller.tenant;
    let (stamp, entries) = with_store(&state, move |h| {
        let stamp = h.stamp(&tenant)?;
        Ok((stamp, h.latest(&tenant, max, now_ms)?))
    })
    .await?;
    let mut waiting: Vec<QueueEntry> = entries.into_iter().filter(|e| e.needs_agent()).collect();
    queue_order(&mut waiting);
    let total = waiting.len();
    let conversations = waiting
        .into_iter()
        .take(limit)
        .map(|entry| Waiting {
            waiting_ms: now_ms.saturating_sub(entry.waiting_since_ms.unwrap_or(entry.last_at_ms)),
            entry,
        })
        .collect();
    Ok(Json(QueueResponse {
        now_ms,
        stamp,
        waiting: total,
        conversations,
    }))
}
