//! Out-of-scope detection: AUROC / ROC curve of an out-of-scope score, the clinc150
//! figures (in-scope accuracy, out-of-scope recall and precision) and a confidence
//! threshold sweep.
//!
//! Definitions follow Larson et al. 2019 ("An Evaluation Dataset for Intent
//! Classification and Out-of-Scope Prediction"): *in-scope accuracy* is the accuracy on
//! the gold in-scope examples, where predicting out-of-scope counts as wrong;
//! *out-of-scope recall* is the share of gold out-of-scope examples predicted
//! out-of-scope; *out-of-scope precision* is the share of out-of-scope predictions that
//! are gold out-of-scope. Undefined ratios are 0.

use super::{check_len, check_nonempty, check_not_nan, f1_from_counts, ratio, MetricError};
use serde::Serialize;

/// Area under the ROC curve of `scores` (higher = more likely positive) for the
/// `positive` class. Tied scores count as half a correctly ordered pair, exactly as
/// scikit-learn's `roc_auc_score`. Needs at least one positive and one negative.
pub(crate) fn auroc(scores: &[f64], positive: &[bool]) -> Result<f64, MetricError> {
    let (p, n) = validate_roc(scores, positive)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mann–Whitney U with average ranks for ties, in integers: twice the rank sum.
    let mut twice_rank_sum: u128 = 0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let positives_in_group = order[i..=j].iter().filter(|&&k| positive[k]).count() as u128;
        // ranks i+1 ..= j+1 share the average rank (i + j + 2) / 2
        twice_rank_sum += positives_in_group * (i + j + 2) as u128;
        i = j + 1;
    }
    let (p, n) = (p as u128, n as u128);
    let twice_u = twice_rank_sum - p * (p + 1);
    Ok(twice_u as f64 / (2 * p * n) as f64)
}

/// One point of a ROC curve: predicting positive when `score >= threshold` gives
/// (`fpr`, `tpr`). The first point, `threshold: None`, is "nothing predicted positive".
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Serialize)]
struct RocPoint {
    threshold: Option<f64>,
    fpr: f64,
    tpr: f64,
}

/// A full ROC curve (one point per distinct score, thresholds descending) and its area.
#[cfg(test)]
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RocCurve {
    points: Vec<RocPoint>,
    pub(crate) auc: f64,
    positives: u64,
    negatives: u64,
}

