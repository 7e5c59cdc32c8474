//! The in-process store: one replica's conversations in a map, expired lazily on access
//! and swept every so often so that a long-running server does not grow without bound.

use super::queue::{MemoryQueue, QueueEntry};
use super::{ConversationStore, StoreError};
use crate::config::MemoryConfig;
use crate::policy::feedback::{Feedback, MAX_FEEDBACK};
use crate::policy::turn::StoredTurn;
use crate::tenant::Tenant;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Appends between two sweeps of expired conversations.
const SWEEP_EVERY: u64 = 1024;

struct Conversation {
    /// Each turn with its size as stored JSON (what the byte budget counts).
    turns: VecDeque<(StoredTurn, usize)>,
    /// The turns' sizes summed.
    bytes: usize,
    feedback: VecDeque<Feedback>,
    expires_ms: u64,
}

#[derive(Default)]
struct State {
    conversations: HashMap<String, Conversation>,
    /// Surge counters: key → member → last time noted.
    signals: HashMap<String, HashMap<String, u64>>,
    appends: u64,
}

pub struct MemoryStore {
    state: Mutex<State>,
    /// The console's index: its own lock, so listing the queue never holds up a turn.
    queue: Mutex<MemoryQueue>,
    ttl_ms: u64,
    max_turns: usize,
    max_conversations: usize,
    max_bytes: usize,
}

impl MemoryStore {
    pub fn new(c: &MemoryConfig) -> Self {
        Self {
            state: Mutex::new(State::default()),
            queue: Mutex::new(MemoryQueue::default()),
            ttl_ms: c.ttl_secs.saturating_mul(1000),
            max_turns: c.max_turns.max(1),
            max_conversations: c.max_conversations.max(1),
            max_bytes: c.max_conversation_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-updated in a way
        // that matters more than losing memory altogether: keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, MemoryQueue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Conversations currently held (expired ones may still count until swept).
    pub fn len(&self) -> usize {
        self.lock().conversations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl State {
    fn sweep(&mut self, now_ms: u64, max_conversations: usize) {
        self.conversations.retain(|_, c| c.expires_ms > now_ms);
        if self.conversations.len() > max_conversations {
            // Over the cap with nothing expired: drop those closest to expiring.
            let mut by_expiry: Vec<(u64, String)> = self
                .conversations
                .iter()
                .map(|(k, c)| (c.expires_ms, k.clone()))
                .collect();
            by_expiry.sort();
            let excess = self.conversations.len() - max_conversations;
            for (_, k) in by_expiry.into_iter().take(excess) {
                self.conversations.remove(&k);
            }
        }
        for members in self.signals.values_mut() {
            members.retain(|_, at| *at + 24 * 3600 * 1000 > now_ms);
        }
        self.signals.retain(|_, m| !m.is_empty());
    }
}

impl ConversationStore for MemoryStore {
    fn turns(&self, id: &str, now_ms: u64) -> Result<Vec<StoredTurn>, StoreError> {
        let mut s = self.lock();
        match s.conversations.get(id) {
            Some(c) if c.expires_ms > now_ms => {
                Ok(c.turns.iter().map(|(t, _)| t.clone()).collect())
            }
            Some(_) => {
                s.conversations.remove(id);
                Ok(Vec::new())
            }
            None => Ok(Vec::new()),
        }
    }

    fn append(&self, id: &str, turn: &StoredTurn, now_ms: u64) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.appends += 1;
        if s.appends.is_multiple_of(SWEEP_EVERY) || s.conversations.len() >= self.max_conversations
        {
            // Down to 90% of the cap, so a full store sweeps once per many appends.
            s.sweep(now_ms, self.max_conversations * 9 / 10);
        }
        let expires_ms = now_ms.saturating_add(self.ttl_ms);
        let c = s
            .conversations
            .entry(id.to_string())
            .or_insert_with(|| Conversation {
                turns: VecDeque::new(),
                bytes: 0,
                feedback: VecDeque::new(),
                expires_ms,
            });
        if c.expires_ms <= now_ms {
            c.turns.clear();
            c.bytes = 0;
            c.feedback.clear();
        }
        let size = super::stored_size(turn);
        c.turns.push_back((turn.clone(), size));
        c.bytes += size;
        // The newest turns within both budgets; the newest one always stays.
        while c.turns.len() > self.max_turns || (c.bytes > self.max_bytes && c.turns.len() > 1) {
            if let Some((_, dropped)) = c.turns.pop_front() {
                c.bytes -= dropped;
            }
        }
        c.expires_ms = expires_ms;
        Ok(())
    }

    fn add_feedback(&self, id: &str, feedback: &Feedback, now_ms: u64) -> Result<bool, StoreError> {
        let mut s = self.lock();
        match s.conversations.get_mut(id) {
            // Feedback is not a message: the conversation's expiry stays where it was.
            Some(c) if c.expires_ms > now_ms => {
                c.feedback.push_back(feedback.clone());
                while c.feedback.len() > MAX_FEEDBACK {
                    c.feedback.pop_front();
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn feedback(&self, id: &str, now_ms: u64) -> Result<Vec<Feedback>, StoreError> {
        let s = self.lock();
        Ok(match s.conversations.get(id) {
            Some(c) if c.expires_ms > now_ms => c.feedback.iter().cloned().collect(),
            _ => Vec::new(),
        })
    }

    fn count_recent(
        &self,
        key: &str,
        member: &str,
        now_ms: u64,
        window_ms: u64,
    ) -> Result<usize, StoreError> {
        let mut s = self.lock();
        let members = s.signals.entry(key.to_string()).or_default();
        members.insert(member.to_string(), now_ms);
        let since = now_ms.saturating_sub(window_ms);
        members.retain(|_, at| *at >= since);
        Ok(members.len())
    }

    fn note_latest(
        &self,
        tenant: &Tenant,
        entry: &QueueEntry,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let max = self.max_conversations;
        self.lock_queue()
            .note(tenant, entry, now_ms, self.ttl_ms, max);
        Ok(())
    }

    fn latest(
        &self,
        tenant: &Tenant,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        Ok(self.lock_queue().latest(tenant, limit, now_ms, self.ttl_ms))
    }

    fn stamp(&self, tenant: &Tenant) -> Result<u64, StoreError> {
        Ok(self.lock_queue().stamp(tenant))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    fn blocking(&self) -> bool {
        false
    }
}
