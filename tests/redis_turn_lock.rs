//! Ordered turns across replicas (issue 18) against a real redis-server: the turn lock
//! serialises read-decide-append of one conversation across stores (replicas), the
//! fenced append refuses a holder whose lock expired, a busy lock is waited for only as
//! long as configured, and on a Redis Cluster node every key of a conversation shares a
//! hash slot (Redis refuses a script whose keys do not: CROSSSLOT).

mod common;
mod redis_util;

use redis_util::{free_port, RedisServer};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use triage_core::config::MemoryConfig;
use triage_core::policy::{ConversationStore, Feedback, RedisStore, StoreError, StoredTurn};

fn stored(text: &str) -> StoredTurn {
    common::stored_turn(1, text)
}

fn texts(store: &dyn ConversationStore, id: &str) -> Vec<String> {
    store
        .turns(id, 0)
        .unwrap()
        .into_iter()
        .map(|t| t.text.unwrap())
        .collect()
}

/// One turn as the handoff service runs it: lock, read, "decide" (the turn's text is the
/// number of turns it saw), append under the lock. Retries while the conversation is busy
/// beyond the configured wait (the test wants every turn in).
fn turn(store: &dyn ConversationStore, id: &str) {
    loop {
        let lock = match store.lock_turn(id) {
            Ok(l) => l,
            Err(StoreError::Unavailable(_)) => continue,
            Err(e) => panic!("{e}"),
        };
        assert!(lock.is_some(), "the Redis store locks");
        let seen = store.turns(id, 0).unwrap().len();
        // Widen the window between read and append, as a slow decision would.
        std::thread::sleep(Duration::from_millis(1));
        store
            .append_locked(id, &stored(&seen.to_string()), 0, lock.as_ref())
            .unwrap();
        return;
    }
}

#[test]
fn concurrent_turns_of_one_conversation_on_three_replicas_see_all_before_them() {
    let redis = RedisServer::start();
    let mem = MemoryConfig {
        max_turns: 1000,
        ..MemoryConfig::default()
    };
    // Three stores: three replicas' connections to one Redis.
    let stores: Vec<Arc<RedisStore>> = (0..3)
        .map(|_| Arc::new(RedisStore::new(&redis.url(), &mem).unwrap()))
        .collect();
    let per_thread = 15;
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let store = stores[i % 3].clone();
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    turn(store.as_ref(), "busy");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Each turn saw exactly the turns stored before it: 0, 1, 2, ... with no number twice
    // (two turns deciding on the same history) and none missing (a lost append).
    let want: Vec<String> = (0..6 * per_thread).map(|n| n.to_string()).collect();
    assert_eq!(texts(stores[0].as_ref(), "busy"), want);
    // And the lock is gone once the last turn is stored.
    let lock = stores[1].lock_turn("busy").unwrap().unwrap();
    stores[1].unlock_turn("busy", &lock).unwrap();
}

#[test]
fn an_expired_lock_cannot_append_and_a_busy_one_is_waited_for_a_bounded_time() {
    let redis = RedisServer::start();
    let mem = MemoryConfig {
        redis_lock_ms: 300,
        redis_lock_wait_ms: 100,
        ..MemoryConfig::default()
    };
    let a = RedisStore::new(&redis.url(), &mem).unwrap();
    let b = RedisStore::new(&redis.url(), &mem).unwrap();
    let held = a.lock_turn("c").unwrap().unwrap();

    // Busy: b waits about redis_lock_wait_ms, then gives up (the turn would be decided
    // without history). Generous upper bound: a shared machine stalls.
    let t = Instant::now();
    match b.lock_turn("c") {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("busy"), "{m}"),
        other => panic!("expected busy, got {other:?}"),
    }
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(90), "{waited:?}");
    assert!(waited < Duration::from_millis(300 + 2000), "{waited:?}");

    // a stalls past its lock's life; b takes the lock and stores its turn.
    std::thread::sleep(Duration::from_millis(400));
    let mine = b.lock_turn("c").unwrap().unwrap();
    assert_ne!(mine, held);
    // Fencing: a's append, decided on a history that may be stale, is refused...
    match a.append_locked("c", &stored("stale"), 0, Some(&held)) {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("lock"), "{m}"),
        other => panic!("expected refusal, got {other:?}"),
    }
    // ...and a's late release does not free b's lock.
    a.unlock_turn("c", &held).unwrap();
    assert!(matches!(a.lock_turn("c"), Err(StoreError::Unavailable(_))));
    b.append_locked("c", &stored("fresh"), 0, Some(&mine))
        .unwrap();
    assert_eq!(texts(&a, "c"), ["fresh"]);
    // The append released the lock: the next turn gets it at once.
    let next = a.lock_turn("c").unwrap().unwrap();
    a.unlock_turn("c", &next).unwrap();
    b.unlock_turn("c", &next).unwrap(); // idempotent, whoever calls
}

