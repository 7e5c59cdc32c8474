//! Spans for the steps of one request (normalise, tokenize, queue, encode, heads, policy,
//! suggest), which the server exports as OpenTelemetry traces when asked to
//! (`otlp_endpoint`). A step gets a span only inside a request's span: the CLI, the
//! warm-up and knowledge-base indexing run the same code outside any request and must not
//! make traces of their own (nor pay for spans nobody reads).

use tracing::Span;

/// `make()`'s span when a request's span is current, else a disabled one.
pub(crate) fn step(make: impl FnOnce() -> Span) -> Span {
    if Span::current().is_none() {
        Span::none()
    } else {
        make()
    }
}

/// `make()`'s span as a child of `parent` when it is a live span, else a disabled one:
/// for work done on another thread for that request (the engine's).
pub(crate) fn step_of(parent: &Span, make: impl FnOnce(&Span) -> Span) -> Span {
    if parent.is_none() {
        Span::none()
    } else {
        make(parent)
    }
}
