//! The HTTP API end to end: real model, real server, real sockets.

mod common;

use common::{get, post, post_raw, TestServer};
use serde_json::json;

#[test]
fn a_batch_of_64_equals_64_single_calls_in_order() {
    let server = TestServer::start(|_| {});
    let texts = common::banking_texts(64);
    let (status, batch) = post(
        &server.url("/v1/classify"),
        &json!({"inputs": texts, "channel": "chat", "top_k": 3}),
    );
    assert_eq!(status, 200, "{batch}");
    let results = batch["results"].as_array().unwrap();
    assert_eq!(results.len(), 64);
    for (i, text) in texts.iter().enumerate() {
        let (s, single) = post(
            &server.url("/v1/classify"),
            &json!({"text": text, "top_k": 3}),
        );
        assert_eq!(s, 200);
        let b = &results[i];
        assert_eq!(
            b["intent"]["label"], single["intent"]["label"],
            "item {i}: {text}"
        );
        assert_eq!(
            b["emotion"]["labels"], single["emotion"]["labels"],
            "item {i}"
        );
        let (cb, cs) = (
            b["intent"]["confidence"].as_f64().unwrap(),
            single["intent"]["confidence"].as_f64().unwrap(),
        );
        // Padding to a batch's longest item may move the last float digits only.
        assert!((cb - cs).abs() < 1e-4, "item {i}: {cb} vs {cs}");
    }
}

#[test]
fn responses_have_the_documented_shape() {
    let server = TestServer::start(|_| {});
    let (status, r) = post(
        &server.url("/v1/classify"),
        &json!({"text": "where is my parcel?? it was due monday", "channel": "chat",
                "conversation_id": "c-1", "customer": {"id": "u-9", "tier": "vip"}}),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["intent"]["set"], "support");
    assert!(r["intent"]["confidence"].as_f64().unwrap() > 0.0);
    assert_eq!(r["intent"]["top"].as_array().unwrap().len(), 3);
    assert_eq!(r["emotion"]["scores"].as_object().unwrap().len(), 28);
    assert!(r["emotion"]["sentiment"]["label"].is_string());
    assert!(r["emotion"]["frustration"].as_f64().is_some());
    assert_eq!(r["model"]["name"], "triage-en-small");
    assert_eq!(r["conversation_id"], "c-1");
    // Another intent set by name.
    let (status, r) = post(
        &server.url("/v1/classify"),
        &json!({"text": "my card has not arrived yet", "intent_set": "banking"}),
    );
    assert_eq!(status, 200);
    assert_eq!(r["intent"]["set"], "banking");
    assert_eq!(r["intent"]["label"], "card_arrival");
}

