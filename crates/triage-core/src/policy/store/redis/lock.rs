//! The per-conversation turn lock that orders turns across replicas.
//!
//! A turn reads the history, decides, and appends; two replicas doing that at once for
//! one conversation would each decide on a history without the other's turn. So a turn
//! first takes `{prefix}:lock:{id}` with `SET NX PX` and a random token (waiting at most
//! `memory.redis_lock_wait_ms`, polling with a short backoff), and the append script
//! appends only while the lock still holds that token (fencing: a replica that stalled
//! past `memory.redis_lock_ms` has lost the lock and must not append a turn decided on a
//! stale history), releasing it in the same script. A turn that stores nothing releases
//! the lock with a compare-and-delete script. A replica that dies holding a lock costs the
//! next turn at most `redis_lock_ms` of waiting: the wait outlasts the lock by default.
//!
//! Redis round trips per turn: `SET NX` (1), `LRANGE` (1), the surge pipeline when the
//! issue is watched (1), the fenced append (1), plus `WAIT` pipelined with it when
//! `memory.redis_wait_replicas` > 0.

use super::{RedisStore, APPEND};
use crate::cause::Detail;
use crate::config::MemoryConfig;
use crate::policy::store::{StoreError, TurnLock};
use crate::policy::turn::StoredTurn;
use std::time::{Duration, Instant};

/// Deletes the lock (KEYS[1]) only if it still holds the caller's token (ARGV[1]).
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// The first pause between two attempts at a busy lock, doubled up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const MAX_PAUSE: Duration = Duration::from_millis(25);

pub(super) struct LockTimes {
    /// How long a lock lives if its holder never releases it.
    hold_ms: u64,
    /// How long a turn waits for a busy lock.
    wait: Duration,
    /// Replicas that must have the appended turn before the append counts (`WAIT`).
    wait_replicas: u64,
}

impl LockTimes {
    pub(super) fn new(c: &MemoryConfig) -> Self {
        Self {
            hold_ms: c.redis_lock_ms.max(1),
            wait: Duration::from_millis(c.redis_lock_wait_ms),
            wait_replicas: c.redis_wait_replicas,
        }
    }
}

fn token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl RedisStore {
    fn lock_key(&self, id: &str) -> String {
        self.key("lock", id)
    }

    /// Takes the conversation's turn lock, waiting for it while another turn holds it.
    /// `Unavailable` when Redis fails or the wait runs out (the turn is then decided
    /// without history, as for any store failure).
    pub(super) fn take_lock(&self, id: &str) -> Result<TurnLock, StoreError> {
        let key = self.lock_key(id);
        let token = token();
        let deadline = Instant::now() + self.lock.wait;
        let mut pause = FIRST_PAUSE;
        loop {
            let set: Option<String> = self.run(|c| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(self.lock.hold_ms)
                    .query(c)
            })?;
            if set.is_some() {
                return Ok(TurnLock { token });
            }
            let now = Instant::now();
            if now >= deadline {
                ::metrics::counter!("triage_turn_lock_timeouts_total").increment(1);
                return Err(StoreError::Unavailable(
                    format!(
                        "conversation busy: its turn lock was not free within {} ms",
                        self.lock.wait.as_millis()
                    )
                    .into(),
                ));
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// Appends `turn` if `lock` is still the conversation's, and releases it.
    pub(super) fn append_fenced(
        &self,
        id: &str,
        turn: &StoredTurn,
        lock: &TurnLock,
    ) -> Result<(), StoreError> {
        let key = self.conv_key(id);
        let feedback = self.feedback_key(id);
        let lock_key = self.lock_key(id);
        let json = serde_json::to_string(turn).map_err(|e| {
            StoreError::Unavailable(Detail::with(format!("cannot encode turn: {e}"), e))
        })?;
        let ttl = i64::try_from(self.ttl_ms).unwrap_or(i64::MAX);
        let eval = |p: &mut redis::Pipeline| {
            p.cmd("EVAL")
                .arg(APPEND)
                .arg(3)
                .arg(&key)
                .arg(&feedback)
                .arg(&lock_key)
                .arg(&json)
                .arg(self.max_turns)
                .arg(ttl)
                .arg(self.max_bytes)
                .arg(&lock.token);
        };
        let (dropped, acked) = if self.lock.wait_replicas == 0 {
            let mut p = redis::pipe();
            eval(&mut p);
            let (d,): (i64,) = self.run(|c| p.query(c))?;
            (d, None)
        } else {
            // WAIT in the same round trip: the turn counts as kept only once a replica
            // has it, so a failover right after the answer does not lose it. Half the
            // read timeout, so that Redis answers "not yet" before the read gives up
            // (which would count as Redis being down).
            let mut p = redis::pipe();
            eval(&mut p);
            p.cmd("WAIT")
                .arg(self.lock.wait_replicas)
                .arg((self.timeout.as_millis() as u64 / 2).max(1));
            let (d, n): (i64, u64) = self.run(|c| p.query(c))?;
            (d, Some(n))
        };
        if dropped < 0 {
            ::metrics::counter!("triage_turn_lock_lost_total").increment(1);
            return Err(StoreError::Unavailable(
                "turn lock expired before the append: turn not kept".into(),
            ));
        }
        if let Some(n) = acked.filter(|n| *n < self.lock.wait_replicas) {
            return Err(StoreError::Unavailable(
                format!(
                    "turn kept on the primary but acknowledged by {n} of {} replicas",
                    self.lock.wait_replicas
                )
                .into(),
            ));
        }
        Ok(())
    }

    /// Releases `lock` if it is still the conversation's (a turn that stored nothing).
    pub(super) fn release_lock(&self, id: &str, lock: &TurnLock) -> Result<(), StoreError> {
        let key = self.lock_key(id);
        self.run(|c| {
            redis::cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(&key)
                .arg(&lock.token)
                .query::<i64>(c)
        })
        .map(|_| ())
    }
}
