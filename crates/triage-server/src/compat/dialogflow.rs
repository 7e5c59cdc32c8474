//! A Dialogflow CX webhook: `POST /integrations/dialogflow-cx` takes Dialogflow's
//! `WebhookRequest` (google.cloud.dialogflow.cx.v3, JSON field names in camel case) and
//! answers a `WebhookResponse`:
//!
//! * the message is `text` (typed) or `transcript` (speech: the `voice` channel);
//! * the conversation id is the session id, the last segment of `sessionInfo.session`,
//!   so the policy sees the conversation's history;
//! * `languageCode` (`en-US` → `en`) routes between bundles and tells the policy whether
//!   the model reads that language;
//! * `payload.customer` (`{"id", "tier"}`, from the caller's `QueryParameters.payload`)
//!   reaches the policy's customer rules;
//! * `sessionInfo.parameters` gets `triage_*` parameters (intent, confidence, out of
//!   scope, emotions, sentiment, frustration, the policy's action with priority,
//!   severity, skill group and reason codes) and `triage_handoff`, true when the policy
//!   hands the conversation to a human: a flow routes on
//!   `$session.params.triage_handoff = true`;
//! * `fulfillmentResponse` carries the knowledge-base answer the bot may send, only when
//!   the policy lets the bot answer and an article is good enough;
//! * `payload.triage` carries triage's whole classify response (Dialogflow passes it to
//!   the API caller in `QueryResult.webhook_payloads`).
//!
//! Calls without text (an event or an intent triggered the fulfillment) get an empty
//! response: nothing to classify, nothing changed. Errors have Google's API error shape
//! (`{"error": {"code", "message", "status"}}`); Dialogflow then raises `webhook.error`.
//! The intent set, bundle and channel may be set on the webhook URL (`?intent_set=`,
//! `?model=`, `?channel=`).

use super::{classify_one, read_json, read_query, Failure};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use triage_core::api::{
    Action, ClassifyRequest, ClassifyResponse, Customer, Priority, ReasonCode, Severity,
};
use triage_core::classify::check_conversation_id;

