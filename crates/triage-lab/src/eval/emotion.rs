//! Multi-label (emotion) heads: per-label figures at the bundle's thresholds, and the
//! coarser answers derived from them as serving derives them (`emotion_result`): Ekman
//! groups, sentiment groups, the sentiment label and the frustration score.
//!
//! Records may carry emotions, a sentiment, or both: a sentiment-only set (ChnSentiCorp)
//! still measures the served sentiment, and its label figures are simply absent rather
//! than computed against empty gold sets.
//!
//! Two figures exist for zero-shot transfer to sets labelled differently from the head:
//! * `ekman.gold_macro_f1`: macro-F1 over the Ekman groups that occur in the gold labels
//!   only. SMP2020's six classes map onto six of the seven groups; gold never says
//!   `disgust`, so the plain `ekman.macro_f1` averages in a disgust F1 of 0 (or of
//!   nothing) that says nothing about the model. Wrong predictions still count: a gold
//!   `anger` record served as `disgust` is a missed `anger`.
//! * `sentiment.polar_accuracy`: on records whose gold sentiment is `positive` or
//!   `negative`, the sign of the served sentiment score (strongest positive-group label
//!   minus strongest negative-group label, as `emotion_result` computes it) against the
//!   gold polarity. The served label also has a `neutral` band around 0, which a binary
//!   set such as ChnSentiCorp can only count as wrong; this figure forces the choice the
//!   set asks for. A score of exactly 0 has no polarity and counts as wrong.

use crate::metrics::{
    auroc, classification_report, multilabel_report_from_predictions, ClassificationReport,
    MetricError, MultiLabelReport,
};
use ndarray::Array2;
use serde::Serialize;
use triage_core::model::heads::emotion_result;
use triage_core::model::HeadSpec;

/// Sentiment labels, served (`positive`/`negative`/`neutral`) and gold (GoEmotions' rule
/// adds `ambiguous`, which serving never answers: its recall is 0 by construction).
const SENTIMENTS: [&str; 4] = ["positive", "negative", "neutral", "ambiguous"];

#[derive(Debug, Clone, Serialize)]
pub struct EmotionEval {
    n: u64,
    /// Gold labels the head does not know (ignored in the figures).
    pub(crate) unknown_gold_labels: Vec<String>,
    /// Per label at the bundle's per-label thresholds, over the records with gold
    /// emotions (absent when none has any, e.g. a sentiment-only set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<MultiLabelReport>,
    /// Ekman groups of the predicted labels against those of the gold labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ekman: Option<MultiLabelReport>,
    /// Macro-F1 over the Ekman groups with gold support only (see the module docs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ekman_gold_macro_f1: Option<f64>,
    /// Sentiment groups (positive/negative/ambiguous/neutral) of predicted vs gold labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sentiment_groups: Option<MultiLabelReport>,
    /// The served sentiment label against the records' sentiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sentiment: Option<ClassificationReport>,
    /// Positive vs negative by the sign of the served score (see the module docs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) polar: Option<PolarSentiment>,
    /// AUROC of the frustration score for "gold carries a frustration label".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) frustration_auroc: Option<f64>,
    /// What the policy reads off every record, whatever its gold: on a set of calm
    /// requests (`calm_requests:test`) these are the calm figures of issue 15.
    pub(crate) served: ServedFigures,
}

/// GoEmotions labels that read as anger toward the business; a calm request should carry
/// none of them.
const ANGER_FAMILY: [&str; 4] = ["anger", "annoyance", "disgust", "disapproval"];

/// Shares of records by what serving answers for them (no gold needed).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct ServedFigures {
    /// Served sentiment label `negative`.
    negative_share: f64,
    /// At least one label of [`ANGER_FAMILY`] at or above its threshold.
    anger_share: f64,
    mean_frustration: f64,
    /// Labels at or above their thresholds, per record.
    pub(crate) labels_per_message: f64,
}

impl ServedFigures {
    fn of(served: &[triage_core::model::EmotionResult]) -> Self {
        let n = served.len().max(1) as f64;
        let count = |f: &dyn Fn(&triage_core::model::EmotionResult) -> bool| {
            served.iter().filter(|s| f(s)).count() as f64 / n
        };
        Self {
            negative_share: count(&|s| s.sentiment.label == "negative"),
            anger_share: count(&|s| s.labels.iter().any(|l| ANGER_FAMILY.contains(&l.as_str()))),
            mean_frustration: served.iter().map(|s| f64::from(s.frustration)).sum::<f64>() / n,
            labels_per_message: served.iter().map(|s| s.labels.len() as f64).sum::<f64>() / n,
        }
    }
}

