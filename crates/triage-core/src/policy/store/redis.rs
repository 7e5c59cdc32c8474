//! The Redis store, for several replicas behind one load balancer: any replica sees the
//! turns another one stored. Layout (prefix `triage` by default):
//!
//! * `{prefix}:conv:{id}`: a list of JSON turns, trimmed to `max_turns` and then to
//!   `max_conversation_bytes` (oldest first, the newest always kept; one Lua script, so
//!   replicas appending at once trim consistently), expiring `ttl_secs` after the last
//!   turn (`PEXPIRE` on every append);
//! * `{prefix}:feedback:{id}`: a list of JSON feedback events of that conversation,
//!   trimmed to [`MAX_FEEDBACK`], expiring with the conversation (feedback does not extend
//!   it; every append moves both expiries);
//! * `{prefix}:surge:{issue}`: a sorted set of customers (or conversation ids) scored by
//!   time, trimmed to the surge window on every update.
//!
//! On a Redis Cluster (`redis+cluster://`, see [`conn`]) the id is a hash tag,
//! `{prefix}:conv:{#id}` (braces included), so that a conversation's keys (and its turn lock, see [`lock`])
//! share one slot.
//!
//! Those are the `default` tenant's keys (the layout before tenants existed). Another
//! tenant's keys put `t:{tenant}:` after the prefix: `{prefix}:t:{tenant}:conv:{id}`,
//! and so on, so that one tenant's data can be listed or deleted with one pattern.
//!
//! Redis going away must not fail requests. Every call has a short connect, read and
//! write timeout; after a failure the store answers `Unavailable` at once for
//! `redis_retry_ms` (a circuit breaker, so a dead Redis costs no latency), then tries one
//! fresh connection, and is back as soon as Redis answers.

mod conn;
mod lock;
mod queue;

use self::conn::{Conn, Topology};
use super::queue::QueueEntry;
use super::{ConversationStore, StoreError, TurnLock};
use crate::cause::Detail;
use crate::config::MemoryConfig;
use crate::policy::feedback::{Feedback, MAX_FEEDBACK};
use crate::policy::turn::StoredTurn;
use crate::tenant::Tenant;
use redis::{Commands, RedisError, RedisResult};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Idle connections kept for reuse; more concurrent callers open their own.
const MAX_IDLE: usize = 16;

/// Appends a turn (ARGV[1]) to the conversation list (KEYS[1]), keeps the newest
/// ARGV[2] turns, then drops the oldest while the list holds more than ARGV[4] bytes and
/// more than one turn, and moves the expiry of the list and of the feedback list
/// (KEYS[2]) to ARGV[3] ms. Returns the turns dropped for the byte budget.
///
/// With a third key, the conversation's turn lock ([`lock`]), the turn is appended only
/// while the lock still holds the caller's token ARGV[5] (a fencing check: a caller whose
/// lock expired must not append after a turn decided on a newer history), returning -1
/// otherwise; the lock is released with the append.
const APPEND: &str = r#"
if KEYS[3] and redis.call('GET', KEYS[3]) ~= ARGV[5] then return -1 end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
local turns = redis.call('LRANGE', KEYS[1], 0, -1)
local total = 0
for i = 1, #turns do total = total + #turns[i] end
local budget = tonumber(ARGV[4])
local drop = 0
while total > budget and drop < #turns - 1 do
  drop = drop + 1
  total = total - #turns[drop]
end
if drop > 0 then redis.call('LTRIM', KEYS[1], drop, -1) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if KEYS[3] then redis.call('DEL', KEYS[3]) end
return drop
"#;

pub struct RedisStore {
    topology: Topology,
    /// Cluster: ids are hash tags ([`conn::tagged`]).
    tagged: bool,
    lock: lock::LockTimes,
    idle: Mutex<Vec<Conn>>,
    /// While set and in the future, Redis counts as down and is not contacted.
    down_until: Mutex<Option<Instant>>,
    /// Whether the last attempt failed, to log each outage and recovery once.
    down: AtomicBool,
    timeout: Duration,
    retry: Duration,
    prefix: String,
    ttl_ms: u64,
    max_turns: usize,
    max_bytes: usize,
    /// Entries kept in a tenant's console index (`memory.max_conversations`).
    max_conversations: usize,
}

fn lost_connection(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        // A master demoted by a failover: reconnect (through Sentinel, to the new one).
        || e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
}

