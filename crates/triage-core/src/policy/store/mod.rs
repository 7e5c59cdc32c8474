//! Conversation memory: the turns of each `conversation_id`, kept for a time-to-live,
//! and the short-lived counters of surge detection. One trait, two stores: in-process
//! (the default, one replica) and Redis (several replicas share conversations).
//!
//! The trait is synchronous. The Redis store does network I/O and says so through
//! [`ConversationStore::blocking`]; the server then calls it on tokio's blocking pool.
//!
//! Every key is a tenant's (`scoped`): a conversation id, or a surge issue, means
//! something only within the tenant that sent it. Another tenant that sends the same id
//! reads and writes a conversation of its own, and a tenant's surge counts only its own
//! customers. The `default` tenant's keys are the bare ids, as they were before tenants.

mod memory;
pub mod queue;
mod redis;

pub use self::memory::MemoryStore;
pub(crate) use self::queue::QueueEntry;
pub use self::redis::RedisStore;

use super::feedback::Feedback;
use super::turn::StoredTurn;
use crate::cause::Detail;
use crate::config::MemoryConfig;
use crate::tenant::Tenant;
use std::borrow::Cow;

/// Separates the tenant from the id in a store key. A control character: conversation
/// ids may not contain one (`classify::check_conversation_id`) and tenant names are
/// identifiers, so no id of one tenant, the default included, can spell another
/// tenant's key.
const TENANT_SEP: char = '\u{1f}';

/// The store key of `id` (a conversation id or a surge issue) within `tenant`: `id`
/// itself for the default tenant, `{tenant}\u{1f}{id}` otherwise. `None` when `id`
/// contains the separator: such an id names nothing, in any tenant.
pub(crate) fn scoped<'a>(tenant: &Tenant, id: &'a str) -> Option<Cow<'a, str>> {
    if id.contains(TENANT_SEP) {
        return None;
    }
    Some(if tenant.is_default() {
        Cow::Borrowed(id)
    } else {
        Cow::Owned(format!("{}{TENANT_SEP}{id}", tenant.name()))
    })
}

/// The tenant part (absent for the default tenant) and the id of a [`scoped`] key.
fn split(key: &str) -> (Option<&str>, &str) {
    match key.split_once(TENANT_SEP) {
        Some((tenant, id)) => (Some(tenant), id),
        None => (None, key),
    }
}

/// `Clone`, its Redis error shared ([`Detail`]): a failure is kept in reload statuses
/// and answers as well as logged. The [`Detail`] reads as the message it replaces.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached now; callers go on without memory.
    #[error("conversation store unavailable: {0}")]
    Unavailable(#[source] Detail),
    /// The configuration cannot work (bad URL): reported at start-up.
    #[error("conversation store misconfigured: {0}")]
    Config(#[source] Detail),
}

/// A turn's size as the byte budget (`memory.max_conversation_bytes`) counts it: its
/// JSON, as the Redis store keeps it.
fn stored_size(turn: &StoredTurn) -> usize {
    serde_json::to_vec(turn).map_or(0, |j| j.len())
}

/// Proof that a turn holds its conversation's lock in a shared store
/// ([`ConversationStore::lock_turn`]): the random token the store checks before the
/// append (fencing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnLock {
    token: String,
}

pub trait ConversationStore: Send + Sync {
    /// The conversation's turns, oldest first; empty when unknown or expired.
    fn turns(&self, id: &str, now_ms: u64) -> Result<Vec<StoredTurn>, StoreError>;

    /// Appends a turn, keeps only the newest `max_turns` within
    /// `max_conversation_bytes` (the oldest go first; the newest always stays), and
    /// restarts the TTL.
    fn append(&self, id: &str, turn: &StoredTurn, now_ms: u64) -> Result<(), StoreError>;

    /// Notes `member` (a conversation) under `key` (an issue type) at `now_ms` and returns
    /// how many distinct members were noted within the last `window_ms`.
    fn count_recent(
        &self,
        key: &str,
        member: &str,
        now_ms: u64,
        window_ms: u64,
    ) -> Result<usize, StoreError>;

