//! Start-up in seconds: `/ready` does not wait for knowledge-base indexing (suggestions
//! answer `kb_unavailable` until it is done), and a restart reads the article embeddings
//! of every bundle from the disk cache instead of embedding them again. Indexing is made
//! observable through the injectable knowledge-base embedder
//! (`AppState::with_kb_embedder`): a gate that holds it back, a counter of texts embedded.

mod common;

use common::{get, post, post_raw, test_config, TestServer};
use ndarray::Array2;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use triage_core::classify::Classifier;
use triage_core::kb::{EmbedError, Embedder};
use triage_server::AppState;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("triage-startup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn get_json(s: &TestServer, path: &str) -> (u16, Value) {
    let (status, body) = get(&s.url(path));
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Opens once; waits are bounded so a broken test fails instead of hanging.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }

    fn wait(&self) -> bool {
        let open = self.open.lock().unwrap();
        let (open, _) = self
            .cv
            .wait_timeout_while(open, Duration::from_secs(120), |o| !*o)
            .unwrap();
        *open
    }
}

/// The bundle's own encoder, held back until the gate opens.
struct Gated {
    inner: Arc<Classifier>,
    gate: Arc<Gate>,
}

impl Embedder for Gated {
    fn embed(&self, texts: &[String]) -> Result<Array2<f32>, EmbedError> {
        if !self.gate.wait() {
            return Err(EmbedError("the test never opened the gate".into()));
        }
        self.inner.embed(texts)
    }
    fn fingerprint(&self) -> String {
        self.inner.fingerprint()
    }
}

/// The bundle's own encoder, counting the texts it embeds per bundle name.
struct Counting {
    inner: Arc<Classifier>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl Embedder for Counting {
    fn embed(&self, texts: &[String]) -> Result<Array2<f32>, EmbedError> {
        *self
            .counts
            .lock()
            .unwrap()
            .entry(self.inner.manifest.name.clone())
            .or_default() += texts.len();
        self.inner.embed(texts)
    }
    fn fingerprint(&self) -> String {
        self.inner.fingerprint()
    }
}

#[test]
fn ready_does_not_wait_for_the_knowledge_base_and_suggestions_say_it_is_indexing() {
    let dir = temp_dir("indexing");
    let cache = dir.join("cache");
    let gate = Arc::new(Gate::default());
    let held = gate.clone();
    let state = AppState::new(test_config(|c| c.suggest.cache_dir = Some(cache))).with_kb_embedder(
        move |c| {
            Arc::new(Gated {
                inner: c.clone(),
                gate: held.clone(),
            })
        },
    );
    let s = TestServer::start_state(state, true);

    // Ready to classify while the base cannot have been embedded (the gate is shut).
    let (status, ready) = get_json(&s, "/ready");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["kb"]["state"], "indexing", "{ready}");
    assert_eq!(ready["models"][0]["kb"]["state"], "indexing", "{ready}");
    assert_eq!(ready["kb"]["articles"], 0);
    let (_, info) = get_json(&s, "/info");
    assert_eq!(info["kb"]["state"], "indexing", "{info}");
    let (status, admin) = get_json(&s, "/admin/kb");
    assert_eq!((status, &admin["state"]), (200, &json!("indexing")));

    // /v1/suggest: 503 kb_unavailable saying why, with Retry-After.
    let body = json!({"text": "I want a refund for my order"});
    let (status, e, retry) = post_raw(&s.url("/v1/suggest"), body.to_string().as_bytes());
    assert_eq!(status, 503, "{e}");
    assert_eq!(e["error"]["code"], "kb_unavailable", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("still being indexed"),
        "{e}"
    );
    assert_eq!(retry.as_deref(), Some("1"));
    // /v1/classify with suggest: classified, suggestions empty (as for a missing base).
    let (status, r) = post(
        &s.url("/v1/classify"),
        &json!({"text": "I want a refund for my order", "suggest": true}),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["suggestions"], json!([]), "{r}");
    assert!(r["bot_answer"].is_null(), "{r}");
    assert!(r["intent"]["label"].is_string(), "{r}");
    // A reload asked for during the first load answers at once.
    let (status, reloaded) = post(&s.url("/admin/kb/reload"), &json!({}));
    assert_eq!((status, &reloaded["state"]), (200, &json!("indexing")));
    let (_, metrics) = get(&s.url("/metrics"));
    assert_eq!(metric(&metrics, "triage_kb_indexing"), Some(1.0));
    assert_eq!(metric(&metrics, "triage_kb_ready"), Some(0.0));

