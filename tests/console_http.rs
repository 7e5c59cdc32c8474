//! The agent console (issue 19) over real HTTP: the page and its headers, the queue
//! (handed-off and clarified conversations only, VIP first), the overview, live events
//! when a turn arrives, roles (a client key gets 403, an agent 200) and tenants, and the
//! console index of both stores (in-process and a real redis-server), shared by two
//! servers on one Redis. The browser itself is driven by `scripts/console_browser.sh`.

mod common;
mod redis_util;

use common::TestServer;
use redis_util::RedisServer;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::time::Duration;
use triage_core::config::MemoryConfig;
use triage_core::policy::store::queue::{queue_order, QueueEntry};
use triage_core::policy::{
    Action, ConversationStore, Customer, Decision, MemoryStore, Priority, RedisStore, Severity,
};
use triage_core::tenant::Tenant;
use triage_server::auth::keys;
use triage_server::auth::roles::Role;

const ROUTINE: &str = "where can I track my order";
const ANGRY: &str =
    "This is ridiculous!! You people are useless, I am furious, my refund STILL has not arrived";
const HUMAN: &str = "I want to talk to a real person";
const HOSTILE: &str = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\"> help me with my refund, a real person please";

struct Reply {
    status: u16,
    body: String,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

fn get(s: &TestServer, path: &str, key: Option<&str>) -> Reply {
    get_with(
        s,
        path,
        key.map(|k| ("authorization", format!("Bearer {k}"))),
    )
}

/// A GET with one extra header, redirects not followed.
fn get_with(s: &TestServer, path: &str, header: Option<(&str, String)>) -> Reply {
    let headers: Vec<(&str, String)> = header.into_iter().collect();
    send(s, "GET", path, &headers)
}

/// Any method without a body, with these headers, redirects not followed.
fn send(s: &TestServer, method: &str, path: &str, headers: &[(&str, String)]) -> Reply {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .redirects(0)
        .build();
    let mut req = agent.request(method, &s.url(path));
    for (name, value) in headers {
        req = req.set(name, value);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.header(&n).unwrap_or("").to_string();
            (n, v)
        })
        .collect();
    let status = resp.status();
    Reply {
        status,
        body: resp.into_string().unwrap_or_default(),
        headers,
    }
}

fn classify(s: &TestServer, body: Value, key: Option<&str>) -> Value {
    let mut req = common::agent()
        .post(&s.url("/v1/classify"))
        .set("content-type", "application/json");
    if let Some(k) = key {
        req = req.set("authorization", &format!("Bearer {k}"));
    }
    let r = req.send_string(&body.to_string()).expect("classify 200");
    r.into_json().unwrap()
}

/// The three conversations of the issue: a routine one, an angry VIP, one asking for a
/// person.
fn three(s: &TestServer, key: Option<&str>) {
    let r = classify(
        s,
        json!({"text": ROUTINE, "conversation_id": "routine"}),
        key,
    );
    assert_eq!(r["handoff"]["action"], "bot", "{r}");
    let r = classify(
        s,
        json!({"text": ANGRY, "conversation_id": "angry-vip", "customer": {"id": "u-1", "tier": "vip"}}),
        key,
    );
    assert_eq!(r["handoff"]["action"], "handoff", "{r}");
    let r = classify(s, json!({"text": HUMAN, "conversation_id": "human"}), key);
    assert_eq!(r["handoff"]["action"], "handoff", "{r}");
}

