//! `POST /v1/suggest`: agent assist. Knowledge-base answers for one message, for a
//! conversation given as its messages, or for one the server remembers; in agent mode
//! (the top k, an empathy script first when the customer is upset) or bot mode (the one
//! answer a bot may send on its own, or none). Nothing is stored: asking about a
//! conversation does not add a turn to it.
//!
//! A conversation is searched as its newest few customer messages joined, so that a
//! latest turn like "and now?" still carries the issue named two turns earlier. With
//! several bundles loaded, the joined text picks one (`model`, else its language) and is
//! searched in that bundle's own knowledge-base index.

use super::auth::Principal;
use super::error::{ApiError, ApiJson};
use super::AppState;
use axum::extract::State;
use axum::Json;
use std::time::Instant;
use triage_core::api::{
    ClassifyRequest, ErrorBody, Mode, StoredTurn, SuggestRequest, SuggestResponse,
};
use triage_core::classify::{check_conversation_id, Classifier};
use triage_core::error::TriageError;
use triage_core::suggest::{Lookup, Want};
use triage_core::tenant::Tenant;

/// What is searched: the joined messages and what is known of the conversation.
struct Source {
    texts: Vec<String>,
    channel: Option<String>,
    lang: Option<String>,
    intent_set: Option<String>,
    /// Languages of the earlier turns that read negative: they count only where the
    /// answering bundle reads that language, which is known once the text is routed.
    upset_langs: Vec<String>,
}

