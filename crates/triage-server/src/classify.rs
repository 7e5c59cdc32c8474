//! `POST /v1/classify`: one message or a batch, with knowledge-base suggestions for the
//! messages that ask (`suggest: true`). With several bundles loaded, each item goes to its
//! own (`model`, else its language): items are grouped per bundle, each group is one
//! engine call, and results come back in input order. Conversation ids are the
//! caller's tenant's: the same id from another tenant is another conversation.

use super::auth::Principal;
use super::error::{ApiError, ApiJson};
use super::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;
use std::time::Instant;
use triage_core::api::{BatchClassifyResponse, ClassifyRequest, ClassifyResponse, ErrorBody};
use triage_core::bundles::{Bundles, Routed};
use triage_core::classify::{expand, Prepared};
use triage_core::error::TriageError;
use triage_core::tenant::Tenant;

#[utoipa::path(post, path = "/v1/classify", request_body = ClassifyRequest,
    responses(
        (status = 200, description = "One result, or `results` in input order for `inputs`. With `suggest: true`, `suggestions` for the agent and, when one fits and the policy lets the bot answer, `bot_answer`. `model` names the bundle that answered", body = ClassifyResponse),
        (status = 400, description = "Malformed JSON or invalid UTF-8", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `limits.body_timeout_ms` (`request_timeout`)", body = ErrorBody),
        (status = 413, description = "Text, batch or body too large, or more than the whole engine queue (`request_too_large`)", body = ErrorBody),
        (status = 422, description = "Empty text (also only control or zero-width characters), `invalid_customer` (`customer.id` too long, `customer.tier` not configured), unknown channel, intent set or model (`unknown_model`)", body = ErrorBody),
        (status = 429, description = "Queue full; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "Model still loading", body = ErrorBody)))]
pub(crate) async fn classify(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(req): ApiJson<ClassifyRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let bundles = state.bundles()?.clone();
    let (items, batch) = expand(req, &state.config.limits)?;
    if state.config.log_text {
        // Opt-in only, and even then with personal data masked.
        for item in &items {
            let text = triage_core::text::mask_pii(item.text.as_deref().unwrap_or(""));
            tracing::info!(text = %text, channel = ?item.channel, "classify input");
        }
    }
    let mut results = classify_items(&bundles, items, caller.tenant, started).await?;
    if batch {
        let first = results.first().map(|r| r.model.name.clone());
        let one_bundle = results
            .iter()
            .all(|r| Some(&r.model.name) == first.as_ref());
        let model = match (one_bundle, results.first()) {
            (true, Some(r)) => r.model.clone(),
            _ => bundles.default_bundle().classifier.model_info(),
        };
        Ok(Json(BatchClassifyResponse {
            results,
            model,
            timing_ms: started.elapsed().as_secs_f64() * 1e3,
        })
        .into_response())
    } else {
        let one = results
            .pop()
            .ok_or_else(|| TriageError::Internal("no result".into()))?;
        Ok(Json(one).into_response())
    }
}

/// Request items through the whole pipeline: each routed to its bundle and prepared
/// there, each bundle's items classified in one engine call, results in input order. The
/// one path of `/v1/classify` and of the compatibility routes that classify a message
/// (`compat::classify_one`). Conversation ids are `tenant`'s.
pub(crate) async fn classify_items(
    bundles: &Arc<Bundles>,
    items: Vec<ClassifyRequest>,
    tenant: Tenant,
    started: Instant,
) -> Result<Vec<ClassifyResponse>, TriageError> {
    // Routing (language detection), normalisation and tokenization are CPU work: keep
    // them off the async workers.
    let prep = bundles.clone();
    // The request's trace continues on the blocking thread (normalise, tokenize).
    let span = tracing::Span::current();
    let groups = tokio::task::spawn_blocking(move || {
        span.in_scope(|| route_and_prepare(&prep, items, &tenant))
    })
    .await
    .map_err(TriageError::internal)??;
    let total: usize = groups.iter().map(|(_, p)| p.len()).sum();
    let mut slots: Vec<Option<ClassifyResponse>> = vec![None; total];
    // Groups run one after another, in order of first appearance: the encoders share
    // the cores anyway, and the turns of a conversation keep their order within a group.
    for (bundle, prepared) in groups {
        let served = &bundles.all()[bundle];
        let (rows, prepared): (Vec<usize>, Vec<Prepared>) = prepared.into_iter().unzip();
        let results = served
            .classifier
            .classify_with(prepared, started, served.kb.clone())
            .await?;
        ::metrics::counter!("triage_classified_total", "model" => served.name().to_string())
            .increment(results.len() as u64);
        for (row, r) in rows.into_iter().zip(results) {
            slots[row] = Some(r);
        }
    }
    slots
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| TriageError::Internal("an input got no result".into()))
}

/// Picks each item's bundle and prepares it there; the first bad item (or unknown model)
/// rejects the whole request before any encoder work is queued. Returns, per bundle index,
/// the items' input positions with their prepared form.
type Groups = Vec<(usize, Vec<(usize, Prepared)>)>;

fn route_and_prepare(
    bundles: &Arc<Bundles>,
    items: Vec<ClassifyRequest>,
    tenant: &Tenant,
) -> Result<Groups, TriageError> {
    let many = items.len() > 1;
    let at = |e: TriageError, i: usize| if many { e.at(i) } else { e };
    // Every item is routed before any is prepared: an unknown model anywhere is the
    // request's error, whatever other items lack.
    let routed = items
        .into_iter()
        .map(|item| bundles.route_item(item))
        .collect::<Result<Vec<_>, _>>()?;
    let routes: Vec<usize> = routed
        .iter()
        .map(|r| bundles.index_of(r.served()))
        .collect();
    let mut routed: Vec<Option<Routed>> = routed.into_iter().map(Some).collect();
    Bundles::group(&routes)
        .into_iter()
        .map(|(bundle, rows)| {
            let prepared = rows
                .into_iter()
                .map(|i| {
                    let item = routed[i]
                        .take()
                        .ok_or_else(|| TriageError::Internal("item routed twice".into()))?;
                    item.prepare()
                        .map(|p| {
                            let tenant = tenant.clone();
                            (i, Prepared { tenant, ..p })
                        })
                        .map_err(|e| at(e, i))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((bundle, prepared))
        })
        .collect()
}