fn queue_ids(q: &Value) -> Vec<String> {
    q["conversations"]
        .as_array()
        .unwrap_or_else(|| panic!("no conversations in {q}"))
        .iter()
        .map(|c| c["conversation_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn page_queue_overview_and_live_events() {
    let s = TestServer::start(|_| {});
    // The page: one small HTML file with its script and style sheet, strict headers.
    let page = get(&s, "/console", None);
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    let js = get(&s, "/console/app.js", None);
    let css = get(&s, "/console/app.css", None);
    assert_eq!((js.status, css.status), (200, 200));
    assert!(js.header("content-type").starts_with("text/javascript"));
    let total = page.body.len() + js.body.len() + css.body.len();
    assert!(total < 200 * 1024, "first load is {total} bytes");
    // The script never parses data as markup.
    assert!(!js.body.contains("innerHTML") && !js.body.contains("insertAdjacentHTML"));

    // Live events: the first announces the current stamp.
    let events = common::agent()
        .get(&s.url("/console/api/events"))
        .call()
        .expect("events 200");
    assert!(events
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/event-stream"));
    let mut events = BufReader::new(events.into_reader());
    let first = next_event(&mut events);
    assert_eq!(first.0, "queue");

    three(&s, None);
    let q = get(&s, "/console/api/queue", None).json();
    assert_eq!(queue_ids(&q), ["angry-vip", "human"], "{q}");
    assert_eq!(q["waiting"], 2);
    let vip = &q["conversations"][0];
    assert_eq!(vip["customer"]["tier"], "vip");
    assert_eq!(vip["handoff"]["priority"], "urgent");
    assert_eq!(vip["channel"], "chat");
    assert_eq!(vip["lang"], "en");
    assert!(vip["waiting_ms"].as_u64().is_some(), "{vip}");
    let codes: Vec<&str> = q["conversations"][1]["handoff"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"human_requested"), "{codes:?}");

    // A new turn changes the stamp: an event arrives without asking.
    let second = next_event(&mut events);
    assert_eq!(second.0, "queue");
    assert_ne!(second.1, first.1);
    let r = classify(
        &s,
        json!({"text": HOSTILE, "conversation_id": "routine"}),
        None,
    );
    assert_ne!(r["handoff"]["action"], "bot", "{r}");
    // The turn is stored: events go on until they announce the stamp it made.
    let want = get(&s, "/console/api/queue", None).json()["stamp"].to_string();
    while next_event(&mut events).1 != want {}

    // Now the routine conversation waits too; its text comes back as data, verbatim.
    let q = get(&s, "/console/api/queue", None);
    assert!(q.header("content-type").starts_with("application/json"));
    let q = q.json();
    assert_eq!(queue_ids(&q)[0], "angry-vip");
    let routine = q["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["conversation_id"] == "routine")
        .expect("routine waits now");
    assert_eq!(
        routine["preview"],
        HOSTILE.chars().take(160).collect::<String>()
    );
    assert_eq!(routine["turns"], 2);

    // Overview: three conversations, all waiting for a person now, so the bot kept none;
    // every conversation is counted once, at its newest turn.
    let o = get(&s, "/console/api/overview", None).json();
    assert_eq!(o["conversations"], 3, "{o}");
    assert_eq!(o["containment"], 0.0);
    let handoffs: u64 = o["series"]["handoff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(handoffs, 3, "{o}");
    assert!(o["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "human_requested"));
    assert_eq!(get(&s, "/console/api/queue?limit=0", None).status, 422);
    assert_eq!(
        get(&s, "/console/api/queue?limit=1", None).json()["conversations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The next event of a server-sent event stream: its name and data.
fn next_event(r: &mut impl BufRead) -> (String, String) {
    let (mut name, mut data) = (String::new(), String::new());
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).expect("event stream readable");
        assert!(n > 0, "event stream ended");
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if !name.is_empty() || !data.is_empty() {
                return (name, data);
            }
        } else if let Some(v) = line.strip_prefix("event:") {
            name = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data = v.trim().to_string();
        }
    }
}

#[test]
fn client_keys_are_refused_and_tenants_see_their_own_queue() {
    let dir = std::env::temp_dir().join(format!("triage-console-keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys.toml");
    let t = |n: &str| Tenant::new(n).unwrap();
    let client = keys::add(&file, "bot", &t("acme"), Role::Client).unwrap();
    let agent = keys::add(&file, "ann", &t("acme"), Role::Agent).unwrap();
    let other = keys::add(&file, "bob", &t("globex"), Role::Agent).unwrap();
    let s = TestServer::start(|c| c.auth.keys_file = Some(file.clone()));
    three(&s, Some(&client));
    for path in [
        "/console/app.js",
        "/console/api/queue",
        "/console/api/overview",
        "/console/api/events",
    ] {
        assert_eq!(get(&s, path, None).status, 401, "{path}");
        assert_eq!(get(&s, path, Some(&client)).status, 403, "{path}");
    }
    assert_eq!(get(&s, "/console", Some(&client)).status, 403);
    assert_eq!(get(&s, "/console", Some(&agent)).status, 200);
    // A browser without a key is sent to the sign-in page, which stores it in a cookie;
    // the cookie then stands for the header, with the same role checks.
    let page = get(&s, "/console", None);
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/console/login");
    let login = get(&s, "/console/login", None);
    assert_eq!(login.status, 200);
    assert!(login.body.contains("/console/login.js"));
    assert_eq!(get(&s, "/console/login.js", None).status, 200);
    let cookie = |k: &str| Some(("cookie", format!("theme=dark; triage_key={k}")));
    assert_eq!(
        get_with(&s, "/console/api/queue", cookie(&client)).status,
        403
    );
    let q = get_with(&s, "/console/api/queue", cookie(&agent)).json();
    assert_eq!(queue_ids(&q), ["angry-vip", "human"], "{q}");
    assert_eq!(
        get_with(&s, "/console/api/queue", cookie("tk_nope")).status,
        401
    );
    // Signing in: the page sends the key once as a bearer token and gets it back as a
    // cookie no script can read (HttpOnly), sent only by triage's own pages (Strict).
    let bearer = |k: &str| ("authorization", format!("Bearer {k}"));
    let signed = send(&s, "POST", "/console/session", &[bearer(&agent)]);
    assert_eq!(signed.status, 204);
    let set = signed.header("set-cookie");
    assert!(set.starts_with(&format!("triage_key={agent};")), "{set}");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.split("; ").any(|p| p == part), "{part} in {set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let behind_tls = send(
        &s,
        "POST",
        "/console/session",
        &[bearer(&agent), ("x-forwarded-proto", "https".into())],
    );
    assert!(behind_tls.header("set-cookie").ends_with("; Secure"));
    // The cookie it set opens the console.
    let value = set.split(';').next().unwrap().to_string();
    assert_eq!(
        get_with(&s, "/console", Some(("cookie", value))).status,
        200
    );
    // A key without the agent role, an unknown key or none: refused, nothing set.
    for (headers, status) in [
        (vec![bearer(&client)], 403),
        (vec![bearer("tk_nope")], 401),
        (vec![], 401),
    ] {
        let r = send(&s, "POST", "/console/session", &headers);
        assert_eq!(r.status, status);
        assert_eq!(r.header("set-cookie"), "", "{status}");
    }
    // Signed in by cookie alone there is no key to set again; signing out expires it.
    assert_eq!(
        send(&s, "POST", "/console/session", &[cookie(&agent).unwrap()]).status,
        422
    );
    let out = send(&s, "DELETE", "/console/session", &[cookie(&agent).unwrap()]);
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").starts_with("triage_key=;"));
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    let q = get(&s, "/console/api/queue", Some(&agent)).json();
    assert_eq!(queue_ids(&q), ["angry-vip", "human"], "{q}");
    let q = get(&s, "/console/api/queue", Some(&other)).json();
    assert!(queue_ids(&q).is_empty(), "another tenant's queue: {q}");
    assert_eq!(
        get(&s, "/console/api/overview", Some(&other)).json()["conversations"],
        0
    );
}

fn entry(id: &str, at: u64, action: Action, priority: Priority, tier: Option<&str>) -> QueueEntry {
    QueueEntry {
        conversation_id: id.into(),
        first_at_ms: at,
        last_at_ms: at,
        turns: 1,
        waiting_since_ms: (action != Action::Bot).then_some(at),
        customer: tier.map(|t| Customer {
            id: None,
            tier: Some(t.into()),
        }),
        channel: "chat".into(),
        lang: "en".into(),
        intent: None,
        emotion: None,
        handoff: Decision {
            action,
            priority,
            severity: Severity::Basic,
            response_time_secs: 60,
            skill_group: "general".into(),
            reasons: vec![],
            issue_type: None,
            shadow: None,
        },
        preview: Some("<b>hi</b>".into()),
    }
}

/// What both stores must do with the console index.
fn index_contract(store: &dyn ConversationStore) {
    let (acme, default) = (Tenant::new("acme").unwrap(), Tenant::default());
    let now = 10_000_000;
    assert_eq!(store.stamp(&acme).unwrap(), 0);
    assert!(store.latest(&acme, 10, now).unwrap().is_empty());
    store
        .note_latest(
            &acme,
            &entry("a", now - 3, Action::Bot, Priority::Normal, None),
            now,
        )
        .unwrap();
    let s1 = store.stamp(&acme).unwrap();
    store
        .note_latest(
            &acme,
            &entry("b", now - 2, Action::Handoff, Priority::Normal, None),
            now,
        )
        .unwrap();
    store
        .note_latest(
            &acme,
            &entry("c", now - 1, Action::Handoff, Priority::Urgent, Some("VIP")),
            now,
        )
        .unwrap();
    // A newer state of `a` replaces the older.
    store
        .note_latest(
            &acme,
            &entry("a", now, Action::Clarify, Priority::Normal, None),
            now,
        )
        .unwrap();
    assert!(store.stamp(&acme).unwrap() > s1);
    // A state noted late (a slow replica's older turn) does not hide the newer one.
    let s2 = store.stamp(&acme).unwrap();
    store
        .note_latest(
            &acme,
            &entry("a", now - 5, Action::Handoff, Priority::Urgent, None),
            now,
        )
        .unwrap();
    assert_eq!(store.stamp(&acme).unwrap(), s2, "nothing changed");
    let ids = |v: &[QueueEntry]| {
        v.iter()
            .map(|e| e.conversation_id.clone())
            .collect::<Vec<_>>()
    };
    let latest = store.latest(&acme, 10, now).unwrap();
    assert_eq!(ids(&latest), ["a", "c", "b"], "newest first");
    assert_eq!(latest[0].handoff.action, Action::Clarify);
    assert_eq!(
        latest[0].preview.as_deref(),
        Some("<b>hi</b>"),
        "kept verbatim"
    );
    assert_eq!(ids(&store.latest(&acme, 2, now).unwrap()), ["a", "c"]);
    let mut q = latest.clone();
    queue_order(&mut q);
    assert_eq!(ids(&q), ["c", "a", "b"], "urgent VIP first, then newest");
    // Other tenants see nothing of it; the default tenant has its own.
    assert!(store.latest(&default, 10, now).unwrap().is_empty());
    assert_eq!(store.stamp(&default).unwrap(), 0);
    store
        .note_latest(
            &default,
            &entry("a", now, Action::Bot, Priority::Low, None),
            now,
        )
        .unwrap();
    assert_eq!(ids(&store.latest(&default, 10, now).unwrap()), ["a"]);
    assert_eq!(store.latest(&acme, 10, now).unwrap().len(), 3);
    // Entries expire with the conversations (ttl 60 s here).
    assert!(store.latest(&acme, 10, now + 61_000).unwrap().is_empty());
}

fn small_memory(prefix: &str) -> MemoryConfig {
    MemoryConfig {
        ttl_secs: 60,
        max_conversations: 3,
        redis_prefix: prefix.into(),
        ..MemoryConfig::default()
    }
}

#[test]
fn memory_store_keeps_the_console_index() {
    let store = MemoryStore::new(&small_memory("m"));
    index_contract(&store);
    // Past max_conversations the least recent go.
    let t = Tenant::new("cap").unwrap();
    for i in 0..5u64 {
        let e = entry(
            &format!("c{i}"),
            1_000 + i,
            Action::Handoff,
            Priority::Normal,
            None,
        );
        store.note_latest(&t, &e, 1_000 + i).unwrap();
    }
    let kept: Vec<String> = store
        .latest(&t, 10, 1_010)
        .unwrap()
        .into_iter()
        .map(|e| e.conversation_id)
        .collect();
    assert_eq!(kept, ["c4", "c3", "c2"]);
}

#[test]
fn redis_store_keeps_the_console_index_shared_by_replicas() {
    let redis = RedisServer::start();
    let store = RedisStore::new(&redis.url(), &small_memory("console")).unwrap();
    index_contract(&store);
    let t = Tenant::new("cap").unwrap();
    for i in 0..5u64 {
        let e = entry(
            &format!("c{i}"),
            1_000 + i,
            Action::Handoff,
            Priority::Normal,
            None,
        );
        store.note_latest(&t, &e, 1_000 + i).unwrap();
    }
    let kept: Vec<String> = store
        .latest(&t, 10, 1_010)
        .unwrap()
        .into_iter()
        .map(|e| e.conversation_id)
        .collect();
    assert_eq!(kept, ["c4", "c3", "c2"]);

    // Two servers on one Redis: turns taken by one are in the other's queue.
    let url = redis.url();
    let a = TestServer::start(|c| c.redis_url = Some(url.clone()));
    let b = TestServer::start(|c| c.redis_url = Some(url.clone()));
    three(&a, None);
    let q = get(&b, "/console/api/queue", None).json();
    assert_eq!(queue_ids(&q), ["angry-vip", "human"], "{q}");
    let stamp = q["stamp"].as_u64().unwrap();
    let r = classify(
        &a,
        json!({"text": HUMAN, "conversation_id": "routine"}),
        None,
    );
    assert_eq!(r["handoff"]["action"], "handoff");
    let q = get(&b, "/console/api/queue", None).json();
    assert!(q["stamp"].as_u64().unwrap() > stamp);
    assert_eq!(queue_ids(&q), ["angry-vip", "routine", "human"], "{q}");
    // Redis down: the queue answers 503, the server stays up.
    drop(redis);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(get(&b, "/console/api/queue", None).status, 503);
}