/// Google's JSON error (`google.rpc.Status`).
fn error_response(f: Failure) -> Response {
    f.log("dialogflow");
    let status = match f.status() {
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        s => s,
    };
    let rpc = match status {
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => "INVALID_ARGUMENT",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "INVALID_ARGUMENT",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::TOO_MANY_REQUESTS => "RESOURCE_EXHAUSTED",
        StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    let body = json!({"error": {
        "code": status.as_u16(), "message": f.message(), "status": rpc,
        "details": [{"reason": f.code(), "domain": "triage"}],
    }});
    (status, Json(body)).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookRequest {
    text: Option<String>,
    transcript: Option<String>,
    trigger_intent: Option<String>,
    trigger_event: Option<String>,
    dtmf_digits: Option<String>,
    language_code: Option<String>,
    session_info: Option<SessionInfo>,
    payload: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
struct SessionInfo {
    session: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WebhookQuery {
    intent_set: Option<String>,
    model: Option<String>,
    channel: Option<String>,
}

/// `POST /integrations/dialogflow-cx`.
#[utoipa::path(post, path = "/integrations/dialogflow-cx", tag = "compatibility", request_body(content = Object, description = "A Dialogflow CX `WebhookRequest`"), responses((status = 200, description = "A `WebhookResponse`: `triage_*` session parameters, and a handoff or a suggested answer as fulfillment"), (status = 400, description = "Malformed or empty input, in the family's own error shape"), (status = 413, description = "Text longer than the encoder reads"), (status = 422, description = "A field or option triage does not support")))]
pub(crate) async fn webhook(State(state): State<AppState>, req: Request) -> Response {
    match run(state, req).await {
        Ok(r) => r,
        Err(f) => error_response(f),
    }
}

async fn run(state: AppState, req: Request) -> Result<Response, Failure> {
    let query: WebhookQuery = read_query(&req)?;
    let body: WebhookRequest = read_json(req, &state).await?;
    let (text, spoken) = match (body.text, body.transcript) {
        (Some(t), _) => (t, false),
        (None, Some(t)) => (t, true),
        (None, None) => {
            if body.trigger_event.is_some()
                || body.trigger_intent.is_some()
                || body.dtmf_digits.is_some()
            {
                // Nothing the customer said: leave the session as it is.
                return Ok(Json(json!({})).into_response());
            }
            return Err(Failure::invalid(
                "the WebhookRequest has no `text` or `transcript` to classify",
            ));
        }
    };
    let conversation_id = match body.session_info.and_then(|s| s.session) {
        Some(session) => {
            let id = session_id(&session).ok_or_else(|| {
                Failure::invalid(format!(
                    "sessionInfo.session {session:?} does not end in a session id"
                ))
            })?;
            check_conversation_id(id)?;
            Some(id.to_string())
        }
        None => None,
    };
    let customer = match body.payload.and_then(|mut p| p.remove("customer")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(serde_json::from_value::<Customer>(v).map_err(|e| {
            Failure::invalid(format!(
                "payload.customer: {e} (expected {{\"id\", \"tier\"}})"
            ))
        })?),
    };
    let request = ClassifyRequest {
        text: Some(text),
        channel: query
            .channel
            .or_else(|| Some(if spoken { "voice" } else { "chat" }.to_string())),
        lang: body.language_code.as_deref().and_then(primary_language),
        conversation_id,
        customer,
        intent_set: query.intent_set,
        model: query.model,
        suggest: Some(true),
        ..Default::default()
    };
    let r = classify_one(&state, request).await?;
    Ok(Json(webhook_response(&r)).into_response())
}

/// The session id of `projects/P/locations/L/agents/A/[environments/E/]sessions/S`.
fn session_id(session: &str) -> Option<&str> {
    session.rsplit('/').next().filter(|s| !s.is_empty())
}

/// `en-US` → `en`: the language triage's bundles list.
fn primary_language(code: &str) -> Option<String> {
    let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    (!primary.is_empty()).then_some(primary)
}

/// The `WebhookResponse` triage sends: session parameters, the bot's answer when the
/// policy allows one, and triage's whole answer as the payload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    fulfillment_response: Option<FulfillmentResponse>,
    session_info: SessionParameters,
    payload: Payload<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentResponse {
    messages: Vec<Value>,
    merge_behavior: &'static str,
}

#[derive(Serialize)]
struct SessionParameters {
    parameters: Parameters,
}

#[derive(Serialize)]
struct Payload<'a> {
    triage: &'a ClassifyResponse,
}

/// The `triage_*` session parameters (a flow reads them as `$session.params.triage_*`).
#[derive(Default, Serialize)]
struct Parameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_intent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_intent_set: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_confidence: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_out_of_scope: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_emotions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_sentiment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_sentiment_score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_frustration: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_action: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_priority: Option<Priority>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_skill_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_reasons: Option<Vec<ReasonCode>>,
    /// The flag a flow routes on: the policy hands the conversation to a person.
    triage_handoff: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    triage_answer_id: Option<String>,
}

/// The `WebhookResponse` for one classified message.
fn webhook_response(r: &ClassifyResponse) -> WebhookResponse<'_> {
    let mut p = Parameters::default();
    if let Some(i) = &r.intent {
        p.triage_intent = Some(i.label.clone());
        p.triage_intent_set = Some(i.set.clone());
        p.triage_confidence = Some(i.confidence);
        p.triage_out_of_scope = Some(i.out_of_scope);
    }
    if let Some(e) = &r.emotion {
        p.triage_emotions = Some(e.labels.clone());
        p.triage_sentiment = Some(e.sentiment.label.clone());
        p.triage_sentiment_score = Some(e.sentiment.score);
        p.triage_frustration = Some(e.frustration);
    }
    if let Some(d) = &r.handoff {
        p.triage_action = Some(d.action);
        p.triage_priority = Some(d.priority);
        p.triage_severity = Some(d.severity);
        p.triage_skill_group = Some(d.skill_group.clone());
        p.triage_reasons = Some(d.reasons.iter().map(|r| r.code).collect());
        p.triage_handoff = d.action == Action::Handoff;
    }
    // The bot answer is present only when the policy let the bot answer.
    let fulfillment_response = r.bot_answer.as_ref().map(|answer| {
        p.triage_answer_id = Some(answer.id.clone());
        FulfillmentResponse {
            messages: vec![json!({"text": {"text": [answer.answer]}})],
            merge_behavior: "APPEND",
        }
    });
    WebhookResponse {
        fulfillment_response,
        session_info: SessionParameters { parameters: p },
        payload: Payload { triage: r },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_and_languages() {
        assert_eq!(
            session_id("projects/p/locations/global/agents/a/sessions/abc-123"),
            Some("abc-123")
        );
        assert_eq!(
            session_id("projects/p/locations/l/agents/a/environments/e/sessions/s9"),
            Some("s9")
        );
        assert_eq!(session_id("projects/p/sessions/"), None);
        assert_eq!(primary_language("en-US").as_deref(), Some("en"));
        assert_eq!(primary_language("zh_CN").as_deref(), Some("zh"));
        assert_eq!(primary_language("de").as_deref(), Some("de"));
        assert_eq!(primary_language(""), None);
    }
}
