//! Issue 7: several bundles served by one process, over real HTTP. The second bundle is
//! the shipped English one copied under another name that claims Chinese (`zh`): same
//! weights, so any answer is checkable against the default's, but routing by `model`
//! and by language (given or detected) is observable in every response's `model`.

mod common;

use common::{get, post, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const EN: &str = "triage-en-small";
const ZH: &str = "triage-zh-test";

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("triage-multi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The shipped bundle renamed `name`, reading `languages`.
fn renamed_bundle(to: &Path, name: &str, languages: &str) -> String {
    common::copy_bundle(&common::repo_path("models/triage-en-small"), to);
    let manifest = to.join("bundle.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text
        .replacen(
            "name = \"triage-en-small\"",
            &format!("name = \"{name}\""),
            1,
        )
        .replacen(
            "languages = [\"en\"]",
            &format!("languages = {languages}"),
            1,
        );
    assert!(text.contains(name) && text.contains(languages), "{text}");
    std::fs::write(&manifest, text).unwrap();
    to.to_string_lossy().into_owned()
}

fn two_bundles(dir: &Path, load: bool) -> TestServer {
    let zh = renamed_bundle(&dir.join("zh"), ZH, "[\"zh\"]");
    let cache = dir.join("cache");
    TestServer::start_with(
        |c| {
            c.models = vec![common::default_model(), zh];
            c.suggest.cache_dir = Some(cache);
        },
        load,
    )
}

fn ok(s: &TestServer, path: &str, body: Value) -> Value {
    let (status, r) = post(&s.url(path), &body);
    assert_eq!(status, 200, "{path} {body} -> {r}");
    r
}

fn get_json(s: &TestServer, path: &str) -> (u16, Value) {
    let (status, body) = get(&s.url(path));
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn requests_route_by_model_then_language_then_default() {
    let dir = temp_dir("route");
    let s = two_bundles(&dir, true);

    // Ready only with both; /info lists both, the default's fields kept at the top.
    let (status, ready) = get_json(&s, "/ready");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["model"]["name"], EN);
    let names: Vec<&str> = ready["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [EN, ZH]);
    assert_eq!(ready["models"][1]["kb"]["state"], "ready", "{ready}");
    let (_, info) = get_json(&s, "/info");
    assert_eq!(info["model"]["name"], EN);
    assert_eq!(info["default_model"], EN);
    assert_eq!(info["models"][1]["model"]["name"], ZH);
    assert_eq!(info["models"][1]["model"]["languages"], json!(["zh"]));
    assert!(info["heads"].as_array().unwrap().len() >= 2);

    // Language detected, language given, explicit model (which wins over the language).
    let zh_text = "我的包裹在哪里？已经晚了三天";
    let r = ok(&s, "/v1/classify", json!({"text": zh_text}));
    assert_eq!(
        (r["model"]["name"].as_str(), r["lang"].as_str()),
        (Some(ZH), Some("zh"))
    );
    let r = ok(&s, "/v1/classify", json!({"text": "where is my parcel?"}));
    assert_eq!(
        (r["model"]["name"].as_str(), r["lang"].as_str()),
        (Some(EN), Some("en"))
    );
    let r = ok(
        &s,
        "/v1/classify",
        json!({"text": "where is my parcel?", "lang": "zh"}),
    );
    assert_eq!(r["model"]["name"], ZH);
    let r = ok(
        &s,
        "/v1/classify",
        json!({"text": zh_text, "lang": "zh", "model": EN}),
    );
    assert_eq!(r["model"]["name"], EN);
    // A language no bundle claims: the default.
    let r = ok(
        &s,
        "/v1/classify",
        json!({"text": "où est mon colis", "lang": "fr"}),
    );
    assert_eq!(r["model"]["name"], EN);

    // An unknown name is a 422 naming what is served, on every routed endpoint.
    for (path, body) in [
        ("/v1/classify", json!({"text": "hi", "model": "nope"})),
        (
            "/v1/classify",
            json!({"inputs": ["hi", {"text": "x", "model": "nope"}]}),
        ),
        ("/v1/embed", json!({"inputs": ["hi"], "model": "nope"})),
        ("/v1/suggest", json!({"text": "hi", "model": "nope"})),
    ] {
        let (status, e) = post(&s.url(path), &body);
        assert_eq!(status, 422, "{path} {body} -> {e}");
        assert_eq!(e["error"]["code"], "unknown_model", "{e}");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.contains(EN) && message.contains(ZH), "{message}");
    }

    // A batch whose items go to different bundles: grouped, answered in input order,
    // each item as a single call would answer it.
    let items = json!([
        "where is my parcel?",
        zh_text,
        {"text": "I want my money back", "model": ZH},
        "cancel my order please",
        {"text": "查询退款", "lang": "en"}
    ]);
    let batch = ok(&s, "/v1/classify", json!({"inputs": items, "top_k": 2}));
    let results = batch["results"].as_array().unwrap();
    let models: Vec<&str> = results
        .iter()
        .map(|r| r["model"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(models, [EN, ZH, ZH, EN, EN]);
    assert_eq!(batch["model"]["name"], EN, "mixed batch: the default");
    for (i, item) in items.as_array().unwrap().iter().enumerate() {
        let mut single = match item {
            Value::String(t) => json!({"text": t}),
            other => other.clone(),
        };
        single["top_k"] = json!(2);
        let one = ok(&s, "/v1/classify", single);
        assert_eq!(one["model"], results[i]["model"], "item {i}");
        assert_eq!(
            one["intent"]["label"], results[i]["intent"]["label"],
            "item {i}"
        );
        assert_eq!(one["lang"], results[i]["lang"], "item {i}");
    }
    let all_zh = ok(
        &s,
        "/v1/classify",
        json!({"inputs": [zh_text], "model": ZH}),
    );
    assert_eq!(
        all_zh["model"]["name"], ZH,
        "the outer model applies to every item"
    );

    // Embeddings: one bundle per request, by model or by the inputs' language.
    let e = ok(&s, "/v1/embed", json!({"inputs": [zh_text, "查询退款"]}));
    assert_eq!(e["model"]["name"], ZH);
    let e = ok(&s, "/v1/embed", json!({"inputs": ["hello"]}));
    assert_eq!(e["model"]["name"], EN);
    let e = ok(&s, "/v1/embed", json!({"inputs": ["hello"], "model": ZH}));
    assert_eq!(e["model"]["name"], ZH);

    // Suggestions come from the routed bundle's own knowledge-base index.
    let r = ok(&s, "/v1/suggest", json!({"text": zh_text}));
    assert_eq!(r["model"]["name"], ZH);
    let r = ok(
        &s,
        "/v1/suggest",
        json!({"text": "where is my parcel? it was due monday"}),
    );
    assert_eq!(r["model"]["name"], EN);
    assert!(!r["suggestions"].as_array().unwrap().is_empty(), "{r}");
    let r = ok(
        &s,
        "/v1/suggest",
        json!({"text": "where is my parcel? it was due monday", "model": ZH}),
    );
    assert_eq!(r["model"]["name"], ZH);
    assert!(!r["suggestions"].as_array().unwrap().is_empty(), "{r}");

    // Conversation memory records which bundle classified each turn, and feedback on
    // the intent is checked against that bundle's labels.
    let r = ok(
        &s,
        "/v1/classify",
        json!({"text": "I want my money back", "conversation_id": "mm-1", "model": ZH}),
    );
    let label = r["intent"]["label"].as_str().unwrap().to_string();
    let (status, ctx) = get_json(&s, "/v1/conversations/mm-1");
    assert_eq!(status, 200, "{ctx}");
    assert_eq!(ctx["turns"][0]["model"], ZH, "{ctx}");
    ok(
        &s,
        "/v1/feedback",
        json!({"conversation_id": "mm-1", "corrected_intent": label}),
    );
    let (status, e) = post(
        &s.url("/v1/feedback"),
        &json!({"conversation_id": "mm-1", "corrected_intent": "no_such_label"}),
    );
    assert_eq!(
        (status, &e["error"]["code"]),
        (422, &json!("unknown_label"))
    );

    // Per-model series in /metrics.
    let (_, metrics) = get(&s.url("/metrics"));
    for series in [
        format!("triage_model_queue_depth{{model=\"{ZH}\"}}"),
        format!("triage_model_kb_ready{{model=\"{EN}\"}}"),
        format!("triage_classified_total{{model=\"{ZH}\"}}"),
    ] {
        assert!(metrics.contains(&series), "{series} missing from /metrics");
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ready_waits_for_every_bundle() {
    let dir = temp_dir("loading");
    let s = two_bundles(&dir, false);
    let (status, r) = get_json(&s, "/ready");
    assert_eq!(status, 503, "{r}");
    assert_eq!(r["models"].as_array().map(Vec::len), Some(2), "{r}");
    let (status, e) = post(&s.url("/v1/classify"), &json!({"text": "hi", "model": ZH}));
    assert_eq!((status, &e["error"]["code"]), (503, &json!("not_ready")));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_bundles_with_one_name_do_not_start() {
    let dir = temp_dir("dup");
    let twin = renamed_bundle(&dir.join("twin"), EN, "[\"zh\"]");
    let state = triage_server::AppState::new(triage_core::config::Config {
        models: vec![common::default_model(), twin],
        suggest: triage_core::config::SuggestConfig {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    });
    let err = triage_server::load_model(&state).unwrap_err().to_string();
    assert!(err.contains(EN) && err.contains("two bundles"), "{err}");
    assert!(!state.is_ready());
    let _ = std::fs::remove_dir_all(&dir);
}
