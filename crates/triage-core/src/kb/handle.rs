//! The live knowledge base of a server: searches read the current version while a
//! reload builds the next one beside it, and the swap is one pointer write, so editing
//! an article changes the next answer without a restart and without a pause.
//!
//! Changes are found by polling file modification times and sizes ([`source::stamp`])
//! rather than OS notifications: polling works the same on every filesystem (network and
//! container mounts included) and costs one `stat` per article per interval.
//!
//! A reload that fails as a whole (encoder error, folder gone) keeps the previous version
//! serving and is reported; malformed articles are issues, the rest is swapped in.

use super::base::KnowledgeBase;
use super::embedder::Embedder;
use super::search::{Query, SearchError, Suggestion};
use super::source::{self, Stamp};
use super::{KbError, KbIssue, KbOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

#[derive(Clone)]
pub struct KbHandle {
    inner: Arc<Inner>,
}

struct Inner {
    source: PathBuf,
    cache_dir: PathBuf,
    options: KbOptions,
    embedder: Arc<dyn Embedder>,
    current: RwLock<Arc<KnowledgeBase>>,
    /// Held for the whole of a reload, so two reloads never race.
    state: Mutex<State>,
    /// What the last reload found, behind its own lock: a status request must not wait
    /// for a reload that is embedding articles.
    report: Mutex<Report>,
    generation: AtomicU64,
}

struct State {
    stamp: Option<Stamp>,
}

struct Report {
    issues: Vec<KbIssue>,
    last_error: Option<String>,
}

/// What [`KbHandle::reload_if_changed`] did.
#[derive(Debug)]
pub enum ReloadOutcome {
    Unchanged,
    /// A new version serves; these articles were skipped.
    Reloaded {
        issues: Vec<KbIssue>,
    },
}

impl KbHandle {
    /// Loads the knowledge base (see [`KnowledgeBase::load`]).
    pub fn load(
        source: &Path,
        embedder: Arc<dyn Embedder>,
        cache_dir: &Path,
        options: KbOptions,
    ) -> Result<(KbHandle, Vec<KbIssue>), KbError> {
        let stamp = source::stamp(source)?;
        let (kb, issues) = KnowledgeBase::load(source, embedder.as_ref(), cache_dir, &options)?;
        let handle = KbHandle {
            inner: Arc::new(Inner {
                source: source.to_path_buf(),
                cache_dir: cache_dir.to_path_buf(),
                options,
                embedder,
                current: RwLock::new(Arc::new(kb)),
                state: Mutex::new(State { stamp: Some(stamp) }),
                report: Mutex::new(Report {
                    issues: issues.clone(),
                    last_error: None,
                }),
                generation: AtomicU64::new(1),
            }),
        };
        Ok((handle, issues))
    }

    /// The version serving now. Hold it for the duration of one request.
    pub fn current(&self) -> Arc<KnowledgeBase> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn search(&self, q: &Query) -> Result<Vec<Suggestion>, SearchError> {
        self.current().search(q)
    }

    /// Issues of the version serving now.
    pub fn issues(&self) -> Vec<KbIssue> {
        self.report().issues.clone()
    }

    /// Why the last reload failed, if it did (the previous version kept serving).
    pub fn last_error(&self) -> Option<String> {
        self.report().last_error.clone()
    }

    /// Increases with every version swapped in.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    fn report(&self) -> std::sync::MutexGuard<'_, Report> {
        self.inner
            .report
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn source(&self) -> &Path {
        &self.inner.source
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Rebuilds if any article file was edited, added or removed since the last load.
    /// On failure the previous version keeps serving.
    pub fn reload_if_changed(&self) -> Result<ReloadOutcome, KbError> {
        let mut state = self.state();
        let stamp = match source::stamp(&self.inner.source) {
            Ok(s) => s,
            Err(e) => {
                self.report().last_error = Some(e.to_string());
                return Err(e);
            }
        };
        if state.stamp.as_ref() == Some(&stamp) {
            return Ok(ReloadOutcome::Unchanged);
        }
        self.rebuild(&mut state, stamp)
    }

    /// Rebuilds unconditionally.
    pub fn reload(&self) -> Result<ReloadOutcome, KbError> {
        let mut state = self.state();
        let stamp = source::stamp(&self.inner.source)?;
        self.rebuild(&mut state, stamp)
    }

    fn rebuild(&self, state: &mut State, stamp: Stamp) -> Result<ReloadOutcome, KbError> {
        let previous = self.current();
        let result = KnowledgeBase::load_reusing(
            &self.inner.source,
            self.inner.embedder.as_ref(),
            &self.inner.cache_dir,
            &self.inner.options,
            Some(&previous),
        );
        match result {
            Ok((kb, issues)) => {
                *self
                    .inner
                    .current
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Arc::new(kb);
                state.stamp = Some(stamp);
                *self.report() = Report {
                    issues: issues.clone(),
                    last_error: None,
                };
                self.inner.generation.fetch_add(1, Ordering::SeqCst);
                tracing::info!(
                    "knowledge base {} reloaded ({} issues)",
                    self.inner.source.display(),
                    issues.len()
                );
                Ok(ReloadOutcome::Reloaded { issues })
            }
            Err(e) => {
                // Remember the stamp anyway: retrying the same broken files every
                // interval would only repeat the error; the next edit retries.
                state.stamp = Some(stamp);
                self.report().last_error = Some(e.to_string());
                tracing::error!(
                    "knowledge base {} not reloaded, previous version keeps serving: {e}",
                    self.inner.source.display()
                );
                Err(e)
            }
        }
    }

    /// Polls for changes every `interval` on a background thread ([`crate::watch`])
    /// until the returned watcher is dropped.
    pub fn watch(&self, interval: Duration) -> KbWatcher {
        let handle = self.clone();
        let check = move || {
            // Errors are logged and kept in last_error by the reload itself.
            let _ = handle.reload_if_changed();
            true
        };
        crate::watch::spawn("kb-watcher", interval, || {}, check).unwrap_or_else(|e| {
            tracing::error!("cannot start the knowledge-base watcher: {e}");
            KbWatcher::none()
        })
    }
}

/// Stops the watcher thread when dropped.
pub type KbWatcher = crate::watch::Watcher;
