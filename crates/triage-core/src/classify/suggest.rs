//! Suggestions: knowledge-base answers for the messages that ask (`suggest: true`),
//! searched with the embeddings the heads already used.

use super::respond::Pending;
use crate::api::ClassifyResponse;
use crate::error::TriageError;
use crate::kb::LiveKb;
use crate::kb::Suggestion;
use crate::policy::ShownSuggestion;
use crate::suggest::{Lookup, Want};
use crate::trace;
use ndarray::Array2;

/// Adds knowledge-base suggestions to the messages that asked for them, searched with
/// the embeddings the heads already used (the encoder runs once per message). A base
/// that is not loaded, or a failed search, leaves `suggestions` empty rather than
/// failing the classification, which is still worth having.
pub(super) fn suggest(
    kb: Option<&LiveKb>,
    k: usize,
    languages: &[String],
    emb: &Array2<f32>,
    responses: &mut [ClassifyResponse],
    pending: &mut [Pending],
) {
    let _suggest = match pending.iter().any(|p| p.suggest) {
        true => trace::step(|| tracing::info_span!("suggest")).entered(),
        false => tracing::Span::none().entered(),
    };
    for (row, (r, p)) in responses.iter_mut().zip(pending.iter_mut()).enumerate() {
        if !p.suggest {
            continue;
        }
        r.suggestions = Some(Vec::new());
        let Some(kb) = kb else {
            ::metrics::counter!("triage_suggest_unavailable_total").increment(1);
            continue;
        };
        let lookup = Lookup {
            text: &p.text,
            embedding: Some(emb.row(row)),
            channel: r.channel.parse().unwrap_or_default(),
            lang: &r.lang,
            model_covers_lang: languages.contains(&r.lang),
            intent: r.intent.as_ref(),
            emotion: r.emotion.as_ref(),
            upset_before: false,
        };
        match kb.lookup(
            &lookup,
            Want {
                bot: true,
                agent_k: k,
            },
        ) {
            Ok(found) => {
                p.shown = found.agent.iter().map(shown).collect();
                p.bot_answer = found.bot.as_ref().map(shown);
                r.suggestions = Some(found.agent);
                r.bot_answer = found.bot;
            }
            Err(e) => {
                ::metrics::counter!("triage_suggest_unavailable_total").increment(1);
                // An unloaded base is reported by /ready and the loader's log already.
                if matches!(e, TriageError::KbUnavailable(_)) {
                    tracing::debug!(error = %e, "no suggestions for this message");
                } else {
                    tracing::warn!(error = %e, "no suggestions for this message");
                }
            }
        }
    }
}

/// A suggestion as conversation memory keeps it.
fn shown(s: &Suggestion) -> ShownSuggestion {
    ShownSuggestion {
        id: s.id.clone(),
        title: Some(s.title.clone()),
        score: Some(s.score),
        bot: false,
    }
}