impl RedisStore {
    /// Checks the URL; does not connect (a replica may start while Redis is down).
    pub fn new(url: &str, c: &MemoryConfig) -> Result<Self, StoreError> {
        let timeout = Duration::from_millis(c.redis_timeout_ms.max(1));
        let topology = Topology::open(url, timeout)
            .map_err(|e| StoreError::Config(e.prefixed("redis_url: ")))?;
        let tagged = topology.is_cluster();
        if tagged && c.redis_prefix.contains(['{', '}']) {
            return Err(StoreError::Config(
                "memory.redis_prefix: no braces on a Redis Cluster (they would change the hash tag)".into(),
            ));
        }
        Ok(Self {
            topology,
            tagged,
            lock: lock::LockTimes::new(c),
            idle: Mutex::new(Vec::new()),
            down_until: Mutex::new(None),
            down: AtomicBool::new(false),
            timeout,
            retry: Duration::from_millis(c.redis_retry_ms),
            prefix: c.redis_prefix.clone(),
            ttl_ms: c.ttl_secs.saturating_mul(1000),
            max_turns: c.max_turns.max(1),
            max_bytes: c.max_conversation_bytes,
            max_conversations: c.max_conversations.max(1),
        })
    }

    /// The Redis key of a [`super::scoped`] key of one `kind`.
    fn key(&self, kind: &str, scoped: &str) -> String {
        let (tenant, id) = super::split(scoped);
        let tag;
        let id = if self.tagged {
            tag = conn::tagged(id);
            tag.as_str()
        } else {
            id
        };
        match (tenant, id) {
            (None, id) => format!("{}:{kind}:{id}", self.prefix),
            (Some(tenant), id) => format!("{}:t:{tenant}:{kind}:{id}", self.prefix),
        }
    }

    fn conv_key(&self, id: &str) -> String {
        self.key("conv", id)
    }

    fn feedback_key(&self, id: &str) -> String {
        self.key("feedback", id)
    }

    fn surge_key(&self, key: &str) -> String {
        self.key("surge", key)
    }

    fn connect(&self) -> RedisResult<Conn> {
        self.topology.connect(self.timeout)
    }

    fn give_back(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    fn mark_up(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("redis is reachable again: conversation memory restored");
        }
        *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn mark_down(&self, e: RedisError) -> StoreError {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
        *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Instant::now() + self.retry);
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %e, retry_ms = self.retry.as_millis() as u64,
                "redis unreachable: answering without conversation memory");
        }
        StoreError::Unavailable(Detail::of(e))
    }

    /// Runs `op` on a pooled connection, or a fresh one if the pooled one went stale
    /// (Redis restarted), honouring the circuit breaker.
    fn run<T>(&self, op: impl Fn(&mut Conn) -> RedisResult<T>) -> Result<T, StoreError> {
        if let Some(until) = *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) {
            if Instant::now() < until {
                return Err(StoreError::Unavailable(
                    "redis was unreachable moments ago; not retrying yet".into(),
                ));
            }
        }
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some(mut conn) = pooled {
            match op(&mut conn) {
                Ok(v) => {
                    self.give_back(conn);
                    self.mark_up();
                    return Ok(v);
                }
                Err(e) if lost_connection(&e) => {} // stale: try a fresh connection
                Err(e) => {
                    self.give_back(conn);
                    return Err(StoreError::Unavailable(Detail::of(e)));
                }
            }
        }
        let mut conn = self.connect().map_err(|e| self.mark_down(e))?;
        match op(&mut conn) {
            Ok(v) => {
                self.give_back(conn);
                self.mark_up();
                Ok(v)
            }
            Err(e) if lost_connection(&e) => Err(self.mark_down(e)),
            Err(e) => Err(StoreError::Unavailable(Detail::of(e))),
        }
    }
}

impl ConversationStore for RedisStore {
    fn turns(&self, id: &str, _now_ms: u64) -> Result<Vec<StoredTurn>, StoreError> {
        let key = self.conv_key(id);
        let raw: Vec<String> = self.run(|c| c.lrange(&key, 0, -1))?;
        Ok(raw
            .iter()
            .filter_map(|j| match serde_json::from_str(j) {
                Ok(t) => Some(t),
                Err(e) => {
                    // Never log the JSON itself: it holds the customer's words.
                    tracing::warn!(error = %e, "skipping an unreadable stored turn");
                    None
                }
            })
            .collect())
    }