/// A one-node Redis Cluster owning every slot: enough for Redis to check that a
/// script's keys share a slot (it refuses CROSSSLOT even on one node).
struct ClusterNode {
    _server: RedisServer,
    port: u16,
}

fn cluster_node() -> ClusterNode {
    let port = free_port();
    // The cluster bus defaults to port + 10000, which for a port from the ephemeral range
    // can be taken or above 65535 (Redis then refuses to start): give it a free port of
    // its own (`cluster-port`, Redis 7.0+).
    let bus = loop {
        let bus = free_port();
        if bus != port {
            break bus.to_string();
        }
    };
    let dir = std::env::temp_dir().join(format!("triage-cluster-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = RedisServer::start_with(
        port,
        &[
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            &bus,
            "--cluster-config-file",
            &dir.join("nodes.conf").to_string_lossy(),
        ],
    );
    let status = Command::new("redis-cli")
        .args([
            "-p",
            &port.to_string(),
            "cluster",
            "addslotsrange",
            "0",
            "16383",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("redis-cli (apt-get install redis-tools)");
    assert!(status.success());
    let start = Instant::now();
    loop {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "cluster", "info"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "cluster not ok");
        std::thread::sleep(Duration::from_millis(50));
    }
    ClusterNode {
        _server: server,
        port,
    }
}

#[test]
fn on_a_cluster_every_key_of_a_conversation_shares_a_slot() {
    let node = cluster_node();
    let url = format!("redis+cluster://127.0.0.1:{}", node.port);
    let mem = MemoryConfig {
        redis_prefix: "tc".into(),
        ..MemoryConfig::default()
    };
    let store = RedisStore::new(&url, &mem).unwrap();
    assert_eq!(store.kind(), "redis");
    // Ids with braces of their own, and a tenant's scoped key.
    for id in ["plain", "a{b", "x}y", "{z}", "}lead", "}", "acme\u{1f}c9"] {
        for n in 0..3 {
            let lock = store.lock_turn(id).unwrap();
            assert!(store.turns(id, 0).unwrap().len() == n);
            store
                .append_locked(id, &stored(&format!("{id} {n}")), 0, lock.as_ref())
                .unwrap();
        }
        // Unlocked append (two-key script) and feedback (pipeline) too.
        store.append(id, &stored("extra"), 0).unwrap();
        let fb: Feedback = serde_json::from_value(serde_json::json!({
            "at_ms": 1, "suggestion_id": "kb-1", "accepted": true
        }))
        .unwrap();
        assert!(store.add_feedback(id, &fb, 0).unwrap());
        assert_eq!(store.feedback(id, 0).unwrap().len(), 1);
        assert_eq!(texts(&store, id).len(), 4, "{id}");
    }
    assert_eq!(
        store.count_recent("billing", "m1", 1000, 60_000).unwrap(),
        1
    );
    assert_eq!(
        store.count_recent("billing", "m2", 1001, 60_000).unwrap(),
        2
    );
    // The keys are hash-tagged by id.
    let out = Command::new("redis-cli")
        .args(["-p", &node.port.to_string(), "--scan", "--pattern", "tc:*"])
        .output()
        .unwrap();
    let keys = String::from_utf8_lossy(&out.stdout);
    assert!(keys.contains("tc:conv:{#plain}"), "{keys}");
    assert!(keys.contains("tc:t:acme:feedback:{#c9}"), "{keys}");
}

#[test]
fn a_prefix_with_braces_is_refused_on_a_cluster_only() {
    let mem = MemoryConfig {
        redis_prefix: "a{b}".into(),
        ..MemoryConfig::default()
    };
    assert!(matches!(
        RedisStore::new("redis+cluster://127.0.0.1:1", &mem),
        Err(StoreError::Config(_))
    ));
    assert!(RedisStore::new("redis+sentinel://127.0.0.1:1/m", &mem).is_ok());
    assert!(RedisStore::new("redis://127.0.0.1:1/", &mem).is_ok());
    assert!(matches!(
        RedisStore::new("redis+sentinel://127.0.0.1:1", &mem),
        Err(StoreError::Config(_))
    ));
}