/// The ROC curve of `scores` for the `positive` class, with every distinct score as a
/// threshold (no intermediate points dropped), starting at (0, 0) and ending at (1, 1).
#[cfg(test)]
pub(crate) fn roc_curve(scores: &[f64], positive: &[bool]) -> Result<RocCurve, MetricError> {
    let (p, n) = validate_roc(scores, positive)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![RocPoint {
        threshold: None,
        fpr: 0.0,
        tpr: 0.0,
    }];
    let (mut tp, mut fp) = (0u64, 0u64);
    // Trapezoids in integers: area · 2PN = Σ Δfp · (tp_prev + tp).
    let mut twice_area: u128 = 0;
    let mut i = 0;
    while i < order.len() {
        let score = scores[order[i]];
        let (tp_prev, fp_prev) = (tp, fp);
        while i < order.len() && scores[order[i]] == score {
            if positive[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        twice_area += u128::from(fp - fp_prev) * u128::from(tp_prev + tp);
        points.push(RocPoint {
            threshold: Some(score),
            fpr: ratio(fp, n as u64),
            tpr: ratio(tp, p as u64),
        });
    }
    Ok(RocCurve {
        points,
        auc: twice_area as f64 / (2 * p as u128 * n as u128) as f64,
        positives: p as u64,
        negatives: n as u64,
    })
}

/// Number of positives and negatives; errors on empty, mismatched, NaN or one-class input.
fn validate_roc(scores: &[f64], positive: &[bool]) -> Result<(usize, usize), MetricError> {
    check_nonempty("scores", scores.len())?;
    check_len(
        "positive (parallel to scores)",
        scores.len(),
        positive.len(),
    )?;
    check_not_nan("scores", scores)?;
    let p = positive.iter().filter(|&&b| b).count();
    let n = positive.len() - p;
    if p == 0 || n == 0 {
        return Err(MetricError::SingleClass {
            positives: p,
            negatives: n,
        });
    }
    Ok((p, n))
}

/// Out-of-scope score of each softmax row: `1 − max` of the in-scope probabilities
/// (every column except `oos_index`).
pub(crate) fn oos_scores(probs: &[Vec<f64>], oos_index: usize) -> Result<Vec<f64>, MetricError> {
    check_nonempty("probs", probs.len())?;
    let width = probs[0].len();
    if width < 2 {
        return Err(MetricError::InvalidArgument {
            name: "probs",
            reason: "rows need at least one in-scope and the out-of-scope column",
        });
    }
    if oos_index >= width {
        return Err(MetricError::LabelOutOfRange {
            what: "oos_index",
            position: 0,
            index: oos_index,
            n_labels: width,
        });
    }
    probs
        .iter()
        .enumerate()
        .map(|(r, row)| {
            check_len(format!("probs[{r}]"), width, row.len())?;
            check_not_nan(&format!("probs[{r}]"), row)?;
            let max_in_scope = row
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != oos_index)
                .map(|(_, &v)| v)
                .fold(f64::NEG_INFINITY, f64::max);
            Ok(1.0 - max_in_scope)
        })
        .collect()
}

/// The clinc150 out-of-scope figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct OosReport {
    n_samples: u64,
    /// Gold in-scope examples.
    pub(crate) n_in_scope: u64,
    /// Gold out-of-scope examples.
    pub(crate) n_oos: u64,
    /// Examples predicted out-of-scope.
    pub(crate) n_pred_oos: u64,
    /// Accuracy on gold in-scope examples; predicting out-of-scope counts as wrong.
    pub(crate) in_scope_accuracy: f64,
    /// Share of gold out-of-scope examples predicted out-of-scope.
    pub(crate) oos_recall: f64,
    /// Share of out-of-scope predictions that are gold out-of-scope.
    pub(crate) oos_precision: f64,
    pub(crate) oos_f1: f64,
    /// Accuracy over all examples (an out-of-scope example is right when predicted
    /// out-of-scope, whatever its intent field).
    overall_accuracy: f64,
}

/// In-scope accuracy and out-of-scope recall/precision. An example is correct in scope
/// when it is gold in-scope, not predicted out-of-scope and `pred_intent == gold_intent`;
/// the intents of gold out-of-scope examples are ignored.
pub(crate) fn oos_report<T: PartialEq>(
    gold_is_oos: &[bool],
    pred_is_oos: &[bool],
    gold_intent: &[T],
    pred_intent: &[T],
) -> Result<OosReport, MetricError> {
    validate_oos(gold_is_oos, pred_is_oos, gold_intent, pred_intent)?;
    Ok(compute_oos(
        gold_is_oos,
        |i| pred_is_oos[i],
        |i| gold_intent[i] == pred_intent[i],
    ))
}

/// One threshold of [`oos_threshold_sweep`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SweepPoint {
    pub(crate) threshold: f64,
    pub(crate) in_scope_accuracy: f64,
    pub(crate) oos_recall: f64,
    pub(crate) oos_precision: f64,
    pub(crate) n_pred_oos: u64,
}

