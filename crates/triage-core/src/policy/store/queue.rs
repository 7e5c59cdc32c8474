//! The console's index of conversations: per tenant, each conversation's latest state
//! (its newest turn's decision, intent, emotion, customer), so that the agent console
//! can list the queue of conversations waiting for a person, and a supervisor can see
//! the last hour at a glance, without reading every conversation's turns.
//!
//! Each store keeps the index next to the turns (in-process: `MemoryQueue`; Redis: a
//! sorted set and a hash per tenant, `redis/queue.rs`), so every replica shows the same
//! queue. A *stamp* per tenant changes whenever an entry does: the console's live
//! updates poll it (one cheap read) instead of subscribing to anything.

use super::super::decision::{Action, Decision};
use super::super::turn::{Customer, StoredTurn, TurnEmotion, TurnIntent};
use crate::tenant::Tenant;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

/// Characters of the newest message kept in an entry, for the queue's preview line.
const PREVIEW_CHARS: usize = 160;

/// One conversation as the console's queue and overview see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueEntry {
    pub conversation_id: String,
    /// The first kept turn's time (Unix ms).
    pub first_at_ms: u64,
    /// The newest turn's time (Unix ms).
    pub last_at_ms: u64,
    /// Turns of the conversation with this one: those kept before it, plus it.
    pub turns: usize,
    /// Since when the conversation has been waiting for a person: the first of the
    /// newest run of turns the policy did not let the bot answer; `None` while the bot
    /// answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_since_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    pub channel: String,
    pub lang: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<TurnIntent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotion: Option<TurnEmotion>,
    /// The newest turn's decision.
    pub handoff: Decision,
    /// The newest message's opening (as stored: raw, masked or absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

impl QueueEntry {
    /// The entry of conversation `id` whose newest turn is `latest`, after `history`
    /// (the earlier turns, oldest first).
    pub(crate) fn new(id: &str, history: &[StoredTurn], latest: &StoredTurn) -> Self {
        let waiting = |t: &StoredTurn| t.handoff.policy_action() != Action::Bot;
        let waiting_since_ms = waiting(latest).then(|| {
            history
                .iter()
                .rev()
                .take_while(|t| waiting(t))
                .last()
                .map_or(latest.at_ms, |t| t.at_ms)
        });
        let customer = latest
            .customer
            .clone()
            .or_else(|| history.iter().rev().find_map(|t| t.customer.clone()));
        Self {
            conversation_id: id.to_string(),
            first_at_ms: history.first().map_or(latest.at_ms, |t| t.at_ms),
            last_at_ms: latest.at_ms,
            turns: history.len() + 1,
            waiting_since_ms,
            customer,
            channel: latest.channel.clone(),
            lang: latest.lang.clone(),
            intent: latest.intent.clone(),
            emotion: latest.emotion.clone(),
            handoff: latest.handoff.clone(),
            preview: latest
                .text
                .as_deref()
                .map(|t| t.chars().take(PREVIEW_CHARS).collect()),
        }
    }

    /// Whether a person should take it: the policy handed it off or asked to clarify.
    pub fn needs_agent(&self) -> bool {
        self.handoff.policy_action() != Action::Bot
    }

    /// Whether the customer's tier is `vip` (any case).
    fn is_vip(&self) -> bool {
        self.customer
            .as_ref()
            .and_then(|c| c.tier.as_deref())
            .is_some_and(|t| t.eq_ignore_ascii_case("vip"))
    }
}

/// The queue an agent works through: the entries that need a person, by priority, then
/// VIP customers, then severity, newest first within each.
pub fn queue_order(entries: &mut [QueueEntry]) {
    entries.sort_by(|a, b| {
        (
            b.handoff.priority,
            b.is_vip(),
            b.handoff.severity,
            b.last_at_ms,
        )
            .cmp(&(
                a.handoff.priority,
                a.is_vip(),
                a.handoff.severity,
                a.last_at_ms,
            ))
    });
}

/// The in-process index (the memory store's): tenant → conversation id → entry.
#[derive(Default)]
pub(crate) struct MemoryQueue {
    tenants: HashMap<String, TenantQueue>,
}

