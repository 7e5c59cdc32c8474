//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared` beside the checkout (always there in CI), or `$TRIAGE_SHARED`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("TRIAGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

use triage_core::config::Config;
use triage_core::policy::{Action, Decision, Priority, Severity, StoredTurn};
use triage_server as server;
use triage_server::AppState;

/// The shipped default bundle.
pub fn default_model() -> String {
    repo_path("models/triage-en-small")
        .to_string_lossy()
        .into_owned()
}

/// An in-process server on an ephemeral port, stopped (gracefully) on drop.
pub struct TestServer {
    pub addr: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(edit: impl FnOnce(&mut Config)) -> Self {
        Self::start_with(edit, true)
    }

    /// `load = false` leaves the model unloaded, as during start-up. A loaded server is
    /// returned once every knowledge base has finished its first indexing (whether it
    /// then serves or not), as the tests expect of the suggestions they ask for.
    pub fn start_with(edit: impl FnOnce(&mut Config), load: bool) -> Self {
        let state = AppState::new(test_config(edit));
        let server = Self::start_state(state, load);
        if load {
            server.wait_kb_indexed();
        }
        server
    }

    /// Serves `state`, loading its models first when `load`, without waiting for the
    /// knowledge bases (they index in the background, as in `triage serve`).
    pub fn start_state(state: AppState, load: bool) -> Self {
        if load {
            server::load_model(&state).expect("model loads");
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx
                    .send(listener.local_addr().unwrap().to_string())
                    .unwrap();
                server::serve(listener, state, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The knowledge-base states of every bundle in `/ready` (empty while it is 503).
    pub fn kb_states(&self) -> Vec<String> {
        let (status, body) = get(&self.url("/ready"));
        let ready: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if status != 200 {
            return Vec::new();
        }
        ready["models"]
            .as_array()
            .map(|models| {
                models
                    .iter()
                    .map(|m| m["kb"]["state"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Polls `/ready` until no bundle's knowledge base is `indexing` any more (it is then
    /// `ready`, `unavailable` or `disabled`); panics after two minutes.
    pub fn wait_kb_indexed(&self) -> Vec<String> {
        self.wait_kb(|states| !states.is_empty() && states.iter().all(|s| s != "indexing"))
    }

    /// Polls `/ready` until every bundle's knowledge base is `ready`; panics after two
    /// minutes.
    pub fn wait_kb_ready(&self) {
        self.wait_kb(|states| !states.is_empty() && states.iter().all(|s| s == "ready"));
    }

    fn wait_kb(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let started = std::time::Instant::now();
        loop {
            let states = self.kb_states();
            if done(&states) {
                return states;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(120),
                "knowledge bases still {states:?} after two minutes"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// The default test configuration (the shipped default bundle), edited.
pub fn test_config(edit: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config {
        models: vec![default_model()],
        ..Config::default()
    };
    edit(&mut config);
    config
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A client whose timeout only stops a hung test: the bounds tests' long batches (128
/// long texts on one encoder thread, ~9 s on a quiet 2-core machine) took over 60 s while
/// four builds shared the cores, and their assertions compare times, not a wall clock.
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(300))
        .build()
}

/// POSTs raw bytes; returns status and parsed JSON body (errors included).
pub fn post_raw(url: &str, body: &[u8]) -> (u16, serde_json::Value, Option<String>) {
    let resp = match agent()
        .post(url)
        .set("content-type", "application/json")
        .send_bytes(body)
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let retry = resp.header("retry-after").map(String::from);
    let json = resp.into_json().unwrap_or(serde_json::Value::Null);
    (status, json, retry)
}

pub fn post(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let (s, j, _) = post_raw(url, body.to_string().as_bytes());
    (s, j)
}

pub fn get(url: &str) -> (u16, String) {
    match agent().get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
        Err(e) => panic!("transport error: {e}"),
    }
}

/// banking77 test texts, the load the benchmarks use too.
pub fn banking_texts(n: usize) -> Vec<String> {
    let root = shared_dir().join("datasets");
    triage_lab::data::load(&root, "banking77", triage_lab::data::Split::Test)
        .unwrap()
        .into_iter()
        .take(n)
        .map(|r| r.text)
        .collect()
}

/// Copies a bundle directory (files only) so a test can damage the copy.
pub fn copy_bundle(from: &std::path::Path, to: &std::path::Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Sends a body of `len` bytes over a raw socket, ignoring write errors (a server may
/// answer 413 and close before reading it all), and returns status and response body.
pub fn post_oversized(addr: &str, path: &str, len: usize) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
    );
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        while sent < len {
            if writer
                .write_all(&chunk[..chunk.len().min(len - sent)])
                .is_err()
            {
                break;
            }
            sent += chunk.len();
        }
    });
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// A stored turn of the bot's, as the store tests append: `text` at `at_ms`, no model
/// output, the default decision.
pub fn stored_turn(at_ms: u64, text: &str) -> StoredTurn {
    StoredTurn {
        at_ms,
        text: Some(text.into()),
        channel: "chat".into(),
        lang: "en".into(),
        customer: None,
        intent: None,
        emotion: None,
        negativity: 0.1,
        handoff: Decision {
            action: Action::Bot,
            priority: Priority::Normal,
            severity: Severity::Basic,
            response_time_secs: 120,
            skill_group: "general".into(),
            reasons: vec![],
            issue_type: None,
            shadow: None,
        },
        suggestions_shown: vec![],
        model: None,
    }
}

/// Each text through the classifier's blocking path as one batch, every request made by
/// `request` from its text (a language, an intent set…); the answers in input order.
pub fn classify_texts(
    c: &triage_core::classify::Classifier,
    texts: &[String],
    request: impl Fn(String) -> triage_core::api::ClassifyRequest,
) -> Vec<triage_core::api::ClassifyResponse> {
    let reqs: Vec<_> = texts.iter().map(|t| request(t.clone())).collect();
    let prepared = c.prepare_all(&reqs).expect("valid requests");
    c.classify_blocking(prepared, std::time::Instant::now())
        .expect("classified")
}
