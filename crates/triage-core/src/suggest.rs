//! Knowledge-base suggestions for a classified message: one search in the modes the
//! caller wants, against one version of the live base ([`LiveKb`]) (an edit landing
//! between the two searches cannot mix versions in one answer), shared by
//! `/v1/classify` (`suggest: true`), `/v1/suggest` and `triage classify`.
//!
//! What the classifier said is trusted only where the policy trusts it: the predicted
//! intent boosts articles, and a negative sentiment puts an empathy script first, only
//! when the model reads the message's language. A language the model does not read
//! still gets dense and lexical matches among the articles in that language.

use crate::cause::{Cause, Detail};
use crate::error::TriageError;
use crate::kb::{LiveKb, Mode, Query, Suggestion, Version};
use crate::model::{EmotionResult, IntentResult};
use crate::text::Channel;
use ndarray::ArrayView1;
use std::sync::Arc;

/// A classified message as the knowledge base needs it.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The normalised text (what the encoder saw).
    pub text: &'a str,
    /// Its embedding from the same encoder as the base's, when the caller has it.
    pub embedding: Option<ArrayView1<'a, f32>>,
    pub channel: Channel,
    pub lang: &'a str,
    pub model_covers_lang: bool,
    pub intent: Option<&'a IntentResult>,
    pub emotion: Option<&'a EmotionResult>,
    /// The customer was upset earlier in the conversation (an empathy script is shown
    /// even if this text alone reads neutral).
    pub upset_before: bool,
}

/// Which answers to search for.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    pub bot: bool,
    /// Agent suggestions (0: none).
    pub agent_k: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The one answer a bot may send on its own.
    pub bot: Option<Suggestion>,
    /// For the agent, best first, empathy script first when upset.
    pub agent: Vec<Suggestion>,
    /// Version of the base that answered.
    pub generation: u64,
}

impl<'a> Lookup<'a> {
    /// The customer reads as upset: an empathy script goes first for the agent.
    fn negative(&self) -> bool {
        self.upset_before
            || (self.model_covers_lang
                && self
                    .emotion
                    .is_some_and(|e| e.sentiment.label == "negative"))
    }

    fn predicted_intent(&self) -> Option<(&'a str, f32)> {
        self.intent
            .filter(|i| self.model_covers_lang && !i.out_of_scope)
            .map(|i| (i.label.as_str(), i.confidence))
    }
}

impl LiveKb {
    /// Searches the base serving now. `KbUnavailable` while it is first indexed or when
    /// it did not load.
    pub fn lookup(&self, l: &Lookup<'_>, want: Want) -> Result<Found, TriageError> {
        let version = self.serving()?;
        let kb = &version.kb;
        let negative = l.negative();
        let emotions: &[String] = match l.emotion {
            Some(e) if l.model_covers_lang => &e.labels,
            _ => &[],
        };
        let query = |mode: Mode, k: usize| Query {
            text: l.text,
            embedding: l.embedding,
            predicted_intent: l.predicted_intent(),
            channel: Some(l.channel),
            lang: Some(l.lang),
            negative_emotion: negative,
            emotions,
            mode,
            k,
        };
        let search = |q: Query| {
            kb.search(&q).map_err(|e| {
                TriageError::Unexpected(Cause::new(Detail::with(
                    format!("knowledge-base search: {e}"),
                    e,
                )))
            })
        };
        let mut found = Found {
            generation: version.generation,
            ..Found::default()
        };
        if want.bot {
            found.bot = search(query(Mode::Bot, 1))?.into_iter().next();
            count(Mode::Bot, usize::from(found.bot.is_some()));
        }
        if want.agent_k > 0 {
            found.agent = search(query(Mode::Agent, want.agent_k))?;
            count(Mode::Agent, found.agent.len());
        }
        Ok(found)
    }

    /// The base serving now, or why there is none as a `KbUnavailable` error.
    pub fn serving(&self) -> Result<Arc<Version>, TriageError> {
        if let Some(v) = self.current() {
            return Ok(v);
        }
        let source = self.source().display();
        Err(TriageError::KbUnavailable(if self.is_indexing() {
            format!(
                "the knowledge base {source} is still being indexed; retry shortly (see /ready)"
            )
        } else {
            format!("the knowledge base {source} is not loaded (see /ready)")
        }))
    }
}

fn count(mode: Mode, returned: usize) {
    let mode = match mode {
        Mode::Bot => "bot",
        Mode::Agent => "agent",
    };
    let result = if returned > 0 { "found" } else { "none" };
    ::metrics::counter!("triage_suggest_lookups_total", "mode" => mode, "result" => result)
        .increment(1);
    ::metrics::counter!("triage_suggestions_total", "mode" => mode).increment(returned as u64);
}