    fn append(&self, id: &str, turn: &StoredTurn, _now_ms: u64) -> Result<(), StoreError> {
        let key = self.conv_key(id);
        let feedback = self.feedback_key(id);
        let json = serde_json::to_string(turn).map_err(|e| {
            StoreError::Unavailable(Detail::with(format!("cannot encode turn: {e}"), e))
        })?;
        let ttl = i64::try_from(self.ttl_ms).unwrap_or(i64::MAX);
        // EVAL with the script's text (not EVALSHA): nothing to reload after a Redis
        // restart, and the script is a few hundred bytes beside a turn's JSON. The
        // feedback PEXPIRE is a no-op when the conversation has no feedback yet.
        self.run(|c| {
            redis::cmd("EVAL")
                .arg(APPEND)
                .arg(2)
                .arg(&key)
                .arg(&feedback)
                .arg(&json)
                .arg(self.max_turns)
                .arg(ttl)
                .arg(self.max_bytes)
                .query::<i64>(c)
        })
        .map(|_| ())
    }

    fn add_feedback(&self, id: &str, fb: &Feedback, _now_ms: u64) -> Result<bool, StoreError> {
        let conv = self.conv_key(id);
        let key = self.feedback_key(id);
        let json = serde_json::to_string(fb).map_err(|e| {
            StoreError::Unavailable(Detail::with(format!("cannot encode feedback: {e}"), e))
        })?;
        let keep = MAX_FEEDBACK as isize;
        // The conversation's remaining life; the feedback list gets the same. A
        // conversation that expires between the two calls leaves a list that expires
        // with it.
        let left: i64 = self.run(|c| c.pttl(&conv))?;
        if left == -2 {
            return Ok(false);
        }
        let ttl = if left > 0 {
            left
        } else {
            i64::try_from(self.ttl_ms).unwrap_or(i64::MAX)
        };
        self.run(|c| {
            redis::pipe()
                .atomic()
                .rpush(&key, &json)
                .ignore()
                .ltrim(&key, -keep, -1)
                .ignore()
                .pexpire(&key, ttl)
                .ignore()
                .query::<()>(c)
        })?;
        Ok(true)
    }

    fn feedback(&self, id: &str, _now_ms: u64) -> Result<Vec<Feedback>, StoreError> {
        let key = self.feedback_key(id);
        let raw: Vec<String> = self.run(|c| c.lrange(&key, 0, -1))?;
        Ok(raw
            .iter()
            .filter_map(|j| match serde_json::from_str(j) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(error = %e, "skipping unreadable stored feedback");
                    None
                }
            })
            .collect())
    }

    fn count_recent(
        &self,
        key: &str,
        member: &str,
        now_ms: u64,
        window_ms: u64,
    ) -> Result<usize, StoreError> {
        let key = self.surge_key(key);
        let since = now_ms.saturating_sub(window_ms);
        let ttl = i64::try_from(window_ms).unwrap_or(i64::MAX);
        let (n,): (usize,) = self.run(|c| {
            redis::pipe()
                .atomic()
                .zadd(&key, member, now_ms)
                .ignore()
                .cmd("ZREMRANGEBYSCORE")
                .arg(&key)
                .arg("-inf")
                .arg(format!("({since}"))
                .ignore()
                .zcard(&key)
                .pexpire(&key, ttl)
                .ignore()
                .query(c)
        })?;
        Ok(n)
    }

    fn lock_turn(&self, id: &str) -> Result<Option<TurnLock>, StoreError> {
        self.take_lock(id).map(Some)
    }

    fn append_locked(
        &self,
        id: &str,
        turn: &StoredTurn,
        now_ms: u64,
        lock: Option<&TurnLock>,
    ) -> Result<(), StoreError> {
        match lock {
            Some(lock) => self.append_fenced(id, turn, lock),
            None => self.append(id, turn, now_ms),
        }
    }

    fn unlock_turn(&self, id: &str, lock: &TurnLock) -> Result<(), StoreError> {
        self.release_lock(id, lock)
    }

    // The console's index lives in redis/queue.rs.
    fn note_latest(
        &self,
        tenant: &Tenant,
        entry: &QueueEntry,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.console_note(tenant, entry, now_ms)
    }

    fn latest(
        &self,
        tenant: &Tenant,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        self.console_latest(tenant, limit, now_ms)
    }

    fn stamp(&self, tenant: &Tenant) -> Result<u64, StoreError> {
        self.console_stamp(tenant)
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    fn blocking(&self) -> bool {
        true
    }
}
