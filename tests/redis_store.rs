//! The Redis conversation store against a real redis-server: what it keeps, trims,
//! expires and counts; and Redis going away and coming back under a running server —
//! every request still answered 200 with `memory_unavailable`, no 500s, and memory back
//! once Redis is.

mod common;
mod redis_util;

use common::{get, post, TestServer};
use redis_util::RedisServer;
use serde_json::json;
use std::time::{Duration, Instant};
use triage_core::config::MemoryConfig;
use triage_core::policy::{ConversationStore, RedisStore, StoreError, StoredTurn};

fn stored(at: u64, text: &str) -> StoredTurn {
    common::stored_turn(at, text)
}

#[test]
fn redis_store_keeps_trims_expires_and_counts() {
    let redis = RedisServer::start();
    let mem = MemoryConfig {
        ttl_secs: 1,
        max_turns: 3,
        redis_prefix: "t1".into(),
        ..MemoryConfig::default()
    };
    let store = RedisStore::new(&redis.url(), &mem).unwrap();
    assert!(store.turns("c", 0).unwrap().is_empty());
    for i in 0..5 {
        store
            .append("c", &stored(i, &format!("turn {i} 转人工")), i)
            .unwrap();
    }
    let turns = store.turns("c", 0).unwrap();
    let texts: Vec<_> = turns.iter().map(|t| t.text.clone().unwrap()).collect();
    assert_eq!(texts, ["turn 2 转人工", "turn 3 转人工", "turn 4 转人工"]);
    assert_eq!(turns[0], stored(2, "turn 2 转人工"), "round-trips exactly");
    assert!(store.turns("other", 0).unwrap().is_empty());

    // Distinct members within the window.
    assert_eq!(
        store.count_recent("complaint", "a", 10_000, 5_000).unwrap(),
        1
    );
    assert_eq!(
        store.count_recent("complaint", "a", 11_000, 5_000).unwrap(),
        1
    );
    assert_eq!(
        store.count_recent("complaint", "b", 12_000, 5_000).unwrap(),
        2
    );
    assert_eq!(
        store.count_recent("complaint", "c", 17_000, 5_000).unwrap(),
        2,
        "a fell out"
    );
    assert_eq!(store.count_recent("refund", "a", 17_000, 5_000).unwrap(), 1);

    // Feedback sits beside the turns, only for a conversation that exists.
    let fb = |sid: &str, accepted: bool| triage_core::policy::Feedback {
        at_ms: 5,
        turn_at_ms: Some(4),
        suggestion_id: Some(sid.into()),
        accepted: Some(accepted),
        corrected_intent: Some("track_order".into()),
        intent_set: Some("support".into()),
    };
    assert!(!store.add_feedback("other", &fb("a", true), 5).unwrap());
    assert!(store.feedback("other", 5).unwrap().is_empty());
    assert!(store.add_feedback("c", &fb("a", true), 5).unwrap());
    assert!(store.add_feedback("c", &fb("b", false), 5).unwrap());
    assert_eq!(
        store.feedback("c", 5).unwrap(),
        vec![fb("a", true), fb("b", false)]
    );
    assert_eq!(store.turns("c", 0).unwrap().len(), 3, "turns untouched");

    // The TTL runs from the last turn (Redis expires the key), feedback with it.
    std::thread::sleep(Duration::from_millis(1300));
    assert!(store.turns("c", 0).unwrap().is_empty());
    assert!(store.feedback("c", 0).unwrap().is_empty());
}

