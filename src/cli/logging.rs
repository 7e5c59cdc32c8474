//! The log subscriber, and traces when an OpenTelemetry collector is configured.
//!
//! `TRIAGE_LOG` (an env filter: `debug`, `triage_server=trace`, ...) says what our crates
//! print to stderr. Every other crate is capped at `warn`, whatever `TRIAGE_LOG` says:
//! third-party crates log their inputs at debug and trace (the tokenizers crate prints
//! every character of every message it normalises), and a customer's words must never
//! reach the log (`log_text` aside, which masks personal data). With `otlp_endpoint`,
//! triage's own spans also go to the collector (triage_server::telemetry).

use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};
use triage_server::telemetry::Telemetry;

/// The crates of this workspace: the only ones `TRIAGE_LOG` can open up.
const OURS: [&str; 4] = ["triage", "triage_core", "triage_server", "triage_lab"];

/// The cap: our crates at any level, every other target at `warn` at most.
pub fn cap() -> Targets {
    Targets::new()
        .with_default(LevelFilter::WARN)
        .with_targets(OURS.map(|t| (t, LevelFilter::TRACE)))
}

/// Installs the process's subscriber: stderr at `TRIAGE_LOG` (default `info`), capped by
/// [`cap`] (records of the `log` crate, tokenizers' for one, go through the same filter),
/// and traces when `otlp_endpoint` is set. Returns the trace exporter to keep while the
/// process runs.
pub fn init(otlp_endpoint: Option<&str>) -> anyhow::Result<Option<Telemetry>> {
    let wanted = EnvFilter::try_from_env("TRIAGE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(wanted.and(cap()));
    let telemetry = otlp_endpoint.map(Telemetry::start).transpose()?;
    // Traces carry triage's own spans (and its events as span events), whatever the log
    // level: a trace is only useful whole. Third-party spans stay out, as in the log.
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

#[cfg(test)]
mod tests {
    use tracing::Level;

    #[test]
    fn third_party_crates_stop_at_warn_ours_do_not() {
        let cap = super::cap();
        for target in [
            "tokenizers::tokenizer::normalizer",
            "hyper::proto::h1",
            "h2",
            "axum::rejection",
            "redis",
        ] {
            assert!(cap.would_enable(target, &Level::WARN), "{target}");
            assert!(!cap.would_enable(target, &Level::INFO), "{target}");
            assert!(!cap.would_enable(target, &Level::TRACE), "{target}");
        }
        for target in ["triage", "triage_core::engine", "triage_server::listen"] {
            assert!(cap.would_enable(target, &Level::TRACE), "{target}");
        }
    }
}
