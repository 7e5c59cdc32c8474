//! Rasa's external NLU: `POST /model/parse`. With `nlu: url: http://triage:8080` in
//! Rasa's `endpoints.yml`, `rasa.core.http_interpreter` posts every user message as
//! `{"text", "message_id", "token"}` (`message_id` is the conversation's sender id) and
//! reads Rasa's parse result: `{"text", "intent": {"name", "confidence"},
//! "intent_ranking", "entities"}`. triage answers that, with its own findings alongside
//! (`emotion`, `handoff`, `suggestions`, `bot_answer`, `triage`), which Rasa keeps in
//! the tracker (`tracker.latest_message["handoff"]` in a custom action).
//!
//! * The sender id is the conversation id: the handoff policy sees the conversation's
//!   history (repeated frustration, loops), and `GET /v1/conversations/{id}` shows it.
//! * Intent set and bundle: `?intent_set=` and `?model=` on the URL, else
//!   `compat.rasa_intent_set` / `compat.rasa_model`, else the server's defaults.
//! * Out of scope becomes `compat.rasa_fallback` (Rasa's convention: `nlu_fallback`,
//!   with the head's out-of-scope threshold as its confidence, as Rasa's
//!   `FallbackClassifier` does) when configured, else keeps the head's label (`oos`).
//! * Rasa's own `/intent{"entity": "value"}` payloads (buttons) reach an external NLU
//!   too: they are read as Rasa reads them (the intent at confidence 1, or `@0.7`, and
//!   its entities) without running the model or the policy.
//! * triage extracts no entities: `entities` is empty for text.
//!
//! Errors have the shape of Rasa's server errors (`{"version", "status": "failure",
//! "message", "reason", "code"}`); Rasa's interpreter logs them and goes on with an
//! empty intent.

use super::{classify_one, read_json, read_query, Failure};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use triage_core::api::{ClassifyRequest, ClassifyResponse, Decision, ModelInfo, Suggestion};
use triage_core::classify::check_conversation_id;
use triage_core::model::{EmotionResult, HeadSpec};

