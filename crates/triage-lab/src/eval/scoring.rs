//! Running records through the serving pipeline: the bundle's own normaliser, tokenizer
//! and encoder (`Classifier::embed_offline`, through the embedding cache so re-runs
//! skip the encoder), then the heads and the same `intent_result` / `emotion_result`
//! a `/v1/classify` response is built from.

use super::error::EvalError;
use crate::data::Record;
use crate::train::cache::embed_cached;
use ndarray::{Array2, Axis};
use serde::Serialize;
use triage_core::api::ClassifyResponse;
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::model::heads::{emotion_result, intent_result};
use triage_core::model::{Bundle, Head, HeadKind};
use triage_core::text::Channel;

/// A bundle's name and version, and where it was loaded from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BundleRef {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) path: String,
}

/// Bundles loaded once per run (each owns an encoder thread), by model path.
pub(crate) struct Models {
    config: Config,
    loaded: Vec<(String, Classifier)>,
}

impl Models {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            loaded: Vec::new(),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn get(&mut self, model: &str) -> Result<&Classifier, EvalError> {
        if let Some(i) = self.loaded.iter().position(|(m, _)| m == model) {
            return Ok(&self.loaded[i].1);
        }
        tracing::info!(model, "loading bundle");
        let c = Classifier::new(Bundle::load(model)?, self.config.clone());
        self.loaded.push((model.to_string(), c));
        let last = self.loaded.len() - 1;
        Ok(&self.loaded[last].1)
    }
}

pub(crate) fn bundle_ref(c: &Classifier, model: &str) -> BundleRef {
    BundleRef {
        name: c.manifest.name.clone(),
        version: c.manifest.version.clone(),
        path: model.to_string(),
    }
}

/// The head named `name`, or an error listing the bundle's heads.
pub(crate) fn head<'a>(c: &'a Classifier, name: &str, task: &str) -> Result<&'a Head, EvalError> {
    c.heads()
        .iter()
        .find(|h| h.spec.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = c.heads().iter().map(|h| h.spec.name.as_str()).collect();
            EvalError::task(
                task,
                format!(
                    "bundle {} has no head {name:?} (it has: {})",
                    c.manifest.name,
                    if names.is_empty() {
                        "no heads".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            )
        })
}

/// Sentence embeddings of `records`, each normalised for its own channel.
pub fn embed(c: &Classifier, records: &[Record], what: &str) -> Result<Array2<f32>, EvalError> {
    let texts: Vec<(String, Channel)> = records
        .iter()
        .map(|r| (r.text.clone(), r.channel))
        .collect();
    Ok(embed_cached(c, &texts, what)?)
}

/// The language serving reads `r` in: the record's own, else the one detected on its text
/// normalised for its channel (as a request that names none).
pub fn served_lang(c: &Classifier, r: &Record) -> String {
    r.lang
        .clone()
        .unwrap_or_else(|| c.detect_lang(&r.text, Some(&r.channel.to_string())))
}

/// `/v1/classify` responses for `records` (intent from `intent_head`, emotion from the
/// bundle's `emotion` head when it has one), built from precomputed embeddings.
pub(crate) fn responses(
    c: &Classifier,
    records: &[Record],
    emb: &Array2<f32>,
    intent_head: &Head,
) -> Vec<ClassifyResponse> {
    let model = c.model_info();
    let top_k = c.config().top_k.max(1);
    let intent_scores = intent_head.scores(emb.view());
    let emotion = c
        .heads()
        .iter()
        .find(|h| h.spec.name == "emotion" && h.spec.kind == HeadKind::Sigmoid)
        .map(|h| (h, h.scores(emb.view())));
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let lang = served_lang(c, r);
            ClassifyResponse {
                intent: Some(intent_result(
                    &intent_head.spec,
                    &intent_scores.index_axis(Axis(0), i).to_vec(),
                    top_k,
                )),
                emotion: emotion.as_ref().map(|(h, s)| {
                    emotion_result(&h.spec, &s.index_axis(Axis(0), i).to_vec(), &lang)
                }),
                channel: r.channel.to_string(),
                lang,
                conversation_id: None,
                handoff: None,
                suggestions: None,
                bot_answer: None,
                model: model.clone(),
                timing_ms: 0.0,
            }
        })
        .collect()
}
