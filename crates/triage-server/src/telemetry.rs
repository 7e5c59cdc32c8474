//! Traces over OTLP. With `otlp_endpoint` set (`--otlp-endpoint http://collector:4318`),
//! every request gets a `request` span, child of the caller's W3C `traceparent` when it
//! sends one, and the pipeline's steps are its children (`normalise`, `tokenize`,
//! `queue`, `encode`, `heads`, `policy`, `suggest`: triage-core's `trace`). They are
//! tracing spans; [`Telemetry`] turns them into OpenTelemetry spans and sends them in
//! batches to the collector's `/v1/traces` (OTLP/HTTP, protobuf) from the SDK's own
//! thread, so a slow or absent collector never delays a request (spans are dropped when
//! its queue is full).

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing::Instrument;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};
use tracing_subscriber::registry::LookupSpan;

/// Why the OTLP exporter could not be set up (a malformed endpoint, mostly).
#[derive(Debug, thiserror::Error)]
#[error("OTLP endpoint {endpoint:?}: {source}")]
pub struct TelemetryError {
    endpoint: String,
    #[source]
    source: opentelemetry_otlp::ExporterBuildError,
}

/// The OTLP exporter and its tracer. Keep it for the life of the process: dropping it
/// sends what is still buffered and stops the export thread (so drop it outside any
/// async runtime, as `triage serve` does after the server stops).
pub struct Telemetry {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Telemetry {
    /// Exports to `endpoint`'s `/v1/traces` (or to `endpoint` itself when it already ends
    /// so), as service `triage`.
    pub fn start(endpoint: &str) -> Result<Self, TelemetryError> {
        let url = traces_url(endpoint);
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(url)
            .build()
            .map_err(|source| TelemetryError {
                endpoint: endpoint.to_string(),
                source,
            })?;
        let resource = Resource::builder()
            .with_service_name("triage")
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("triage");
        Ok(Self { provider, tracer })
    }

    /// The tracing layer that makes OpenTelemetry spans of tracing spans.
    pub fn layer<S>(&self) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.tracer.clone())
    }

    /// Sends the finished spans now rather than at the next batch.
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "could not send the traces");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "could not send the last traces");
        }
    }
}

/// The OTLP/HTTP traces URL of a collector address, as `OTEL_EXPORTER_OTLP_ENDPOINT` is
/// read: `/v1/traces` appended unless it is there already.
fn traces_url(endpoint: &str) -> String {
    let e = endpoint.trim_end_matches('/');
    if e.ends_with("/v1/traces") {
        e.to_string()
    } else {
        format!("{e}/v1/traces")
    }
}

/// Reads W3C trace-context headers (`traceparent`, `tracestate`) from a request.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Middleware: when traces are on, runs the request inside a `request` span named after
/// its route, continuing the caller's trace when it sends a valid `traceparent`.
pub(crate) async fn trace_request(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if state.config.otlp_endpoint.is_none() {
        return next.run(req).await;
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let parent = TraceContextPropagator::new().extract(&Headers(req.headers()));
    // No subscriber exports spans (a library user without the layer): nothing to join.
    let _ = span.set_parent(parent);
    let resp = next.run(req).instrument(span.clone()).await;
    span.record("http.response.status_code", resp.status().as_u16());
    resp
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