#[utoipa::path(post, path = "/v1/suggest", request_body = SuggestRequest,
    responses(
        (status = 200, description = "Suggestions, best first (bot mode: at most one)", body = SuggestResponse),
        (status = 400, description = "Malformed JSON or invalid UTF-8", body = ErrorBody),
        (status = 404, description = "`unknown_conversation`: no such conversation, or it expired", body = ErrorBody),
        (status = 413, description = "A text or too many texts", body = ErrorBody),
        (status = 422, description = "Not exactly one of text, texts, conversation_id; empty text; k out of range; unknown channel, intent set, mode or model (`unknown_model`)", body = ErrorBody),
        (status = 429, description = "Queue full; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "Model loading, or `kb_unavailable`: suggestions disabled, the knowledge base still being indexed (`kb.state = indexing` in `/ready`), or not loaded", body = ErrorBody)))]
pub(crate) async fn suggest(
    State(state): State<AppState>,
    caller: Principal,
    ApiJson(req): ApiJson<SuggestRequest>,
) -> Result<Json<SuggestResponse>, ApiError> {
    let started = Instant::now();
    let bundles = state.bundles()?.clone();
    if !state.config.suggest.enabled {
        return Err(TriageError::KbUnavailable(
            "suggestions are disabled (suggest.enabled = false)".into(),
        )
        .into());
    }
    // Size limits are the server's, the same for every bundle.
    let limits = bundles.default_bundle().classifier.clone();
    let cfg = &state.config.suggest;
    let mode = req.mode.unwrap_or(Mode::Agent);
    let k = req.k.unwrap_or(cfg.k);
    if k == 0 || k > cfg.max_k {
        return Err(TriageError::InvalidRequest(format!(
            "k must be between 1 and {} (suggest.max_k)",
            cfg.max_k
        ))
        .into());
    }
    let source = match (&req.text, &req.texts, &req.conversation_id) {
        (Some(t), None, None) => Source {
            texts: vec![t.clone()],
            channel: req.channel.clone(),
            lang: req.lang.clone(),
            intent_set: req.intent_set.clone(),
            upset_langs: Vec::new(),
        },
        (None, Some(texts), None) => {
            check_texts(&limits, texts, state.config.limits.max_batch_items)?;
            Source {
                texts: texts.clone(),
                channel: req.channel.clone(),
                lang: req.lang.clone(),
                intent_set: req.intent_set.clone(),
                upset_langs: Vec::new(),
            }
        }
        (None, None, Some(id)) => {
            check_conversation_id(id)?;
            let turns = stored_turns(&state, &caller.tenant, id).await?;
            from_turns(&req, id, &turns, cfg.conversation_turns)?
        }
        _ => {
            return Err(TriageError::InvalidRequest(
                "give exactly one of \"text\" (a message), \"texts\" (a conversation's messages) or \"conversation_id\"".into(),
            )
            .into())
        }
    };
    let (text, turns_used) = join_newest(
        &source.texts,
        cfg.conversation_turns.max(1),
        state.config.limits.max_text_bytes,
    );
    let request = ClassifyRequest {
        text: Some(text),
        channel: source.channel,
        lang: source.lang,
        intent_set: source.intent_set,
        model: req.model.clone(),
        ..Default::default()
    };
    let (served, prepared) = tokio::task::spawn_blocking(move || {
        // Routed as a classify item: the language that routed the text is the one it is
        // answered in, and the text is normalised once.
        let routed = bundles.route_item(request)?;
        let served = routed.served().clone();
        routed.prepare().map(|p| (served, p))
    })
    .await
    .map_err(TriageError::internal)??;
    let classifier = served.classifier.clone();
    let kb = served.kb.clone().ok_or_else(|| {
        TriageError::KbUnavailable(format!(
            "model {:?} has no knowledge base",
            classifier.manifest.name
        ))
    })?;
    // Before the encoder runs: while the base is first indexed, that encoder is busy
    // embedding its articles, and the answer would be 503 anyway.
    kb.serving()?;
    let (mut responses, mut texts, emb) = classifier.analyse(vec![prepared], started).await?;
    let (Some(response), Some(text)) = (responses.pop(), texts.pop()) else {
        return Err(TriageError::Internal("no analysis for the text".into()).into());
    };
    let covers = classifier.covers_lang(&response.lang);
    let upset_before = source.upset_langs.iter().any(|l| classifier.covers_lang(l));
    let want = match mode {
        Mode::Bot => Want {
            bot: true,
            agent_k: 0,
        },
        Mode::Agent => Want {
            bot: false,
            agent_k: k,
        },
    };
    // A search over a large base takes milliseconds: off the async workers.
    let (found, response) = tokio::task::spawn_blocking(move || {
        let lookup = Lookup {
            text: &text,
            embedding: emb.rows().into_iter().next(),
            channel: response.channel.parse().unwrap_or_default(),
            lang: &response.lang,
            model_covers_lang: covers,
            intent: response.intent.as_ref(),
            emotion: response.emotion.as_ref(),
            upset_before,
        };
        kb.lookup(&lookup, want).map(|f| (f, response))
    })
    .await
    .map_err(TriageError::internal)??;
    let suggestions = match mode {
        Mode::Bot => found.bot.into_iter().collect(),
        Mode::Agent => found.agent,
    };
    Ok(Json(SuggestResponse {
        mode,
        suggestions,
        intent: response.intent,
        emotion: response.emotion,
        conversation_id: req.conversation_id,
        turns_used,
        kb_generation: found.generation,
        model: classifier.model_info(),
        timing_ms: started.elapsed().as_secs_f64() * 1e3,
    }))
}

fn check_texts(c: &Classifier, texts: &[String], max: usize) -> Result<(), TriageError> {
    if texts.is_empty() {
        return Err(TriageError::InvalidRequest("\"texts\" is empty".into()));
    }
    if texts.len() > max {
        return Err(TriageError::BatchTooLarge {
            items: texts.len(),
            max,
        });
    }
    texts
        .iter()
        .enumerate()
        .try_for_each(|(i, t)| c.check_text(Some(t)).map_err(|e| e.at(i)))
}

/// The caller's tenant's conversation `id` (another tenant's is unknown).
async fn stored_turns(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
) -> Result<Vec<StoredTurn>, TriageError> {
    let handoff = state.handoff()?.clone();
    let id = id.to_string();
    let (lookup, tenant) = (id.clone(), tenant.clone());
    let now = triage_core::policy::now_ms();
    let turns = if handoff.blocking() {
        tokio::task::spawn_blocking(move || handoff.turns(&tenant, &lookup, now))
            .await
            .map_err(TriageError::internal)?
    } else {
        handoff.turns(&tenant, &lookup, now)
    }?;
    if turns.is_empty() {
        return Err(TriageError::UnknownConversation(id));
    }
    Ok(turns)
}

/// The newest customer messages of a remembered conversation, with its channel, language
/// and intent set as defaults, and the languages of those in which the customer was upset.
fn from_turns(
    req: &SuggestRequest,
    id: &str,
    turns: &[StoredTurn],
    n: usize,
) -> Result<Source, TriageError> {
    let recent: Vec<&StoredTurn> = turns
        .iter()
        .rev()
        .filter(|t| t.text.as_deref().is_some_and(|x| !x.trim().is_empty()))
        .take(n.max(1))
        .collect();
    let Some(latest) = recent.first() else {
        return Err(TriageError::InvalidRequest(format!(
            "conversation {id:?} keeps no text (memory.store_text = \"none\"): send its messages as \"texts\""
        )));
    };
    let upset_langs = recent
        .iter()
        .filter(|t| {
            t.emotion
                .as_ref()
                .is_some_and(|e| e.sentiment == "negative")
        })
        .map(|t| t.lang.clone())
        .collect();
    Ok(Source {
        texts: recent.iter().rev().filter_map(|t| t.text.clone()).collect(),
        channel: req.channel.clone().or_else(|| Some(latest.channel.clone())),
        lang: req.lang.clone(),
        intent_set: req
            .intent_set
            .clone()
            .or_else(|| latest.intent.as_ref().map(|i| i.set.clone())),
        upset_langs,
    })
}

/// The newest `n` texts (oldest first) joined by newlines, dropping older ones until the
/// result fits `max_bytes`. Returns the text and how many messages it holds.
fn join_newest(texts: &[String], n: usize, max_bytes: usize) -> (String, usize) {
    let mut picked: Vec<&str> = Vec::new();
    let mut bytes = 0;
    for t in texts.iter().rev().take(n) {
        let t = t.trim();
        let extra = t.len() + usize::from(!picked.is_empty());
        if !picked.is_empty() && bytes + extra > max_bytes {
            break;
        }
        bytes += extra;
        picked.push(t);
    }
    picked.reverse();
    let used = picked.len();
    (picked.join("\n"), used)
}

#[cfg(test)]
mod tests {
    use super::join_newest;

    #[test]
    fn joins_the_newest_texts_that_fit() {
        let t: Vec<String> = ["a1", "b22", "c333"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(join_newest(&t, 3, 100), ("a1\nb22\nc333".into(), 3));
        assert_eq!(join_newest(&t, 2, 100), ("b22\nc333".into(), 2));
        assert_eq!(join_newest(&t, 3, 8), ("b22\nc333".into(), 2));
        assert_eq!(
            join_newest(&t, 3, 2),
            ("c333".into(), 1),
            "the newest always"
        );
    }
}
