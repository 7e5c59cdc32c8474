//! The compatibility routes end to end (README "Compatibility"): TEI's `/predict`,
//! `/embed`, `/rerank` and `/tokenize`, OpenAI's `/v1/embeddings`, Rasa's `/model/parse`
//! (the request `rasa.core.http_interpreter` sends, replayed byte for byte: Rasa does not
//! install on this Python), the Dialogflow CX webhook with a committed `WebhookRequest`
//! fixture, and `/livez` / `/readyz`. Every answer is checked against what triage's own
//! API says for the same text, and every family's bad input against its error shape.

mod common;

use base64::Engine as _;
use common::{get, post, post_oversized, post_raw, TestServer};
use serde_json::{json, Value};
use std::sync::OnceLock;

/// One loaded server for the whole file (loading the model once on two shared cores),
/// with small limits for the error cases and Rasa's fallback name configured. The engine
/// encodes one text per call: the tests run at once, and a text padded in a batch with
/// another test's would move the last digits, so answers compare exactly here.
fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        TestServer::start(|c| {
            c.engine.max_batch_size = 1;
            c.limits.max_batch_items = 8;
            c.limits.max_text_bytes = 4000;
            c.compat.rasa_fallback = Some("nlu_fallback".into());
        })
    })
}

fn url(path: &str) -> String {
    server().url(path)
}

