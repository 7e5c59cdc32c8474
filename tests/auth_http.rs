//! API keys, roles and tenants over real HTTP (issue 16): each role's allowed and
//! refused routes, tenants that cannot see, append to or give feedback on each other's
//! conversations, the audit log, JSON-only bodies, CORS, a surge one client cannot raise
//! for another tenant, the refusal to serve a public address without keys, and the hot
//! reload of the keys file.

mod common;

use common::{test_config, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use triage_core::tenant::Tenant;
use triage_server::auth::keys;
use triage_server::auth::roles::Role;
use triage_server::AppState;

/// A fresh temporary folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("triage-auth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Adds a key to `file` and returns it.
fn key(file: &Path, name: &str, tenant: &str, role: Role) -> String {
    keys::add(file, name, &Tenant::new(tenant).unwrap(), role).unwrap()
}

struct Reply {
    status: u16,
    json: Value,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request: `key` as a bearer token, `body` sent with `content_type`.
fn call(
    method: &str,
    url: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: Option<&str>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut req = common::agent().request(method, url);
    if let Some(k) = key {
        req = req.set("authorization", &format!("Bearer {k}"));
    }
    if let Some(ct) = content_type {
        req = req.set("content-type", ct);
    }
    for (n, v) in extra {
        req = req.set(n, v);
    }
    let resp = match body {
        Some(b) => req.send_string(b),
        None => req.call(),
    };
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let headers = resp
        .headers_names()
        .into_iter()
        .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    Reply {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

fn get(s: &TestServer, path: &str, key: Option<&str>) -> Reply {
    call("GET", &s.url(path), key, None, None, &[])
}

fn post(s: &TestServer, path: &str, key: Option<&str>, body: &Value) -> Reply {
    let body = body.to_string();
    call(
        "POST",
        &s.url(path),
        key,
        Some("application/json"),
        Some(&body),
        &[],
    )
}

fn audit_lines(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Polls `f` until it is true; panics after `secs`.
fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "{what}: not within {secs} s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn each_role_reaches_its_routes_and_no_further() {
    let dir = scratch("roles");
    let file = dir.join("keys.toml");
    let client = key(&file, "widget", "acme", Role::Client);
    let agent = key(&file, "desk", "acme", Role::Agent);
    let admin = key(&file, "ops", "acme", Role::Admin);
    let s = TestServer::start(|c| c.auth.keys_file = Some(file.clone()));

    // Probes and the API description need no key.
    for path in ["/health", "/ready", "/docs", "/openapi.json"] {
        assert_eq!(get(&s, path, None).status, 200, "{path}");
    }

    // A conversation to read and give feedback on.
    let classify = json!({"text": "where is my parcel", "conversation_id": "c-roles"});
    let r = post(&s, "/v1/classify", Some(&client), &classify);
    assert_eq!(r.status, 200, "{}", r.json);

    type Probe<'a> = (&'a str, &'a str, Option<Value>);
    let client_routes: Vec<Probe> = vec![
        ("POST", "/v1/classify", Some(classify.clone())),
        ("POST", "/v1/embed", Some(json!({"inputs": ["hello"]}))),
        (
            "POST",
            "/v1/suggest",
            Some(json!({"text": "how do I reset my password"})),
        ),
        ("GET", "/info", None),
    ];
    let agent_routes: Vec<Probe> = vec![
        ("GET", "/v1/conversations/c-roles", None),
        (
            "POST",
            "/v1/feedback",
            Some(json!({"conversation_id": "c-roles", "corrected_intent": "track_order"})),
        ),
    ];
    let admin_routes: Vec<Probe> = vec![
        ("GET", "/admin/policy", None),
        ("POST", "/admin/policy/reload", None),
        ("GET", "/admin/kb", None),
        ("POST", "/admin/kb/reload", None),
        ("GET", "/metrics", None),
    ];
    let send = |(method, path, body): &Probe, key: Option<&str>| match body {
        Some(b) => post(&s, path, key, b),
        None => call(method, &s.url(path), key, None, None, &[]),
    };
    let all = [
        (Role::Client, &client_routes),
        (Role::Agent, &agent_routes),
        (Role::Admin, &admin_routes),
    ];
    let keys = [
        (Role::Client, client.as_str()),
        (Role::Agent, agent.as_str()),
        (Role::Admin, admin.as_str()),
    ];
    for (needs, routes) in all {
        for probe in routes.iter() {
            let what = format!("{} {}", probe.0, probe.1);
            let r = send(probe, None);
            assert_eq!(
                (r.status, r.code()),
                (401, "unauthorized"),
                "{what} without a key"
            );
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer realm=\"triage\"")
            );
            let r = send(probe, Some("trg_not-a-key"));
            assert_eq!(
                (r.status, r.code()),
                (401, "unauthorized"),
                "{what}, unknown key"
            );
            for (role, k) in keys {
                let r = send(probe, Some(k));
                if role >= needs {
                    assert_eq!(r.status, 200, "{what} as {role}: {}", r.json);
                } else {
                    assert_eq!((r.status, r.code()), (403, "forbidden"), "{what} as {role}");
                    let message = r.json["error"]["message"].as_str().unwrap();
                    assert!(message.contains(needs.as_str()), "{message}");
                }
            }
        }
    }
    // Unknown routes stay 404, with or without a key.
    assert_eq!(get(&s, "/v1/nothing", None).status, 404);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tenant_cannot_read_append_to_or_give_feedback_on_another_tenants_conversation() {
    let dir = scratch("tenants");
    let file = dir.join("keys.toml");
    let acme = key(&file, "acme-desk", "acme", Role::Agent);
    let globex = key(&file, "globex-desk", "globex", Role::Agent);
    let s = TestServer::start(|c| c.auth.keys_file = Some(file.clone()));
    let said = "my card 4111 1111 1111 1111 was charged twice for order 5512";
    let r = post(
        &s,
        "/v1/classify",
        Some(&acme),
        &json!({"text": said, "conversation_id": "c-1", "customer": {"id": "u-1", "tier": "standard"}}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let mine = get(&s, "/v1/conversations/c-1", Some(&acme));
    assert_eq!(mine.status, 200);
    assert_eq!(mine.json["turns"][0]["text"], said);

    // Read: the other tenant does not see it.
    let theirs = get(&s, "/v1/conversations/c-1", Some(&globex));
    assert_eq!((theirs.status, theirs.code()), (404, "not_found"));
    assert!(!theirs.json.to_string().contains("4111"));
    // Feedback: unknown to the other tenant.
    let fb = json!({"conversation_id": "c-1", "corrected_intent": "payment_issue"});
    let r = post(&s, "/v1/feedback", Some(&globex), &fb);
    assert_eq!((r.status, r.code()), (404, "unknown_conversation"));
    // Suggestions for the conversation: unknown as well.
    let r = post(
        &s,
        "/v1/suggest",
        Some(&globex),
        &json!({"conversation_id": "c-1"}),
    );
    assert_eq!((r.status, r.code()), (404, "unknown_conversation"));
    assert!(!r.json.to_string().contains("4111"));

    // Append: the same id from the other tenant starts a conversation of its own,
    // without the first one's history, and does not touch the first one's customer.
    let r = post(
        &s,
        "/v1/classify",
        Some(&globex),
        &json!({"text": "I want to talk to a real person", "conversation_id": "c-1", "customer": {"id": "x", "tier": "vip"}}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let theirs = get(&s, "/v1/conversations/c-1", Some(&globex));
    assert_eq!(theirs.status, 200);
    assert_eq!(theirs.json["turns"].as_array().unwrap().len(), 1);
    assert!(!theirs.json.to_string().contains("4111"));
    let mine = get(&s, "/v1/conversations/c-1", Some(&acme));
    assert_eq!(mine.json["turns"].as_array().unwrap().len(), 1);
    assert_eq!(mine.json["customer"]["tier"], "standard", "{}", mine.json);
    // Feedback now lands on the other tenant's own conversation only.
    assert_eq!(post(&s, "/v1/feedback", Some(&globex), &fb).status, 200);
    let mine = get(&s, "/v1/conversations/c-1", Some(&acme));
    assert_eq!(mine.json["feedback"].as_array().map_or(0, Vec::len), 0);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn admin_actions_and_reloads_are_audited_without_customer_words() {
    let dir = scratch("audit");
    let file = dir.join("keys.toml");
    let log = dir.join("logs/audit.jsonl");
    let policy = dir.join("policy.toml");
    std::fs::copy(common::repo_path("config/policy.toml"), &policy).unwrap();
    let client = key(&file, "widget", "acme", Role::Client);
    let agent = key(&file, "desk", "acme", Role::Agent);
    let admin = key(&file, "ops", "acme", Role::Admin);
    let s = TestServer::start(|c| {
        c.auth.keys_file = Some(file.clone());
        c.auth.audit_log = Some(log.clone());
        c.policy = policy.clone();
        // Reloads only on the admin call, so that the call is the one that reloads.
        c.policy_reload_ms = 0;
        c.suggest.enabled = false;
    });
    let secret = "my password is hunter2 and my email is jo@example.com";
    let r = post(
        &s,
        "/v1/classify",
        Some(&client),
        &json!({"text": secret, "conversation_id": "c-a"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(get(&s, "/v1/conversations/c-a", Some(&agent)).status, 200);
    assert!(audit_lines(&log).is_empty(), "no admin action yet");

    assert_eq!(get(&s, "/admin/policy", Some(&admin)).status, 200);
    let before = get(&s, "/admin/policy", Some(&admin)).json["status"]["sha256"].clone();
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n# edited by the audit test\n");
    std::fs::write(&policy, text).unwrap();
    let r = call(
        "POST",
        &s.url("/admin/policy/reload"),
        Some(&admin),
        None,
        None,
        &[],
    );
    assert_eq!(
        (r.status, r.json["result"].as_str()),
        (200, Some("reloaded"))
    );
    let after = r.json["status"]["sha256"].clone();
    assert_ne!(before, after);
    // Refused for the agent: written as forbidden.
    assert_eq!(get(&s, "/admin/policy", Some(&agent)).status, 403);
    // An invalid policy: the call fails, the reload is rejected, both are written.
    std::fs::write(&policy, "mode = \"sometimes\"\n").unwrap();
    let r = call(
        "POST",
        &s.url("/admin/policy/reload"),
        Some(&admin),
        None,
        None,
        &[],
    );
    assert_eq!(r.status, 422);
    // Without a key: not written (anonymous traffic cannot grow the log).
    assert_eq!(get(&s, "/admin/policy", None).status, 401);

    let lines = audit_lines(&log);
    let admin_calls: Vec<&Value> = lines.iter().filter(|l| l["action"] == "admin").collect();
    let summary: Vec<(String, String, String, u64)> = admin_calls
        .iter()
        .map(|l| {
            (
                l["key"].as_str().unwrap().to_string(),
                format!(
                    "{} {}",
                    l["method"].as_str().unwrap(),
                    l["route"].as_str().unwrap()
                ),
                l["outcome"].as_str().unwrap().to_string(),
                l["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = |k: &str, r: &str, o: &str, st: u64| (k.into(), r.into(), o.into(), st);
    assert_eq!(
        summary,
        vec![
            want("ops", "GET /admin/policy", "ok", 200),
            want("ops", "GET /admin/policy", "ok", 200),
            want("ops", "POST /admin/policy/reload", "ok", 200),
            want("desk", "GET /admin/policy", "forbidden", 403),
            want("ops", "POST /admin/policy/reload", "error", 422),
        ]
    );
    for l in &lines {
        assert!(l["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{l}");
        assert_eq!(l["tenant"].as_str().unwrap_or("acme"), "acme");
    }
    let reloads: Vec<&Value> = lines
        .iter()
        .filter(|l| l["action"] == "policy_reload")
        .collect();
    assert_eq!(reloads.len(), 2, "{reloads:?}");
    assert_eq!(reloads[0]["key"], "ops");
    assert_eq!(reloads[0]["outcome"], "reloaded");
    assert_eq!(reloads[0]["sha256_before"], before);
    assert_eq!(reloads[0]["sha256_after"], after);
    assert_eq!(reloads[1]["outcome"], "rejected");
    assert_eq!(reloads[1]["sha256_before"], after);
    assert!(reloads[1]["error"].as_str().unwrap().contains("sometimes"));
    let raw = std::fs::read_to_string(&log).unwrap();
    for word in ["hunter2", "jo@example.com", "password"] {
        assert!(!raw.contains(word), "{word:?} in the audit log");
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_routes_refuse_other_content_types_and_cors_is_off_unless_configured() {
    // No keys on loopback: open, as in the quick start; the model is not needed to see
    // what the body extractor and the CORS layer do.
    let s = TestServer::start_with(|_| {}, false);
    let body = r#"{"text": "hello"}"#;
    let url = s.url("/v1/classify");
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let r = call("POST", &url, None, ct, Some(body), &[]);
        assert_eq!(
            (r.status, r.code()),
            (415, "unsupported_media_type"),
            "{ct:?}"
        );
    }
    for path in ["/v1/embed", "/v1/suggest", "/v1/feedback"] {
        let r = call(
            "POST",
            &s.url(path),
            None,
            Some("text/plain"),
            Some(body),
            &[],
        );
        assert_eq!(r.status, 415, "{path}");
    }
    // JSON goes through (to "still loading" here).
    let r = call(
        "POST",
        &url,
        None,
        Some("application/json; charset=utf-8"),
        Some(body),
        &[],
    );
    assert_eq!((r.status, r.code()), (503, "not_ready"));
    // No CORS headers for another site, and no preflight answer.
    let origin = [("origin", "https://evil.example")];
    let r = call("GET", &s.url("/health"), None, None, None, &origin);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let preflight = [
        ("origin", "https://console.example.com"),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization, content-type",
        ),
    ];
    let r = call("OPTIONS", &url, None, None, None, &preflight);
    assert_eq!(r.header("access-control-allow-origin"), None);
    drop(s);

    let s = TestServer::start_with(
        |c| c.auth.cors_origins = vec!["https://console.example.com".into()],
        false,
    );
    let r = call(
        "OPTIONS",
        &s.url("/v1/classify"),
        None,
        None,
        None,
        &preflight,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://console.example.com")
    );
    let allowed = r.header("access-control-allow-headers").unwrap_or("");
    assert!(allowed.contains("authorization"), "{allowed}");
    let r = call("GET", &s.url("/health"), None, None, None, &origin);
    assert_eq!(
        r.header("access-control-allow-origin"),
        None,
        "other origins"
    );
}

#[test]
fn a_surge_counts_one_tenants_customers_and_never_reaches_another_tenant() {
    let dir = scratch("surge");
    let file = dir.join("keys.toml");
    let a = key(&file, "a-bot", "tenant-a", Role::Client);
    let b = key(&file, "b-bot", "tenant-b", Role::Client);
    let c = key(&file, "c-bot", "tenant-c", Role::Client);
    let s = TestServer::start(|c| {
        c.auth.keys_file = Some(file.clone());
        c.suggest.enabled = false;
    });
    // The shipped policy: a surge is 20 conversations about one watched issue within 10
    // minutes.
    let text = "I want to track my order";
    let batch = |prefix: &str, customer: Option<&str>| {
        let inputs: Vec<Value> = (0..20)
            .map(|i| {
                let mut item = json!({"text": text, "conversation_id": format!("{prefix}-{i}")});
                if let Some(c) = customer {
                    item["customer"] = json!({"id": c});
                }
                item
            })
            .collect();
        json!({"inputs": inputs})
    };
    let surged = |r: &Value| {
        r["handoff"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["code"] == "surge")
    };
    // One customer of tenant C in 20 conversations is one customer: no surge.
    let r = post(
        &s,
        "/v1/classify",
        Some(&c),
        &batch("c", Some("same-customer")),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let results = r.json["results"].as_array().unwrap();
    assert_eq!(
        results[0]["intent"]["label"], "track_order",
        "{}",
        results[0]
    );
    assert!(!results.iter().any(surged), "one customer raised a surge");

    // Tenant A's client invents 20 conversations: A's own surge fires (the test can see
    // one) ...
    let r = post(&s, "/v1/classify", Some(&a), &batch("a", None));
    let results = r.json["results"].as_array().unwrap();
    assert!(surged(&results[19]), "{}", results[19]["handoff"]);
    assert_eq!(results[19]["handoff"]["severity"], "major");
    // ... and tenant B's next customer is routed as usual.
    let r = post(
        &s,
        "/v1/classify",
        Some(&b),
        &json!({"text": text, "conversation_id": "b-real", "customer": {"id": "b-1"}}),
    );
    assert_eq!(r.status, 200);
    assert!(!surged(&r.json), "{}", r.json["handoff"]);
    assert_ne!(
        r.json["handoff"]["severity"], "major",
        "{}",
        r.json["handoff"]
    );
    assert_ne!(r.json["handoff"]["skill_group"], "incident");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_public_address_without_keys_refuses_to_start_unless_told_it_is_insecure() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let serve = |edit: fn(&mut triage_core::config::Config)| {
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
            let state = AppState::new(test_config(edit));
            // Stops at once if it starts at all.
            triage_server::serve(listener, state, async {}).await
        })
    };
    let err = serve(|_| {}).unwrap_err().to_string();
    assert!(
        err.contains("without API keys") && err.contains("--insecure"),
        "{err}"
    );
    serve(|c| c.auth.allow_insecure = true).expect("starts when told");

    // The binary says so and exits before loading any model.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "serve",
            "--addr",
            "0.0.0.0:0",
            "--model",
            "/nonexistent/bundle",
        ])
        .env_remove("TRIAGE_KEYS_FILE")
        .env_remove("TRIAGE_INSECURE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without API keys"), "{stderr}");
    assert!(!stderr.contains("/nonexistent/bundle"), "{stderr}");
}

#[test]
fn keys_file_changes_apply_without_restart_and_a_bad_file_keeps_the_keys() {
    let dir = scratch("reload");
    let file = dir.join("keys.toml");
    let log = dir.join("audit.jsonl");
    let first = key(&file, "first", "acme", Role::Client);
    let s = TestServer::start_with(
        |c| {
            c.auth.keys_file = Some(file.clone());
            c.auth.audit_log = Some(log.clone());
            c.auth.reload_ms = Some(50);
        },
        false,
    );
    // `/info` needs a client key; with the model unloaded it answers 503, which is past
    // authentication: 401 is the only "no".
    let status = |k: &str| get(&s, "/info", Some(k)).status;
    assert_eq!(status(&first), 503);
    let second = key(&file, "second", "acme", Role::Client);
    eventually(20, "a new key works", || status(&second) == 503);

    // Remove the first key (rewrite the file without its entry).
    let text = std::fs::read_to_string(&file).unwrap();
    let kept: String = text
        .split("\n[[key]]")
        .filter(|part| !part.contains("name = \"first\""))
        .collect::<Vec<_>>()
        .join("\n[[key]]");
    std::fs::write(&file, kept).unwrap();
    eventually(20, "a removed key is refused", || status(&first) == 401);
    assert_eq!(status(&second), 503);

    // A broken file keeps the keys in force.
    std::fs::write(&file, "[[key]]\nname = 1\n").unwrap();
    eventually(20, "the broken file is seen", || {
        audit_lines(&log).iter().any(|l| l["outcome"] == "rejected")
    });
    assert_eq!(status(&second), 503);
    assert_eq!(status(&first), 401);

    let lines = audit_lines(&log);
    let reloads: Vec<&Value> = lines
        .iter()
        .filter(|l| l["action"] == "keys_reload")
        .collect();
    assert_eq!(reloads.len(), 3, "{reloads:?}");
    assert_eq!(reloads[0]["added"], json!(["second"]));
    assert_eq!(reloads[0]["via"], "watch");
    assert_eq!(reloads[1]["removed"], json!(["first"]));
    assert_eq!(reloads[1]["added"], json!([]));
    assert_eq!(reloads[2]["outcome"], "rejected");
    let raw = std::fs::read_to_string(&log).unwrap();
    for k in [&first, &second] {
        assert!(!raw.contains(k.as_str()), "a key in the audit log");
        assert!(
            !raw.contains(&keys::hash(k)),
            "a key's hash in the audit log"
        );
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_knowledge_base_reload_is_audited_with_its_hashes_and_key() {
    let dir = scratch("kb");
    let file = dir.join("keys.toml");
    let log = dir.join("audit.jsonl");
    let kb = dir.join("support");
    copy_tree(&common::repo_path("config/kb/support"), &kb);
    let admin = key(&file, "ops", "default", Role::Admin);
    let s = TestServer::start(|c| {
        c.auth.keys_file = Some(file.clone());
        c.auth.audit_log = Some(log.clone());
        c.kb = kb.clone();
        // Only the admin call reloads.
        c.suggest.search.watch_interval_ms = 0;
    });
    assert_eq!(s.kb_states(), ["ready"]);
    let article = kb.join("en/track-order-en.md");
    let text = std::fs::read_to_string(&article).unwrap();
    std::fs::write(
        &article,
        format!("{text}\nTrack it in the Deliveries tab.\n"),
    )
    .unwrap();
    let r = call(
        "POST",
        &s.url("/admin/kb/reload"),
        Some(&admin),
        None,
        None,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let lines = audit_lines(&log);
    let reload: Vec<&Value> = lines
        .iter()
        .filter(|l| l["action"] == "kb_reload")
        .collect();
    assert_eq!(reload.len(), 1, "{lines:?}");
    let l = reload[0];
    assert_eq!(
        (l["key"].as_str(), l["outcome"].as_str()),
        (Some("ops"), Some("reloaded"))
    );
    assert_eq!(l["model"], "triage-en-small");
    assert_eq!(l["file"], kb.display().to_string());
    let (before, after) = (l["sha256_before"].as_str(), l["sha256_after"].as_str());
    assert!(before.is_some_and(|h| h.len() == 64), "{l}");
    assert!(
        after.is_some_and(|h| h.len() == 64) && before != after,
        "{l}"
    );
    let call_line = lines.iter().find(|l| l["action"] == "admin").unwrap();
    assert_eq!(call_line["route"], "/admin/kb/reload");
    assert_eq!(call_line["tenant"], "default");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn triage_keys_add_prints_a_key_once_and_stores_only_its_hash() {
    let dir = scratch("cli");
    let file = dir.join("keys.toml");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(args)
            .env_remove("TRIAGE_KEYS_FILE")
            .output()
            .unwrap()
    };
    let f = file.to_str().unwrap();
    let out = run(&[
        "keys", "add", "--name", "desk", "--tenant", "acme", "--role", "agent", "--file", f,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with(keys::KEY_PREFIX), "{key}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&keys::hash(&key)) && !text.contains(&key),
        "{text}"
    );
    let entry = keys::load(&file).unwrap();
    let e = entry.find(&key).unwrap();
    assert_eq!(
        (e.name.as_str(), e.tenant.name(), e.role),
        ("desk", "acme", Role::Agent)
    );
    // A second key of the same name, a bad role or a bad tenant: refused, file unchanged.
    for bad in [
        vec!["--name", "desk", "--tenant", "acme", "--role", "agent"],
        vec!["--name", "x", "--tenant", "acme", "--role", "root"],
        vec!["--name", "y", "--tenant", "a:b", "--role", "client"],
    ] {
        let mut args = vec!["keys", "add"];
        args.extend(bad);
        args.extend(["--file", f]);
        assert!(!run(&args).status.success(), "{args:?}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let out = run(&["keys", "list", "--file", f]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "desk\tacme\tagent\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
