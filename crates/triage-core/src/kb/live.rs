//! The knowledge base a server answers from, kept live: one [`LiveKb`] loads it, watches
//! its files, reloads it and serves the current version. Each version is an immutable
//! [`KnowledgeBase`]: searches read the current one while a reload builds the next one
//! beside it, and the swap is one pointer write, so editing an article changes the next
//! answer without a restart and without a pause.
//!
//! Start-up neither fails nor waits because of the base: the first load (reading every
//! article and embedding those the disk cache lacks, minutes for a large base on a slow
//! CPU) runs on a background thread, so a server classifies within seconds and reports
//! `indexing` in `/ready` and `/info` until the base serves; suggestions meanwhile answer
//! as for a missing base. A missing or unreadable source leaves the server classifying
//! without suggestions, says so, and is tried again every watch interval, so a base
//! mounted after start is picked up without a restart. Once loaded, the same interval
//! polls the files and swaps in a rebuilt base when they change: one background thread
//! for the first load and the watch ([`crate::watch`]), stopped when the [`LiveKb`] is
//! dropped.
//!
//! Changes are found by polling file modification times and sizes ([`source::stamp`])
//! rather than OS notifications: polling works the same on every filesystem (network and
//! container mounts included) and costs one `stat` per article per interval.
//!
//! A reload that fails as a whole (encoder error, folder gone) keeps the previous version
//! serving and is reported; malformed articles are issues, the rest is swapped in.

use super::base::KnowledgeBase;
use super::embedder::Embedder;
use super::source::{self, Stamp};
use super::{KbError, KbIssue, KbOptions};
use crate::audit::{self, AuditSlot, ReloadAudit, ReloadEvent, Reloadable, BY_WATCH};
use crate::watch::Watcher;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

pub struct LiveKb {
    shared: Arc<Shared>,
    /// The thread of the first load and the watch; `None` when it could not be started,
    /// was stopped, or is not needed (no watch interval after [`LiveKb::load_now`]).
    worker: Option<Watcher>,
}

/// One loaded version as it serves. A request holds one for its whole search, so a reload
/// swapping in the next version cannot mix two versions in one answer.
pub struct Version {
    pub kb: KnowledgeBase,
    /// 1 for the first version loaded, one more for each swapped in since.
    pub generation: u64,
    /// Articles left out of this version, with file and line.
    pub issues: Vec<KbIssue>,
}

/// What the caller's [`LiveKb`] and its background thread share.
struct Shared {
    source: PathBuf,
    cache_dir: PathBuf,
    options: KbOptions,
    embedder: Arc<dyn Embedder>,
    /// Intent labels of the model, to warn about articles tagged with anything else.
    labels: Vec<String>,
    /// The version serving now; `None` until a load succeeds. Write-locked only for the
    /// swap.
    current: RwLock<Option<Arc<Version>>>,
    /// Held for the whole of a load or reload, so two never race: a retry asked for by
    /// `/admin/kb/reload` and the watcher's never embed the same articles twice at once.
    /// Holds the stamp of the files last read.
    loading: Mutex<Option<Stamp>>,
    /// Why the base could not be loaded at all, or why the last reload failed (the
    /// previous version then keeps serving). Behind its own lock: a status request must
    /// not wait for a reload that is embedding articles.
    error: Mutex<Option<String>>,
    /// Whether the first load has finished (whatever its outcome), with a condition
    /// variable for [`LiveKb::wait_indexed`].
    indexed: Mutex<bool>,
    indexed_cv: Condvar,
    /// Told of every reload after the first load (a changed base, a refused one, or a
    /// base that comes back after failing to load).
    audit: AuditSlot,
}

