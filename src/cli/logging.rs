//! Logs to stderr (level from `TRIAGE_LOG`, default `info`) and, with `otlp_endpoint`,
//! traces to an OpenTelemetry collector (triage_server::telemetry).

use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;
use triage_server::telemetry::Telemetry;

/// Installs the process's subscriber; returns the trace exporter to keep while it runs.
pub fn init(otlp_endpoint: Option<&str>) -> anyhow::Result<Option<Telemetry>> {
    let filter = EnvFilter::try_from_env("TRIAGE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter);
    let telemetry = otlp_endpoint.map(Telemetry::start).transpose()?;
    // Traces carry triage's own spans (and its events as span events), whatever the log
    // level: a trace is only useful whole.
    let traces = telemetry.as_ref().map(|t| {
        t.layer().with_filter(
            Targets::new()
                .with_target("triage_server", LevelFilter::INFO)
                .with_target("triage_core", LevelFilter::INFO),
        )
    });
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .init();
    if let Some(endpoint) = otlp_endpoint {
        tracing::info!(endpoint, "sending traces over OTLP");
    }
    Ok(telemetry)
}