/// Rasa's error body, with triage's own error code under `details`.
fn error_response(f: Failure) -> Response {
    f.log("rasa");
    let status = match f.status() {
        // Rasa answers bad input with 400.
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        s => s,
    };
    let reason = match status {
        StatusCode::BAD_REQUEST => "BadRequest",
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLarge",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UnsupportedMediaType",
        StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
        _ => "ServerError",
    };
    let body = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "status": "failure",
        "message": f.message(),
        "reason": reason,
        "details": {"code": f.code()},
        "help": null,
        "code": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

/// What `rasa.core.http_interpreter` sends.
#[derive(Debug, Deserialize)]
struct ParseRequest {
    text: Option<String>,
    /// The conversation's sender id when Rasa's interpreter sends it.
    message_id: Option<String>,
    /// The endpoint's `token` from `endpoints.yml`: checking credentials is the server's
    /// business (before any handler runs), not this route's.
    #[allow(dead_code)]
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ParseQuery {
    intent_set: Option<String>,
    model: Option<String>,
    /// `chat` (default), `voice`, `email` or `social`.
    channel: Option<String>,
    lang: Option<String>,
    /// Rasa's LUIS/Wit/Dialogflow output emulation: not offered.
    emulation_mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Intent {
    name: String,
    confidence: f32,
}

/// Rasa's ranking length (`ranking_length` of its classifiers).
const RANKING: usize = 10;

/// `POST /model/parse`.
#[utoipa::path(post, path = "/model/parse", tag = "compatibility", request_body(content = Object, description = "Rasa's external NLU body: `text`, `message_id` (the conversation id). `?intent_set=`, `?model=`"), responses((status = 200, description = "Rasa's parse result (`intent`, `intent_ranking`, `entities`) with triage's `emotion`, `handoff` and `suggestions` alongside"), (status = 400, description = "Malformed or empty input, in the family's own error shape"), (status = 413, description = "Text longer than the encoder reads"), (status = 422, description = "A field or option triage does not support")))]
pub(crate) async fn parse(State(state): State<AppState>, req: Request) -> Response {
    match run(state, req).await {
        Ok(r) => r,
        Err(f) => error_response(f),
    }
}

async fn run(state: AppState, req: Request) -> Result<Response, Failure> {
    let query: ParseQuery = read_query(&req)?;
    let body: ParseRequest = read_json(req, &state).await?;
    if let Some(mode) = query.emulation_mode {
        return Err(Failure::Unsupported {
            param: "emulation_mode",
            message: format!(
                "emulation_mode {mode:?} is not supported: triage answers in Rasa's own format"
            ),
        });
    }
    let Some(text) = body.text else {
        return Err(Failure::invalid("missing `text`: the message to parse"));
    };
    if let Some(payload) = text.strip_prefix('/') {
        return intent_payload(&text, payload).map(|p| Json(p).into_response());
    }
    if let Some(id) = &body.message_id {
        check_conversation_id(id)?;
    }
    let compat = &state.config.compat;
    let max_top_k = state.config.limits.max_top_k;
    let request = ClassifyRequest {
        text: Some(text.clone()),
        channel: query.channel,
        lang: query.lang,
        conversation_id: body.message_id,
        intent_set: query.intent_set.or_else(|| compat.rasa_intent_set.clone()),
        model: query.model.or_else(|| compat.rasa_model.clone()),
        top_k: Some(RANKING.min(max_top_k).max(1)),
        suggest: Some(true),
        ..Default::default()
    };
    let r = classify_one(&state, request).await?;
    let spec = intent_spec(&state, &r);
    let (intent, intent_ranking) = rasa_intent(&r, spec.as_ref(), compat.rasa_fallback.as_deref());
    let extra = Extra {
        intent_set: r.intent.as_ref().map(|i| i.set.clone()),
        label: r.intent.as_ref().map(|i| i.label.clone()),
        out_of_scope: r.intent.as_ref().map(|i| i.out_of_scope),
        channel: r.channel.clone(),
        lang: r.lang.clone(),
        conversation_id: r.conversation_id.clone(),
        model: r.model.clone(),
        timing_ms: r.timing_ms,
    };
    let out = ParseResult {
        text,
        intent,
        intent_ranking,
        entities: Vec::new(),
        emotion: r.emotion,
        handoff: r.handoff,
        suggestions: r.suggestions.unwrap_or_default(),
        bot_answer: r.bot_answer,
        triage: extra,
    };
    Ok(Json(out).into_response())
}

/// Rasa's parse result with triage's findings alongside.
#[derive(Serialize)]
struct ParseResult {
    text: String,
    intent: Intent,
    intent_ranking: Vec<Intent>,
    entities: Vec<Value>,
    emotion: Option<EmotionResult>,
    handoff: Option<Decision>,
    suggestions: Vec<Suggestion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bot_answer: Option<Suggestion>,
    triage: Extra,
}

/// What triage read beyond Rasa's fields: the intent set and raw label (before the
/// fallback name), the channel and language, the model.
#[derive(Serialize)]
struct Extra {
    intent_set: Option<String>,
    label: Option<String>,
    out_of_scope: Option<bool>,
    channel: String,
    lang: String,
    conversation_id: Option<String>,
    model: ModelInfo,
    timing_ms: f64,
}

/// The spec of the intent head that answered (its out-of-scope label and threshold).
fn intent_spec(state: &AppState, r: &ClassifyResponse) -> Option<HeadSpec> {
    let intent = r.intent.as_ref()?;
    let served = state.bundles().ok()?.named(&r.model.name).ok()?;
    let name = format!("intent.{}", intent.set);
    served
        .classifier
        .heads()
        .iter()
        .find(|h| h.spec.name == name)
        .map(|h| h.spec.clone())
}

/// Rasa's `intent` and `intent_ranking` from triage's intent, the out-of-scope label
/// renamed to `fallback` when one is configured: the out-of-scope class keeps its score;
/// a prediction under the head's confidence threshold becomes the fallback at the
/// threshold's confidence, first in the ranking, as Rasa's `FallbackClassifier` does.
fn rasa_intent(
    r: &ClassifyResponse,
    spec: Option<&HeadSpec>,
    fallback: Option<&str>,
) -> (Intent, Vec<Intent>) {
    let Some(i) = &r.intent else {
        // A bundle without intent heads: what Rasa's interpreter uses for "no parse".
        let none = Intent {
            name: String::new(),
            confidence: 0.0,
        };
        return (none, Vec::new());
    };
    let oos_label = spec.and_then(|s| s.out_of_scope.as_deref());
    let rename = |label: &str| match (fallback, oos_label) {
        (Some(f), Some(o)) if label == o => f.to_string(),
        _ => label.to_string(),
    };
    let mut ranking: Vec<Intent> = i
        .top
        .iter()
        .map(|ls| Intent {
            name: rename(&ls.label),
            confidence: ls.score,
        })
        .collect();
    let fallback = fallback.filter(|_| i.out_of_scope);
    let intent = match fallback {
        None => Intent {
            name: i.label.clone(),
            confidence: i.confidence,
        },
        Some(f) => {
            let by_class = ranking.first().is_some_and(|top| top.name == f);
            if by_class {
                ranking[0].clone()
            } else {
                let at = Intent {
                    name: f.to_string(),
                    confidence: spec.and_then(|s| s.oos_threshold).unwrap_or(i.confidence),
                };
                ranking.insert(0, at.clone());
                ranking.truncate(RANKING);
                at
            }
        }
    };
    (intent, ranking)
}

/// Rasa's intent payload (`/greet`, `/greet@0.8`, `/inform{"city": "Berlin"}`), read as
/// Rasa's `RegexMessageHandler` reads it: no model, no policy.
fn intent_payload(text: &str, payload: &str) -> Result<PayloadParse, Failure> {
    let (head, entities_json) = match payload.find('{') {
        Some(at) => (&payload[..at], Some((at + 1, &payload[at..]))),
        None => (payload, None),
    };
    let (name, confidence) = match head.rsplit_once('@') {
        Some((name, conf)) => {
            let c: f32 = conf.trim().parse().map_err(|_| {
                Failure::invalid(format!(
                    "intent payload {text:?}: confidence {conf:?} is not a number"
                ))
            })?;
            if !(0.0..=1.0).contains(&c) {
                return Err(Failure::invalid(format!(
                    "intent payload {text:?}: confidence {c} is not between 0 and 1"
                )));
            }
            (name.trim(), c)
        }
        None => (head.trim(), 1.0),
    };
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(Failure::invalid(format!(
            "intent payload {text:?}: expected /intent_name, /intent_name@confidence or /intent_name{{\"entity\": \"value\"}}"
        )));
    }
    let mut entities = Vec::new();
    if let Some((byte_at, raw)) = entities_json {
        let parsed: Map<String, Value> = serde_json::from_str(raw).map_err(|e| {
            Failure::invalid(format!(
                "intent payload {text:?}: entities are not a JSON object: {e}"
            ))
        })?;
        // Offsets in characters, as Rasa (Python) counts them.
        let start = text[..byte_at].chars().count();
        let end = text.chars().count();
        for (entity, value) in parsed {
            let values = match value {
                Value::Array(items) => items,
                v => vec![v],
            };
            for v in values {
                entities.push(json!({"entity": entity, "value": v, "start": start, "end": end}));
            }
        }
    }
    let intent = Intent {
        name: name.to_string(),
        confidence,
    };
    Ok(PayloadParse {
        text: text.to_string(),
        intent_ranking: vec![intent.clone()],
        intent,
        entities,
    })
}

/// Rasa's parse result for an intent payload: Rasa's fields only.
#[derive(Debug, Serialize)]
struct PayloadParse {
    text: String,
    intent: Intent,
    intent_ranking: Vec<Intent>,
    entities: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_core::model::{HeadKind, IntentResult, LabelScore};

    fn response(label: &str, confidence: f32, oos: bool, top: &[(&str, f32)]) -> ClassifyResponse {
        ClassifyResponse {
            intent: Some(IntentResult {
                set: "support".into(),
                label: label.into(),
                confidence,
                out_of_scope: oos,
                top: top
                    .iter()
                    .map(|(l, s)| LabelScore {
                        label: l.to_string(),
                        score: *s,
                    })
                    .collect(),
            }),
            emotion: None,
            handoff: None,
            channel: "chat".into(),
            lang: "en".into(),
            conversation_id: None,
            suggestions: None,
            bot_answer: None,
            model: ModelInfo {
                name: "m".into(),
                version: "1".into(),
            },
            timing_ms: 0.0,
        }
    }

    fn spec() -> HeadSpec {
        HeadSpec {
            name: "intent.support".into(),
            kind: HeadKind::Softmax,
            labels: vec!["track".into(), "refund".into(), "oos".into()],
            temperature: 1.0,
            thresholds: vec![],
            out_of_scope: Some("oos".into()),
            oos_threshold: Some(0.5),
            groupings: Default::default(),
            frustration: vec![],
            source: None,
            by_language: Default::default(),
        }
    }

    #[test]
    fn in_scope_keeps_the_label_and_its_ranking() {
        let r = response("track", 0.9, false, &[("track", 0.9), ("oos", 0.06)]);
        let (i, ranking) = rasa_intent(&r, Some(&spec()), Some("nlu_fallback"));
        assert_eq!((i.name.as_str(), i.confidence), ("track", 0.9));
        // The out-of-scope class is renamed wherever it ranks.
        assert_eq!(ranking[1].name, "nlu_fallback");
    }

    #[test]
    fn the_out_of_scope_class_becomes_the_fallback_with_its_score() {
        let r = response("oos", 0.8, true, &[("oos", 0.8), ("track", 0.1)]);
        let (i, ranking) = rasa_intent(&r, Some(&spec()), Some("nlu_fallback"));
        assert_eq!((i.name.as_str(), i.confidence), ("nlu_fallback", 0.8));
        assert_eq!(ranking.len(), 2);
        let (raw, _) = rasa_intent(&r, Some(&spec()), None);
        assert_eq!(raw.name, "oos");
    }

    #[test]
    fn low_confidence_becomes_the_fallback_at_the_threshold_first_in_the_ranking() {
        let r = response("oos", 0.4, true, &[("track", 0.4), ("refund", 0.35)]);
        let (i, ranking) = rasa_intent(&r, Some(&spec()), Some("nlu_fallback"));
        assert_eq!((i.name.as_str(), i.confidence), ("nlu_fallback", 0.5));
        assert_eq!(ranking[0], i);
        assert_eq!(ranking[1].name, "track");
    }

    #[test]
    fn intent_payloads_are_read_as_rasa_reads_them() {
        let read = |t: &str| serde_json::to_value(intent_payload(t, &t[1..]).unwrap()).unwrap();
        let v = read("/greet");
        assert_eq!(v["intent"], json!({"name": "greet", "confidence": 1.0}));
        assert_eq!(v["entities"], json!([]));
        let v = read("/greet@0.25");
        assert_eq!(v["intent"]["confidence"], json!(0.25));
        let text = r#"/inform{"city": ["Berlin", "Köln"]}"#;
        let v = read(text);
        assert_eq!(v["intent"]["name"], "inform");
        let e = v["entities"].as_array().unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1]["value"], "Köln");
        assert_eq!(e[0]["start"], 7);
        assert_eq!(e[0]["end"], text.chars().count());
        for bad in ["/", "/greet@x", "/greet@2", "/in form", "/inform{nope}"] {
            assert!(intent_payload(bad, &bad[1..]).is_err(), "{bad}");
        }
    }
}
