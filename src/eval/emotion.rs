//! Multi-label (emotion) heads: per-label figures at the bundle's thresholds, and the
//! coarser answers derived from them as serving derives them (`emotion_result`): Ekman
//! groups, sentiment groups, the sentiment label and the frustration score.

use super::metrics::{
    auroc, classification_report, multilabel_report, multilabel_report_from_predictions,
    ClassificationReport, MetricError, MultiLabelReport,
};
use crate::model::heads::emotion_result;
use crate::model::HeadSpec;
use ndarray::Array2;
use serde::Serialize;

/// Sentiment labels, served (`positive`/`negative`/`neutral`) and gold (GoEmotions' rule
/// adds `ambiguous`, which serving never answers: its recall is 0 by construction).
pub const SENTIMENTS: [&str; 4] = ["positive", "negative", "neutral", "ambiguous"];

#[derive(Debug, Clone, Serialize)]
pub struct EmotionEval {
    pub n: u64,
    /// Gold labels the head does not know (ignored in the figures).
    pub unknown_gold_labels: Vec<String>,
    /// Per label at the bundle's per-label thresholds.
    pub labels: MultiLabelReport,
    /// Ekman groups of the predicted labels against those of the gold labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ekman: Option<MultiLabelReport>,
    /// Sentiment groups (positive/negative/ambiguous/neutral) of predicted vs gold labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment_groups: Option<MultiLabelReport>,
    /// The served sentiment label against the records' sentiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<ClassificationReport>,
    /// AUROC of the frustration score for "gold carries a frustration label".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frustration_auroc: Option<f64>,
}

/// Evaluates a sigmoid head's `scores` (`[n, labels]`) against `gold` label sets and,
/// where records have one, their `sentiment`.
pub fn evaluate(
    spec: &HeadSpec,
    scores: &Array2<f32>,
    gold: &[Vec<String>],
    sentiment: &[Option<String>],
) -> Result<EmotionEval, MetricError> {
    let n = scores.nrows();
    let mismatch = |what: &str, expected: usize, found: usize| MetricError::LengthMismatch {
        what: what.to_string(),
        expected,
        found,
    };
    if gold.len() != n {
        return Err(mismatch("gold (one per row of scores)", n, gold.len()));
    }
    if sentiment.len() != n {
        return Err(mismatch("sentiment (one per row)", n, sentiment.len()));
    }
    if scores.ncols() != spec.labels.len() {
        return Err(mismatch(
            "scores columns (one per head label)",
            spec.labels.len(),
            scores.ncols(),
        ));
    }
    let labels = &spec.labels;
    let mut unknown: Vec<String> = gold
        .iter()
        .flatten()
        .filter(|g| !labels.contains(g))
        .cloned()
        .collect();
    unknown.sort();
    unknown.dedup();

    let rows: Vec<Vec<f32>> = scores.outer_iter().map(|r| r.to_vec()).collect();
    let rows64: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let gold_hot: Vec<Vec<bool>> = gold
        .iter()
        .map(|g| labels.iter().map(|l| g.contains(l)).collect())
        .collect();
    let thresholds: Vec<f64> = spec.thresholds.iter().map(|&t| f64::from(t)).collect();
    let label_report = multilabel_report(&gold_hot, &rows64, &thresholds, labels)?;

    let served: Vec<_> = rows.iter().map(|r| emotion_result(spec, r)).collect();
    let grouped = |name: &str| -> Result<Option<MultiLabelReport>, MetricError> {
        let Some(map) = spec.groupings.get(name) else {
            return Ok(None);
        };
        // Groups in the order their first label appears in the head.
        let mut groups: Vec<String> = Vec::new();
        for l in labels {
            if let Some(g) = map.get(l) {
                if !groups.contains(g) {
                    groups.push(g.clone());
                }
            }
        }
        let hot = |set: &[String]| -> Vec<bool> {
            groups
                .iter()
                .map(|g| set.iter().any(|l| map.get(l) == Some(g)))
                .collect()
        };
        let gold_g: Vec<Vec<bool>> = gold.iter().map(|g| hot(g)).collect();
        let pred_g: Vec<Vec<bool>> = served.iter().map(|r| hot(&r.labels)).collect();
        multilabel_report_from_predictions(&gold_g, &pred_g, &groups).map(Some)
    };
    let ekman = grouped("ekman")?;
    let sentiment_groups = grouped("sentiment")?;

    let with_sentiment: Vec<usize> = (0..n).filter(|&i| sentiment[i].is_some()).collect();
    let sentiment_report = if with_sentiment.is_empty() || !spec.groupings.contains_key("sentiment")
    {
        None
    } else {
        let mut names: Vec<String> = SENTIMENTS.iter().map(|s| s.to_string()).collect();
        for &i in &with_sentiment {
            if let Some(s) = &sentiment[i] {
                if !names.contains(s) {
                    names.push(s.clone());
                }
            }
        }
        let idx = |s: &str| names.iter().position(|x| x == s).unwrap_or(0);
        let g: Vec<usize> = with_sentiment
            .iter()
            .map(|&i| idx(sentiment[i].as_deref().unwrap_or("")))
            .collect();
        let p: Vec<usize> = with_sentiment
            .iter()
            .map(|&i| idx(&served[i].sentiment.label))
            .collect();
        Some(classification_report(&g, &p, &names)?)
    };

    let frustration_auroc = if spec.frustration.is_empty() || n == 0 {
        None
    } else {
        let positive: Vec<bool> = gold
            .iter()
            .map(|g| g.iter().any(|l| spec.frustration.contains(l)))
            .collect();
        let score: Vec<f64> = served.iter().map(|r| f64::from(r.frustration)).collect();
        match auroc(&score, &positive) {
            Ok(a) => Some(a),
            Err(MetricError::SingleClass { .. }) => None,
            Err(e) => return Err(e),
        }
    };

    Ok(EmotionEval {
        n: n as u64,
        unknown_gold_labels: unknown,
        labels: label_report,
        ekman,
        sentiment_groups,
        sentiment: sentiment_report,
        frustration_auroc,
    })
}