/// Binary sentiment on the records whose gold sentiment is `positive` or `negative`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PolarSentiment {
    /// Records with a positive or negative gold sentiment.
    pub(crate) n: u64,
    pub(crate) accuracy: f64,
    /// Share of gold-positive records whose served score is above 0.
    pub(crate) positive_recall: f64,
    /// Share of gold-negative records whose served score is below 0.
    pub(crate) negative_recall: f64,
    /// Records whose served score is exactly 0 (no polarity; counted wrong).
    pub(crate) ties: u64,
}

/// Positive vs negative by the sign of each served sentiment `score`, against `gold`
/// (`positive`/`negative`; other gold values are left out). `None` without such records.
fn polar_sentiment(score: &[f32], gold: &[Option<String>]) -> Option<PolarSentiment> {
    let (mut pos, mut pos_right, mut neg, mut neg_right, mut ties) = (0u64, 0u64, 0u64, 0u64, 0);
    for (s, g) in score.iter().zip(gold) {
        match g.as_deref() {
            Some("positive") => {
                pos += 1;
                pos_right += u64::from(*s > 0.0);
            }
            Some("negative") => {
                neg += 1;
                neg_right += u64::from(*s < 0.0);
            }
            _ => continue,
        }
        ties += u64::from(*s == 0.0);
    }
    let n = pos + neg;
    let share = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    (n > 0).then(|| PolarSentiment {
        n,
        accuracy: share(pos_right + neg_right, n),
        positive_recall: share(pos_right, pos),
        negative_recall: share(neg_right, neg),
        ties,
    })
}

/// Evaluates a sigmoid head's `scores` (`[n, labels]`) against `gold` label sets (`None`
/// for a record without emotion labels) and, where records have one, their `sentiment`.
/// Each row is read as serving reads a message in its language `langs[i]` (the head's
/// per-language thresholds).
pub fn evaluate(
    spec: &HeadSpec,
    scores: &Array2<f32>,
    gold: &[Option<Vec<String>>],
    sentiment: &[Option<String>],
    langs: &[String],
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
    if langs.len() != n {
        return Err(mismatch("langs (one per row)", n, langs.len()));
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
        .flatten()
        .filter(|g| !labels.contains(g))
        .cloned()
        .collect();
    unknown.sort();
    unknown.dedup();

    let rows: Vec<Vec<f32>> = scores.outer_iter().map(|r| r.to_vec()).collect();
    let served: Vec<_> = rows
        .iter()
        .zip(langs)
        .map(|(r, lang)| emotion_result(spec, r, lang))
        .collect();
    // Label, group and frustration figures: only the records that have gold emotions.
    let with_gold: Vec<usize> = (0..n).filter(|&i| gold[i].is_some()).collect();
    let gold: Vec<&[String]> = with_gold
        .iter()
        .map(|&i| gold[i].as_deref().unwrap_or_default())
        .collect();
    let gold_hot: Vec<Vec<bool>> = gold
        .iter()
        .map(|g| labels.iter().map(|l| g.contains(l)).collect())
        .collect();
    // Predictions at each row's language's thresholds (`served`), as serving answers.
    let pred_hot: Vec<Vec<bool>> = with_gold
        .iter()
        .map(|&i| {
            labels
                .iter()
                .map(|l| served[i].labels.contains(l))
                .collect()
        })
        .collect();
    let label_report = if with_gold.is_empty() {
        None
    } else {
        Some(multilabel_report_from_predictions(
            &gold_hot, &pred_hot, labels,
        )?)
    };

    let grouped = |name: &str| -> Result<Option<MultiLabelReport>, MetricError> {
        let Some(map) = spec.groupings.get(name) else {
            return Ok(None);
        };
        if with_gold.is_empty() {
            return Ok(None);
        }
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
        let pred_g: Vec<Vec<bool>> = with_gold.iter().map(|&i| hot(&served[i].labels)).collect();
        multilabel_report_from_predictions(&gold_g, &pred_g, &groups).map(Some)
    };
    let ekman = grouped("ekman")?;
    let ekman_gold_macro_f1 = ekman.as_ref().and_then(gold_macro_f1);
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

    let score: Vec<f32> = served.iter().map(|r| r.sentiment.score).collect();
    let polar = if spec.groupings.contains_key("sentiment") {
        polar_sentiment(&score, sentiment)
    } else {
        None
    };

    let frustration_auroc = if spec.frustration.is_empty() || with_gold.is_empty() {
        None
    } else {
        let positive: Vec<bool> = gold
            .iter()
            .map(|g| g.iter().any(|l| spec.frustration.contains(l)))
            .collect();
        let score: Vec<f64> = with_gold
            .iter()
            .map(|&i| f64::from(served[i].frustration))
            .collect();
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
        ekman_gold_macro_f1,
        sentiment_groups,
        sentiment: sentiment_report,
        polar,
        frustration_auroc,
        served: ServedFigures::of(&served),
    })
}

