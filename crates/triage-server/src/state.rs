//! The application state every handler gets: the configuration, the served bundles
//! (set once loaded), the handoff service, the Prometheus handle, and authentication
//! with its audit log.

use crate::auth::audit::AuditLog;
use crate::auth::{Auth, AuthError};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use triage_core::bundles::{Bundles, Served};
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::error::TriageError;
use triage_core::kb::{Embedder, KbStatus, LiveKb};
use triage_core::policy::HandoffService;

#[derive(Clone)]
pub struct AppState {
    pub(crate) config: Arc<Config>,
    /// Every bundle with its knowledge base, set once all are loaded and warmed up.
    bundles: Arc<OnceLock<Arc<Bundles>>>,
    /// Policy and conversation memory; set before the model loads, so a bad policy
    /// file stops start-up early.
    pub(crate) handoff: Arc<OnceLock<Arc<HandoffService>>>,
    pub(crate) prometheus: metrics_exporter_prometheus::PrometheusHandle,
    /// What each bundle's knowledge base is indexed with; the classifier itself unless
    /// [`AppState::with_kb_embedder`] says otherwise.
    pub(crate) kb_embedder: Option<Arc<KbEmbedderFn>>,
    /// API keys and roles, set by `serve` once it knows the address it listens on.
    auth: Arc<OnceLock<Arc<Auth>>>,
    /// The audit log (`auth.audit_log`), also told of policy and knowledge-base reloads.
    pub(crate) audit: Arc<AuditLog>,
}

/// Makes the embedder of a bundle's knowledge base from its classifier.
pub type KbEmbedderFn = dyn Fn(&Arc<Classifier>) -> Arc<dyn Embedder> + Send + Sync;

impl AppState {
    pub fn new(config: Config) -> Self {
        let audit = Arc::new(AuditLog::new(config.auth.audit_log.as_deref()));
        Self {
            audit,
            auth: Arc::new(OnceLock::new()),
            config: Arc::new(config),
            bundles: Arc::new(OnceLock::new()),
            handoff: Arc::new(OnceLock::new()),
            prometheus: crate::recorder::handle(),
            kb_embedder: None,
        }
    }

    /// Indexes every bundle's knowledge base with what `wrap` makes of its classifier
    /// instead of the classifier itself: for tests that hold indexing back or count the
    /// texts embedded. The wrapper must give the classifier's vectors and fingerprint,
    /// since queries are embedded by the classifier.
    pub fn with_kb_embedder(
        mut self,
        wrap: impl Fn(&Arc<Classifier>) -> Arc<dyn Embedder> + Send + Sync + 'static,
    ) -> Self {
        self.kb_embedder = Some(Arc::new(wrap));
        self
    }

    /// Starts authentication for a server listening on `addr` (see `Auth::start`);
    /// once per state, later calls keep the first.
    pub fn start_auth(&self, addr: SocketAddr) -> Result<(), AuthError> {
        if self.auth.get().is_none() {
            let auth = Auth::start(&self.config.auth, addr, self.audit.clone())?;
            let _ = self.auth.set(Arc::new(auth));
        }
        Ok(())
    }

    pub(crate) fn auth(&self) -> Option<&Arc<Auth>> {
        self.auth.get()
    }

    /// Every served bundle, or 503 `not_ready` while they load.
    pub(crate) fn bundles(&self) -> Result<&Arc<Bundles>, TriageError> {
        self.bundles.get().ok_or(TriageError::NotReady)
    }

    /// The default bundle's classifier, or 503 `not_ready` while the models load.
    pub(crate) fn classifier(&self) -> Result<&Arc<Classifier>, TriageError> {
        Ok(&self.bundles()?.default_bundle().classifier)
    }

    pub fn is_ready(&self) -> bool {
        self.bundles.get().is_some()
    }

    /// Installs the loaded and warmed-up bundles; the server is ready from here on.
    pub(crate) fn set_bundles(&self, b: Bundles) {
        let _ = self.bundles.set(Arc::new(b));
    }

    /// Policy and conversation memory, or 503 `not_ready` before start-up set them.
    pub(crate) fn handoff(&self) -> Result<&Arc<HandoffService>, TriageError> {
        self.handoff.get().ok_or(TriageError::NotReady)
    }

    pub(crate) fn set_handoff(&self, h: Arc<HandoffService>) {
        let _ = self.handoff.set(h);
    }

    /// The default bundle's knowledge base, when suggestions are enabled and the models
    /// have loaded (the base itself may still be indexing or unavailable: see
    /// [`LiveKb::status`]).
    pub(crate) fn kb(&self) -> Option<&Arc<LiveKb>> {
        self.bundles.get()?.default_bundle().kb.as_ref()
    }

    /// For `/ready` and `/info` (the default bundle's base); `None` while loading.
    pub(crate) fn kb_status(&self) -> Option<KbStatus> {
        let served = self.bundles.get()?.default_bundle();
        Some(self.kb_status_of(served))
    }

    /// What one bundle's knowledge base is doing.
    pub(crate) fn kb_status_of(&self, served: &Served) -> KbStatus {
        match &served.kb {
            Some(kb) => kb.status(),
            None => KbStatus::disabled(&self.config.kb),
        }
    }
}
