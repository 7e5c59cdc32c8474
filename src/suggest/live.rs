//! The knowledge base a server answers from. Start-up never fails because of it: a
//! missing or unreadable source leaves the server classifying without suggestions, says
//! so in `/ready` and `/info`, and is tried again every watch interval, so a base mounted
//! after start is picked up without a restart. Once loaded, the same interval polls the
//! files and swaps in a rebuilt base when they change ([`KbHandle::reload_if_changed`]):
//! one background thread for both, stopped when the [`LiveKb`] is dropped.

use crate::kb::{Embedder, KbHandle, KbIssue, KbOptions};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct LiveKb {
    shared: Arc<Shared>,
    worker: Option<Worker>,
}

struct Shared {
    source: PathBuf,
    cache_dir: PathBuf,
    options: KbOptions,
    embedder: Arc<dyn Embedder>,
    /// Intent labels of the model, to warn about articles tagged with anything else.
    labels: Vec<String>,
    handle: RwLock<Option<KbHandle>>,
    /// Why the base could not be loaded at all (while `handle` is `None`).
    load_error: Mutex<Option<String>>,
}

struct Worker {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KbState {
    /// Suggestions are served.
    Ready,
    /// The base could not be loaded (see `error`); retried every watch interval.
    Unavailable,
    /// `suggest.enabled = false`.
    Disabled,
}

/// What `/ready` and `/info` say about the knowledge base.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KbStatus {
    pub state: KbState,
    pub source: String,
    pub articles: usize,
    /// Grows with every version swapped in (0 before the first).
    pub generation: u64,
    /// Whether dense search goes through the approximate (HNSW) index.
    pub approximate: bool,
    /// Articles left out of the version serving now, with file and line.
    #[schema(value_type = Vec<Object>)]
    pub issues: Vec<KbIssue>,
    /// Articles tagged with an intent the model does not have: they never get the
    /// intent boost (usually a typo or a renamed label).
    #[schema(value_type = Vec<Object>)]
    pub unknown_intents: Vec<KbIssue>,
    /// Why the base did not load, or why the last reload failed (the previous version
    /// then keeps serving).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl KbStatus {
    pub fn disabled(source: &Path) -> Self {
        Self {
            state: KbState::Disabled,
            source: source.display().to_string(),
            articles: 0,
            generation: 0,
            approximate: false,
            issues: Vec::new(),
            unknown_intents: Vec::new(),
            error: None,
        }
    }
}

impl LiveKb {
    /// Loads the base now (on the calling thread: the first requests should find it),
    /// then watches it every `options.watch_interval_ms` (never when 0).
    pub fn start(
        source: &Path,
        cache_dir: &Path,
        options: KbOptions,
        embedder: Arc<dyn Embedder>,
        labels: Vec<String>,
    ) -> Self {
        let interval = Duration::from_millis(options.watch_interval_ms);
        let shared = Arc::new(Shared {
            source: source.to_path_buf(),
            cache_dir: cache_dir.to_path_buf(),
            options,
            embedder,
            labels,
            handle: RwLock::new(None),
            load_error: Mutex::new(None),
        });
        shared.try_load();
        let worker = (!interval.is_zero()).then(|| Worker::spawn(shared.clone(), interval));
        Self { shared, worker }
    }

    /// The base serving now, if any.
    pub fn handle(&self) -> Option<KbHandle> {
        self.shared.handle()
    }

    pub fn source(&self) -> &Path {
        &self.shared.source
    }

    /// Checks the files now instead of at the next interval (and retries a base that
    /// did not load). Returns the status afterwards.
    pub fn refresh(&self) -> KbStatus {
        self.shared.tick();
        self.status()
    }

    pub fn status(&self) -> KbStatus {
        let s = &self.shared;
        match s.handle() {
            Some(h) => {
                let kb = h.current();
                KbStatus {
                    state: KbState::Ready,
                    source: s.source.display().to_string(),
                    articles: kb.len(),
                    generation: h.generation(),
                    approximate: kb.is_approximate(),
                    issues: h.issues(),
                    unknown_intents: if s.labels.is_empty() {
                        Vec::new()
                    } else {
                        kb.unknown_intents(&s.labels)
                    },
                    error: h.last_error(),
                }
            }
            None => KbStatus {
                error: s
                    .load_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
                state: KbState::Unavailable,
                ..KbStatus::disabled(&s.source)
            },
        }
    }
}

impl Shared {
    fn handle(&self) -> Option<KbHandle> {
        self.handle
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn tick(&self) {
        match self.handle() {
            // Failures are logged and kept in the handle's last_error.
            Some(h) => {
                let _ = h.reload_if_changed();
            }
            None => self.try_load(),
        }
    }

    fn try_load(&self) {
        let loaded = KbHandle::load(
            &self.source,
            self.embedder.clone(),
            &self.cache_dir,
            self.options.clone(),
        );
        let mut error = self
            .load_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match loaded {
            Ok((handle, issues)) => {
                tracing::info!(
                    source = %self.source.display(),
                    articles = handle.current().len(),
                    issues = issues.len(),
                    "knowledge base loaded"
                );
                *self.handle.write().unwrap_or_else(PoisonError::into_inner) = Some(handle);
                *error = None;
            }
            Err(e) => {
                let message = e.to_string();
                // Retried every interval: log an outage once, not every poll.
                if error.as_deref() != Some(message.as_str()) {
                    tracing::error!(
                        "knowledge base not loaded, serving without suggestions: {message}"
                    );
                }
                *error = Some(message);
            }
        }
    }
}

impl Worker {
    fn spawn(shared: Arc<Shared>, interval: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kb-watcher".into())
            .spawn(move || {
                // Stops on a message or when the sender (the LiveKb) is dropped.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    shared.tick();
                }
            });
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!("cannot start the knowledge-base watcher: {e}");
                None
            }
        };
        Self { stop, thread }
    }
}

impl Drop for LiveKb {
    fn drop(&mut self) {
        if let Some(w) = self.worker.as_mut() {
            let _ = w.stop.send(());
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}
