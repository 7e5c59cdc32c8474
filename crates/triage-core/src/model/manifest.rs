//! `bundle.toml`: what a bundle is (name, version, base model, languages) and how to read
//! its heads' outputs (kind, labels, temperature, thresholds, groupings). Kept apart from
//! the weights so thresholds can be re-tuned without touching `model.safetensors`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub base_model: String,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default = "default_max_len")]
    pub max_seq_len: usize,
    #[serde(default = "default_pooling")]
    pub pooling: String,
    /// Prepended to every input before tokenization (e5 models expect `"query: "`).
    #[serde(default)]
    pub prefix: String,
    #[serde(default, rename = "head")]
    pub heads: Vec<HeadSpec>,
}

fn default_max_len() -> usize {
    128
}
fn default_pooling() -> String {
    "mean".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// One label per input (intents): softmax over temperature-scaled logits.
    Softmax,
    /// Any number of labels per input (emotions): independent sigmoids with per-label
    /// thresholds.
    Sigmoid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadSpec {
    pub name: String,
    pub kind: HeadKind,
    pub labels: Vec<String>,
    /// Calibration temperature: logits are divided by it before softmax/sigmoid.
    #[serde(default = "one")]
    pub temperature: f32,
    /// Sigmoid heads: a label is predicted when its score is at or above its threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<f32>,
    /// Softmax heads trained with an out-of-scope class name it here (clinc150: `oos`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<String>,
    /// A confidence below this also counts as out of scope (tuned on dev).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oos_threshold: Option<f32>,
    /// Derived groupings, e.g. `ekman` and `sentiment` for the emotion head: label → group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groupings: BTreeMap<String, BTreeMap<String, String>>,
    /// Labels whose scores combine into the frustration score (noisy-OR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frustration: Vec<String>,
    /// Free-form provenance (training data, fit method) shown by `/info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Sigmoid heads: thresholds for messages in one language, keyed by its primary
    /// subtag (`zh` also serves `zh-Hant-TW`). A multilingual encoder fine-tuned on one
    /// language scores the others on another scale (0.1.0 of the zh+en bundle gave a
    /// Chinese refund complaint twelve labels at the English thresholds), so one set of
    /// thresholds cannot serve both; languages not listed read `thresholds`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_language: BTreeMap<String, LanguageReading>,
}

/// How a sigmoid head reads the messages of one language (`[head.by_language.zh]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageReading {
    /// One per label, as the head's own `thresholds`.
    pub thresholds: Vec<f32>,
    /// How they were chosen (data, method), shown with the head's provenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

fn one() -> f32 {
    1.0
}

impl HeadSpec {
    /// The thresholds a message in `lang` (a BCP 47 tag, e.g. `zh-Hant-TW`) is read with:
    /// its primary subtag's entry of `by_language`, else the head's own.
    pub fn thresholds_for(&self, lang: &str) -> &[f32] {
        let primary = lang.split(['-', '_']).next().unwrap_or(lang);
        self.by_language
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(primary))
            .map_or(self.thresholds.as_slice(), |(_, r)| r.thresholds.as_slice())
    }
}

impl Manifest {
    /// Checks what the loader cannot check against weights: label/threshold agreement,
    /// unique names, known pooling.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.pooling != "mean" {
            return Err(format!(
                "pooling {:?} is not supported (only \"mean\")",
                self.pooling
            ));
        }
        if self.max_seq_len == 0 || self.max_seq_len > 512 {
            return Err(format!(
                "max_seq_len {} is outside 1..=512",
                self.max_seq_len
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for h in &self.heads {
            if !seen.insert(h.name.as_str()) {
                return Err(format!("head {:?} is defined twice", h.name));
            }
            if h.labels.is_empty() {
                return Err(format!("head {:?} has no labels", h.name));
            }
            if !(h.temperature.is_finite() && h.temperature > 0.0) {
                return Err(format!("head {:?}: temperature must be > 0", h.name));
            }
            match h.kind {
                HeadKind::Sigmoid if h.thresholds.len() != h.labels.len() => {
                    return Err(format!(
                        "head {:?}: {} thresholds for {} labels",
                        h.name,
                        h.thresholds.len(),
                        h.labels.len()
                    ))
                }
                HeadKind::Softmax if !h.thresholds.is_empty() => {
                    return Err(format!(
                        "head {:?}: thresholds are for sigmoid heads",
                        h.name
                    ))
                }
                _ => {}
            }
            for (lang, reading) in &h.by_language {
                if h.kind != HeadKind::Sigmoid {
                    return Err(format!(
                        "head {:?}: by_language.{lang} thresholds are for sigmoid heads",
                        h.name
                    ));
                }
                if reading.thresholds.len() != h.labels.len() {
                    return Err(format!(
                        "head {:?}: by_language.{lang} has {} thresholds for {} labels",
                        h.name,
                        reading.thresholds.len(),
                        h.labels.len()
                    ));
                }
                if lang.is_empty() || lang.contains(['-', '_']) {
                    return Err(format!(
                        "head {:?}: by_language key {lang:?} must be a primary language subtag such as \"zh\"",
                        h.name
                    ));
                }
            }
            if let Some(oos) = &h.out_of_scope {
                if !h.labels.contains(oos) {
                    return Err(format!(
                        "head {:?}: out_of_scope label {oos:?} is not among its labels",
                        h.name
                    ));
                }
            }
            for l in &h.frustration {
                if !h.labels.contains(l) {
                    return Err(format!(
                        "head {:?}: frustration label {l:?} unknown",
                        h.name
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn head(&self, name: &str) -> Option<&HeadSpec> {
        self.heads.iter().find(|h| h.name == name)
    }
}
