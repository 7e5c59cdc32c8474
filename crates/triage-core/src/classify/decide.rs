//! Decide: the handoff policy on each response (with conversation memory), then the
//! response's final shape (`top` trimmed to `top_k`, the bot answer withheld unless the
//! bot may answer, the timing).

use super::respond::Pending;
use crate::api::ClassifyResponse;
use crate::policy::{Action, HandoffService, TurnInput, TurnMeta};
use crate::text::Channel;
use crate::trace;
use std::time::Instant;

/// Runs the handoff policy on each response (in order, so turns of one conversation
/// within a batch see each other), then trims `top` to the requested `top_k`. A bot
/// answer the policy does not let the bot send is withheld.
pub(super) fn decide(
    handoff: Option<&HandoffService>,
    languages: &[String],
    responses: &mut [ClassifyResponse],
    pending: Vec<Pending>,
    started: Instant,
) {
    let _policy = match handoff {
        Some(_) => trace::step(|| tracing::info_span!("policy")).entered(),
        None => tracing::Span::none().entered(),
    };
    let now = crate::policy::now_ms();
    for (r, p) in responses.iter_mut().zip(pending) {
        if let Some(svc) = handoff {
            let Ok(channel) = r.channel.parse::<Channel>() else {
                continue;
            };
            let turn = TurnInput {
                text: p.text,
                channel,
                lang: r.lang.clone(),
                model_covers_lang: languages.contains(&r.lang),
                intent: r.intent.clone(),
                emotion: r.emotion.clone(),
                customer: p.customer,
                surge_count: None,
                memory_unavailable: false,
            };
            let meta = TurnMeta {
                conversation_id: p.conversation_id,
                raw_text: p.raw,
                suggestions: p.shown,
                bot_answer: p.bot_answer,
                model: Some(r.model.name.clone()),
                tenant: p.tenant,
            };
            let decision = svc.handle(turn, meta, now);
            if decision.action != Action::Bot {
                r.bot_answer = None;
            }
            r.handoff = Some(decision);
        }
        if let Some(i) = &mut r.intent {
            i.top.truncate(p.top_k);
        }
    }
    let ms = started.elapsed().as_secs_f64() * 1e3;
    for r in responses.iter_mut() {
        r.timing_ms = ms;
    }
}