/// Mean F1 over the groups with gold support (`None` when no group has any).
fn gold_macro_f1(r: &MultiLabelReport) -> Option<f64> {
    let f1: Vec<f64> = r
        .per_label
        .iter()
        .filter(|m| m.support > 0)
        .map(|m| m.f1)
        .collect();
    (!f1.is_empty()).then(|| f1.iter().sum::<f64>() / f1.len() as f64)
}

/// The headline figures of an emotion evaluation, by the names floors use.
pub(crate) fn figures(e: &EmotionEval) -> Vec<(String, f64)> {
    let mut f = vec![("n".to_string(), e.n as f64)];
    if let Some(l) = &e.labels {
        f.extend([
            ("macro_f1".into(), l.macro_f1),
            ("micro_f1".into(), l.micro_f1),
            ("weighted_f1".into(), l.weighted_f1),
            ("macro_precision".into(), l.macro_precision),
            ("macro_recall".into(), l.macro_recall),
            ("subset_accuracy".into(), l.subset_accuracy),
            ("hamming_loss".into(), l.hamming_loss),
        ]);
    }
    if let Some(g) = &e.ekman {
        f.push(("ekman.macro_f1".into(), g.macro_f1));
        f.push(("ekman.micro_f1".into(), g.micro_f1));
    }
    if let Some(v) = e.ekman_gold_macro_f1 {
        f.push(("ekman.gold_macro_f1".into(), v));
    }
    if let Some(g) = &e.sentiment_groups {
        f.push(("sentiment_group.macro_f1".into(), g.macro_f1));
        f.push(("sentiment_group.micro_f1".into(), g.micro_f1));
    }
    if let Some(s) = &e.sentiment {
        f.push(("sentiment.accuracy".into(), s.accuracy));
        f.push(("sentiment.macro_f1".into(), s.macro_f1));
    }
    if let Some(p) = &e.polar {
        f.push(("sentiment.polar_accuracy".into(), p.accuracy));
    }
    if let Some(a) = e.frustration_auroc {
        f.push(("frustration_auroc".into(), a));
    }
    f.extend([
        ("served.negative_share".into(), e.served.negative_share),
        ("served.anger_share".into(), e.served.anger_share),
        ("served.mean_frustration".into(), e.served.mean_frustration),
        (
            "served.labels_per_message".into(),
            e.served.labels_per_message,
        ),
    ]);
    f
}

