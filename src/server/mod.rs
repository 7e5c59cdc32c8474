//! The HTTP layer: thin handlers, one file per resource, over [`Classifier`]s — one per
//! served bundle ([`Bundles`]). The server listens at once and loads the models in the
//! background, so `/health` answers during start-up and `/ready` turns 200 only when
//! every bundle is loaded and warmed up.

mod admin;
mod classify;
mod conversations;
mod docs;
mod embed;
pub mod error;
mod feedback;
mod health;
mod info;
mod metrics;
mod suggest;

use crate::bundles::{Bundles, BundlesError, Served};
use crate::classify::Classifier;
use crate::config::Config;
use crate::error::TriageError;
use crate::policy::{HandoffService, PolicyError};
use crate::suggest::{KbStatus, LiveKb};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// Every bundle with its knowledge base, set once all are loaded and warmed up.
    bundles: Arc<OnceLock<Arc<Bundles>>>,
    /// Policy and conversation memory; set before the model loads, so a bad policy
    /// file stops start-up early.
    handoff: Arc<OnceLock<Arc<HandoffService>>>,
    prometheus: metrics_exporter_prometheus::PrometheusHandle,
}

/// Why a server could not start serving.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Bundle(#[from] crate::model::BundleError),
    #[error(transparent)]
    Bundles(#[from] BundlesError),
}

impl AppState {
    pub fn new(config: Config) -> Self {
        Self {
            config: Arc::new(config),
            bundles: Arc::new(OnceLock::new()),
            handoff: Arc::new(OnceLock::new()),
            prometheus: metrics::handle(),
        }
    }

    /// Every served bundle, or 503 `not_ready` while they load.
    pub fn bundles(&self) -> Result<&Arc<Bundles>, ApiError> {
        self.bundles.get().ok_or(ApiError(TriageError::NotReady))
    }

    /// The default bundle's classifier, or 503 `not_ready` while the models load.
    pub fn classifier(&self) -> Result<&Arc<Classifier>, ApiError> {
        Ok(&self.bundles()?.default_bundle().classifier)
    }

    pub fn is_ready(&self) -> bool {
        self.bundles.get().is_some()
    }

    /// Installs the loaded and warmed-up bundles; the server is ready from here on.
    pub fn set_bundles(&self, b: Bundles) {
        let _ = self.bundles.set(Arc::new(b));
    }

    /// Policy and conversation memory, or 503 `not_ready` before start-up set them.
    pub fn handoff(&self) -> Result<&Arc<HandoffService>, ApiError> {
        self.handoff.get().ok_or(ApiError(TriageError::NotReady))
    }

    pub fn set_handoff(&self, h: Arc<HandoffService>) {
        let _ = self.handoff.set(h);
    }

    /// The default bundle's knowledge base, when suggestions are enabled and the models
    /// have loaded (the base itself may still be unavailable: see [`LiveKb::status`]).
    pub fn kb(&self) -> Option<&Arc<LiveKb>> {
        self.bundles.get()?.default_bundle().kb.as_ref()
    }

    /// For `/ready` and `/info` (the default bundle's base); `None` while loading.
    pub fn kb_status(&self) -> Option<KbStatus> {
        let served = self.bundles.get()?.default_bundle();
        Some(self.kb_status_of(served))
    }

    /// What one bundle's knowledge base is doing.
    pub fn kb_status_of(&self, served: &Served) -> KbStatus {
        match &served.kb {
            Some(kb) => kb.status(),
            None => KbStatus::disabled(&self.config.kb),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes();
    Router::new()
        .route("/v1/classify", post(classify::classify))
        .route("/v1/embed", post(embed::embed))
        .route("/v1/suggest", post(suggest::suggest))
        .route("/v1/feedback", post(feedback::feedback))
        .route("/v1/conversations/{id}", get(conversations::get))
        .route("/admin/policy", get(admin::policy))
        .route("/admin/policy/reload", post(admin::reload))
        .route("/admin/kb", get(admin::kb))
        .route("/admin/kb/reload", post(admin::kb_reload))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/info", get(info::info))
        .route("/metrics", get(metrics::render))
        .route("/docs", get(docs::page))
        .route("/openapi.json", get(docs::openapi))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError(TriageError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    )))
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError(TriageError::Internal("the request handler panicked".into())).into_response()
}

