//! Classification heads on the pooled sentence embedding, and how their scores become
//! answers: a calibrated intent with an out-of-scope flag, or a set of emotions with the
//! sentiment and frustration derived from them.

use super::manifest::{HeadKind, HeadSpec};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone)]
pub struct Head {
    pub spec: HeadSpec,
    /// `[labels, hidden]`, as stored under `heads.<name>.weight`.
    weight: Array2<f32>,
    bias: Array1<f32>,
}

impl Head {
    pub fn new(spec: HeadSpec, weight: Array2<f32>, bias: Array1<f32>) -> Result<Self, String> {
        if weight.nrows() != spec.labels.len() || bias.len() != spec.labels.len() {
            return Err(format!(
                "head {:?}: weight has {} rows and bias {} entries for {} labels",
                spec.name,
                weight.nrows(),
                bias.len(),
                spec.labels.len()
            ));
        }
        Ok(Self { spec, weight, bias })
    }

    pub fn hidden_size(&self) -> usize {
        self.weight.ncols()
    }

    pub fn weight(&self) -> &Array2<f32> {
        &self.weight
    }

    pub fn bias(&self) -> &Array1<f32> {
        &self.bias
    }

    /// The head's raw outputs for a batch of embeddings `[n, hidden]` → `[n, labels]`:
    /// before temperature and softmax/sigmoid (TEI's `raw_scores`).
    pub fn logits(&self, embeddings: ArrayView2<f32>) -> Array2<f32> {
        let mut logits = embeddings.dot(&self.weight.t());
        logits += &self.bias;
        logits
    }

