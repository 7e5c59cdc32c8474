//! `GET /console/api/events`: server-sent events telling the page that the caller's
//! tenant's queue changed (an event `queue` whose data is the new stamp), so the page
//! fetches the queue, and the open conversation, again without a reload.
//!
//! Chosen over a publish/subscribe channel: every connection polls the store's stamp
//! (`ConversationStore::stamp`, one `GET` in Redis, a lock in memory) every
//! [`POLL`]. Replicas need nothing between them: a turn stored through any replica
//! changes the stamp every replica reads, and a Redis outage only pauses the events.
//! A comment is sent every [`KEEP_ALIVE`] so that the connection's idle timeout and
//! proxies do not close a quiet stream.

use crate::auth::Principal;
use crate::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use triage_core::policy::HandoffService;
use triage_core::tenant::Tenant;

const POLL: Duration = Duration::from_millis(500);
const KEEP_ALIVE: Duration = Duration::from_secs(15);

struct Watch {
    handoff: Option<Arc<HandoffService>>,
    tenant: Tenant,
    /// The stamp last announced; `None` before the first event.
    last: Option<u64>,
}

#[utoipa::path(get, path = "/console/api/events", tag = "console",
    responses((status = 200, description = "`text/event-stream`: an event `queue` (data: the index stamp) whenever the caller's tenant's queue changes")))]
pub(crate) async fn events(
    State(state): State<AppState>,
    caller: Principal,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let watch = Watch {
        handoff: state.handoff().ok().cloned(),
        tenant: caller.tenant,
        last: None,
    };
    let stream = stream::unfold(watch, |mut w| async move {
        loop {
            if w.last.is_some() {
                tokio::time::sleep(POLL).await;
            }
            let stamp = match &w.handoff {
                Some(h) => read_stamp(h.clone(), w.tenant.clone()).await,
                None => None,
            };
            // The first event says where the page starts; later ones only a change.
            // An unreadable stamp (store down) sends nothing and tries again.
            match stamp {
                Some(s) if w.last != Some(s) => {
                    w.last = Some(s);
                    let event = Event::default().event("queue").data(s.to_string());
                    return Some((Ok(event), w));
                }
                None if w.last.is_none() => {
                    w.last = Some(0);
                    let event = Event::default().event("queue").data("0");
                    return Some((Ok(event), w));
                }
                _ => {}
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

async fn read_stamp(h: Arc<HandoffService>, tenant: Tenant) -> Option<u64> {
    if h.blocking() {
        tokio::task::spawn_blocking(move || h.stamp(&tenant).ok())
            .await
            .ok()
            .flatten()
    } else {
        h.stamp(&tenant).ok()
    }
}
