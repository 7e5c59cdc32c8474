//! The entry points: async for the server, blocking for the CLI, the tests and the
//! warm-up. Every one takes the same path once its messages are prepared: the encoder,
//! then the heads ([`Classifier::respond`]), then [`After::finish`] (suggestions, then
//! the policy). They differ only in how they wait for the encoder and in what they
//! attach: a knowledge base, the handoff policy.

use super::decide::decide;
use super::prepare::Prepared;
use super::respond::Pending;
use super::suggest::suggest;
use super::Classifier;
use crate::api::{ClassifyRequest, ClassifyResponse};
use crate::error::TriageError;
use crate::kb::LiveKb;
use crate::model::Encoded;
use crate::policy::HandoffService;
use ndarray::Array2;
use std::sync::Arc;
use std::time::Instant;

/// What the steps after the heads need besides the messages. Borrowed, so the async path
/// can build one on a blocking thread from owned copies.
struct After<'a> {
    /// Where suggestions come from; `None`: messages that ask get an empty list.
    kb: Option<&'a LiveKb>,
    /// `None`: no decision and no conversation memory (warm-up, `/v1/suggest`).
    handoff: Option<&'a HandoffService>,
    /// The bundle's `languages` (whether its scores are trusted).
    languages: &'a [String],
    /// Agent suggestions per message (`suggest.k`).
    k: usize,
    started: Instant,
}

impl After<'_> {
    /// Suggestions for the messages that ask, then the policy on every one: the last
    /// steps of every entry point that classifies.
    fn finish(
        &self,
        emb: &Array2<f32>,
        mut responses: Vec<ClassifyResponse>,
        mut pending: Vec<Pending>,
    ) -> Vec<ClassifyResponse> {
        let (r, p) = (&mut responses, &mut pending);
        suggest(self.kb, self.k, self.languages, emb, r, p);
        decide(self.handoff, self.languages, r, pending, self.started);
        responses
    }
}

/// The token ids the encoder reads, one per message.
fn encodings(prepared: &[Prepared]) -> Vec<Encoded> {
    prepared.iter().map(|p| p.encoded.clone()).collect()
}

impl Classifier {
    fn after<'a>(
        &'a self,
        kb: Option<&'a LiveKb>,
        handoff: Option<&'a HandoffService>,
        started: Instant,
    ) -> After<'a> {
        After {
            kb,
            handoff,
            languages: &self.manifest.languages,
            k: self.config.suggest.k,
            started,
        }
    }

    pub async fn classify(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
    ) -> Result<Vec<ClassifyResponse>, TriageError> {
        self.classify_with(prepared, started, None).await
    }

    /// [`Self::classify`] with suggestions from `kb` for the messages that ask for them
    /// (`suggest: true`; without a base they get an empty list).
    pub async fn classify_with(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
        kb: Option<Arc<LiveKb>>,
    ) -> Result<Vec<ClassifyResponse>, TriageError> {
        let emb = self.engine.embed(encodings(&prepared)).await?;
        let searches = kb.is_some() && prepared.iter().any(|p| p.suggest);
        let (responses, pending) = self.respond(prepared, &emb);
        let blocking = self.handoff.as_ref().is_some_and(|s| s.blocking());
        if !(searches || blocking) {
            let after = self.after(kb.as_deref(), self.handoff.as_deref(), started);
            return Ok(after.finish(&emb, responses, pending));
        }
        // Redis calls block, and a search over a large base takes milliseconds: keep both
        // off the async workers.
        let handoff = self.handoff.clone();
        let languages = self.manifest.languages.clone();
        let k = self.config.suggest.k;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _request = span.entered();
            let after = After {
                kb: kb.as_deref(),
                handoff: handoff.as_deref(),
                languages: &languages,
                k,
                started,
            };
            after.finish(&emb, responses, pending)
        })
        .await
        .map_err(TriageError::internal)
    }

    /// The heads' answers and the embeddings, without the policy and without storing a
    /// turn: what `/v1/suggest` needs to search for a text that is not a new message.
    /// Returns the responses, the normalised texts and their embeddings.
    pub async fn analyse(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
    ) -> Result<(Vec<ClassifyResponse>, Vec<String>, Array2<f32>), TriageError> {
        let emb = self.engine.embed(encodings(&prepared)).await?;
        let (mut responses, pending) = self.respond(prepared, &emb);
        let texts = pending.iter().map(|p| p.text.clone()).collect();
        // No suggestions (the caller searches itself) and no policy: only the final shape.
        decide(
            None,
            &self.manifest.languages,
            &mut responses,
            pending,
            started,
        );
        Ok((responses, texts, emb))
    }

    pub fn classify_blocking(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
    ) -> Result<Vec<ClassifyResponse>, TriageError> {
        self.run_blocking(prepared, started, self.handoff.as_deref(), None)
    }

    /// [`Self::classify_blocking`] with suggestions from `kb` (`triage classify`).
    pub fn classify_blocking_with(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
        kb: Option<&LiveKb>,
    ) -> Result<Vec<ClassifyResponse>, TriageError> {
        self.run_blocking(prepared, started, self.handoff.as_deref(), kb)
    }

    fn run_blocking(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
        handoff: Option<&HandoffService>,
        kb: Option<&LiveKb>,
    ) -> Result<Vec<ClassifyResponse>, TriageError> {
        let emb = self.engine.embed_blocking(encodings(&prepared))?;
        let (responses, pending) = self.respond(prepared, &emb);
        Ok(self
            .after(kb, handoff, started)
            .finish(&emb, responses, pending))
    }

    /// Runs a few texts of different lengths through the whole path so the first real
    /// request does not pay for allocator and thread-pool warm-up.
    pub fn warm_up(&self) {
        let texts = [
            "hello",
            "where is my parcel? it was supposed to arrive on monday",
            "I have been waiting for two weeks for my refund and nobody answers my emails, this is unacceptable",
        ];
        for _ in 0..2 {
            let reqs: Vec<ClassifyRequest> = texts
                .iter()
                .map(|t| ClassifyRequest {
                    text: Some(t.to_string()),
                    ..Default::default()
                })
                .collect();
            // Without the policy: warm-up texts must not count towards a surge.
            if let Ok(p) = self.prepare_all(&reqs) {
                let _ = self.run_blocking(p, Instant::now(), None, None);
            }
        }
    }
}
