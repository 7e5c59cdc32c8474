//! Single-label (intent) heads: what the head answers as served (`intent_result`, so the
//! out-of-scope threshold applies exactly as in production) compared with the gold
//! intents.
//!
//! Calibration is measured on the head's top-1 probability against whether its top-1
//! label is right, before the out-of-scope threshold turns low-confidence answers into
//! `oos`: that is the probability a caller sees as `confidence` and thresholds on.

use crate::metrics::{
    auroc, classification_report, confidence_histogram, even_thresholds,
    expected_calibration_error, oos_report, oos_scores, oos_threshold_sweep, Calibration,
    ClassificationReport, Confusion, HistogramBin, MetricError, OosReport, SweepPoint,
};
use ndarray::Array2;
use serde::Serialize;
use triage_core::model::heads::intent_result;
use triage_core::model::HeadSpec;

/// Bins of the reliability diagram and the ECE (the 15).
const CALIBRATION_BINS: usize = 15;
/// Bins of the correct-vs-wrong confidence histogram.
const HISTOGRAM_BINS: usize = 20;
/// How many confusions the reports list.
const TOP_CONFUSIONS: usize = 15;
/// Steps of the out-of-scope threshold sweep (0, 0.02, …, 1).
const SWEEP_STEPS: usize = 50;

/// Figures of one intent head on one labelled set.
#[derive(Debug, Clone, Serialize)]
pub struct IntentEval {
    n: u64,
    /// Gold labels the head does not know (appended to the label list, never predicted).
    pub(crate) unknown_gold_labels: Vec<String>,
    pub classification: ClassificationReport,
    pub(crate) top_confusions: Vec<Confusion>,
    pub calibration: Calibration,
    pub(crate) confidence_histogram: Vec<HistogramBin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<OosEval>,
    /// Misclassified examples, most confident first (the Rasa `intent_errors.json`).
    #[serde(skip)]
    pub(crate) errors: Vec<IntentError>,
}

/// Out-of-scope detection figures (heads with an `out_of_scope` label).
#[derive(Debug, Clone, Serialize)]
pub struct OosEval {
    pub(crate) label: String,
    /// The bundle's `oos_threshold` (confidence below it counts as out of scope).
    pub(crate) operating_threshold: Option<f64>,
    /// At the bundle's operating point, as served.
    pub(crate) report: OosReport,
    /// AUROC of the out-of-scope score `1 − max in-scope probability`.
    pub auroc: Option<f64>,
    /// In-scope accuracy and out-of-scope recall/precision as the threshold moves; the
    /// operating threshold is one of the points.
    pub(crate) sweep: Vec<SweepPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct IntentError {
    pub(crate) text: String,
    pub(crate) gold: String,
    pub(crate) predicted: String,
    pub(crate) confidence: f32,
}

/// Evaluates a softmax head's `probs` (`[n, labels]`, rows in `texts` order) against
/// `gold`. Errors only on inconsistent input (lengths, NaN).
pub fn evaluate(
    spec: &HeadSpec,
    probs: &Array2<f32>,
    gold: &[String],
    texts: &[String],
) -> Result<IntentEval, MetricError> {
    metrics_check_len(
        probs.nrows(),
        gold.len(),
        texts.len(),
        spec.labels.len(),
        probs.ncols(),
    )?;
    let mut labels = spec.labels.clone();
    let mut extend = |l: &str| {
        if !labels.iter().any(|x| x == l) {
            labels.push(l.to_string());
            true
        } else {
            false
        }
    };
    if let Some(oos) = &spec.out_of_scope {
        extend(oos);
    }
    let unknown_gold_labels: Vec<String> = {
        let mut u: Vec<String> = gold
            .iter()
            .filter(|g| !spec.labels.contains(g))
            .cloned()
            .collect();
        u.sort();
        u.dedup();
        u
    };
    for g in &unknown_gold_labels {
        extend(g);
    }
    let index = |l: &str| labels.iter().position(|x| x == l).unwrap_or(0);

    let rows: Vec<Vec<f32>> = probs.outer_iter().map(|r| r.to_vec()).collect();
    let served: Vec<_> = rows.iter().map(|r| intent_result(spec, r, 1)).collect();
    let gold_idx: Vec<usize> = gold.iter().map(|g| index(g)).collect();
    let pred_idx: Vec<usize> = served.iter().map(|r| index(&r.label)).collect();
    let classification = classification_report(&gold_idx, &pred_idx, &labels)?;

    // Top-1 (argmax) probability and correctness, before the out-of-scope threshold.
    let argmax: Vec<usize> = rows.iter().map(|r| argmax(r)).collect();
    let confidence: Vec<f64> = rows
        .iter()
        .zip(&argmax)
        .map(|(r, &a)| f64::from(r.get(a).copied().unwrap_or(0.0)).clamp(0.0, 1.0))
        .collect();
    let top1_correct: Vec<bool> = argmax
        .iter()
        .zip(gold)
        .map(|(&a, g)| spec.labels.get(a) == Some(g))
        .collect();
    let calibration = expected_calibration_error(&confidence, &top1_correct, CALIBRATION_BINS)?;
    let histogram = confidence_histogram(&confidence, &top1_correct, HISTOGRAM_BINS)?;

    let out_of_scope = match &spec.out_of_scope {
        Some(oos) => Some(oos_eval(
            spec,
            oos,
            &rows,
            &served,
            &argmax,
            &confidence,
            gold,
        )?),
        None => None,
    };

    let mut errors: Vec<IntentError> = served
        .iter()
        .zip(gold)
        .zip(texts)
        .filter(|((r, g), _)| &r.label != *g)
        .map(|((r, g), t)| IntentError {
            text: t.clone(),
            gold: g.clone(),
            predicted: r.label.clone(),
            confidence: r.confidence,
        })
        .collect();
    errors.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));

    Ok(IntentEval {
        n: gold.len() as u64,
        unknown_gold_labels,
        top_confusions: classification.top_confusions(TOP_CONFUSIONS),
        classification,
        calibration,
        confidence_histogram: histogram,
        out_of_scope,
        errors,
    })
}

