//! triage-server: the HTTP layer of triage, a customer-service NLU inference server, built
//! on `triage-core`. Thin handlers, one file per resource, over `Classifier`s — one per
//! served bundle (`Bundles`). The server listens at once and loads the models in the
//! background, all at the same time, so `/health` answers during start-up and `/ready`
//! turns 200 as soon as every bundle is loaded and warmed up. Knowledge bases are indexed
//! after that, in the background: `/ready` does not wait for them (`LiveKb`).
//! Every route but the probes and the docs needs an API key with a role ([`auth`]),
//! checked by one middleware.
//!
//! # Public API
//!
//! What the `triage serve` command (and any other embedder) needs to run the server:
//! [`AppState`] (configuration and what is loaded), [`load_model`] (policy, bundles,
//! knowledge bases), [`serve`] (with [`shutdown_signal`]), [`auth`] (API keys and the
//! audit log) and [`telemetry`] (OTLP traces).
//!
//! # Modules, in request order
//!
//! A request passes the middleware (`telemetry` → `observe` → `guard`: authentication,
//! roles, limits), then one handler: `classify`, `embed`, `suggest`, `feedback`,
//! `conversations`, `admin` (policy and knowledge-base reloads), `health`, `info`,
//! `metrics`, `docs` (OpenAPI); `compat` speaks other servers' APIs and `console` serves
//! the agent console. `error` turns a `TriageError` into the JSON error body, `state`
//! holds [`AppState`], `listen` bounds connections and `recorder` is the process's one
//! Prometheus recorder (rendered by `metrics`).

#![warn(unreachable_pub)]

mod admin;
pub mod auth;
mod classify;
mod compat;
mod console;
mod conversations;
mod docs;
mod embed;
mod error;
mod feedback;
mod guard;
mod health;
mod info;
mod listen;
mod metrics;
mod recorder;
mod state;
mod suggest;
pub mod telemetry;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
pub use state::{AppState, KbEmbedderFn};
use std::sync::Arc;
use std::time::Instant;
use triage_core::bundles::{Bundles, BundlesError, Served};
use triage_core::classify::Classifier;
use triage_core::error::TriageError;
use triage_core::kb::{Embedder, LiveKb};
use triage_core::policy::{HandoffService, PolicyError};

/// Why a server could not start serving.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Bundle(#[from] triage_core::model::BundleError),
    #[error(transparent)]
    Bundles(#[from] BundlesError),
}

/// Every route of the HTTP API over `state`, with its body limit, CORS, authentication
/// and metrics layers: what `serve` listens with, and what an application embedding
/// triage can mount (or `nest`) in its own axum router.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes();
    let cors = state.auth().and_then(|a| a.cors());
    let app = Router::new()
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
        // Kubernetes' names for the same probes.
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        // Other servers' APIs (compat/): TEI, OpenAI embeddings, Rasa, Dialogflow CX.
        .route("/predict", post(compat::tei::predict))
        .route("/embed", post(compat::tei::embed))
        .route("/rerank", post(compat::tei::rerank))
        .route("/tokenize", post(compat::tei::tokenize))
        .route("/v1/embeddings", post(compat::openai::embeddings))
        .route("/model/parse", post(compat::rasa::parse))
        .route(
            "/integrations/dialogflow-cx",
            post(compat::dialogflow::webhook),
        )
        // The agent console (console/): the page and its JSON and event routes.
        .route("/console", get(console::page::html))
        .route("/console/app.js", get(console::page::js))
        .route("/console/app.css", get(console::page::css))
        .route("/console/login", get(console::page::login))
        .route("/console/login.js", get(console::page::login_js))
        .route("/console/api/queue", get(console::queue::queue))
        .route("/console/api/overview", get(console::overview::overview))
        .route("/console/api/events", get(console::events::events))
        .route(
            "/console/session",
            post(console::session::open).delete(console::session::close),
        )
        .route("/info", get(info::info))
        .route("/metrics", get(metrics::render))
        .route("/docs", get(docs::page))
        .route("/openapi.json", get(docs::openapi))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            telemetry::trace_request,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ));
    // Outermost, so that a browser's preflight is answered before any key is asked for.
    let app = match cors {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.with_state(state)
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
    // Label values come from a closed set, so no client can grow the metrics: the
    // route's pattern (never the path itself) or `other`, a standard method or `other`.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    let method = method_label(req.method());
    let mut resp = next.run(req).await;
    let status = resp.status();
    let secs = started.elapsed().as_secs_f64();
    let labels = [
        ("route", route.clone()),
        ("method", method.to_string()),
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

/// The methods the `method` label names; any other is `other`.
const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT",
];

fn method_label(method: &axum::http::Method) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method.as_str())
        .copied()
        .unwrap_or("other")
}

/// Loads the handoff policy (watching its file) and conversation memory, then every
/// configured bundle at the same time (one thread each; every encoder has its own thread
/// pool), so start-up takes as long as the slowest bundle rather than the sum. Each is
/// warmed up; then each gets its own knowledge-base index, built in the background (it
/// may fail without stopping anything: that bundle then classifies without suggestions).
/// The state turns ready when every bundle is loaded, without waiting for the indexes.
/// The bundles keep the configured order; when several fail, the error is the first's in
/// that order.
pub fn load_model(state: &AppState) -> Result<(), StartupError> {
    let handoff = match state.handoff.get() {
        Some(h) => h.clone(),
        None => {
            let h = Arc::new(HandoffService::from_config(&state.config, true)?);
            h.policy().set_audit(Arc::new(auth::audit::ReloadAuditor {
                log: state.audit.clone(),
                model: None,
            }));
            state.set_handoff(h.clone());
            h
        }
    };
    if state.is_ready() {
        return Ok(());
    }
    let started = Instant::now();
    let classifiers = in_parallel(&state.config.models(), |m| load_one(state, &handoff, m))?;
    let without_kb = |c: &Arc<Classifier>| Served {
        classifier: c.clone(),
        kb: None,
    };
    // Names are checked before any index starts work for nothing.
    Bundles::new(classifiers.iter().map(without_kb).collect())?;
    // Indexing starts only now, so that it does not compete for the cores with bundles
    // still loading (`/ready` waits for those, not for it).
    let served = classifiers
        .into_iter()
        .map(|classifier| Served {
            kb: start_kb(state, &classifier),
            classifier,
        })
        .collect();
    state.set_bundles(Bundles::new(served)?);
    tracing::info!(
        secs = started.elapsed().as_secs_f64(),
        "every model loaded and warmed up: ready (knowledge bases index in the background)"
    );
    Ok(())
}