/// For each threshold, the clinc150 figures when every prediction whose `confidence` is
/// strictly below the threshold becomes out-of-scope (predictions already out-of-scope
/// stay so). A threshold of 0 reproduces [`oos_report`].
pub(crate) fn oos_threshold_sweep<T: PartialEq>(
    confidence: &[f64],
    gold_is_oos: &[bool],
    pred_is_oos: &[bool],
    gold_intent: &[T],
    pred_intent: &[T],
    thresholds: &[f64],
) -> Result<Vec<SweepPoint>, MetricError> {
    validate_oos(gold_is_oos, pred_is_oos, gold_intent, pred_intent)?;
    check_len(
        "confidence (parallel to gold_is_oos)",
        gold_is_oos.len(),
        confidence.len(),
    )?;
    check_not_nan("confidence", confidence)?;
    check_nonempty("thresholds", thresholds.len())?;
    check_not_nan("thresholds", thresholds)?;
    Ok(thresholds
        .iter()
        .map(|&threshold| {
            let r = compute_oos(
                gold_is_oos,
                |i| pred_is_oos[i] || confidence[i] < threshold,
                |i| gold_intent[i] == pred_intent[i],
            );
            SweepPoint {
                threshold,
                in_scope_accuracy: r.in_scope_accuracy,
                oos_recall: r.oos_recall,
                oos_precision: r.oos_precision,
                n_pred_oos: r.n_pred_oos,
            }
        })
        .collect())
}

/// `steps + 1` evenly spaced thresholds `0, 1/steps, …, 1` (at least `[0, 1]`).
pub(crate) fn even_thresholds(steps: usize) -> Vec<f64> {
    let steps = steps.max(1);
    (0..=steps).map(|i| i as f64 / steps as f64).collect()
}

fn validate_oos<T>(
    gold_is_oos: &[bool],
    pred_is_oos: &[bool],
    gold_intent: &[T],
    pred_intent: &[T],
) -> Result<(), MetricError> {
    let n = gold_is_oos.len();
    check_nonempty("gold_is_oos", n)?;
    check_len(
        "pred_is_oos (parallel to gold_is_oos)",
        n,
        pred_is_oos.len(),
    )?;
    check_len(
        "gold_intent (parallel to gold_is_oos)",
        n,
        gold_intent.len(),
    )?;
    check_len(
        "pred_intent (parallel to gold_is_oos)",
        n,
        pred_intent.len(),
    )
}