/// The headline figures of an emotion evaluation, by the names floors use.
pub fn figures(e: &EmotionEval) -> Vec<(String, f64)> {
    let l = &e.labels;
    let mut f = vec![
        ("n".to_string(), e.n as f64),
        ("macro_f1".into(), l.macro_f1),
        ("micro_f1".into(), l.micro_f1),
        ("weighted_f1".into(), l.weighted_f1),
        ("macro_precision".into(), l.macro_precision),
        ("macro_recall".into(), l.macro_recall),
        ("subset_accuracy".into(), l.subset_accuracy),
        ("hamming_loss".into(), l.hamming_loss),
    ];
    if let Some(g) = &e.ekman {
        f.push(("ekman.macro_f1".into(), g.macro_f1));
        f.push(("ekman.micro_f1".into(), g.micro_f1));
    }
    if let Some(g) = &e.sentiment_groups {
        f.push(("sentiment_group.macro_f1".into(), g.macro_f1));
        f.push(("sentiment_group.micro_f1".into(), g.micro_f1));
    }
    if let Some(s) = &e.sentiment {
        f.push(("sentiment.accuracy".into(), s.accuracy));
        f.push(("sentiment.macro_f1".into(), s.macro_f1));
    }
    if let Some(a) = e.frustration_auroc {
        f.push(("frustration_auroc".into(), a));
    }
    f
}

/// The figure a channel's robustness gap is measured on.
pub const PRIMARY: &str = "macro_f1";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HeadKind;
    use ndarray::array;
    use std::collections::BTreeMap;

    fn spec() -> HeadSpec {
        let labels = ["anger", "annoyance", "joy", "neutral"];
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let mut groupings = BTreeMap::new();
        groupings.insert(
            "ekman".to_string(),
            map(&[
                ("anger", "anger"),
                ("annoyance", "anger"),
                ("joy", "joy"),
                ("neutral", "neutral"),
            ]),
        );
        groupings.insert(
            "sentiment".to_string(),
            map(&[
                ("anger", "negative"),
                ("annoyance", "negative"),
                ("joy", "positive"),
                ("neutral", "neutral"),
            ]),
        );
        HeadSpec {
            name: "emotion".into(),
            kind: HeadKind::Sigmoid,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            temperature: 1.0,
            thresholds: vec![0.5; 4],
            out_of_scope: None,
            oos_threshold: None,
            groupings,
            frustration: vec!["anger".into(), "annoyance".into()],
            source: None,
        }
    }

    fn set(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn labels_groups_and_sentiment() {
        let scores = array![
            [0.1, 0.9, 0.0, 0.0], // annoyance; gold anger -> label wrong, ekman right
            [0.0, 0.0, 0.8, 0.0], // joy; gold joy
            [0.0, 0.0, 0.1, 0.7], // neutral; gold neutral
        ];
        let gold = vec![set(&["anger"]), set(&["joy"]), set(&["neutral", "mystery"])];
        let senti = vec![
            Some("negative".to_string()),
            Some("positive".to_string()),
            None,
        ];
        let e = evaluate(&spec(), &scores, &gold, &senti).unwrap();
        assert_eq!(e.unknown_gold_labels, vec!["mystery"]);
        // anger: fn; annoyance: fp; joy, neutral: tp.  micro = 2*2/(4+1+1)
        assert!((e.labels.micro_f1 - 4.0 / 6.0).abs() < 1e-12);
        let ek = e.ekman.as_ref().unwrap();
        assert_eq!(ek.labels, set(&["anger", "joy", "neutral"]));
        assert_eq!(ek.micro_f1, 1.0);
        assert_eq!(e.sentiment_groups.as_ref().unwrap().micro_f1, 1.0);
        let s = e.sentiment.as_ref().unwrap();
        assert_eq!(s.n_samples, 2);
        assert_eq!(s.accuracy, 1.0);
        assert_eq!(e.frustration_auroc, Some(1.0));
        let f = figures(&e);
        for k in [
            "macro_f1",
            "ekman.macro_f1",
            "sentiment.accuracy",
            "frustration_auroc",
        ] {
            assert!(f.iter().any(|(n, _)| n == k), "{k}");
        }
    }

    #[test]
    fn shapes_are_checked() {
        let scores = array![[0.1, 0.9, 0.0, 0.0]];
        assert!(evaluate(&spec(), &scores, &[], &[]).is_err());
        let narrow = array![[0.1, 0.9]];
        assert!(evaluate(&spec(), &narrow, &[set(&["joy"])], &[None]).is_err());
    }
}