/// The figure a channel's robustness gap is measured on: label macro-F1, or for a
/// sentiment-only set the polar sentiment accuracy (else the served-label accuracy).
pub(crate) fn primary(e: &EmotionEval) -> &'static str {
    if e.labels.is_some() {
        "macro_f1"
    } else if e.polar.is_some() {
        "sentiment.polar_accuracy"
    } else {
        "sentiment.accuracy"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row in English (the head's own thresholds).
    fn en(n: usize) -> Vec<String> {
        vec!["en".to_string(); n]
    }
    use ndarray::array;
    use std::collections::BTreeMap;
    use triage_core::model::HeadKind;

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
            by_language: Default::default(),
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
        let gold = vec![
            Some(set(&["anger"])),
            Some(set(&["joy"])),
            Some(set(&["neutral", "mystery"])),
        ];
        let senti = vec![
            Some("negative".to_string()),
            Some("positive".to_string()),
            None,
        ];
        let e = evaluate(&spec(), &scores, &gold, &senti, &en(scores.nrows())).unwrap();
        assert_eq!(e.unknown_gold_labels, vec!["mystery"]);
        // anger: fn; annoyance: fp; joy, neutral: tp.  micro = 2*2/(4+1+1)
        assert!((e.labels.as_ref().unwrap().micro_f1 - 4.0 / 6.0).abs() < 1e-12);
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
        assert!(evaluate(&spec(), &scores, &[], &[], &en(scores.nrows())).is_err());
        let narrow = array![[0.1, 0.9]];
        assert!(evaluate(&spec(), &narrow, &[Some(set(&["joy"]))], &[None], &en(1)).is_err());
    }

    #[test]
    fn polar_accuracy_forces_the_choice_neutral_would_dodge() {
        // Served scores: +0.1 (neutral band, positive sign), -0.1 (neutral band, negative
        // sign), +0.5, 0 (tie), and one record without a polar gold sentiment.
        let score = [0.1, -0.1, 0.5, 0.0, -0.9];
        let gold: Vec<Option<String>> = ["positive", "negative", "negative", "positive"]
            .iter()
            .map(|s| Some(s.to_string()))
            .chain([Some("neutral".to_string())])
            .collect();
        let p = polar_sentiment(&score, &gold).unwrap();
        assert_eq!((p.n, p.ties), (4, 1));
        assert_eq!(p.accuracy, 0.5);
        assert_eq!(p.positive_recall, 0.5);
        assert_eq!(p.negative_recall, 0.5);
        assert!(polar_sentiment(&score, &vec![None; 5]).is_none());
    }

    #[test]
    fn sentiment_only_records_get_sentiment_figures_and_no_label_figures() {
        // joy 0.3 vs anger 0.2: score +0.1, served "neutral" (inside the 0.2 band).
        let scores = array![[0.2, 0.0, 0.3, 0.0], [0.9, 0.0, 0.1, 0.0]];
        let senti = vec![Some("positive".to_string()), Some("negative".to_string())];
        let e = evaluate(&spec(), &scores, &[None, None], &senti, &en(scores.nrows())).unwrap();
        assert!(e.labels.is_none() && e.ekman.is_none() && e.frustration_auroc.is_none());
        assert_eq!(e.sentiment.as_ref().unwrap().accuracy, 0.5);
        assert_eq!(e.polar.as_ref().unwrap().accuracy, 1.0);
        assert_eq!(primary(&e), "sentiment.polar_accuracy");
        let f: BTreeMap<String, f64> = figures(&e).into_iter().collect();
        assert_eq!(f.get("sentiment.polar_accuracy"), Some(&1.0));
        assert_eq!(f.get("sentiment.accuracy"), Some(&0.5));
        assert!(!f.contains_key("macro_f1"));
    }

    #[test]
    fn gold_macro_f1_leaves_out_groups_gold_never_has() {
        // Gold is anger or joy only; the head wrongly serves neutral on the third record
        // (a neutral false positive and a missed joy).
        let scores = array![
            [0.9, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.9, 0.0],
            [0.0, 0.0, 0.0, 0.9],
        ];
        let gold = vec![
            Some(set(&["anger"])),
            Some(set(&["joy"])),
            Some(set(&["joy"])),
        ];
        let e = evaluate(
            &spec(),
            &scores,
            &gold,
            &[None, None, None],
            &en(scores.nrows()),
        )
        .unwrap();
        let ek = e.ekman.as_ref().unwrap();
        // anger 1, joy 2/3, neutral 0 (never gold, predicted once).
        assert!((ek.macro_f1 - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        let g = e.ekman_gold_macro_f1.unwrap();
        assert!((g - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12, "{g}");
        let f: BTreeMap<String, f64> = figures(&e).into_iter().collect();
        assert_eq!(f.get("ekman.gold_macro_f1"), Some(&g));
        assert_eq!(primary(&e), "macro_f1");
        // Mixed records: label figures over the two with emotions, sentiment over all.
        let senti = vec![None, None, Some("positive".to_string())];
        let mixed = [gold[0].clone(), gold[1].clone(), None];
        let e = evaluate(&spec(), &scores, &mixed, &senti, &en(scores.nrows())).unwrap();
        assert_eq!(e.labels.as_ref().unwrap().n_samples, 2);
        assert_eq!(e.ekman_gold_macro_f1, Some(1.0));
        assert_eq!(e.polar.as_ref().unwrap().n, 1);
    }
}
