//! The agent console (`GET /console`): one page, served by triage itself, where agents
//! take conversations over with the whole context. Plain HTML, JS and CSS compiled into
//! the binary (`assets/`, `include_str!`): no build step, no CDN, nothing to deploy.
//!
//! The page calls the console's JSON routes below and the public API it already has:
//! `GET /v1/conversations/{id}` (the context package), `POST /v1/suggest` (agent
//! mode: the empathy script first), `POST /v1/feedback` and `GET /info` (the labels of
//! the corrected-intent picker).
//!
//! * [`page`]: the page and its script and style sheet;
//! * [`queue`]: `GET /console/api/queue`, the conversations that need a person;
//! * [`overview`]: `GET /console/api/overview`, the last hour for a supervisor;
//! * [`events`]: `GET /console/api/events`, server-sent events when the queue changes;
//! * [`session`]: `POST` / `DELETE /console/session`, sign-in and sign-out.
//!
//! Everything reads the store's console index (`policy::store::queue`), so every
//! replica behind a load balancer shows the same queue when the store is Redis. Every
//! route needs the `agent` role and shows the caller's tenant's conversations only.

pub(crate) mod events;
pub(crate) mod overview;
pub(crate) mod page;
pub(crate) mod queue;
pub(crate) mod session;

use crate::AppState;
use std::sync::Arc;
use triage_core::error::TriageError;
use triage_core::policy::HandoffService;

/// Most conversations the overview reads from the index (a tenant with more in the last
/// hour is summed over its newest this many).
const OVERVIEW_MAX: usize = 5_000;

/// Runs `f` on the handoff service, on the blocking pool when the store does network
/// I/O (Redis), as the other handlers do.
async fn with_store<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&HandoffService) -> Result<T, TriageError> + Send + 'static,
) -> Result<T, TriageError> {
    let handoff: Arc<HandoffService> = state.handoff()?.clone();
    if handoff.blocking() {
        tokio::task::spawn_blocking(move || f(&handoff))
            .await
            .map_err(TriageError::internal)?
    } else {
        f(&handoff)
    }
}