#[test]
fn redis_store_fails_fast_while_down_and_recovers() {
    let mut redis = RedisServer::start();
    let mem = MemoryConfig {
        redis_retry_ms: 300,
        ..MemoryConfig::default()
    };
    let store = RedisStore::new(&redis.url(), &mem).unwrap();
    store.append("c", &stored(1, "hello"), 1).unwrap();
    redis.stop();
    let t = Instant::now();
    assert!(matches!(
        store.turns("c", 0),
        Err(StoreError::Unavailable(_))
    ));
    // Within the retry interval: no network at all.
    for _ in 0..100 {
        assert!(store.append("c", &stored(2, "x"), 2).is_err());
    }
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
    redis.start_again();
    let t = Instant::now();
    loop {
        match store.turns("c", 0) {
            Ok(turns) => {
                assert!(turns.is_empty(), "the new Redis kept nothing");
                break;
            }
            Err(_) => assert!(
                t.elapsed() < Duration::from_secs(10),
                "store did not recover"
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    store.append("c", &stored(3, "back"), 3).unwrap();
    assert_eq!(store.turns("c", 0).unwrap().len(), 1);
    // A bad URL is a configuration error, reported before any request.
    assert!(matches!(
        RedisStore::new("http://nope", &mem),
        Err(StoreError::Config(_))
    ));
}

fn has_code(r: &serde_json::Value, code: &str) -> bool {
    r["handoff"]["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no handoff in {r}"))
        .iter()
        .any(|x| x["code"] == code)
}

#[test]
fn server_keeps_answering_while_redis_is_away() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let s = TestServer::start(|c| {
        c.redis_url = Some(url);
        c.memory.redis_retry_ms = 200;
        c.memory.redis_prefix = "t3".into();
    });
    let classify = |text: &str| {
        let (status, r) = post(
            &s.url("/v1/classify"),
            &json!({"text": text, "conversation_id": "c-redis"}),
        );
        assert_eq!(status, 200, "{r}");
        r
    };
    let r = classify("where can I track my order");
    assert!(!has_code(&r, "memory_unavailable"), "{r}");
    let (status, ctx) = get(&s.url("/v1/conversations/c-redis"));
    assert_eq!(status, 200, "{ctx}");
    // Suggestions and feedback go through the Redis store too.
    let (status, r) = post(
        &s.url("/v1/classify"),
        &json!({"text": "where can I track my order", "conversation_id": "c-redis", "suggest": true}),
    );
    assert_eq!(
        (status, r["suggestions"][0]["id"].as_str()),
        (200, Some("track-order-en")),
        "{r}"
    );
    let (status, r) = post(
        &s.url("/v1/feedback"),
        &json!({"conversation_id": "c-redis", "suggestion_id": "track-order-en", "accepted": true}),
    );
    assert_eq!(status, 200, "{r}");
    let (status, r) = post(
        &s.url("/v1/suggest"),
        &json!({"conversation_id": "c-redis", "k": 1}),
    );
    assert_eq!((status, r["turns_used"].as_u64()), (200, Some(2)), "{r}");
    let (_, ctx) = get(&s.url("/v1/conversations/c-redis"));
    let ctx: serde_json::Value = serde_json::from_str(&ctx).unwrap();
    assert_eq!(
        ctx["turns"][1]["suggestions_shown"][0]["id"],
        "track-order-en"
    );
    assert_eq!(ctx["feedback"][0]["accepted"], true, "{ctx}");

    redis.stop();
    for i in 0..5 {
        let t = Instant::now();
        let r = classify("I want to talk to a real person");
        assert!(has_code(&r, "memory_unavailable"), "request {i}: {r}");
        assert_eq!(r["handoff"]["action"], "handoff", "the rules still decide");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "request {i} took {:?}",
            t.elapsed()
        );
    }
    // Feedback needs the conversation: the store being away is a 503, not a 404.
    let (status, r) = post(
        &s.url("/v1/feedback"),
        &json!({"conversation_id": "c-redis", "corrected_intent": "track_order"}),
    );
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (503, Some("memory_unavailable")),
        "{r}"
    );
    // A batch too.
    let (status, b) = post(
        &s.url("/v1/classify"),
        &json!({"conversation_id": "c-redis", "inputs": ["hello", "where is my refund"]}),
    );
    assert_eq!(status, 200, "{b}");
    let (status, body) = get(&s.url("/v1/conversations/c-redis"));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("memory_unavailable"), "{body}");
    let (_, health) = get(&s.url("/health"));
    assert!(health.contains("ok"));

    redis.start_again();
    let t = Instant::now();
    loop {
        let r = classify("where can I track my order");
        if !has_code(&r, "memory_unavailable") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "memory did not come back: {r}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, ctx) = get(&s.url("/v1/conversations/c-redis"));
    assert_eq!(status, 200, "{ctx}");
    let ctx: serde_json::Value = serde_json::from_str(&ctx).unwrap();
    assert_eq!(
        ctx["turns"].as_array().unwrap().len(),
        1,
        "the restarted Redis holds the new turn"
    );
    let (_, metrics) = get(&s.url("/metrics"));
    assert!(metrics.contains("triage_memory_unavailable_total"));
    assert!(!metrics.contains("status=\"500\""), "no 500s: {metrics}");
}

