//! `GET /console/api/overview`: the last hour for a supervisor, from the console index
//! (each conversation's newest state, counted once, at its newest turn): conversations
//! per five minutes by the policy's action, containment (the share the bot kept),
//! intents, handoff reasons, and issue types that raised the `surge` reason, with their
//! own per-five-minutes series, so a mass incident shows at a glance.

use super::{with_store, OVERVIEW_MAX};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;
use triage_core::policy::store::queue::QueueEntry;
use triage_core::policy::{Action, ReasonCode};

const WINDOW_MS: u64 = 3_600_000;
const BUCKET_MS: u64 = 300_000;
const BUCKETS: usize = (WINDOW_MS / BUCKET_MS) as usize;

#[derive(Debug, Default, Serialize, PartialEq)]
struct Count {
    name: String,
    count: usize,
}

#[derive(Debug, Serialize, PartialEq)]
struct Surge {
    issue_type: String,
    count: usize,
    /// Conversations per bucket, oldest first.
    series: Vec<usize>,
}

#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct Overview {
    now_ms: u64,
    window_ms: u64,
    bucket_ms: u64,
    /// Conversations whose newest turn is within the window.
    conversations: usize,
    /// Per bucket, oldest first: conversations by action (`bot`, `clarify`, `handoff`).
    series: BTreeMap<&'static str, Vec<usize>>,
    /// Share of the window's conversations the bot answered (0 to 1; 0 when none).
    containment: f64,
    /// Most frequent first.
    intents: Vec<Count>,
    reasons: Vec<Count>,
    surges: Vec<Surge>,
}

#[utoipa::path(get, path = "/console/api/overview", tag = "console",
    responses((status = 200, description = "The last hour of the caller's tenant in 5-minute buckets: conversations by action, containment, intents, handoff reasons, surges"),
        (status = 503, description = "The conversation store is unreachable")))]
pub(crate) async fn overview(
    State(state): State<AppState>,
    caller: Principal,
) -> Result<Json<Overview>, ApiError> {
    let now_ms = triage_core::policy::now_ms();
    let tenant = caller.tenant;
    let entries = with_store(&state, move |h| {
        Ok(h.latest(&tenant, OVERVIEW_MAX, now_ms)?)
    })
    .await?;
    Ok(Json(summarise(&entries, now_ms)))
}

/// The overview of `entries` (any order) as of `now_ms`.
fn summarise(entries: &[QueueEntry], now_ms: u64) -> Overview {
    let since = now_ms.saturating_sub(WINDOW_MS);
    let bucket =
        |at: u64| ((at.saturating_sub(since)) / BUCKET_MS).min(BUCKETS as u64 - 1) as usize;
    let mut series: BTreeMap<&'static str, Vec<usize>> =
        [Action::Bot, Action::Clarify, Action::Handoff]
            .into_iter()
            .map(|a| (a.as_str(), vec![0; BUCKETS]))
            .collect();
    let mut intents: BTreeMap<String, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut surges: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let (mut n, mut bot) = (0, 0);
    for e in entries
        .iter()
        .filter(|e| e.last_at_ms > since && e.last_at_ms <= now_ms)
    {
        n += 1;
        let action = e.handoff.policy_action();
        if action == Action::Bot {
            bot += 1;
        }
        let b = bucket(e.last_at_ms);
        if let Some(s) = series.get_mut(action.as_str()) {
            s[b] += 1;
        }
        if let Some(i) = &e.intent {
            *intents.entry(i.label.clone()).or_default() += 1;
        }
        for r in &e.handoff.reasons {
            *reasons.entry(r.code.as_str()).or_default() += 1;
        }
        if e.handoff.has(ReasonCode::Surge) {
            let issue = e
                .handoff
                .issue_type
                .clone()
                .unwrap_or_else(|| "unknown".into());
            surges.entry(issue).or_insert_with(|| vec![0; BUCKETS])[b] += 1;
        }
    }
    let ranked = |m: BTreeMap<String, usize>| {
        let mut v: Vec<Count> = m
            .into_iter()
            .map(|(name, count)| Count { name, count })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        v
    };
    let mut surges: Vec<Surge> = surges
        .into_iter()
        .map(|(issue_type, series)| Surge {
            issue_type,
            count: series.iter().sum(),
            series,
        })
        .collect();
    surges.sort_by_key(|s| std::cmp::Reverse(s.count));
    Overview {
        now_ms,
        window_ms: WINDOW_MS,
        bucket_ms: BUCKET_MS,
        conversations: n,
        series,
        containment: if n == 0 { 0.0 } else { bot as f64 / n as f64 },
        intents: ranked(intents),
        reasons: ranked(
            reasons
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        ),
        surges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_core::policy::{Decision, Priority, Reason, Severity};

    fn entry(id: &str, at: u64, action: Action, surge: bool) -> QueueEntry {
        let mut reasons = vec![];
        if surge {
            reasons.push(Reason {
                code: ReasonCode::Surge,
                detail: String::new(),
            });
        }
        QueueEntry {
            conversation_id: id.into(),
            first_at_ms: at,
            last_at_ms: at,
            turns: 1,
            waiting_since_ms: None,
            customer: None,
            channel: "chat".into(),
            lang: "en".into(),
            intent: None,
            emotion: None,
            handoff: Decision {
                action,
                priority: Priority::Normal,
                severity: Severity::Basic,
                response_time_secs: 60,
                skill_group: "general".into(),
                reasons,
                issue_type: Some("outage".into()),
                shadow: None,
            },
            preview: None,
        }
    }

    #[test]
    fn the_last_hour_in_five_minute_buckets() {
        let now = 10 * WINDOW_MS;
        let entries = [
            entry("old", now - WINDOW_MS, Action::Handoff, true),
            entry("a", now - WINDOW_MS + 1, Action::Bot, false),
            entry("b", now - 1, Action::Handoff, true),
            entry("c", now, Action::Handoff, true),
        ];
        let o = summarise(&entries, now);
        assert_eq!(o.conversations, 3, "the hour-old one is out");
        assert_eq!(o.series["bot"][0], 1);
        assert_eq!(o.series["handoff"][BUCKETS - 1], 2);
        assert!((o.containment - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(o.surges.len(), 1);
        assert_eq!(o.surges[0].issue_type, "outage");
        assert_eq!(o.surges[0].count, 2);
        assert_eq!(
            o.reasons,
            [Count {
                name: "surge".into(),
                count: 2
            }]
        );
        assert_eq!(summarise(&[], now).containment, 0.0);
    }
}
