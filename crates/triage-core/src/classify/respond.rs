//! Heads → response: each message's intent and emotion scored on the embeddings, as the
//! wire [`ClassifyResponse`] (no decision, suggestions or timing yet), beside the
//! [`Pending`] state the later steps ([`super::suggest`], [`super::decide`]) need.

use super::prepare::Prepared;
use super::Classifier;
use crate::api::{ClassifyResponse, Customer};
use crate::model::heads::{emotion_result, intent_result};
use crate::policy::ShownSuggestion;
use crate::tenant::Tenant;
use crate::trace;
use ndarray::{Array2, Axis};

/// What the suggestion and policy steps need of a message once the heads have answered.
pub(super) struct Pending {
    pub(super) text: String,
    pub(super) raw: String,
    pub(super) customer: Option<Customer>,
    pub(super) conversation_id: Option<String>,
    pub(super) top_k: usize,
    pub(super) suggest: bool,
    /// Suggestions returned, as conversation memory keeps them.
    pub(super) shown: Vec<ShownSuggestion>,
    pub(super) bot_answer: Option<ShownSuggestion>,
    pub(super) tenant: Tenant,
}

impl Classifier {
    pub(super) fn respond(
        &self,
        prepared: Vec<Prepared>,
        emb: &Array2<f32>,
    ) -> (Vec<ClassifyResponse>, Vec<Pending>) {
        let _heads = trace::step(|| tracing::info_span!("heads", texts = prepared.len())).entered();
        let model = self.model_info();
        let emotion = self
            .emotion_head
            .map(|i| (&self.heads[i], self.heads[i].scores(emb.view())));
        // Score each intent head once for all rows that asked for it.
        let mut intent_scores: Vec<Option<Array2<f32>>> = vec![None; self.heads.len()];
        for p in &prepared {
            if let Some(h) = p.intent_head {
                if intent_scores[h].is_none() {
                    intent_scores[h] = Some(self.heads[h].scores(emb.view()));
                }
            }
        }
        prepared
            .into_iter()
            .enumerate()
            .map(|(row, p)| {
                // The policy's ambiguity margin needs the top two, whatever top_k asks.
                let intent = p.intent_head.and_then(|h| {
                    let scores = intent_scores[h].as_ref()?.index_axis(Axis(0), row).to_vec();
                    Some(intent_result(&self.heads[h].spec, &scores, p.top_k.max(2)))
                });
                let emotion = emotion.as_ref().map(|(head, s)| {
                    emotion_result(&head.spec, &s.index_axis(Axis(0), row).to_vec(), &p.lang)
                });
                let response = ClassifyResponse {
                    intent,
                    emotion,
                    handoff: None,
                    channel: p.channel.to_string(),
                    lang: p.lang,
                    conversation_id: p.conversation_id.clone(),
                    suggestions: None,
                    bot_answer: None,
                    model: model.clone(),
                    timing_ms: 0.0,
                };
                let pending = Pending {
                    text: p.text,
                    raw: p.raw,
                    customer: p.customer,
                    conversation_id: p.conversation_id,
                    top_k: p.top_k,
                    suggest: p.suggest,
                    shown: Vec::new(),
                    bot_answer: None,
                    tenant: p.tenant,
                };
                (response, pending)
            })
            .unzip()
    }
}
