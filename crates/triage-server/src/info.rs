//! `GET /info`: what this server runs and accepts — models, heads with their labels,
//! limits, the knowledge base and its problems — so a client can discover models, intent
//! sets and labels instead of hard-coding them. The top-level model fields describe the
//! default bundle (as before several could be served); `models` lists every bundle.

use super::error::ApiError;
use super::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use triage_core::bundles::Served;

#[utoipa::path(get, path = "/info", responses((status = 200, description = "Models (the default first), heads, labels, limits")))]
pub(crate) async fn info(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let bundles = state.bundles()?;
    let default = bundles.default_bundle();
    let c = &default.classifier;
    let d = describe(&state, default);
    let models: Vec<Value> = bundles.all().iter().map(|s| describe(&state, s)).collect();
    Ok(Json(json!({
        "name": "triage",
        "version": env!("CARGO_PKG_VERSION"),
        "model": d["model"],
        "heads": d["heads"],
        "encoder": d["encoder"],
        "intent_sets": d["intent_sets"],
        "default_model": c.manifest.name,
        "models": models,
        "default_intent_set": state.config.intent_set,
        "channels": triage_core::text::Channel::ALL,
        "limits": state.config.limits,
        "engine": c.engine().config(),
        "policy": c.handoff().map(|h| h.policy().status()),
        "memory": c.handoff().map(|h| json!({
            "store": h.store().kind(), "ttl_secs": state.config.memory.ttl_secs,
            "max_turns": state.config.memory.max_turns, "store_text": state.config.memory.store_text,
        })),
        "suggest": {
            "k": state.config.suggest.k, "max_k": state.config.suggest.max_k,
            "conversation_turns": state.config.suggest.conversation_turns,
            "search": state.config.suggest.search,
        },
        "kb": d["kb"],
    })))
}

/// One bundle: its manifest, heads and knowledge base.
fn describe(state: &AppState, s: &Served) -> Value {
    let c = &s.classifier;
    let m = &c.manifest;
    let heads: Vec<Value> = c
        .heads()
        .iter()
        .map(|h| {
            json!({
                "name": h.spec.name, "kind": h.spec.kind, "labels": h.spec.labels,
                "temperature": h.spec.temperature, "out_of_scope": h.spec.out_of_scope,
                "oos_threshold": h.spec.oos_threshold, "source": h.spec.source,
            })
        })
        .collect();
    json!({
        "model": {
            "name": m.name, "version": m.version, "base_model": m.base_model,
            "languages": m.languages, "max_seq_len": m.max_seq_len, "prefix": m.prefix,
        },
        "heads": heads,
        "encoder": c.encoder_info(),
        "intent_sets": c.intent_sets(),
        "kb": state.kb_status_of(s),
    })
}