/// Counts and times every request by route and status, and tells clients when to retry.
/// Logs carry the route, status and latency, never the message text.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let mut resp = next.run(req).await;
    let status = resp.status();
    let secs = started.elapsed().as_secs_f64();
    let labels = [
        ("route", route.clone()),
        ("method", method),
        ("status", status.as_u16().to_string()),
    ];
    ::metrics::counter!("triage_http_requests_total", &labels).increment(1);
    ::metrics::histogram!("triage_http_request_duration_seconds", "route" => route.clone())
        .record(secs);
    if status.is_client_error() || status.is_server_error() {
        ::metrics::counter!("triage_http_errors_total", &labels).increment(1);
    }
    let retry = match status {
        StatusCode::TOO_MANY_REQUESTS => Some(state.config.limits.retry_after_secs),
        StatusCode::SERVICE_UNAVAILABLE => Some(1),
        _ => None,
    };
    if let Some(s) = retry {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s.max(1)));
    }
    tracing::debug!(route, status = status.as_u16(), ms = secs * 1e3, "request");
    resp
}

/// Loads the handoff policy (watching its file) and conversation memory, then every
/// configured bundle in order: each is warmed up and gets its own knowledge-base index
/// (which may fail without stopping anything: that bundle then classifies without
/// suggestions). The state turns ready only when all are loaded.
pub fn load_model(state: &AppState) -> Result<(), StartupError> {
    let handoff = match state.handoff.get() {
        Some(h) => h.clone(),
        None => {
            let h = Arc::new(HandoffService::from_config(&state.config, true)?);
            state.set_handoff(h.clone());
            h
        }
    };
    if state.is_ready() {
        return Ok(());
    }
    let served = state
        .config
        .models()
        .iter()
        .map(|m| load_one(state, &handoff, m))
        .collect::<Result<Vec<_>, _>>()?;
    state.set_bundles(Bundles::new(served)?);
    Ok(())
}

/// One bundle: classifier, warm-up, knowledge base.
fn load_one(
    state: &AppState,
    handoff: &Arc<HandoffService>,
    model: &str,
) -> Result<Served, StartupError> {
    let started = Instant::now();
    let bundle = crate::model::Bundle::load(model)?;
    let unknown = handoff.policy().get().unknown_labels(&bundle.manifest);
    if !unknown.is_empty() {
        tracing::warn!(model = %bundle.manifest.name, labels = %unknown.join(", "), "the policy names labels this model does not have");
    }
    let classifier =
        Arc::new(Classifier::new(bundle, (*state.config).clone()).with_handoff(handoff.clone()));
    classifier.warm_up();
    let kb = state.config.suggest.enabled.then(|| {
        let labels: Vec<String> = classifier
            .heads()
            .iter()
            .filter(|h| h.spec.name.starts_with("intent."))
            .flat_map(|h| h.spec.labels.iter().cloned())
            .collect();
        // The disk cache is keyed by the bundle's fingerprint: one file per bundle.
        Arc::new(LiveKb::start(
            &state.config.kb,
            &state.config.suggest.cache_dir(),
            state.config.suggest.search.clone(),
            classifier.clone(),
            labels,
        ))
    });
    tracing::info!(
        model = %classifier.manifest.name,
        version = %classifier.manifest.version,
        secs = started.elapsed().as_secs_f64(),
        "model loaded and warmed up"
    );
    Ok(Served { classifier, kb })
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests
/// finish (at most `shutdown_grace_secs`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = std::time::Duration::from_secs(state.config.limits.shutdown_grace_secs);
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopped_tx.send(());
    });
    let server = tokio::spawn(async move { server.await });
    tokio::select! {
        res = server => res.map_err(std::io::Error::other)?,
        _ = async {
            let _ = stopped_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("in-flight requests did not finish within the grace period");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
