//! `POST /v1/feedback`: an agent or bot platform says whether a suggestion was used,
//! and/or what the message's intent really was. Kept with the conversation (shown in
//! `GET /v1/conversations/{id}`) and counted in `/metrics`, so that the acceptance rate
//! of the knowledge base can be watched and corrected intents collected for training.
//!
//! Feedback is checked against what the server knows: the conversation must exist, the
//! suggestion must have been shown in it or be an article of the knowledge base (ids
//! from `/v1/suggest` are not stored with the conversation), and a corrected intent must
//! be a label of the turn's intent set (of the bundle that classified the turn, when
//! several are served). A typo then fails loudly instead of polluting the figures.
//! The conversation must be the caller's tenant's: another tenant's is unknown (404).

use super::auth::Principal;
use super::error::{ApiError, ApiJson};
use super::AppState;
use axum::extract::State;
use axum::Json;
use triage_core::api::{ErrorBody, Feedback, FeedbackRequest, FeedbackResponse};
use triage_core::bundles::Bundles;
use triage_core::classify::{check_conversation_id, Classifier};
use triage_core::error::TriageError;
use triage_core::kb::LiveKb;
use triage_core::policy::HandoffService;
use triage_core::tenant::Tenant;

/// Longest suggestion id or intent label accepted, in bytes.
const MAX_ID: usize = 256;

#[utoipa::path(post, path = "/v1/feedback", request_body = FeedbackRequest,
    responses(
        (status = 200, description = "Stored with the conversation", body = FeedbackResponse),
        (status = 400, description = "Malformed JSON or invalid UTF-8", body = ErrorBody),
        (status = 404, description = "`unknown_conversation`: no such conversation, or it expired", body = ErrorBody),
        (status = 422, description = "Nothing to record, `accepted` without `suggestion_id` (or the reverse), an unknown field or turn; `unknown_suggestion`; `unknown_label`", body = ErrorBody),
        (status = 503, description = "Model loading, or the conversation store unreachable", body = ErrorBody)))]
pub(crate) async fn feedback(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(req): ApiJson<FeedbackRequest>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let bundles = state.bundles()?.clone();
    let handoff = state.handoff()?.clone();
    check_shape(&req)?;
    let default_set = state.config.intent_set.clone();
    let blocking = handoff.blocking();
    let run = move || {
        record(
            &handoff,
            &caller.tenant,
            &bundles,
            &default_set,
            req,
            triage_core::policy::now_ms(),
        )
    };
    let response = if blocking {
        tokio::task::spawn_blocking(run)
            .await
            .map_err(TriageError::internal)??
    } else {
        run()?
    };
    Ok(Json(response))
}

/// Checks what can be checked without the store.
fn check_shape(req: &FeedbackRequest) -> Result<(), TriageError> {
    check_conversation_id(&req.conversation_id)?;
    let invalid = |m: &str| Err(TriageError::InvalidRequest(m.into()));
    match (&req.suggestion_id, req.accepted) {
        (Some(_), None) => return invalid("\"suggestion_id\" needs \"accepted\": true or false"),
        (None, Some(_)) => return invalid("\"accepted\" needs the \"suggestion_id\" it is about"),
        (None, None) if req.corrected_intent.is_none() => {
            return invalid(
                "nothing to record: give \"suggestion_id\" with \"accepted\", and/or \"corrected_intent\"",
            )
        }
        _ => {}
    }
    for (name, value) in [
        ("suggestion_id", &req.suggestion_id),
        ("corrected_intent", &req.corrected_intent),
    ] {
        if let Some(v) = value {
            if v.trim().is_empty() || v.len() > MAX_ID || v.chars().any(char::is_control) {
                return Err(TriageError::InvalidRequest(format!(
                    "{name} must be 1 to {MAX_ID} bytes without control characters"
                )));
            }
        }
    }
    Ok(())
}

fn record(
    handoff: &HandoffService,
    tenant: &Tenant,
    bundles: &Bundles,
    default_set: &str,
    req: FeedbackRequest,
    now_ms: u64,
) -> Result<FeedbackResponse, TriageError> {
    let id = req.conversation_id;
    let turns = handoff.turns(tenant, &id, now_ms)?;
    let Some(latest) = turns.last() else {
        return Err(TriageError::UnknownConversation(id));
    };
    let turn = match req.turn_at_ms {
        None => latest,
        Some(at) => turns.iter().find(|t| t.at_ms == at).ok_or_else(|| {
            TriageError::InvalidRequest(format!(
                "conversation {id:?} has no turn with at_ms {at} (see GET /v1/conversations/{id})"
            ))
        })?,
    };
    // The bundle that classified the turn; the default for turns that do not say, or
    // whose bundle is no longer served.
    let served = turn
        .model
        .as_deref()
        .and_then(|m| bundles.named(m).ok())
        .unwrap_or(bundles.default_bundle());
    let (classifier, kb) = (&served.classifier, served.kb.as_deref());
    if let Some(sid) = &req.suggestion_id {
        let shown = turns
            .iter()
            .any(|t| t.suggestions_shown.iter().any(|s| &s.id == sid));
        let in_kb = || {
            kb.and_then(LiveKb::current)
                .is_some_and(|v| v.kb.article(sid).is_some())
        };
        if !shown && !in_kb() {
            return Err(TriageError::UnknownSuggestion(format!(
                "suggestion {sid:?} was not shown in conversation {id:?} and is not an article of the knowledge base"
            )));
        }
    }
    let intent_set = match &req.corrected_intent {
        None => None,
        Some(label) => {
            let set = turn.intent.as_ref().map_or(default_set, |i| i.set.as_str());
            check_label(classifier, set, label)?;
            Some(set.to_string())
        }
    };
    let feedback = Feedback {
        at_ms: now_ms,
        turn_at_ms: Some(turn.at_ms),
        suggestion_id: req.suggestion_id,
        accepted: req.accepted,
        corrected_intent: req.corrected_intent,
        intent_set,
    };
    if !handoff.add_feedback(tenant, &id, &feedback, now_ms)? {
        // Expired between the two calls.
        return Err(TriageError::UnknownConversation(id));
    }
    count(&feedback);
    Ok(FeedbackResponse {
        conversation_id: id,
        feedback,
    })
}

fn check_label(c: &Classifier, set: &str, label: &str) -> Result<(), TriageError> {
    let name = format!("intent.{set}");
    let head = c.heads().iter().find(|h| h.spec.name == name);
    match head {
        Some(h) if h.spec.labels.iter().any(|l| l == label) => Ok(()),
        Some(_) => Err(TriageError::UnknownLabel(format!(
            "corrected_intent {label:?} is not a label of intent set {set:?} (GET /info lists them)"
        ))),
        None => Err(TriageError::UnknownIntentSet {
            value: set.to_string(),
            available: c.intent_sets().join(", "),
        }),
    }
}

fn count(f: &Feedback) {
    if let Some(accepted) = f.accepted {
        let outcome = if accepted { "accepted" } else { "rejected" };
        ::metrics::counter!("triage_feedback_total", "outcome" => outcome).increment(1);
    }
    if f.corrected_intent.is_some() {
        ::metrics::counter!("triage_intent_corrections_total").increment(1);
    }
}
