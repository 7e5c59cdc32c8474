//! Helpers for the knowledge-base tests: the shipped bundle as the embedder, and a query
//! prepared the way the server prepares one (normalised text, embedding, intent and
//! emotion from the bundle's heads).
#![allow(dead_code)]

use ndarray::{Array1, Array2};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::kb::{EmbedError, Embedder};
use triage_core::model::heads::{emotion_result, intent_result};
use triage_core::model::Bundle;
use triage_core::text::{self, Channel, NormalizeOptions};

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// One shipped classifier per test binary.
pub fn classifier() -> Arc<Classifier> {
    static CLF: OnceLock<Arc<Classifier>> = OnceLock::new();
    CLF.get_or_init(|| {
        let dir = repo_path("models/triage-en-small");
        let bundle = Bundle::load(&dir.to_string_lossy()).expect("shipped bundle loads");
        Arc::new(Classifier::new(bundle, Config::default()))
    })
    .clone()
}

/// A message as the server would hand it to the knowledge base.
pub struct Prepared {
    pub text: String,
    pub embedding: Array1<f32>,
    pub intent: (String, f32),
    pub emotions: Vec<String>,
    pub negative: bool,
}

pub fn prepare(text: &str, channel: Channel) -> Prepared {
    let clf = classifier();
    let emb: Array2<f32> = clf
        .embed_offline(
            &[(text.to_string(), channel)],
            &triage_core::progress::Silent,
        )
        .expect("embeds");
    let head = |name: &str| {
        clf.heads()
            .iter()
            .find(|h| h.spec.name == name)
            .expect("head")
    };
    let intent_head = head("intent.support");
    let p = intent_head.scores(emb.view()).row(0).to_vec();
    let intent = intent_result(&intent_head.spec, &p, 1);
    let emo_head = head("emotion");
    let e = emotion_result(
        &emo_head.spec,
        &emo_head.scores(emb.view()).row(0).to_vec(),
        "en",
    );
    let opts = NormalizeOptions {
        emoji_to_words: true,
        to_simplified: true,
    };
    Prepared {
        text: text::normalize(text, channel, &opts),
        embedding: emb.row(0).to_owned(),
        intent: (intent.label, intent.confidence),
        negative: e.sentiment.label == "negative",
        emotions: e.labels,
    }
}

/// The real encoder, counting the texts it embeds; `fail` makes it return an error.
pub struct Counting {
    pub inner: Arc<Classifier>,
    pub texts: AtomicUsize,
    pub fail: AtomicBool,
}

impl Counting {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: classifier(),
            texts: AtomicUsize::new(0),
            fail: AtomicBool::new(false),
        })
    }
    pub fn take(&self) -> usize {
        self.texts.swap(0, Ordering::SeqCst)
    }
}

impl Embedder for Counting {
    fn embed(&self, texts: &[String]) -> Result<Array2<f32>, EmbedError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(EmbedError("encoder unavailable (test)".into()));
        }
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        self.inner.embed(texts)
    }
    fn fingerprint(&self) -> String {
        self.inner.fingerprint()
    }
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("triage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