#[derive(Default)]
struct TenantQueue {
    entries: HashMap<String, QueueEntry>,
    stamp: u64,
}

impl MemoryQueue {
    /// Keeps `entry` as the tenant's newest state of its conversation (unless a newer one
    /// is kept already); drops entries older than `ttl_ms` and, over `max` entries, the
    /// least recent.
    pub(crate) fn note(
        &mut self,
        tenant: &Tenant,
        entry: &QueueEntry,
        now_ms: u64,
        ttl_ms: u64,
        max: usize,
    ) {
        let q = self.tenants.entry(tenant.name().to_string()).or_default();
        // A turn noted late (its replica was slow) must not hide a newer one.
        if let Some(cur) = q.entries.get(&entry.conversation_id) {
            if cur.last_at_ms > entry.last_at_ms {
                return;
            }
        }
        q.stamp += 1;
        q.entries
            .insert(entry.conversation_id.clone(), entry.clone());
        if q.entries.len() > max.max(1) {
            let cutoff = now_ms.saturating_sub(ttl_ms);
            q.entries.retain(|_, e| e.last_at_ms > cutoff);
            if q.entries.len() > max.max(1) {
                let mut by_age: Vec<(u64, String)> = q
                    .entries
                    .values()
                    .map(|e| (e.last_at_ms, e.conversation_id.clone()))
                    .collect();
                by_age.sort();
                let excess = q.entries.len() - max.max(1);
                for (_, id) in by_age.into_iter().take(excess) {
                    q.entries.remove(&id);
                }
            }
        }
    }

    /// The tenant's entries with a turn within `ttl_ms`, newest first, at most `limit`.
    pub(crate) fn latest(
        &self,
        tenant: &Tenant,
        limit: usize,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Vec<QueueEntry> {
        let Some(q) = self.tenants.get(tenant.name()) else {
            return Vec::new();
        };
        let cutoff = now_ms.saturating_sub(ttl_ms);
        let mut out: Vec<QueueEntry> = q
            .entries
            .values()
            .filter(|e| e.last_at_ms > cutoff)
            .cloned()
            .collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.last_at_ms));
        out.truncate(limit);
        out
    }

    pub(crate) fn stamp(&self, tenant: &Tenant) -> u64 {
        self.tenants.get(tenant.name()).map_or(0, |q| q.stamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::decision::{Priority, Severity};

    fn turn(at_ms: u64, action: Action) -> StoredTurn {
        StoredTurn {
            at_ms,
            text: Some("x".repeat(PREVIEW_CHARS + 10)),
            channel: "chat".into(),
            lang: "en".into(),
            customer: (at_ms == 1).then(|| Customer {
                id: Some("u".into()),
                tier: Some("Vip".into()),
            }),
            intent: None,
            emotion: None,
            negativity: 0.0,
            handoff: Decision {
                action,
                priority: Priority::Normal,
                severity: Severity::Basic,
                response_time_secs: 60,
                skill_group: "general".into(),
                reasons: vec![],
                issue_type: None,
                shadow: None,
            },
            suggestions_shown: vec![],
            model: None,
        }
    }

    /// Waiting starts at the first turn of the newest run the bot did not answer; the
    /// customer given earlier is kept; the preview is cut.
    #[test]
    fn waiting_since_the_newest_run_of_turns_for_a_person() {
        let history = [
            turn(1, Action::Handoff),
            turn(2, Action::Bot),
            turn(3, Action::Clarify),
        ];
        let e = QueueEntry::new("c", &history, &turn(4, Action::Handoff));
        assert_eq!(e.waiting_since_ms, Some(3));
        assert_eq!((e.first_at_ms, e.last_at_ms, e.turns), (1, 4, 4));
        assert!(e.needs_agent() && e.is_vip());
        assert_eq!(e.preview.unwrap().chars().count(), PREVIEW_CHARS);
        let e = QueueEntry::new("c", &history, &turn(4, Action::Bot));
        assert_eq!(e.waiting_since_ms, None);
        assert!(!e.needs_agent());
        let e = QueueEntry::new("c", &[], &turn(5, Action::Clarify));
        assert_eq!(e.waiting_since_ms, Some(5));
    }
}