fn compute_oos(
    gold_is_oos: &[bool],
    pred_oos: impl Fn(usize) -> bool,
    intent_match: impl Fn(usize) -> bool,
) -> OosReport {
    let (mut n_in_scope, mut n_oos, mut n_pred_oos) = (0u64, 0u64, 0u64);
    let (mut in_scope_correct, mut oos_hit) = (0u64, 0u64);
    for (i, &gold_oos) in gold_is_oos.iter().enumerate() {
        let pred = pred_oos(i);
        n_pred_oos += u64::from(pred);
        if gold_oos {
            n_oos += 1;
            oos_hit += u64::from(pred);
        } else {
            n_in_scope += 1;
            in_scope_correct += u64::from(!pred && intent_match(i));
        }
    }
    let n = gold_is_oos.len() as u64;
    OosReport {
        n_samples: n,
        n_in_scope,
        n_oos,
        n_pred_oos,
        in_scope_accuracy: ratio(in_scope_correct, n_in_scope),
        oos_recall: ratio(oos_hit, n_oos),
        oos_precision: ratio(oos_hit, n_pred_oos),
        oos_f1: f1_from_counts(oos_hit, n_pred_oos - oos_hit, n_oos - oos_hit),
        overall_accuracy: ratio(in_scope_correct + oos_hit, n),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::assert_close;
    use super::*;

    #[test]
    fn auroc_hand_computed() {
        // positives {0.8, 0.4}, negatives {0.6, 0.2}: pairs won 3 of 4.
        let s = [0.8, 0.6, 0.4, 0.2];
        let p = [true, false, true, false];
        assert_close("auroc", auroc(&s, &p).unwrap(), 0.75);
        assert_close(
            "perfect",
            auroc(&s, &[true, true, false, false]).unwrap(),
            1.0,
        );
        assert_close(
            "inverted",
            auroc(&s, &[false, false, true, true]).unwrap(),
            0.0,
        );
    }

    #[test]
    fn auroc_ties_count_half() {
        // sklearn: roc_auc_score([1,0,1,0],[0.5,0.5,0.5,0.1]) = 0.75
        let s = [0.5, 0.5, 0.5, 0.1];
        let p = [true, false, true, false];
        assert_close("auroc ties", auroc(&s, &p).unwrap(), 0.75);
        assert_close("roc auc ties", roc_curve(&s, &p).unwrap().auc, 0.75);
        // all scores equal: 0.5
        assert_close("all tied", auroc(&[0.3; 4], &p).unwrap(), 0.5);
    }

    #[test]
    fn roc_curve_points() {
        let s = [0.8, 0.6, 0.4, 0.2];
        let p = [true, false, true, false];
        let c = roc_curve(&s, &p).unwrap();
        let pts: Vec<(Option<f64>, f64, f64)> = c
            .points
            .iter()
            .map(|q| (q.threshold, q.fpr, q.tpr))
            .collect();
        assert_eq!(
            pts,
            vec![
                (None, 0.0, 0.0),
                (Some(0.8), 0.0, 0.5),
                (Some(0.6), 0.5, 0.5),
                (Some(0.4), 0.5, 1.0),
                (Some(0.2), 1.0, 1.0),
            ]
        );
        assert_close("auc", c.auc, 0.75);
        assert_eq!((c.positives, c.negatives), (2, 2));
    }

    #[test]
    fn roc_errors() {
        assert_eq!(auroc(&[], &[]).unwrap_err(), MetricError::Empty("scores"));
        assert!(matches!(
            auroc(&[0.1], &[true, false]),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert_eq!(
            auroc(&[0.1, 0.2], &[true, true]).unwrap_err(),
            MetricError::SingleClass {
                positives: 2,
                negatives: 0
            }
        );
        assert!(matches!(
            auroc(&[0.1, f64::NAN], &[true, false]),
            Err(MetricError::InvalidValue { position: 1, .. })
        ));
        assert!(matches!(
            roc_curve(&[0.1], &[false]),
            Err(MetricError::SingleClass { .. })
        ));
    }

    #[test]
    fn oos_scores_ignore_oos_column() {
        let probs = vec![vec![0.7, 0.2, 0.1], vec![0.1, 0.3, 0.6]];
        let s = oos_scores(&probs, 2).unwrap();
        assert_close("row0", s[0], 0.3);
        assert_close("row1", s[1], 0.7);
        assert!(matches!(
            oos_scores(&probs, 3),
            Err(MetricError::LabelOutOfRange { .. })
        ));
        assert!(matches!(
            oos_scores(&[vec![0.5, 0.5], vec![1.0]], 1),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert!(matches!(
            oos_scores(&[vec![f64::NAN, 0.5]], 1),
            Err(MetricError::InvalidValue { .. })
        ));
        assert!(oos_scores(&[], 0).is_err());
        assert!(oos_scores(&[vec![1.0]], 0).is_err());
    }

    // 6 examples: 4 in-scope (intents 1,2,3,4), 2 oos.
    // ex0 in, pred right;  ex1 in, pred wrong intent; ex2 in, predicted oos; ex3 in, right
    // ex4 oos, predicted oos; ex5 oos, predicted in-scope.
    const GOLD_OOS: [bool; 6] = [false, false, false, false, true, true];
    const PRED_OOS: [bool; 6] = [false, false, true, false, true, false];
    const GOLD_INTENT: [usize; 6] = [1, 2, 3, 4, 0, 0];
    const PRED_INTENT: [usize; 6] = [1, 9, 3, 4, 0, 5];

    #[test]
    fn clinc_definitions() {
        let r = oos_report(&GOLD_OOS, &PRED_OOS, &GOLD_INTENT, &PRED_INTENT).unwrap();
        // ex2 predicted oos counts wrong even though intent field matches
        assert_close("in_scope_accuracy", r.in_scope_accuracy, 2.0 / 4.0);
        assert_close("oos_recall", r.oos_recall, 1.0 / 2.0);
        assert_close("oos_precision", r.oos_precision, 1.0 / 2.0);
        assert_close("oos_f1", r.oos_f1, 0.5);
        assert_close("overall_accuracy", r.overall_accuracy, 3.0 / 6.0);
        assert_eq!((r.n_in_scope, r.n_oos, r.n_pred_oos), (4, 2, 2));
    }

    #[test]
    fn oos_report_works_with_string_intents() {
        let gold = ["a", "b"];
        let pred = ["a", "c"];
        let r = oos_report(&[false, false], &[false, false], &gold, &pred).unwrap();
        assert_close("in_scope_accuracy", r.in_scope_accuracy, 0.5);
        assert_eq!(r.oos_recall, 0.0);
        assert_eq!(r.oos_precision, 0.0);
    }

    #[test]
    fn threshold_sweep() {
        let conf = [0.9, 0.8, 0.95, 0.3, 0.99, 0.2];
        let t = [0.0, 0.5, 1.0];
        let sweep =
            oos_threshold_sweep(&conf, &GOLD_OOS, &PRED_OOS, &GOLD_INTENT, &PRED_INTENT, &t)
                .unwrap();
        assert_eq!(sweep.len(), 3);
        let base = oos_report(&GOLD_OOS, &PRED_OOS, &GOLD_INTENT, &PRED_INTENT).unwrap();
        assert_close(
            "t=0 in_scope_accuracy",
            sweep[0].in_scope_accuracy,
            base.in_scope_accuracy,
        );
        assert_close("t=0 oos_recall", sweep[0].oos_recall, base.oos_recall);
        // t=0.5: ex3 (0.3) and ex5 (0.2) become oos -> in-scope acc 1/4, oos recall 2/2
        assert_close("t=0.5 in_scope_accuracy", sweep[1].in_scope_accuracy, 0.25);
        assert_close("t=0.5 oos_recall", sweep[1].oos_recall, 1.0);
        assert_close("t=0.5 oos_precision", sweep[1].oos_precision, 2.0 / 4.0);
        assert_eq!(sweep[1].n_pred_oos, 4);
        // t=1: everything below 1 becomes oos
        assert_close("t=1 in_scope_accuracy", sweep[2].in_scope_accuracy, 0.0);
        assert_eq!(sweep[2].n_pred_oos, 6);
        // strictly below: confidence equal to the threshold stays in scope
        let eq = oos_threshold_sweep(
            &conf,
            &GOLD_OOS,
            &PRED_OOS,
            &GOLD_INTENT,
            &PRED_INTENT,
            &[0.3],
        )
        .unwrap();
        assert_eq!(eq[0].n_pred_oos, 3);
    }

    #[test]
    fn oos_errors() {
        let e: [usize; 0] = [];
        assert_eq!(
            oos_report(&[], &[], &e, &e).unwrap_err(),
            MetricError::Empty("gold_is_oos")
        );
        assert!(matches!(
            oos_report(&[true], &[true, false], &[0], &[0]),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert!(matches!(
            oos_report(&[true], &[true], &[0], &[0, 1]),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert!(matches!(
            oos_threshold_sweep(&[0.5], &[true], &[true], &[0], &[0], &[]),
            Err(MetricError::Empty("thresholds"))
        ));
        assert!(matches!(
            oos_threshold_sweep(&[f64::NAN], &[true], &[true], &[0], &[0], &[0.5]),
            Err(MetricError::InvalidValue { .. })
        ));
        assert!(matches!(
            oos_threshold_sweep(&[0.5], &[true], &[true], &[0], &[0], &[f64::NAN]),
            Err(MetricError::InvalidValue { .. })
        ));
        assert!(matches!(
            oos_threshold_sweep(&[0.5, 0.1], &[true], &[true], &[0], &[0], &[0.5]),
            Err(MetricError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn even_thresholds_span_unit_interval() {
        assert_eq!(even_thresholds(4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(even_thresholds(0), vec![0.0, 1.0]);
    }
}