    // Once indexed, everything serves.
    gate.open();
    s.wait_kb_ready();
    let (_, ready) = get_json(&s, "/ready");
    assert_eq!(ready["kb"]["state"], "ready", "{ready}");
    assert!(ready["kb"]["articles"].as_u64().unwrap() > 0, "{ready}");
    assert_eq!(ready["kb"]["generation"], 1);
    let (status, r) = post(&s.url("/v1/suggest"), &body);
    assert_eq!(status, 200, "{r}");
    assert!(!r["suggestions"].as_array().unwrap().is_empty(), "{r}");
    let (status, r) = post(
        &s.url("/v1/classify"),
        &json!({"text": "I want a refund for my order", "suggest": true}),
    );
    assert_eq!(status, 200, "{r}");
    assert!(!r["suggestions"].as_array().unwrap().is_empty(), "{r}");
    let (_, metrics) = get(&s.url("/metrics"));
    assert_eq!(metric(&metrics, "triage_kb_indexing"), Some(0.0));
    assert_eq!(metric(&metrics, "triage_kb_ready"), Some(1.0));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the two shipped bundles on `cache`, counting the texts each embeds; returns
/// the counts once both bases serve, and the suggestions of each for one query.
fn run(
    cache: &Path,
    edit: impl FnOnce(&mut triage_core::config::Config),
) -> (Vec<usize>, Vec<Value>) {
    let counts = Arc::new(Mutex::new(HashMap::new()));
    let seen = counts.clone();
    let cache = cache.to_path_buf();
    let config = test_config(|c| {
        c.models = vec![
            common::default_model(),
            common::repo_path("models/triage-multi-small")
                .to_string_lossy()
                .into_owned(),
        ];
        c.suggest.cache_dir = Some(cache);
        edit(c);
    });
    let names = ["triage-en-small", "triage-multi-small"];
    let state = AppState::new(config).with_kb_embedder(move |c| {
        Arc::new(Counting {
            inner: c.clone(),
            counts: seen.clone(),
        })
    });
    let s = TestServer::start_state(state, true);
    s.wait_kb_ready();
    let found = names
        .iter()
        .map(|m| {
            let (status, r) = post(
                &s.url("/v1/suggest"),
                &json!({"text": "how do I get my money back", "model": m, "k": 5}),
            );
            assert_eq!(status, 200, "{r}");
            assert_eq!(r["model"]["name"], *m);
            r["suggestions"].clone()
        })
        .collect();
    let counts = counts.lock().unwrap();
    let per_bundle = names
        .iter()
        .map(|n| counts.get(*n).copied().unwrap_or(0))
        .collect();
    (per_bundle, found)
}

/// The same articles in the same order with the same scores (to rounding: cached rows are
/// normalised again when read).
fn assert_same_answers(a: &[Value], b: &[Value]) {
    let parts = |v: &[Value]| -> Vec<Vec<(String, f64)>> {
        v.iter()
            .map(|list| {
                list.as_array()
                    .unwrap()
                    .iter()
                    .map(|s| {
                        (
                            s["id"].as_str().unwrap().to_string(),
                            s["score"].as_f64().unwrap(),
                        )
                    })
                    .collect()
            })
            .collect()
    };
    let (a, b) = (parts(a), parts(b));
    assert!(a.iter().all(|l| !l.is_empty()), "{a:?}");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        let ids = |l: &[(String, f64)]| l.iter().map(|p| p.0.clone()).collect::<Vec<_>>();
        assert_eq!(ids(x), ids(y));
        for (p, q) in x.iter().zip(y) {
            assert!((p.1 - q.1).abs() < 1e-4, "{x:?} vs {y:?}");
        }
    }
}

#[test]
fn a_restart_reads_every_bundles_article_embeddings_from_the_cache() {
    let dir = temp_dir("restart");
    let cache = dir.join("cache");

    let (first, found) = run(&cache, |_| {});
    assert!(first.iter().all(|&n| n > 0), "cold start embeds: {first:?}");
    let files = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "emb")
            })
            .count()
    };
    assert_eq!(files(&cache), 2, "one cache file per bundle");

    // Restart: nothing embedded again, the same answers.
    let (second, again) = run(&cache, |_| {});
    assert_eq!(second, [0, 0], "a restart re-embedded articles");
    assert_same_answers(&found, &again);
    assert_eq!(files(&cache), 2);

    // Other encoder numerics (f32 instead of int8) make other vectors: not reused.
    let (f32_run, _) = run(&cache, |c| {
        c.encoder = "f32".parse().unwrap();
    });
    assert_eq!(
        f32_run, first,
        "the f32 encoder reused vectors of another encoder"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