/// Runs `load` on every item at once, one thread each, and returns the results in the
/// items' order, or the first error in that order (once every load has finished).
fn in_parallel<I: Sync, T: Send, E: Send>(
    items: &[I],
    load: impl Fn(&I) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E> {
    if items.len() < 2 {
        return items.iter().map(&load).collect();
    }
    let load = &load;
    std::thread::scope(|scope| {
        let running: Vec<_> = items.iter().map(|i| scope.spawn(move || load(i))).collect();
        running
            .into_iter()
            // A load that panicked crashes start-up as it did when loads ran in turn.
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// One bundle: classifier and warm-up.
fn load_one(
    state: &AppState,
    handoff: &Arc<HandoffService>,
    model: &str,
) -> Result<Arc<Classifier>, StartupError> {
    let started = Instant::now();
    let classifier = Arc::new(triage_core::bundles::load_classifier(
        model,
        &state.config,
        handoff,
    )?);
    classifier.warm_up();
    tracing::info!(
        model = %classifier.manifest.name,
        version = %classifier.manifest.version,
        secs = started.elapsed().as_secs_f64(),
        "model loaded and warmed up"
    );
    Ok(classifier)
}

/// A bundle's knowledge base, indexed in the background; `None` when suggestions are off.
fn start_kb(state: &AppState, classifier: &Arc<Classifier>) -> Option<Arc<LiveKb>> {
    if !state.config.suggest.enabled {
        return None;
    }
    let labels: Vec<String> = classifier
        .heads()
        .iter()
        .filter(|h| h.spec.name.starts_with("intent."))
        .flat_map(|h| h.spec.labels.iter().cloned())
        .collect();
    let embedder: Arc<dyn Embedder> = match &state.kb_embedder {
        Some(wrap) => wrap(classifier),
        None => classifier.clone(),
    };
    // The disk cache is keyed by the bundle's fingerprint (weights and encoder
    // numerics): one file per bundle, reused across restarts.
    let kb = LiveKb::start(
        &state.config.kb,
        &state.config.suggest.cache_dir(),
        state.config.suggest.search.clone(),
        embedder,
        labels,
    );
    kb.set_audit(Arc::new(auth::audit::ReloadAuditor {
        log: state.audit.clone(),
        model: Some(classifier.manifest.name.clone()),
    }));
    Some(Arc::new(kb))
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests
/// finish (at most `shutdown_grace_secs`); then every encoder queue is dropped, so the
/// inference threads stop after the batch they are running. Connections are bounded by
/// `[limits]` (count, header and idle timeouts: `listen`). Refuses to start (an error
/// naming the fix) when the address is not loopback and there are no API keys, or the
/// keys file, the audit log or the CORS origins are unusable (`auth::Auth::start`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state
        .start_auth(listener.local_addr()?)
        .map_err(std::io::Error::other)?;
    let grace = std::time::Duration::from_secs(state.config.limits.shutdown_grace_secs);
    let limits = listen::ConnLimits::from_config(&state.config.limits);
    let app = router(state.clone());
    let served = listen::run(listener, app, limits, shutdown, grace).await;
    if let Ok(bundles) = state.bundles() {
        for bundle in bundles.all() {
            bundle.classifier.engine().stop();
        }
    }
    served
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

#[cfg(test)]
mod tests {
    use super::in_parallel;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// Every load is running before any returns (each waits, bounded, for the others),
    /// and the results come back in the items' order although the first finishes last.
    #[test]
    fn loads_run_at_once_and_keep_the_configured_order() {
        let inside = AtomicUsize::new(0);
        let items = ["a", "b", "c"];
        let out = in_parallel(&items, |name| {
            inside.fetch_add(1, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(20);
            while inside.load(Ordering::SeqCst) < items.len() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            let all_at_once = inside.load(Ordering::SeqCst) == items.len();
            // The first configured finishes last.
            if *name == "a" {
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok::<_, String>((name.to_string(), all_at_once))
        })
        .unwrap();
        assert_eq!(
            out,
            [
                ("a".to_string(), true),
                ("b".to_string(), true),
                ("c".to_string(), true)
            ]
        );
    }

    #[test]
    fn the_first_error_in_configured_order_wins() {
        let items = [1, 2, 3, 4];
        let err = in_parallel(&items, |&i| {
            // The later failure happens first.
            std::thread::sleep(Duration::from_millis(if i == 2 { 60 } else { 0 }));
            if i % 2 == 0 {
                Err(format!("bundle {i} failed"))
            } else {
                Ok(i)
            }
        })
        .unwrap_err();
        assert_eq!(err, "bundle 2 failed");
        assert_eq!(in_parallel(&[7], |&i| Ok::<_, ()>(i)), Ok(vec![7]));
        assert_eq!(in_parallel(&[] as &[u8], |&i| Ok::<_, ()>(i)), Ok(vec![]));
    }
}