#[test]
fn redis_store_keeps_a_conversation_within_its_byte_budget() {
    let redis = RedisServer::start();
    let mem = MemoryConfig {
        max_turns: 50,
        max_conversation_bytes: 2_000,
        redis_prefix: "budget".into(),
        ..MemoryConfig::default()
    };
    let store = RedisStore::new(&redis.url(), &mem).unwrap();
    for i in 0..30 {
        store
            .append("c", &stored(i, &format!("turn {i} {}", "y".repeat(150))), i)
            .unwrap();
    }
    let turns = store.turns("c", 0).unwrap();
    let size = |t: &StoredTurn| serde_json::to_vec(t).unwrap().len();
    let bytes: usize = turns.iter().map(size).sum();
    assert!(bytes <= 2_000, "{bytes} bytes kept");
    assert!(
        turns.len() >= 2 && turns.len() < 30,
        "{} turns",
        turns.len()
    );
    assert!(bytes + size(&turns[0]) > 2_000, "dropped more than needed");
    let ats: Vec<u64> = turns.iter().map(|t| t.at_ms).collect();
    let first = 30 - turns.len() as u64;
    assert_eq!(ats, (first..30).collect::<Vec<_>>(), "the newest, in order");

    // A turn larger than the whole budget is still kept, alone.
    store
        .append("c", &stored(99, &"z".repeat(3_000)), 99)
        .unwrap();
    let turns = store.turns("c", 0).unwrap();
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0].at_ms, 99);
}

/// Tenants in Redis (issue 16): the default tenant keeps the key layout of earlier
/// versions, another tenant's keys sit under `{prefix}:t:{tenant}:`, and neither reads
/// the other's conversation or surge.
#[test]
fn redis_keys_are_per_tenant_and_the_default_tenant_keeps_the_old_layout() {
    use std::sync::Arc;
    use triage_core::model::{IntentResult, LabelScore};
    use triage_core::policy::{
        HandoffService, Policy, PolicyConfig, PolicyHandle, ReasonCode, TurnInput, TurnMeta,
    };
    use triage_core::tenant::Tenant;
    let redis = RedisServer::start();
    let mem = MemoryConfig {
        redis_prefix: "t9".into(),
        ..MemoryConfig::default()
    };
    let store = RedisStore::new(&redis.url(), &mem).unwrap();
    let mut cfg = PolicyConfig::load(&common::repo_path("config/policy.toml")).unwrap();
    cfg.surge.min_conversations = 3;
    let svc = HandoffService::new(
        Arc::new(PolicyHandle::fixed(Policy::new(cfg).unwrap())),
        Box::new(store),
        mem,
    );
    let track = || {
        let top = vec![LabelScore {
            label: "track_order".into(),
            score: 0.95,
        }];
        let intent = IntentResult {
            set: "support".into(),
            label: "track_order".into(),
            confidence: 0.95,
            out_of_scope: false,
            top,
        };
        TurnInput::new("where is my order", Some(intent), None)
    };
    let acme = Tenant::new("acme").unwrap();
    let meta = |tenant: &Tenant, id: &str, raw: &str| TurnMeta {
        conversation_id: Some(id.into()),
        raw_text: raw.into(),
        tenant: tenant.clone(),
        ..TurnMeta::default()
    };
    let t0 = 1_800_000_000_000;
    svc.handle(track(), meta(&Tenant::default(), "c", "old words"), t0);
    svc.handle(track(), meta(&acme, "c", "acme words"), t0 + 1);
    let text = |tenant: &Tenant| {
        svc.context_of(tenant, "c", t0 + 2).unwrap().unwrap().turns[0]
            .text
            .clone()
    };
    assert_eq!(text(&Tenant::default()).as_deref(), Some("old words"));
    assert_eq!(text(&acme).as_deref(), Some("acme words"));
    let mut keys: Vec<String> = {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut c = client.get_connection().unwrap();
        redis::cmd("KEYS").arg("t9:*").query(&mut c).unwrap()
    };
    keys.sort();
    assert_eq!(
        keys,
        [
            // The agent console's index (store/redis/queue.rs), hash-tagged per tenant.
            "t9:console:{default}:entries",
            "t9:console:{default}:recent",
            "t9:console:{default}:stamp",
            "t9:conv:c",
            "t9:surge:track_order",
            "t9:t:acme:console:{acme}:entries",
            "t9:t:acme:console:{acme}:recent",
            "t9:t:acme:console:{acme}:stamp",
            "t9:t:acme:conv:c",
            "t9:t:acme:surge:track_order"
        ]
    );
    // Two more acme conversations reach acme's bar of 3; the default tenant's next is
    // its second.
    svc.handle(track(), meta(&acme, "c2", "x"), t0 + 3);
    let d = svc.handle(track(), meta(&acme, "c3", "x"), t0 + 4);
    assert!(d.has(ReasonCode::Surge), "{:?}", d.reasons);
    let d = svc.handle(track(), meta(&Tenant::default(), "d2", "x"), t0 + 5);
    assert!(!d.has(ReasonCode::Surge), "{:?}", d.reasons);
}