fn expect_error(server: &TestServer, body: &[u8], status: u16, code: &str) {
    let (s, j, _) = post_raw(&server.url("/v1/classify"), body);
    assert_eq!(
        s,
        status,
        "{} -> {j}",
        String::from_utf8_lossy(&body[..body.len().min(80)])
    );
    assert_eq!(j["error"]["code"], code, "{j}");
    assert!(j["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

#[test]
fn bad_inputs_get_their_status_and_code_and_the_server_stays_healthy() {
    let server = TestServer::start(|c| {
        c.limits.max_text_bytes = 1000;
        c.limits.max_batch_items = 8;
    });
    let big = "a".repeat(1001);
    expect_error(&server, br#"{"text": ""}"#, 422, "empty_text");
    expect_error(&server, br#"{"text": "   \n\t "}"#, 422, "empty_text");
    expect_error(
        &server,
        json!({"text": big}).to_string().as_bytes(),
        413,
        "text_too_large",
    );
    let nine: Vec<&str> = vec!["hi"; 9];
    expect_error(
        &server,
        json!({"inputs": nine}).to_string().as_bytes(),
        413,
        "batch_too_large",
    );
    expect_error(
        &server,
        br#"{"text": "hi", "channel": "fax"}"#,
        422,
        "unknown_channel",
    );
    expect_error(
        &server,
        br#"{"text": "hi", "intent_set": "nope"}"#,
        422,
        "unknown_intent_set",
    );
    expect_error(&server, br#"{"text": "hi""#, 400, "invalid_json");
    expect_error(&server, b"not json at all", 400, "invalid_json");
    expect_error(&server, b"{\"text\": \"caf\xff\"}", 400, "invalid_utf8");
    expect_error(&server, br#"{"text": 42}"#, 422, "invalid_request");
    expect_error(
        &server,
        br#"{"text": "a", "inputs": ["b"]}"#,
        422,
        "invalid_request",
    );
    expect_error(&server, br#"{}"#, 422, "invalid_request");
    expect_error(&server, br#"{"inputs": []}"#, 422, "invalid_request");
    expect_error(
        &server,
        br#"{"text": "hi", "top_k": 0}"#,
        422,
        "invalid_request",
    );
    // A bad item in a batch names its index.
    let (s, j, _) = post_raw(
        &server.url("/v1/classify"),
        br#"{"inputs": ["fine", {"text": "x", "channel": "pigeon"}]}"#,
    );
    assert_eq!(s, 422);
    assert_eq!(j["error"]["index"], 1);
    // A body far over every limit: answered 413 even though the server stops reading.
    let (s, body) = common::post_oversized(&server.addr, "/v1/classify", 4 * 1024 * 1024);
    assert_eq!(s, 413, "{body}");
    assert!(body.contains("payload_too_large"), "{body}");
    // Unknown route: JSON 404.
    let (s, body) = get(&server.url("/v1/nothing"));
    assert_eq!(s, 404);
    assert!(body.contains("not_found"));
    // Still healthy and still answering.
    assert_eq!(get(&server.url("/health")).0, 200);
    let (s, j) = post(
        &server.url("/v1/classify"),
        &json!({"text": "cancel my order"}),
    );
    assert_eq!(s, 200, "{j}");
}

#[test]
fn every_channel_is_accepted_and_normalised() {
    let server = TestServer::start(|_| {});
    for (channel, text) in [
        ("chat", "hiii where is my order"),
        ("voice", "um uh i i want to to cancel my order [noise]"),
        ("email", "Hello,\nI want to cancel my order.\n\nBest regards,\nAnn\n\n> On Monday you wrote:\n> hi"),
        ("social", "@shop where is my order #stillwaiting 😡"),
    ] {
        let (s, j) = post(&server.url("/v1/classify"), &json!({"text": text, "channel": channel}));
        assert_eq!(s, 200, "{channel}: {j}");
        assert_eq!(j["channel"], channel);
    }
}

#[test]
fn embed_returns_normalised_vectors() {
    let server = TestServer::start(|_| {});
    let (s, j) = post(
        &server.url("/v1/embed"),
        &json!({"inputs": ["hello", "where is my parcel"]}),
    );
    assert_eq!(s, 200, "{j}");
    let e = j["embeddings"].as_array().unwrap();
    assert_eq!(e.len(), 2);
    let v: Vec<f64> = e[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(v.len(), 384);
    let norm: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "{norm}");
    let (s, j) = post(&server.url("/v1/embed"), &json!({"inputs": [""]}));
    assert_eq!((s, j["error"]["code"].as_str()), (422, Some("empty_text")));
}

#[test]
fn service_routes_answer() {
    let server = TestServer::start(|_| {});
    assert_eq!(get(&server.url("/health")).0, 200);
    assert_eq!(get(&server.url("/ready")).0, 200);
    let (s, info) = get(&server.url("/info"));
    assert_eq!(s, 200);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    let heads: Vec<&str> = info["heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    for h in [
        "intent.support",
        "intent.banking",
        "intent.clinc",
        "emotion",
    ] {
        assert!(heads.contains(&h), "{heads:?}");
    }
    post(&server.url("/v1/classify"), &json!({"text": "hello"}));
    let (s, m) = get(&server.url("/metrics"));
    assert_eq!(s, 200);
    for name in [
        "triage_http_requests_total",
        "triage_http_request_duration_seconds",
        "triage_batch_size",
        "triage_queue_depth",
    ] {
        assert!(m.contains(name), "{name} missing from /metrics");
    }
    let (s, spec) = get(&server.url("/openapi.json"));
    assert_eq!(s, 200);
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert!(spec["paths"]["/v1/classify"]["post"].is_object());
    let (s, page) = get(&server.url("/docs"));
    assert_eq!(s, 200);
    assert!(page.contains("openapi.json"));
}

#[test]
fn not_ready_until_the_model_is_loaded() {
    let server = TestServer::start_with(|_| {}, false);
    assert_eq!(get(&server.url("/health")).0, 200);
    assert_eq!(get(&server.url("/ready")).0, 503);
    let (s, j, retry) = post_raw(&server.url("/v1/classify"), br#"{"text": "hi"}"#);
    assert_eq!((s, j["error"]["code"].as_str()), (503, Some("not_ready")));
    assert!(retry.is_some());
}