fn metrics_check_len(
    n: usize,
    gold: usize,
    texts: usize,
    labels: usize,
    cols: usize,
) -> Result<(), MetricError> {
    let mismatch = |what: &str, expected: usize, found: usize| MetricError::LengthMismatch {
        what: what.to_string(),
        expected,
        found,
    };
    if gold != n {
        return Err(mismatch("gold (one per row of probs)", n, gold));
    }
    if texts != n {
        return Err(mismatch("texts (one per row of probs)", n, texts));
    }
    if cols != labels {
        return Err(mismatch("probs columns (one per head label)", labels, cols));
    }
    if n == 0 {
        return Err(MetricError::Empty("gold"));
    }
    Ok(())
}

fn argmax(row: &[f32]) -> usize {
    // Same tie rule as `intent_result`: highest score, then lowest index.
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

fn oos_eval(
    spec: &HeadSpec,
    oos: &str,
    rows: &[Vec<f32>],
    served: &[triage_core::model::IntentResult],
    argmax: &[usize],
    confidence: &[f64],
    gold: &[String],
) -> Result<OosEval, MetricError> {
    let gold_is_oos: Vec<bool> = gold.iter().map(|g| g == oos).collect();
    let pred_is_oos: Vec<bool> = served.iter().map(|r| r.out_of_scope).collect();
    let pred_label: Vec<&str> = served.iter().map(|r| r.label.as_str()).collect();
    let gold_label: Vec<&str> = gold.iter().map(String::as_str).collect();
    let report = oos_report(&gold_is_oos, &pred_is_oos, &gold_label, &pred_label)?;

    let probs64: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let scores = match spec.labels.iter().position(|l| l == oos) {
        Some(i) => oos_scores(&probs64, i)?,
        None => confidence.iter().map(|c| 1.0 - c).collect(),
    };
    let auroc = match auroc(&scores, &gold_is_oos) {
        Ok(a) => Some(a),
        Err(MetricError::SingleClass { .. }) => None,
        Err(e) => return Err(e),
    };

    // The sweep re-applies the threshold to the raw top-1 answer.
    let class_is_oos: Vec<bool> = argmax
        .iter()
        .map(|&a| spec.labels.get(a).map(String::as_str) == Some(oos))
        .collect();
    let argmax_label: Vec<&str> = argmax
        .iter()
        .map(|&a| spec.labels.get(a).map(String::as_str).unwrap_or(""))
        .collect();
    let mut thresholds = even_thresholds(SWEEP_STEPS);
    if let Some(t) = spec.oos_threshold {
        thresholds.push(super::decimal(t));
        thresholds.sort_by(f64::total_cmp);
        thresholds.dedup();
    }
    // f32 → f64 is exact and monotone, so `confidence < threshold` here decides exactly
    // as serving's f32 comparison does.
    let sweep = oos_threshold_sweep(
        confidence,
        &gold_is_oos,
        &class_is_oos,
        &gold_label,
        &argmax_label,
        &thresholds,
    )?;
    Ok(OosEval {
        label: oos.to_string(),
        operating_threshold: spec.oos_threshold.map(super::decimal),
        report,
        auroc,
        sweep,
    })
}

/// The headline figures of an intent evaluation, by the names floors use.
pub fn figures(e: &IntentEval) -> Vec<(String, f64)> {
    let c = &e.classification;
    let mut f = vec![
        ("n".to_string(), e.n as f64),
        ("accuracy".into(), c.accuracy),
        ("macro_f1".into(), c.macro_f1),
        ("micro_f1".into(), c.micro_f1),
        ("weighted_f1".into(), c.weighted_f1),
        ("macro_precision".into(), c.macro_precision),
        ("macro_recall".into(), c.macro_recall),
        ("ece".into(), e.calibration.ece),
        ("mce".into(), e.calibration.mce),
    ];
    if let Some(o) = &e.out_of_scope {
        f.push(("in_scope_accuracy".into(), o.report.in_scope_accuracy));
        f.push(("oos_recall".into(), o.report.oos_recall));
        f.push(("oos_precision".into(), o.report.oos_precision));
        f.push(("oos_f1".into(), o.report.oos_f1));
        if let Some(a) = o.auroc {
            f.push(("oos_auroc".into(), a));
        }
    }
    f
}

/// The figure a channel's robustness gap is measured on.
pub(crate) const PRIMARY: &str = "accuracy";

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use triage_core::model::HeadKind;

    fn spec(labels: &[&str], oos: Option<(&str, f32)>) -> HeadSpec {
        HeadSpec {
            name: "intent.t".into(),
            kind: HeadKind::Softmax,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            temperature: 1.0,
            thresholds: vec![],
            out_of_scope: oos.map(|(l, _)| l.to_string()),
            oos_threshold: oos.map(|(_, t)| t),
            groupings: Default::default(),
            frustration: vec![],
            source: None,
            by_language: Default::default(),
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn served_answers_threshold_and_errors() {
        let sp = spec(&["a", "b", "oos"], Some(("oos", 0.5)));
        let probs = array![
            [0.9, 0.05, 0.05], // a, right
            [0.4, 0.35, 0.25], // below 0.5 -> oos; gold oos: right
            [0.1, 0.8, 0.1],   // b, gold a: wrong
            [0.2, 0.1, 0.7],   // oos class; gold b: wrong
        ];
        let gold = s(&["a", "oos", "a", "b"]);
        let texts = s(&["t1", "t2", "t3", "t4"]);
        let e = evaluate(&sp, &probs, &gold, &texts).unwrap();
        assert_eq!(e.classification.accuracy, 0.5);
        let o = e.out_of_scope.as_ref().unwrap();
        assert_eq!(o.report.n_oos, 1);
        assert_eq!(o.report.n_pred_oos, 2);
        assert_eq!(o.report.oos_recall, 1.0);
        assert_eq!(o.report.oos_precision, 0.5);
        assert!((o.report.in_scope_accuracy - 1.0 / 3.0).abs() < 1e-12);
        // The sweep point at the operating threshold is the served report.
        let op = o.sweep.iter().find(|p| p.threshold == 0.5).unwrap();
        assert_eq!(op.in_scope_accuracy, o.report.in_scope_accuracy);
        assert_eq!(op.oos_recall, o.report.oos_recall);
        assert_eq!(op.n_pred_oos, o.report.n_pred_oos);
        // oos score = 1 - max in-scope: [0.1, 0.6, 0.2, 0.8]; only t2 is gold oos.
        assert!((o.auroc.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        // Errors, most confident first.
        let errs: Vec<(&str, &str)> = e
            .errors
            .iter()
            .map(|x| (x.text.as_str(), x.predicted.as_str()))
            .collect();
        assert_eq!(errs, vec![("t3", "b"), ("t4", "oos")]);
        // Calibration uses top-1 before the threshold: t2's top-1 is "a" (wrong).
        assert_eq!(e.calibration.n_samples, 4);
        let wrong: u64 = e.confidence_histogram.iter().map(|b| b.wrong).sum();
        assert_eq!(wrong, 3);
    }

    #[test]
    fn unknown_gold_labels_are_counted_not_fatal() {
        let sp = spec(&["a", "b"], None);
        let probs = array![[0.9, 0.1], [0.3, 0.7]];
        let e = evaluate(&sp, &probs, &s(&["a", "zzz"]), &s(&["x", "y"])).unwrap();
        assert_eq!(e.unknown_gold_labels, vec!["zzz"]);
        assert_eq!(e.classification.labels, s(&["a", "b", "zzz"]));
        assert_eq!(e.classification.accuracy, 0.5);
        assert!(e.out_of_scope.is_none());
        let f = figures(&e);
        assert!(f.iter().any(|(k, _)| k == "ece"));
        assert!(!f.iter().any(|(k, _)| k == "oos_recall"));
    }

    #[test]
    fn inconsistent_input_is_an_error() {
        let sp = spec(&["a", "b"], None);
        let probs = array![[0.9, 0.1]];
        assert!(evaluate(&sp, &probs, &s(&["a", "b"]), &s(&["x", "y"])).is_err());
        let wide = array![[0.9, 0.05, 0.05]];
        assert!(evaluate(&sp, &wide, &s(&["a"]), &s(&["x"])).is_err());
        let nan = array![[f32::NAN, 0.1]];
        assert!(evaluate(&sp, &nan, &s(&["a"]), &s(&["x"])).is_err());
    }
}