/// What [`LiveKb::reload_if_changed`] did.
#[derive(Debug)]
pub enum ReloadOutcome {
    Unchanged,
    /// A new version serves; these articles were skipped.
    Reloaded {
        issues: Vec<KbIssue>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KbState {
    /// The first load is under way on a background thread (articles read and embedded);
    /// suggestions answer as for an unavailable base until it finishes.
    Indexing,
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
    /// Returns at once and loads the base on a background thread, which then watches it
    /// every `options.watch_interval_ms` (never when 0: the thread ends after the first
    /// load). Until that load finishes, [`Self::status`] says `Indexing` and
    /// [`Self::current`] is `None`.
    pub fn start(
        source: &Path,
        cache_dir: &Path,
        options: KbOptions,
        embedder: Arc<dyn Embedder>,
        labels: Vec<String>,
    ) -> Self {
        let interval = Duration::from_millis(options.watch_interval_ms);
        let shared = Shared::new(source, cache_dir, options, embedder, labels);
        let worker = spawn_worker(shared.clone(), interval, true);
        if worker.is_none() {
            // No thread: load here rather than never.
            shared.first_load();
        }
        Self { shared, worker }
    }

    /// Loads the base on the calling thread before returning, then watches it like
    /// [`Self::start`]: for a one-shot run (`triage classify`) that has nothing to do
    /// until it can search.
    pub fn load_now(
        source: &Path,
        cache_dir: &Path,
        options: KbOptions,
        embedder: Arc<dyn Embedder>,
        labels: Vec<String>,
    ) -> Self {
        let interval = Duration::from_millis(options.watch_interval_ms);
        let shared = Shared::new(source, cache_dir, options, embedder, labels);
        shared.first_load();
        let worker = (!interval.is_zero())
            .then(|| spawn_worker(shared.clone(), interval, false))
            .flatten();
        Self { shared, worker }
    }

    /// Whether the first load is still under way.
    pub fn is_indexing(&self) -> bool {
        !self.shared.is_indexed()
    }

    /// Waits until the first load has finished, whatever its outcome, or `timeout` has
    /// passed. Returns whether it finished.
    pub fn wait_indexed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut done = lock(&self.shared.indexed);
        while !*done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            done = self
                .shared
                .indexed_cv
                .wait_timeout(done, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// The version serving now, if any. Hold it for the duration of one request.
    pub fn current(&self) -> Option<Arc<Version>> {
        self.shared.current()
    }

    /// Grows with every version swapped in (0 before the first).
    pub fn generation(&self) -> u64 {
        self.current().map_or(0, |v| v.generation)
    }

    /// Issues of the version serving now.
    pub fn issues(&self) -> Vec<KbIssue> {
        self.current().map(|v| v.issues.clone()).unwrap_or_default()
    }

    /// Why the base did not load, or why the last reload failed (the previous version
    /// then kept serving).
    pub fn last_error(&self) -> Option<String> {
        self.shared.error().clone()
    }

    pub fn source(&self) -> &Path {
        &self.shared.source
    }

    /// Checks the files now instead of at the next interval (and retries a base that
    /// did not load). Returns the status afterwards; during the first load, at once
    /// (that load reads the files as they are now anyway).
    pub fn refresh(&self) -> KbStatus {
        self.refresh_by("request")
    }

    /// [`Self::refresh`], saying who asked (the audit log's `by`).
    pub fn refresh_by(&self, by: &str) -> KbStatus {
        if self.shared.is_indexed() {
            // Failures are logged, kept in `last_error` and audited by the reload itself.
            let _ = self.reload_if_changed(by);
        }
        self.status()
    }

    /// Rebuilds if any article file was edited, added or removed since the last load,
    /// and loads a base that did not load; `by` is who asked, for the audit log. On
    /// failure the previous version keeps serving. During the first load, waits for it.
    pub fn reload_if_changed(&self, by: &str) -> Result<ReloadOutcome, KbError> {
        self.shared.reload(false, Some(by))
    }

    /// Rebuilds unconditionally (else as [`Self::reload_if_changed`]).
    pub fn reload(&self, by: &str) -> Result<ReloadOutcome, KbError> {
        self.shared.reload(true, Some(by))
    }

    /// Sends every reload after the first load to `audit`.
    pub fn set_audit(&self, audit: Arc<dyn ReloadAudit>) {
        self.shared.audit.set(audit);
    }

    pub fn status(&self) -> KbStatus {
        let s = &self.shared;
        // Read before the version: the first load puts its version in place before it
        // says it is done, so a base seen as not indexed yet is never reported missing.
        let indexed = s.is_indexed();
        match s.current() {
            Some(v) => KbStatus {
                state: KbState::Ready,
                source: s.source.display().to_string(),
                articles: v.kb.len(),
                generation: v.generation,
                approximate: v.kb.is_approximate(),
                issues: v.issues.clone(),
                unknown_intents: if s.labels.is_empty() {
                    Vec::new()
                } else {
                    v.kb.unknown_intents(&s.labels)
                },
                error: s.error().clone(),
            },
            None if !indexed => KbStatus {
                state: KbState::Indexing,
                ..KbStatus::disabled(&s.source)
            },
            None => KbStatus {
                error: s.error().clone(),
                state: KbState::Unavailable,
                ..KbStatus::disabled(&s.source)
            },
        }
    }

    /// Whether the watch thread runs.
    pub fn is_watching(&self) -> bool {
        self.worker.as_ref().is_some_and(Watcher::is_running)
    }

    /// Stops the watch (the files are then read again only when asked to) and waits for
    /// it, except during the first load: an embedding pass cannot be interrupted, and a
    /// server dropped while it indexes (shut down early, a bundle that failed to load, a
    /// test) should not wait minutes for it. The thread then ends on its own when that
    /// load is done.
    pub fn stop_watching(&mut self) {
        if let Some(w) = self.worker.take() {
            let wait = self.shared.is_indexed() || w.is_finished();
            w.stop(wait);
        }
    }
}

impl Drop for LiveKb {
    /// Stops the watch as [`LiveKb::stop_watching`] does.
    fn drop(&mut self) {
        self.stop_watching();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn new(
        source: &Path,
        cache_dir: &Path,
        options: KbOptions,
        embedder: Arc<dyn Embedder>,
        labels: Vec<String>,
    ) -> Arc<Self> {
        Arc::new(Shared {
            source: source.to_path_buf(),
            cache_dir: cache_dir.to_path_buf(),
            options,
            embedder,
            labels,
            current: RwLock::new(None),
            loading: Mutex::new(None),
            error: Mutex::new(None),
            indexed: Mutex::new(false),
            indexed_cv: Condvar::new(),
            audit: AuditSlot::default(),
        })
    }

    fn current(&self) -> Option<Arc<Version>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn error(&self) -> MutexGuard<'_, Option<String>> {
        lock(&self.error)
    }

    fn is_indexed(&self) -> bool {
        *lock(&self.indexed)
    }

    /// The first load; `Indexing` ends with it, whether the base loaded or not.
    fn first_load(&self) {
        let started = Instant::now();
        let _ = self.reload(false, None);
        *lock(&self.indexed) = true;
        self.indexed_cv.notify_all();
        let encoder = self.current().map(|v| {
            v.kb.fingerprint()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string()
        });
        tracing::info!(
            source = %self.source.display(),
            encoder = encoder.as_deref().unwrap_or("-"),
            loaded = encoder.is_some(),
            secs = started.elapsed().as_secs_f64(),
            "first knowledge-base indexing done"
        );
    }

    /// The watch's check.
    fn tick(&self) {
        // Until the first load is done (on this same thread), there is nothing to check.
        if self.is_indexed() {
            // Failures are logged, kept in `error` and audited by the reload itself.
            let _ = self.reload(false, Some(BY_WATCH));
        }
    }

    /// Loads the base when none serves, else rebuilds it when its files changed (or
    /// always, when `force`), under the `loading` lock. Every load but the first
    /// (`by: None`) goes to the audit: a base swapped in (one that comes back after
    /// failing to load included) and a refused reload; a base that still fails to load
    /// was reported when it first failed.
    fn reload(&self, force: bool, by: Option<&str>) -> Result<ReloadOutcome, KbError> {
        let mut seen = lock(&self.loading);
        let previous = self.current();
        let hash = |kb: &KnowledgeBase| Some(kb.content_hash().to_string());
        let before = previous.as_ref().and_then(|v| hash(&v.kb));
        let record = |outcome, after: Option<String>, error: Option<String>| {
            if let Some(by) = by {
                self.audit.record(ReloadEvent {
                    what: Reloadable::Kb,
                    file: self.source.display().to_string(),
                    by: by.to_string(),
                    outcome,
                    sha256_before: before.clone(),
                    sha256_after: after,
                    error,
                });
            }
        };
        // `read`: whether the files were read (a source that cannot even be listed was
        // not, and a base that serves keeps quiet about it beyond the status and audit).
        let loaded = match source::stamp(&self.source) {
            Err(e) => Err((e, false)),
            Ok(stamp) if !force && previous.is_some() && seen.as_ref() == Some(&stamp) => {
                return Ok(ReloadOutcome::Unchanged);
            }
            Ok(stamp) => {
                // Remember the stamp whatever the outcome: retrying the same broken files
                // every interval would only repeat the error; the next edit retries. (A
                // base that serves nothing is retried every interval anyway.)
                *seen = Some(stamp);
                KnowledgeBase::load_reusing(
                    &self.source,
                    self.embedder.as_ref(),
                    &self.cache_dir,
                    &self.options,
                    previous.as_ref().map(|v| &v.kb),
                )
                .map_err(|e| (e, true))
            }
        };
        match loaded {
            Ok((kb, issues)) => {
                match &previous {
                    None => tracing::info!(
                        source = %self.source.display(),
                        encoder = kb.fingerprint().split(':').next().unwrap_or(""),
                        articles = kb.len(),
                        issues = issues.len(),
                        "knowledge base loaded"
                    ),
                    Some(_) => tracing::info!(
                        "knowledge base {} reloaded ({} issues)",
                        self.source.display(),
                        issues.len()
                    ),
                }
                let version = Arc::new(Version {
                    kb,
                    generation: previous.as_ref().map_or(0, |v| v.generation) + 1,
                    issues: issues.clone(),
                });
                let after = hash(&version.kb);
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(version);
                *self.error() = None;
                record(audit::ReloadOutcome::Reloaded, after, None);
                Ok(ReloadOutcome::Reloaded { issues })
            }
            Err((e, _)) if previous.is_none() => {
                let message = e.to_string();
                let mut error = self.error();
                // Retried every interval: log an outage once, not every poll.
                if error.as_deref() != Some(message.as_str()) {
                    tracing::error!(
                        "knowledge base not loaded, serving without suggestions: {message}"
                    );
                }
                *error = Some(message);
                Err(e)
            }
            Err((e, read)) => {
                if read {
                    tracing::error!(
                        "knowledge base {} not reloaded, previous version keeps serving: {e}",
                        self.source.display()
                    );
                }
                let message = e.to_string();
                *self.error() = Some(message.clone());
                // The refused files are not hashed (the load failed part-way).
                record(audit::ReloadOutcome::Rejected, None, Some(message));
                Err(e)
            }
        }
    }
}

/// The first load (when `load_first`) and the watch, on one thread ([`crate::watch`]);
/// `None` when the thread cannot be started (logged).
fn spawn_worker(shared: Arc<Shared>, interval: Duration, load_first: bool) -> Option<Watcher> {
    let first = shared.clone();
    let started = crate::watch::spawn(
        "kb-watcher",
        interval,
        move || {
            if load_first {
                first.first_load();
            }
        },
        move || {
            shared.tick();
            true
        },
    );
    match started {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!("cannot start the knowledge-base thread: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::EmbedError;
    use crate::suggest::{Found, Lookup, Want};
    use crate::text::Channel;
    use ndarray::Array2;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Fixed vectors, held back until `open`, counting the texts embedded.
    #[derive(Default)]
    struct Held {
        open: Mutex<bool>,
        cv: Condvar,
        texts: AtomicUsize,
    }

    impl Held {
        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.cv.notify_all();
        }
    }

    impl Embedder for Held {
        fn embed(&self, texts: &[String]) -> Result<Array2<f32>, EmbedError> {
            let open = self.open.lock().unwrap();
            let (open, _) = self
                .cv
                .wait_timeout_while(open, Duration::from_secs(60), |o| !*o)
                .unwrap();
            if !*open {
                return Err(EmbedError("never opened".into()));
            }
            self.texts.fetch_add(texts.len(), Ordering::SeqCst);
            let mut out = Array2::zeros((texts.len(), 4));
            for (i, mut row) in out.outer_iter_mut().enumerate() {
                row[i % 4] = 1.0;
            }
            Ok(out)
        }
        fn fingerprint(&self) -> String {
            "held@1".into()
        }
    }

    fn base(name: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("triage-live-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let kb = dir.join("kb");
        std::fs::create_dir_all(&kb).unwrap();
        std::fs::write(
            kb.join("refund.md"),
            "---\nid: refund\ntitle: Refunds\nintents: [get_refund]\nlanguage: en\ntype: answer\nupdated: 2026-10-20\n---\n\nRefunds take five days.\n",
        )
        .unwrap();
        (kb, dir.join("cache"))
    }

    fn search(kb: &LiveKb) -> Result<Found, crate::error::TriageError> {
        let embedding = ndarray::arr1(&[1.0f32, 0.0, 0.0, 0.0]);
        let l = Lookup {
            text: "refund",
            embedding: Some(embedding.view()),
            channel: Channel::Chat,
            lang: "en",
            model_covers_lang: true,
            intent: None,
            emotion: None,
            upset_before: false,
        };
        kb.lookup(
            &l,
            Want {
                bot: false,
                agent_k: 3,
            },
        )
    }

    #[test]
    fn start_returns_at_once_and_reports_indexing_until_the_first_load() {
        let (source, cache) = base("start");
        let held = Arc::new(Held::default());
        let options = KbOptions {
            watch_interval_ms: 0,
            ..KbOptions::default()
        };
        let kb = LiveKb::start(&source, &cache, options, held.clone(), Vec::new());
        assert!(kb.is_indexing());
        assert_eq!(kb.status().state, KbState::Indexing);
        let err = search(&kb).unwrap_err().to_string();
        assert!(err.contains("still being indexed"), "{err}");
        // A refresh during the first load does not wait for it.
        assert_eq!(kb.refresh().state, KbState::Indexing);
        assert!(!kb.wait_indexed(Duration::from_millis(20)));
        held.open();
        assert!(kb.wait_indexed(Duration::from_secs(60)));
        assert_eq!(kb.status().state, KbState::Ready);
        assert_eq!(kb.status().articles, 1);
        assert!(!search(&kb).unwrap().agent.is_empty());
        assert!(held.texts.load(Ordering::SeqCst) > 0);
        drop(kb);

        // Loaded now, from the disk cache: nothing embedded again.
        let again = Arc::new(Held::default());
        let options = KbOptions {
            watch_interval_ms: 0,
            ..KbOptions::default()
        };
        let kb = LiveKb::load_now(&source, &cache, options, again.clone(), Vec::new());
        assert!(!kb.is_indexing());
        assert_eq!(kb.status().state, KbState::Ready);
        assert_eq!(again.texts.load(Ordering::SeqCst), 0);
        let _ = std::fs::remove_dir_all(source.parent().unwrap());
    }

    #[test]
    fn a_missing_base_ends_indexing_as_unavailable_and_drop_does_not_wait_for_a_load() {
        let (source, cache) = base("missing");
        let held = Arc::new(Held::default());
        held.open();
        let missing = source.join("nope");
        let kb = LiveKb::start(&missing, &cache, KbOptions::default(), held, Vec::new());
        assert!(kb.wait_indexed(Duration::from_secs(60)));
        let status = kb.status();
        assert_eq!(status.state, KbState::Unavailable);
        assert!(status.error.is_some_and(|e| e.contains("not found")));
        let err = search(&kb).unwrap_err().to_string();
        assert!(err.contains("not loaded"), "{err}");
        drop(kb);

        // Dropped while the first load waits in the embedder: returns at once.
        let held = Arc::new(Held::default());
        let kb = LiveKb::start(
            &source,
            &cache,
            KbOptions::default(),
            held.clone(),
            Vec::new(),
        );
        let started = Instant::now();
        drop(kb);
        assert!(started.elapsed() < Duration::from_secs(5));
        held.open();
        let _ = std::fs::remove_dir_all(source.parent().unwrap());
    }
}