fn ok(path: &str, body: &Value) -> Value {
    let (s, j) = post(&url(path), body);
    assert_eq!(s, 200, "{path} {body} → {j}");
    j
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn v1_embed(texts: &[&str]) -> Vec<Vec<f32>> {
    let j = ok("/v1/embed", &json!({ "inputs": texts }));
    j["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect()
}

fn classify(body: Value) -> Value {
    ok("/v1/classify", &body)
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// A long text: more than the bundle's 128 tokens, under the 4000-byte limit.
fn long_text() -> String {
    "my parcel did not arrive and I would like to know where it is now ".repeat(12)
}

// ---- TEI ----------------------------------------------------------------------------

/// TEI's error shape and the status for its type.
fn tei_error(path: &str, body: &[u8], status: u16, error_type: &str) {
    let (s, j, _) = post_raw(&url(path), body);
    assert_eq!(
        s,
        status,
        "{path} {} → {j}",
        String::from_utf8_lossy(&body[..body.len().min(100)])
    );
    assert_eq!(j["error_type"], error_type, "{path} → {j}");
    assert!(
        j["error"].as_str().is_some_and(|m| !m.is_empty()),
        "{path} → {j}"
    );
    assert_eq!(
        j.as_object().unwrap().len(),
        2,
        "only TEI's two fields: {j}"
    );
}

#[test]
fn predict_answers_the_default_intent_head_sorted_as_classify_scores_it() {
    let text = "I want to cancel my order";
    let p = ok("/predict", &json!({ "inputs": text }));
    let preds = p.as_array().unwrap();
    // Every label of intent.support, best first, as TEI lists a classifier's labels.
    assert_eq!(preds.len(), 28, "{p}");
    let scores: Vec<f32> = preds
        .iter()
        .map(|x| x["score"].as_f64().unwrap() as f32)
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!((scores.iter().sum::<f32>() - 1.0).abs() < 1e-3);
    let c = classify(json!({"text": text, "top_k": 5}));
    for (i, top) in c["intent"]["top"].as_array().unwrap().iter().enumerate() {
        assert_eq!(preds[i]["label"], top["label"], "rank {i}: {p} vs {c}");
        let (a, b) = (
            preds[i]["score"].as_f64().unwrap(),
            top["score"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1e-5, "rank {i}: {a} vs {b}");
    }
    // A one-string list is one text too; another intent set by `?head=`.
    let one = ok("/predict", &json!({ "inputs": [text] }));
    assert_eq!(one[0]["label"], preds[0]["label"]);
    let banking = ok(
        "/predict?head=banking",
        &json!({"inputs": "my card has not arrived yet"}),
    );
    assert_eq!(banking[0]["label"], "card_arrival", "{banking}");
    assert_eq!(banking.as_array().unwrap().len(), 77);
}

#[test]
fn predict_scores_the_emotion_head_with_sigmoid_equal_to_classify() {
    let texts = [
        "this is the third time my refund failed, I am furious",
        "thank you so much, that was really helpful!",
        "I'm a bit worried my parcel got lost",
    ];
    let heads: Value = serde_json::from_str(&get(&url("/info")).1).unwrap();
    let emotion = heads["heads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "emotion")
        .unwrap()
        .clone();
    let temperature = emotion["temperature"].as_f64().unwrap() as f32;
    let batch: Vec<Value> = texts.iter().map(|t| json!([t])).collect();
    let batched = ok("/predict?head=emotion", &json!({ "inputs": batch }));
    assert_eq!(
        batched.as_array().unwrap().len(),
        3,
        "a list per input: {batched}"
    );
    for (i, text) in texts.iter().enumerate() {
        let want = classify(json!({ "text": text }))["emotion"]["scores"].clone();
        let single = ok("/predict?head=emotion", &json!({ "inputs": text }));
        let preds = single.as_array().unwrap();
        assert_eq!(preds.len(), 28);
        for p in preds {
            let label = p["label"].as_str().unwrap();
            let got = p["score"].as_f64().unwrap();
            let expected = want[label].as_f64().unwrap();
            assert!(
                (got - expected).abs() < 1e-6,
                "{text:?} {label}: {got} vs {expected}"
            );
        }
        for p in batched[i].as_array().unwrap() {
            let label = p["label"].as_str().unwrap();
            let (got, expected) = (p["score"].as_f64().unwrap(), want[label].as_f64().unwrap());
            assert!((got - expected).abs() < 1e-6, "batch {text:?} {label}");
        }
        // Independent probabilities, not TEI's softmax over the labels: the raw scores
        // are the logits the sigmoid (at the head's temperature) was applied to.
        let raw = ok(
            "/predict?head=emotion",
            &json!({"inputs": text, "raw_scores": true}),
        );
        for p in raw.as_array().unwrap() {
            let label = p["label"].as_str().unwrap();
            let logit = p["score"].as_f64().unwrap() as f32;
            let sigmoid = 1.0 / (1.0 + (-logit / temperature).exp());
            let expected = want[label].as_f64().unwrap() as f32;
            assert!(
                (sigmoid - expected).abs() < 1e-5,
                "{label}: {sigmoid} vs {expected}"
            );
        }
    }
    // The angry text carries several emotions at once: scores that sum past one.
    let angry = ok("/predict?head=emotion", &json!({ "inputs": texts[0] }));
    let total: f64 = angry
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() > 0.05, "sums to {total}: softmax-like");
}

#[test]
fn embed_equals_v1_embed() {
    let texts = ["where is my parcel", "I want my money back"];
    let want = v1_embed(&texts);
    let got = ok("/embed", &json!({ "inputs": texts }));
    let got: Vec<Vec<f32>> = got.as_array().unwrap().iter().map(floats).collect();
    assert_eq!(got.len(), 2);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.len(), 384);
        assert!(close(g, w, 1e-6));
    }
    // One string: still a list of vectors, as TEI answers. `normalize: true` and the
    // encoder's own dimension are accepted.
    let one = ok(
        "/embed",
        &json!({"inputs": texts[0], "normalize": true, "dimensions": 384, "truncate": false}),
    );
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert!(close(&floats(&one[0]), &v1_embed(&texts[..1])[0], 1e-6));
    // A long text is cut only when the client asks.
    let long = long_text();
    let cut = ok("/embed", &json!({"inputs": long, "truncate": true}));
    assert!(close(
        &floats(&cut[0]),
        &v1_embed(&[long.as_str()])[0],
        1e-6
    ));
}

#[test]
fn rerank_orders_texts_by_cosine_to_the_query() {
    let query = "my package never arrived";
    let texts = [
        "how do I reset my password",
        "where is my parcel, it has not been delivered",
        "can I pay with a credit card",
    ];
    let r = ok(
        "/rerank",
        &json!({"query": query, "texts": texts, "return_text": true}),
    );
    let ranks = r.as_array().unwrap();
    assert_eq!(ranks.len(), 3);
    assert_eq!(ranks[0]["index"], 1, "{r}");
    assert_eq!(ranks[0]["text"], texts[1]);
    let mut all = vec![query];
    all.extend(texts);
    let v = v1_embed(&all);
    for rank in ranks {
        let i = rank["index"].as_u64().unwrap() as usize;
        let cos: f32 = v[0].iter().zip(&v[i + 1]).map(|(a, b)| a * b).sum();
        let score = rank["score"].as_f64().unwrap() as f32;
        assert!((cos - score).abs() < 1e-4, "{i}: {score} vs {cos}");
    }
    let scores: Vec<f64> = ranks.iter().map(|x| x["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    // Without return_text there is no text field.
    let bare = ok("/rerank", &json!({"query": query, "texts": texts}));
    assert!(bare[0].get("text").is_none(), "{bare}");
}

#[test]
fn rerank_without_texts_ranks_the_knowledge_base_by_the_encoder() {
    server().wait_kb_ready();
    let query = "where is my order?";
    let r = ok("/rerank", &json!({"query": query, "return_text": true}));
    let ranks = r.as_array().unwrap();
    assert!(!ranks.is_empty() && ranks.len() <= 20, "{r}");
    assert_eq!(ranks[0]["id"], "track-order-en", "{r}");
    assert!(ranks[0]["title"].is_string() && ranks[0]["text"].is_string());
    let scores: Vec<f64> = ranks.iter().map(|x| x["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // The dense part of /v1/suggest's score for the same articles.
    let s = ok("/v1/suggest", &json!({"text": query, "k": 20}));
    let mut compared = 0;
    for sug in s["suggestions"].as_array().unwrap() {
        if let Some(rank) = ranks.iter().find(|x| x["id"] == sug["id"]) {
            let (a, b) = (
                rank["score"].as_f64().unwrap(),
                sug["scores"]["dense"].as_f64().unwrap(),
            );
            assert!((a - b).abs() < 1e-6, "{}: {a} vs {b}", sug["id"]);
            compared += 1;
        }
    }
    assert!(compared >= 3, "{s}");
}

#[test]
fn tokenize_lists_tokens_with_offsets() {
    let t = ok("/tokenize", &json!({"inputs": "Hello world"}));
    let tokens = t[0].as_array().unwrap();
    assert_eq!(tokens.len(), 4, "{t}");
    assert_eq!(tokens[0]["special"], true);
    assert_eq!(tokens[0]["text"], "[CLS]");
    assert!(tokens[0]["start"].is_null());
    assert_eq!(
        tokens[1],
        json!({"id": tokens[1]["id"], "text": "Hello", "special": false, "start": 0, "stop": 5})
    );
    assert_eq!(tokens[2]["text"], "world");
    assert_eq!(
        (tokens[2]["start"].as_u64(), tokens[2]["stop"].as_u64()),
        (Some(6), Some(11))
    );
    assert_eq!(tokens[3]["text"], "[SEP]");
    let plain = ok(
        "/tokenize",
        &json!({"inputs": ["Hello world", "bye"], "add_special_tokens": false}),
    );
    assert_eq!(plain.as_array().unwrap().len(), 2);
    assert_eq!(plain[0].as_array().unwrap().len(), 2);
    assert_eq!(plain[0][0]["id"], tokens[1]["id"]);
    // Every token of a long text, not only the 128 the encoder reads.
    let long = ok("/tokenize", &json!({"inputs": long_text()}));
    assert!(long[0].as_array().unwrap().len() > 128);
}

#[test]
fn tei_routes_answer_bad_input_in_tei_shape() {
    let long = long_text();
    let nine: Vec<Value> = (0..9).map(|i| json!([format!("text {i}")])).collect();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "/predict",
            b"{\"inputs\": \"hi\"".to_vec(),
            400,
            "validation",
        ),
        ("/predict", b"not json".to_vec(), 400, "validation"),
        (
            "/predict",
            b"{\"inputs\": \"caf\xff\"}".to_vec(),
            400,
            "validation",
        ),
        (
            "/predict",
            br#"{"truncate": true}"#.to_vec(),
            422,
            "validation",
        ),
        ("/predict", br#"{"inputs": []}"#.to_vec(), 400, "empty"),
        (
            "/predict",
            br#"{"inputs": ["a question", "a passage"]}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/predict",
            br#"{"inputs": [["a", "b"], ["c"]]}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/predict",
            br#"{"inputs": ["a", "b", "c"]}"#.to_vec(),
            422,
            "validation",
        ),
        ("/predict", br#"{"inputs": 5}"#.to_vec(), 422, "validation"),
        ("/predict", br#"{"inputs": ""}"#.to_vec(), 422, "validation"),
        (
            "/predict?head=sarcasm",
            br#"{"inputs": "hi"}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/predict?model=nope",
            br#"{"inputs": "hi"}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/predict",
            json!({ "inputs": nine }).to_string().into_bytes(),
            413,
            "validation",
        ),
        (
            "/predict",
            json!({ "inputs": long }).to_string().into_bytes(),
            413,
            "validation",
        ),
        (
            "/predict",
            json!({"inputs": long, "truncate": true, "truncation_direction": "left"})
                .to_string()
                .into_bytes(),
            422,
            "validation",
        ),
        (
            "/predict",
            json!({"inputs": "hi", "truncation_direction": "middle"})
                .to_string()
                .into_bytes(),
            422,
            "validation",
        ),
        (
            "/predict",
            json!({"inputs": "x".repeat(4001)}).to_string().into_bytes(),
            413,
            "validation",
        ),
        (
            "/embed",
            br#"{"inputs": [101, 2023, 102]}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/embed",
            br#"{"inputs": [[101, 2023, 102]]}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/embed",
            br#"{"inputs": "hi", "normalize": false}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/embed",
            br#"{"inputs": "hi", "dimensions": 128}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/embed",
            br#"{"inputs": "hi", "prompt_name": "query"}"#.to_vec(),
            422,
            "validation",
        ),
        ("/embed", br#"{"inputs": []}"#.to_vec(), 400, "empty"),
        ("/embed", br#"{"inputs": [""]}"#.to_vec(), 422, "validation"),
        (
            "/embed",
            json!({ "inputs": long }).to_string().into_bytes(),
            413,
            "validation",
        ),
        ("/rerank", br#"{"query": " "}"#.to_vec(), 422, "validation"),
        (
            "/rerank",
            br#"{"texts": ["a"]}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/rerank",
            br#"{"query": "q", "texts": []}"#.to_vec(),
            400,
            "empty",
        ),
        (
            "/rerank",
            br#"{"query": "", "texts": ["a"]}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/tokenize",
            br#"{"inputs": "  "}"#.to_vec(),
            422,
            "validation",
        ),
        (
            "/tokenize",
            br#"{"inputs": {"text": "hi"}}"#.to_vec(),
            422,
            "validation",
        ),
    ];
    for (path, body, status, kind) in &cases {
        tei_error(path, body, *status, kind);
    }
    // A body over the server's limit, refused before it is read.
    let (s, body) = post_oversized(&server().addr, "/embed", 8 << 20);
    let j: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert_eq!(
        (s, j["error_type"].as_str()),
        (413, Some("validation")),
        "{body}"
    );
    assert_eq!(get(&url("/health")).0, 200);
}

// ---- OpenAI -------------------------------------------------------------------------

fn openai_error(body: Value, status: u16, param: Option<&str>, code: &str) {
    let (s, j) = post(&url("/v1/embeddings"), &body);
    assert_eq!(s, status, "{body} → {j}");
    let e = &j["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{j}");
    assert!(e["type"].is_string(), "{j}");
    assert_eq!(e["param"].as_str(), param, "{body} → {j}");
    assert_eq!(e["code"], code, "{body} → {j}");
}

#[test]
fn openai_embeddings_in_float_and_base64_equal_v1_embed() {
    let texts = ["where is my parcel", "I want my money back", "hi"];
    let want = v1_embed(&texts);
    let r = ok(
        "/v1/embeddings",
        &json!({"input": texts, "model": "triage-en-small"}),
    );
    assert_eq!(r["object"], "list");
    assert_eq!(r["model"], "triage-en-small");
    let data = r["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["object"], "embedding");
        assert_eq!(d["index"], i);
        assert!(close(&floats(&d["embedding"]), &want[i], 1e-6));
    }
    // Usage counts the tokens the encoder read, special tokens included (/tokenize).
    let tokens = ok("/tokenize", &json!({ "inputs": texts }));
    let n: usize = tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_array().unwrap().len())
        .sum();
    assert_eq!(r["usage"], json!({"prompt_tokens": n, "total_tokens": n}));
    // base64: the little-endian f32 bytes of the same vectors.
    let b = ok(
        "/v1/embeddings",
        &json!({"input": texts, "model": "triage-en-small", "encoding_format": "base64"}),
    );
    for (i, d) in b["data"].as_array().unwrap().iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(d["embedding"].as_str().unwrap())
            .unwrap();
        let v: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert!(close(&v, &want[i], 1e-6), "{i}");
    }
    // One string, no model (picked as /v1/embed picks), the encoder's own dimension.
    let one = ok("/v1/embeddings", &json!({"input": "hi", "dimensions": 384}));
    assert!(close(&floats(&one["data"][0]["embedding"]), &want[2], 1e-6));
}

#[test]
fn openai_embeddings_refuse_bad_input_in_openai_shape() {
    let m = "triage-en-small";
    openai_error(
        json!({"input": [[101, 2023]], "model": m}),
        400,
        Some("input"),
        "unsupported",
    );
    openai_error(
        json!({"input": [101, 2023], "model": m}),
        400,
        Some("input"),
        "unsupported",
    );
    openai_error(
        json!({"input": [], "model": m}),
        400,
        Some("input"),
        "empty",
    );
    openai_error(json!({"input": "", "model": m}), 400, None, "empty_text");
    openai_error(
        json!({"input": {"a": 1}, "model": m}),
        400,
        Some("input"),
        "unsupported",
    );
    openai_error(json!({"model": m}), 400, None, "invalid_request");
    openai_error(
        json!({"input": "hi", "model": m, "dimensions": 256}),
        400,
        Some("dimensions"),
        "unsupported",
    );
    openai_error(
        json!({"input": "hi", "model": m, "encoding_format": "int8"}),
        400,
        Some("encoding_format"),
        "unsupported",
    );
    openai_error(
        json!({"input": "hi", "model": "text-embedding-3-small"}),
        404,
        Some("model"),
        "model_not_found",
    );
    openai_error(
        json!({"input": long_text(), "model": m}),
        400,
        Some("input"),
        "context_length_exceeded",
    );
    let nine: Vec<String> = (0..9).map(|i| format!("text {i}")).collect();
    openai_error(
        json!({"input": nine, "model": m}),
        400,
        None,
        "batch_too_large",
    );
    let (s, j, _) = post_raw(&url("/v1/embeddings"), b"{\"input\": ");
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (400, Some("invalid_json")),
        "{j}"
    );
    assert_eq!(j["error"]["type"], "invalid_request_error");
}

// ---- Rasa ---------------------------------------------------------------------------

/// The body `rasa.core.http_interpreter` posts: `json.dumps({"token", "text",
/// "message_id"})` from aiohttp, keys in that order, `null` for a missing token.
fn rasa_request(text: &str, sender: &str) -> Vec<u8> {
    format!(
        "{{\"token\": null, \"text\": {}, \"message_id\": {}}}",
        serde_json::to_string(text).unwrap(),
        serde_json::to_string(sender).unwrap()
    )
    .into_bytes()
}

/// Rasa's documented `ParseResult` (docs/static/spec/rasa.yml): `text` required; `intent`
/// and each `intent_ranking` item an `Intent` with `name` and `confidence`; `entities`
/// a list of `Entity` (`start`, `end`, `value`, `entity`).
fn check_rasa_schema(r: &Value, text: &str) {
    assert_eq!(r["text"], text);
    let intent = &r["intent"];
    assert!(intent["name"].is_string(), "{r}");
    let conf = intent["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&conf), "{r}");
    let ranking = r["intent_ranking"].as_array().unwrap();
    assert!(!ranking.is_empty() && ranking.len() <= 10, "{r}");
    for i in ranking {
        assert!(i["name"].is_string() && i["confidence"].is_number(), "{i}");
    }
    for e in r["entities"].as_array().unwrap() {
        for k in ["start", "end", "value", "entity"] {
            assert!(e.get(k).is_some(), "entity without {k}: {e}");
        }
    }
}

#[test]
fn rasa_parse_answers_rasas_schema_with_triages_findings() {
    let text = "I want to cancel my order";
    let (s, r, _) = post_raw(&url("/model/parse"), &rasa_request(text, "rasa-sender-1"));
    assert_eq!(s, 200, "{r}");
    check_rasa_schema(&r, text);
    assert!(r["entities"].as_array().unwrap().is_empty());
    let c = classify(json!({"text": text, "top_k": 10}));
    assert_eq!(r["intent"]["name"], c["intent"]["label"], "{r}");
    assert_eq!(r["intent"], r["intent_ranking"][0]);
    let ranking = r["intent_ranking"].as_array().unwrap();
    assert_eq!(ranking.len(), 10);
    for (i, top) in c["intent"]["top"].as_array().unwrap().iter().enumerate() {
        // The out-of-scope class keeps its rank under Rasa's fallback name.
        let want = match top["label"].as_str() {
            Some("oos") => json!("nlu_fallback"),
            _ => top["label"].clone(),
        };
        assert_eq!(ranking[i]["name"], want);
        assert_eq!(ranking[i]["confidence"], top["score"]);
    }
    // triage's findings alongside, as Rasa keeps them in the tracker.
    assert_eq!(r["emotion"]["scores"], c["emotion"]["scores"]);
    assert!(r["handoff"]["action"].is_string(), "{r}");
    assert!(r["suggestions"].is_array());
    assert_eq!(r["triage"]["intent_set"], "support");
    // The sender id is the conversation: the turn is remembered.
    let (s, conv) = get(&url("/v1/conversations/rasa-sender-1"));
    assert_eq!(s, 200, "{conv}");
    let conv: Value = serde_json::from_str(&conv).unwrap();
    assert_eq!(conv["turns"].as_array().map(Vec::len), Some(1), "{conv}");
    // Another intent set by the URL's query string.
    let (s, b, _) = post_raw(
        &url("/model/parse?intent_set=banking"),
        &rasa_request("my card has not arrived yet", "rasa-sender-2"),
    );
    assert_eq!(
        (s, b["intent"]["name"].as_str()),
        (200, Some("card_arrival")),
        "{b}"
    );
}

#[test]
fn rasa_parse_maps_out_of_scope_to_nlu_fallback() {
    let candidates = [
        "what's the capital of mongolia",
        "can you recommend a good pizza recipe",
        "who won the football world cup in 1998",
        "tell me a joke about penguins",
        "how far away is the moon",
    ];
    let mut seen = 0;
    for text in candidates {
        let c = classify(json!({ "text": text }));
        let (s, r, _) = post_raw(&url("/model/parse"), &rasa_request(text, "rasa-oos"));
        assert_eq!(s, 200, "{r}");
        check_rasa_schema(&r, text);
        if c["intent"]["out_of_scope"] == true {
            seen += 1;
            assert_eq!(r["intent"]["name"], "nlu_fallback", "{text:?}: {r}");
            assert_eq!(r["intent_ranking"][0]["name"], "nlu_fallback");
            assert_eq!(r["triage"]["label"], c["intent"]["label"]);
        } else {
            assert_ne!(r["intent"]["name"], "nlu_fallback", "{text:?}: {r}");
        }
        // Nowhere is the raw out-of-scope label left.
        assert!(!r["intent_ranking"].to_string().contains("\"oos\""), "{r}");
    }
    assert!(
        seen >= 2,
        "only {seen} of the off-topic texts read out of scope"
    );
}

#[test]
fn rasa_intent_payloads_and_bad_input() {
    let (s, r, _) = post_raw(
        &url("/model/parse"),
        &rasa_request(r#"/inform{"order_id": "A-1042"}"#, "rasa-sender-3"),
    );
    assert_eq!(s, 200, "{r}");
    check_rasa_schema(&r, r#"/inform{"order_id": "A-1042"}"#);
    assert_eq!(r["intent"], json!({"name": "inform", "confidence": 1.0}));
    assert_eq!(r["entities"][0]["value"], "A-1042");
    let rasa_error = |path: &str, body: &[u8], status: u16| {
        let (s, j, _) = post_raw(&url(path), body);
        assert_eq!(s, status, "{path} {} → {j}", String::from_utf8_lossy(body));
        assert_eq!(j["status"], "failure", "{j}");
        assert_eq!(j["code"], status, "{j}");
        assert!(j["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(j["reason"].is_string() && j["version"].is_string(), "{j}");
    };
    rasa_error("/model/parse", br#"{"message_id": "x"}"#, 400);
    rasa_error("/model/parse", br#"{"text": "  "}"#, 400);
    rasa_error("/model/parse", br#"{"text": 42}"#, 400);
    rasa_error("/model/parse", b"{\"text\": ", 400);
    rasa_error("/model/parse", br#"{"text": "/"}"#, 400);
    rasa_error("/model/parse", br#"{"text": "/inform{oops"}"#, 400);
    rasa_error(
        "/model/parse?emulation_mode=LUIS",
        br#"{"text": "hi"}"#,
        400,
    );
    rasa_error("/model/parse?intent_set=nope", br#"{"text": "hi"}"#, 400);
    rasa_error("/model/parse", &rasa_request("hi", &"x".repeat(300)), 400);
    let big = json!({"text": "a".repeat(4001)}).to_string();
    rasa_error("/model/parse", big.as_bytes(), 413);
}

// ---- Dialogflow CX ------------------------------------------------------------------

/// The committed `WebhookRequest` (modelled on Google's reference) with the message and
/// session replaced.
fn webhook_request(text: &str, session: &str) -> Value {
    let raw = std::fs::read_to_string(common::repo_path(
        "tests/fixtures/dialogflow_cx_webhook_request.json",
    ))
    .unwrap();
    let mut r: Value = serde_json::from_str(&raw).unwrap();
    r["text"] = json!(text);
    let s = r["sessionInfo"]["session"].as_str().unwrap().to_string();
    let (prefix, _) = s.rsplit_once('/').unwrap();
    r["sessionInfo"]["session"] = json!(format!("{prefix}/{session}"));
    r
}

/// A valid `WebhookResponse` agreeing with `/v1/classify` on the same text (a fresh
/// conversation each, so both see the same history).
fn check_webhook(text: &str, session: &str) -> Value {
    let r = ok(
        "/integrations/dialogflow-cx",
        &webhook_request(text, session),
    );
    let allowed = [
        "fulfillmentResponse",
        "sessionInfo",
        "payload",
        "pageInfo",
        "targetPage",
        "targetFlow",
    ];
    for k in r.as_object().unwrap().keys() {
        assert!(
            allowed.contains(&k.as_str()),
            "not a WebhookResponse field: {k}"
        );
    }
    let c = classify(
        json!({"text": text, "suggest": true, "conversation_id": format!("{session}-v1")}),
    );
    let p = &r["sessionInfo"]["parameters"];
    assert_eq!(p["triage_intent"], c["intent"]["label"], "{r}");
    assert_eq!(p["triage_out_of_scope"], c["intent"]["out_of_scope"]);
    assert_eq!(p["triage_action"], c["handoff"]["action"], "{r}");
    assert_eq!(p["triage_handoff"], c["handoff"]["action"] == "handoff");
    assert_eq!(p["triage_sentiment"], c["emotion"]["sentiment"]["label"]);
    assert_eq!(p["triage_confidence"], c["intent"]["confidence"]);
    assert_eq!(p["triage_frustration"], c["emotion"]["frustration"]);
    assert_eq!(p["triage_emotions"], c["emotion"]["labels"]);
    let codes: Vec<Value> = c["handoff"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].clone())
        .collect();
    assert_eq!(p["triage_reasons"], json!(codes));
    match c.get("bot_answer") {
        Some(answer) => {
            assert_eq!(c["handoff"]["action"], "bot");
            let m = &r["fulfillmentResponse"]["messages"][0]["text"]["text"][0];
            assert_eq!(m, &answer["answer"], "{r}");
            assert_eq!(p["triage_answer_id"], answer["id"]);
        }
        None => assert!(r.get("fulfillmentResponse").is_none(), "{r}"),
    }
    assert_eq!(
        r["payload"]["triage"]["intent"]["label"],
        c["intent"]["label"]
    );
    r
}

#[test]
fn dialogflow_webhook_routine_angry_and_human_request() {
    let routine = check_webhook("where is my order?", "dfcx-routine");
    let p = &routine["sessionInfo"]["parameters"];
    assert_eq!(p["triage_intent"], "track_order", "{routine}");
    assert_eq!(p["triage_handoff"], false);
    assert_eq!(p["triage_action"], "bot");
    let angry = check_webhook(
        "This is a joke. Three weeks and still no parcel, nobody replies to me, I am absolutely furious!!",
        "dfcx-angry",
    );
    let p = &angry["sessionInfo"]["parameters"];
    assert_eq!(p["triage_handoff"], true, "{angry}");
    assert_eq!(p["triage_sentiment"], "negative");
    assert!(
        p["triage_reasons"].to_string().contains("negative_emotion"),
        "{angry}"
    );
    assert!(angry.get("fulfillmentResponse").is_none());
    let human = check_webhook("can I please talk to a real person", "dfcx-human");
    let p = &human["sessionInfo"]["parameters"];
    assert_eq!(p["triage_handoff"], true, "{human}");
    assert!(
        p["triage_reasons"].to_string().contains("human_requested"),
        "{human}"
    );
    // The session id is the conversation id.
    let (s, conv) = get(&url("/v1/conversations/dfcx-angry"));
    assert_eq!(s, 200, "{conv}");
}

#[test]
fn dialogflow_webhook_reads_speech_events_and_refuses_bad_input() {
    // Speech arrives as `transcript`: the voice channel.
    let mut spoken = webhook_request("", "dfcx-voice");
    spoken.as_object_mut().unwrap().remove("text");
    spoken["transcript"] = json!("um I want to cancel my order");
    let r = ok("/integrations/dialogflow-cx", &spoken);
    assert_eq!(r["payload"]["triage"]["channel"], "voice");
    assert_eq!(
        r["sessionInfo"]["parameters"]["triage_intent"], "cancel_order",
        "{r}"
    );
    // An event-triggered call has nothing to classify: an empty WebhookResponse.
    let mut event = webhook_request("", "dfcx-event");
    event.as_object_mut().unwrap().remove("text");
    event["triggerEvent"] = json!("sys.no-match-default");
    assert_eq!(ok("/integrations/dialogflow-cx", &event), json!({}));
    let google_error = |body: &[u8], status: u16, rpc: &str| {
        let (s, j, _) = post_raw(&url("/integrations/dialogflow-cx"), body);
        assert_eq!(s, status, "{} → {j}", String::from_utf8_lossy(body));
        assert_eq!(j["error"]["code"], status, "{j}");
        assert_eq!(j["error"]["status"], rpc, "{j}");
        assert!(j["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    };
    let mut no_text = webhook_request("", "dfcx-bad");
    no_text.as_object_mut().unwrap().remove("text");
    google_error(no_text.to_string().as_bytes(), 400, "INVALID_ARGUMENT");
    google_error(
        webhook_request("  ", "dfcx-bad").to_string().as_bytes(),
        400,
        "INVALID_ARGUMENT",
    );
    google_error(
        webhook_request("hi", "").to_string().as_bytes(),
        400,
        "INVALID_ARGUMENT",
    );
    google_error(b"{\"text\": ", 400, "INVALID_ARGUMENT");
    google_error(br#"{"text": ["hi"]}"#, 400, "INVALID_ARGUMENT");
    let mut customer = webhook_request("hi", "dfcx-bad");
    customer["payload"] = json!({"customer": "vip"});
    google_error(customer.to_string().as_bytes(), 400, "INVALID_ARGUMENT");
    google_error(
        webhook_request(&"a".repeat(4001), "dfcx-bad")
            .to_string()
            .as_bytes(),
        413,
        "INVALID_ARGUMENT",
    );
}

// ---- Probes and start-up ------------------------------------------------------------

#[test]
fn livez_and_readyz_answer_as_health_and_ready() {
    assert_eq!(get(&url("/livez")), get(&url("/health")));
    let (s, ready) = get(&url("/readyz"));
    assert_eq!(s, 200);
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["status"], "ready");
}

#[test]
fn every_family_says_not_ready_in_its_own_shape_while_loading() {
    let loading = TestServer::start_with(|_| {}, false);
    assert_eq!(get(&loading.url("/livez")).0, 200);
    assert_eq!(get(&loading.url("/readyz")).0, 503);
    let (s, j, retry) = post_raw(&loading.url("/predict"), br#"{"inputs": "hi"}"#);
    assert_eq!(
        (s, j["error_type"].as_str()),
        (503, Some("unhealthy")),
        "{j}"
    );
    assert!(retry.is_some());
    let (s, j, _) = post_raw(&loading.url("/embed"), br#"{"inputs": "hi"}"#);
    assert_eq!(
        (s, j["error_type"].as_str()),
        (503, Some("unhealthy")),
        "{j}"
    );
    let (s, j, _) = post_raw(&loading.url("/v1/embeddings"), br#"{"input": "hi"}"#);
    assert_eq!(
        (s, j["error"]["type"].as_str()),
        (503, Some("server_error")),
        "{j}"
    );
    let (s, j, _) = post_raw(&loading.url("/model/parse"), br#"{"text": "hi"}"#);
    assert_eq!((s, j["status"].as_str()), (503, Some("failure")), "{j}");
    let (s, j, _) = post_raw(
        &loading.url("/integrations/dialogflow-cx"),
        br#"{"text": "hi"}"#,
    );
    assert_eq!(
        (s, j["error"]["status"].as_str()),
        (503, Some("UNAVAILABLE")),
        "{j}"
    );
}