    /// Probabilities for a batch of embeddings `[n, hidden]` → `[n, labels]`.
    pub fn scores(&self, embeddings: ArrayView2<f32>) -> Array2<f32> {
        let mut logits = self.logits(embeddings);
        let t = self.spec.temperature;
        match self.spec.kind {
            HeadKind::Softmax => {
                for mut row in logits.axis_iter_mut(Axis(0)) {
                    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v / t));
                    row.mapv_inplace(|v| (v / t - max).exp());
                    let sum: f32 = row.sum();
                    row.mapv_inplace(|v| v / sum);
                }
            }
            HeadKind::Sigmoid => logits.mapv_inplace(|v| 1.0 / (1.0 + (-v / t).exp())),
        }
        logits
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LabelScore {
    pub label: String,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct IntentResult {
    /// The intent head that answered (`support` for head `intent.support`).
    pub set: String,
    /// The predicted label; the head's out-of-scope label when `out_of_scope` is true.
    pub label: String,
    pub confidence: f32,
    pub out_of_scope: bool,
    pub top: Vec<LabelScore>,
}

/// Reads a softmax head's scores: the best label, unless it is the out-of-scope class or
/// its confidence falls under the head's out-of-scope threshold.
pub fn intent_result(spec: &HeadSpec, scores: &[f32], top_k: usize) -> IntentResult {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let best = order.first().copied().unwrap_or(0);
    let confidence = scores.get(best).copied().unwrap_or(0.0);
    let best_label = spec.labels.get(best).cloned().unwrap_or_default();
    let below = spec.oos_threshold.is_some_and(|t| confidence < t);
    let is_oos_class = spec.out_of_scope.as_ref() == Some(&best_label);
    let out_of_scope = is_oos_class || (below && spec.out_of_scope.is_some());
    let label = if out_of_scope {
        spec.out_of_scope.clone().unwrap_or(best_label)
    } else {
        best_label
    };
    let top = order
        .iter()
        .take(top_k.max(1))
        .map(|&i| LabelScore {
            label: spec.labels[i].clone(),
            score: scores[i],
        })
        .collect();
    IntentResult {
        set: spec
            .name
            .strip_prefix("intent.")
            .unwrap_or(&spec.name)
            .to_string(),
        label,
        confidence,
        out_of_scope,
        top,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Sentiment {
    /// `positive`, `negative` or `neutral`.
    pub label: String,
    /// From -1 (negative) to 1 (positive).
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EmotionResult {
    /// Labels at or above their per-label threshold, highest first.
    pub labels: Vec<String>,
    /// The highest-scoring label.
    pub dominant: String,
    /// Every label's score.
    pub scores: BTreeMap<String, f32>,
    pub sentiment: Sentiment,
    /// Noisy-OR of the frustration labels' scores (anger, annoyance, ...): 0 to 1.
    pub frustration: f32,
    /// Ekman groups of the predicted labels (from the head's `ekman` grouping).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// Margin of the sentiment score under which a message counts as neutral.
const NEUTRAL_MARGIN: f32 = 0.2;

/// Reads a sigmoid head's scores for a message in `lang` (labels at the thresholds
/// [`HeadSpec::thresholds_for`] that language). Sentiment is the strongest positive label's
/// score minus the strongest negative one's (labels mapped by the head's `sentiment`
/// grouping), so one clearly angry label outweighs many weak positive ones.
pub fn emotion_result(spec: &HeadSpec, scores: &[f32], lang: &str) -> EmotionResult {
    let thresholds = spec.thresholds_for(lang);
    let mut predicted: Vec<usize> = (0..scores.len())
        .filter(|&i| thresholds.get(i).is_some_and(|&t| scores[i] >= t))
        .collect();
    predicted.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let dominant = (0..scores.len())
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
        .map(|i| spec.labels[i].clone())
        .unwrap_or_default();
    let sentiment_map = spec.groupings.get("sentiment");
    let strongest = |polarity: &str| -> f32 {
        spec.labels
            .iter()
            .zip(scores)
            .filter(|(l, _)| {
                sentiment_map.and_then(|m| m.get(*l)).map(String::as_str) == Some(polarity)
            })
            .map(|(_, &s)| s)
            .fold(0.0, f32::max)
    };
    let score = strongest("positive") - strongest("negative");
    let label = if score <= -NEUTRAL_MARGIN {
        "negative"
    } else if score >= NEUTRAL_MARGIN {
        "positive"
    } else {
        "neutral"
    };
    let frustration = 1.0
        - spec
            .frustration
            .iter()
            .filter_map(|l| spec.labels.iter().position(|x| x == l))
            .map(|i| 1.0 - scores[i])
            .product::<f32>();
    let mut groups: Vec<String> = predicted
        .iter()
        .filter_map(|&i| spec.groupings.get("ekman")?.get(&spec.labels[i]).cloned())
        .collect();
    groups.dedup();
    let mut seen = std::collections::HashSet::new();
    groups.retain(|g| seen.insert(g.clone()));
    EmotionResult {
        labels: predicted.iter().map(|&i| spec.labels[i].clone()).collect(),
        dominant,
        scores: spec
            .labels
            .iter()
            .cloned()
            .zip(scores.iter().copied())
            .collect(),
        sentiment: Sentiment {
            label: label.to_string(),
            score,
        },
        frustration,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn spec(kind: HeadKind, labels: &[&str]) -> HeadSpec {
        HeadSpec {
            name: "intent.test".into(),
            kind,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            temperature: 1.0,
            thresholds: vec![],
            out_of_scope: None,
            oos_threshold: None,
            groupings: Default::default(),
            frustration: vec![],
            source: None,
            by_language: Default::default(),
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_temperature_flattens() {
        let mut s = spec(HeadKind::Softmax, &["a", "b"]);
        let head = Head::new(s.clone(), array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0]).unwrap();
        let p = head.scores(array![[2.0, 0.0]].view());
        assert!((p.row(0).sum() - 1.0).abs() < 1e-6);
        s.temperature = 4.0;
        let hot = Head::new(s, array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0]).unwrap();
        let q = hot.scores(array![[2.0, 0.0]].view());
        assert!(q[[0, 0]] < p[[0, 0]] && q[[0, 0]] > 0.5);
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let s = spec(HeadKind::Softmax, &["a", "b", "c"]);
        assert!(Head::new(s, array![[1.0, 0.0]], array![0.0]).is_err());
    }

    #[test]
    fn low_confidence_becomes_out_of_scope() {
        let mut s = spec(HeadKind::Softmax, &["a", "b", "oos"]);
        s.out_of_scope = Some("oos".into());
        s.oos_threshold = Some(0.5);
        let r = intent_result(&s, &[0.4, 0.35, 0.25], 2);
        assert!(r.out_of_scope);
        assert_eq!(r.label, "oos");
        assert_eq!(r.top[0].label, "a");
        assert_eq!(r.top.len(), 2);
        let r = intent_result(&s, &[0.7, 0.2, 0.1], 3);
        assert!(!r.out_of_scope);
        assert_eq!(r.label, "a");
        assert_eq!(r.set, "test");
    }

    #[test]
    fn emotions_use_thresholds_and_derive_sentiment() {
        let mut s = spec(HeadKind::Sigmoid, &["anger", "joy", "neutral"]);
        s.thresholds = vec![0.5, 0.5, 0.5];
        s.frustration = vec!["anger".into()];
        let mut senti = BTreeMap::new();
        senti.insert("anger".to_string(), "negative".to_string());
        senti.insert("joy".to_string(), "positive".to_string());
        s.groupings.insert("sentiment".into(), senti);
        let r = emotion_result(&s, &[0.8, 0.1, 0.55], "en");
        assert_eq!(r.labels, vec!["anger", "neutral"]);
        assert_eq!(r.dominant, "anger");
        assert_eq!(r.sentiment.label, "negative");
        assert!((r.sentiment.score + 0.7).abs() < 1e-6);
        assert!((r.frustration - 0.8).abs() < 1e-6);
    }

    #[test]
    fn a_language_with_its_own_thresholds_reads_with_them() {
        let mut s = spec(HeadKind::Sigmoid, &["anger", "joy", "neutral"]);
        s.thresholds = vec![0.5, 0.5, 0.5];
        s.by_language.insert(
            "zh".into(),
            crate::model::LanguageReading {
                thresholds: vec![0.3, 0.5, 0.9],
                source: None,
            },
        );
        let scores = [0.4, 0.1, 0.6];
        assert_eq!(emotion_result(&s, &scores, "en").labels, vec!["neutral"]);
        assert_eq!(emotion_result(&s, &scores, "zh").labels, vec!["anger"]);
        // Region and script subtags fall back to the primary one; case does not matter.
        assert_eq!(
            emotion_result(&s, &scores, "zh-Hant-TW").labels,
            vec!["anger"]
        );
        assert_eq!(emotion_result(&s, &scores, "ZH").labels, vec!["anger"]);
        assert_eq!(emotion_result(&s, &scores, "ja").labels, vec!["neutral"]);
    }
}
