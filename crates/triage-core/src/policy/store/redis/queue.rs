//! The console's index in Redis ([`super::super::queue`]), per tenant:
//!
//! * `{prefix}:console:{default}:recent` (another tenant: `{prefix}:t:{tenant}:console:{tenant}:recent`):
//!   a sorted set of conversation ids scored by their newest turn's time (Unix ms);
//! * `…:entries`: a hash, conversation id → the entry's JSON;
//! * `…:stamp`: a counter, incremented on every update (what the console polls).
//!
//! The braces are a hash tag: the three keys of a tenant live in one Redis Cluster slot,
//! so the one Lua script that updates them works on a cluster too. Entries older than
//! the conversation TTL and, past `memory.max_conversations`, the least recent ones are
//! dropped by the same script, so the index never outgrows the conversations it lists.

use super::RedisStore;
use crate::cause::Detail;
use crate::policy::store::queue::QueueEntry;
use crate::policy::store::StoreError;
use crate::tenant::Tenant;

/// KEYS: recent (zset), entries (hash), stamp. ARGV: id, JSON, score (ms), cutoff (ms,
/// exclusive: older entries go), the most entries kept, the TTL (ms) of the three keys
/// (an idle tenant's index goes with its conversations). Returns the new stamp. An entry
/// older than the one kept changes nothing: replicas note a turn after releasing the
/// conversation's lock, so a slow one may note turn n after another noted turn n+1.
const NOTE: &str = r#"
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if cur and tonumber(cur) > tonumber(ARGV[3]) then
  return tonumber(redis.call('GET', KEYS[3])) or 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
local excess = redis.call('ZCARD', KEYS[1]) - #old - tonumber(ARGV[5])
if excess > 0 then
  local more = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[4], '+inf', 'LIMIT', 0, excess)
  for i = 1, #more do old[#old + 1] = more[i] end
end
for i = 1, #old do
  redis.call('ZREM', KEYS[1], old[i])
  redis.call('HDEL', KEYS[2], old[i])
end
local stamp = redis.call('INCR', KEYS[3])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return stamp
"#;

impl RedisStore {
    fn console_key(&self, tenant: &Tenant, what: &str) -> String {
        if tenant.is_default() {
            format!("{}:console:{{default}}:{what}", self.prefix)
        } else {
            let t = tenant.name();
            format!("{}:t:{t}:console:{{{t}}}:{what}", self.prefix)
        }
    }

    pub(super) fn console_note(
        &self,
        tenant: &Tenant,
        entry: &QueueEntry,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(entry).map_err(|e| {
            StoreError::Unavailable(Detail::with(format!("cannot encode queue entry: {e}"), e))
        })?;
        let (recent, entries, stamp) = (
            self.console_key(tenant, "recent"),
            self.console_key(tenant, "entries"),
            self.console_key(tenant, "stamp"),
        );
        let cutoff = now_ms.saturating_sub(self.ttl_ms);
        self.run(|c| {
            redis::cmd("EVAL")
                .arg(NOTE)
                .arg(3)
                .arg(&recent)
                .arg(&entries)
                .arg(&stamp)
                .arg(&entry.conversation_id)
                .arg(&json)
                .arg(entry.last_at_ms)
                .arg(cutoff)
                .arg(self.max_conversations)
                .arg(self.ttl_ms.max(1))
                .query::<i64>(c)
        })
        .map(|_| ())
    }

    pub(super) fn console_latest(
        &self,
        tenant: &Tenant,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let recent = self.console_key(tenant, "recent");
        let entries = self.console_key(tenant, "entries");
        let cutoff = now_ms.saturating_sub(self.ttl_ms);
        let ids: Vec<String> = self.run(|c| {
            redis::cmd("ZREVRANGEBYSCORE")
                .arg(&recent)
                .arg("+inf")
                .arg(format!("({cutoff}"))
                .arg("LIMIT")
                .arg(0)
                .arg(limit)
                .query(c)
        })?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let raw: Vec<Option<String>> =
            self.run(|c| redis::cmd("HMGET").arg(&entries).arg(&ids).query(c))?;
        Ok(raw
            .into_iter()
            .flatten()
            .filter_map(|j| match serde_json::from_str(&j) {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::warn!(error = %e, "skipping an unreadable queue entry");
                    None
                }
            })
            .collect())
    }

    pub(super) fn console_stamp(&self, tenant: &Tenant) -> Result<u64, StoreError> {
        let key = self.console_key(tenant, "stamp");
        let n: Option<u64> = self.run(|c| redis::cmd("GET").arg(&key).query(c))?;
        Ok(n.unwrap_or(0))
    }
}