    /// Keeps a feedback event with the conversation, for as long as its turns are kept.
    /// `Ok(false)` when the conversation is unknown or expired (nothing is kept: feedback
    /// without its turns would be unreadable).
    ///
    /// The default keeps nothing and says the store is unavailable, so a store written
    /// before feedback existed still compiles and fails loudly rather than silently.
    fn add_feedback(&self, id: &str, feedback: &Feedback, now_ms: u64) -> Result<bool, StoreError> {
        let _ = (id, feedback, now_ms);
        Err(StoreError::Unavailable(
            format!("the {} store does not keep feedback", self.kind()).into(),
        ))
    }

    /// The conversation's feedback, oldest first; empty when there is none.
    fn feedback(&self, id: &str, now_ms: u64) -> Result<Vec<Feedback>, StoreError> {
        let _ = (id, now_ms);
        Ok(Vec::new())
    }

    /// Takes `id`'s turn lock, so that replicas sharing the store decide the turns of one
    /// conversation one at a time, each on the history of all before it. `Ok(None)`: the
    /// store needs no lock of its own (in-process: the caller serialises turns per
    /// conversation). The lock ends with [`append_locked`](Self::append_locked) or
    /// [`unlock_turn`](Self::unlock_turn), else when it expires.
    fn lock_turn(&self, id: &str) -> Result<Option<TurnLock>, StoreError> {
        let _ = id;
        Ok(None)
    }

    /// [`append`](Self::append) under the turn lock: refused (`Unavailable`) when the
    /// lock is no longer the caller's; releases it.
    fn append_locked(
        &self,
        id: &str,
        turn: &StoredTurn,
        now_ms: u64,
        lock: Option<&TurnLock>,
    ) -> Result<(), StoreError> {
        let _ = lock;
        self.append(id, turn, now_ms)
    }

    /// Releases a turn lock without appending (a turn that stores nothing).
    fn unlock_turn(&self, id: &str, lock: &TurnLock) -> Result<(), StoreError> {
        let _ = (id, lock);
        Ok(())
    }

    /// Keeps `entry` as the newest state of its conversation in `tenant`'s console
    /// index ([`queue`]) and changes the tenant's [`stamp`](Self::stamp). Entries live
    /// as long as the conversation's turns (`memory.ttl_secs` after the newest).
    ///
    /// The default keeps nothing and says so, like [`add_feedback`](Self::add_feedback).
    fn note_latest(
        &self,
        tenant: &Tenant,
        entry: &QueueEntry,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let _ = (tenant, entry, now_ms);
        Err(StoreError::Unavailable(
            format!("the {} store keeps no console index", self.kind()).into(),
        ))
    }

    /// `tenant`'s indexed conversations that have not expired, newest first, at most
    /// `limit` of them.
    fn latest(
        &self,
        tenant: &Tenant,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        let _ = (tenant, limit, now_ms);
        Ok(Vec::new())
    }

    /// A number that changes whenever `tenant`'s index does (0 before any entry): one
    /// cheap read tells the console whether to fetch the queue again.
    fn stamp(&self, tenant: &Tenant) -> Result<u64, StoreError> {
        let _ = tenant;
        Ok(0)
    }

    /// `memory` or `redis`, for `/info` and logs.
    fn kind(&self) -> &'static str;

    /// Whether calls do network I/O (and so belong off the async workers).
    fn blocking(&self) -> bool;
}

/// The store the configuration asks for: Redis when `redis_url` is set, else in-process.
/// Redis is not contacted here: a replica starts even while Redis is down.
pub(crate) fn open(
    redis_url: Option<&str>,
    memory: &MemoryConfig,
) -> Result<Box<dyn ConversationStore>, StoreError> {
    match redis_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => Ok(Box::new(RedisStore::new(url, memory)?)),
        None => Ok(Box::new(MemoryStore::new(memory))),
    }
}
