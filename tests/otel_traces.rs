//! Traces over OTLP (issue 17): a classify request that carries a W3C `traceparent`
//! reaches an OTLP/HTTP receiver started here, as one trace under the caller's span with
//! a span per step (normalise, tokenize, queue, encode, heads, policy, suggest). This
//! file holds one test: it installs the process's tracing subscriber.

mod common;

use axum::body::Bytes;
use axum::routing::post;
use common::TestServer;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use triage_server::telemetry::Telemetry;

/// An OTLP/HTTP collector in miniature: keeps every span posted to `/v1/traces`.
struct Receiver {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Receiver {
    fn start() -> Self {
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let kept = spans.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = axum::Router::new().route(
                    "/v1/traces",
                    post(move |body: Bytes| {
                        let kept = kept.clone();
                        async move {
                            let req = ExportTraceServiceRequest::decode(body).unwrap();
                            let mut all = kept.lock().unwrap();
                            for rs in req.resource_spans {
                                for ss in rs.scope_spans {
                                    all.extend(ss.spans);
                                }
                            }
                            // An empty ExportTraceServiceResponse.
                            (
                                [("content-type", "application/x-protobuf")],
                                Vec::<u8>::new(),
                            )
                        }
                    }),
                );
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Self {
            url: format!("http://{addr}"),
            spans,
        }
    }

    fn of_trace(&self, trace_id: &[u8]) -> Vec<Span> {
        let all = self.spans.lock().unwrap();
        all.iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_classify_request_is_traced_over_otlp_under_the_callers_traceparent() {
    let receiver = Receiver::start();
    let telemetry = Telemetry::start(&receiver.url).unwrap();
    tracing_subscriber::registry()
        .with(telemetry.layer())
        .init();
    let server = TestServer::start(|c| c.otlp_endpoint = Some(receiver.url.clone()));
    server.wait_kb_ready();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller = "00f067aa0ba902b7";
    let resp = common::agent()
        .post(&server.url("/v1/classify"))
        .set("traceparent", &format!("00-{trace_id}-{caller}-01"))
        .send_json(serde_json::json!({
            "text": "where is my order? it was due on monday",
            "conversation_id": "otel-1",
            "suggest": true,
        }))
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A request without a traceparent starts a trace of its own.
    let (s, _) = common::post(
        &server.url("/v1/classify"),
        &serde_json::json!({"text": "hello"}),
    );
    assert_eq!(s, 200);
    let steps = [
        "normalise",
        "tokenize",
        "queue",
        "encode",
        "heads",
        "policy",
        "suggest",
    ];
    let started = Instant::now();
    let spans = loop {
        telemetry.flush();
        let spans = receiver.of_trace(&unhex(trace_id));
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        let others = receiver
            .spans
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.name == "POST /v1/classify" && s.trace_id != unhex(trace_id));
        if others && names.contains(&"POST /v1/classify") && steps.iter().all(|w| names.contains(w))
        {
            break spans;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "spans of the trace after a minute: {names:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let request = spans
        .iter()
        .find(|s| s.name == "POST /v1/classify")
        .unwrap_or_else(|| {
            panic!(
                "no request span: {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    // The caller's span is the request's parent; the request is the server's side.
    assert_eq!(hex(&request.parent_span_id), caller);
    assert_eq!(request.kind, SpanKind::Server as i32);
    let route = request
        .attributes
        .iter()
        .find(|a| a.key == "http.route")
        .and_then(|a| a.value.as_ref())
        .map(|v| format!("{v:?}"));
    assert!(
        route.is_some_and(|r| r.contains("/v1/classify")),
        "{request:?}"
    );
    // Every step is a child of the request, inside its time.
    for step in steps {
        let span = spans
            .iter()
            .find(|s| s.name == step)
            .unwrap_or_else(|| panic!("no {step} span"));
        assert_eq!(span.parent_span_id, request.span_id, "{step}");
        assert!(
            span.start_time_unix_nano >= request.start_time_unix_nano
                && span.end_time_unix_nano <= request.end_time_unix_nano + 1_000_000,
            "{step} outside the request"
        );
    }
    // The queue wait ends where encoding starts.
    let queue = spans.iter().find(|s| s.name == "queue").unwrap();
    let encode = spans.iter().find(|s| s.name == "encode").unwrap();
    assert!(queue.end_time_unix_nano <= encode.start_time_unix_nano + 1_000_000);
    // The other request is its own trace, with no caller.
    let all = receiver.spans.lock().unwrap().clone();
    let other: Vec<&Span> = all
        .iter()
        .filter(|s| s.name == "POST /v1/classify" && s.trace_id != unhex(trace_id))
        .collect();
    assert!(!other.is_empty());
    assert!(
        other.iter().all(|s| s.parent_span_id.is_empty()),
        "{other:?}"
    );
    // Nothing outside a request (warm-up, knowledge-base indexing) made spans.
    assert!(
        all.iter()
            .all(|s| s.name != "encode" || !s.parent_span_id.is_empty()),
        "an engine span without a request"
    );
}
