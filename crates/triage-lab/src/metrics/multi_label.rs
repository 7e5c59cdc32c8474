//! Multi-label classification (sigmoid heads with per-label thresholds).

use super::{
    check_labels, check_len, check_nonempty, check_not_nan, summarize, Counts, LabelMetrics,
    MetricError,
};
use serde::Serialize;

/// The figures of a multi-label head on one data set.
#[derive(Debug, Clone, Serialize)]
pub struct MultiLabelReport {
    pub(crate) labels: Vec<String>,
    pub(crate) n_samples: u64,
    pub(crate) macro_precision: f64,
    pub(crate) macro_recall: f64,
    pub macro_f1: f64,
    micro_precision: f64,
    micro_recall: f64,
    pub micro_f1: f64,
    pub(crate) weighted_f1: f64,
    /// Share of examples whose predicted label set equals the gold set exactly.
    pub(crate) subset_accuracy: f64,
    /// Share of (example, label) decisions that are wrong.
    pub(crate) hamming_loss: f64,
    pub(crate) per_label: Vec<LabelMetrics>,
}

impl MultiLabelReport {
    /// The metrics of one label, by name.
    pub fn label(&self, label: &str) -> Option<&LabelMetrics> {
        self.per_label.iter().find(|m| m.label == label)
    }
}

/// Multi-label figures where label `j` is predicted when `scores[i][j] >= thresholds[j]`.
/// `gold[i][j]` says whether example `i` carries label `j`. Every label counts in the
/// macro average (sklearn `average="macro"`, `zero_division=0`).
pub(crate) fn multilabel_report(
    gold: &[Vec<bool>],
    scores: &[Vec<f64>],
    thresholds: &[f64],
    labels: &[String],
) -> Result<MultiLabelReport, MetricError> {
    check_labels(labels)?;
    check_len("thresholds (one per label)", labels.len(), thresholds.len())?;
    check_not_nan("thresholds", thresholds)?;
    check_nonempty("scores", scores.len())?;
    check_len("gold (parallel to scores)", scores.len(), gold.len())?;
    let mut pred = Vec::with_capacity(scores.len());
    for (i, row) in scores.iter().enumerate() {
        check_len(format!("scores[{i}]"), labels.len(), row.len())?;
        check_not_nan(&format!("scores[{i}]"), row)?;
        pred.push(row.iter().zip(thresholds).map(|(s, t)| s >= t).collect());
    }
    multilabel_report_from_predictions(gold, &pred, labels)
}

/// Multi-label figures from predicted label sets (`pred[i][j]`: label `j` predicted for
/// example `i`).
pub(crate) fn multilabel_report_from_predictions(
    gold: &[Vec<bool>],
    pred: &[Vec<bool>],
    labels: &[String],
) -> Result<MultiLabelReport, MetricError> {
    check_labels(labels)?;
    check_nonempty("gold", gold.len())?;
    check_len("pred (parallel to gold)", gold.len(), pred.len())?;
    let k = labels.len();
    let mut counts = vec![Counts::default(); k];
    let (mut exact, mut wrong_decisions) = (0u64, 0u64);
    for (i, (g, p)) in gold.iter().zip(pred).enumerate() {
        check_len(format!("gold[{i}]"), k, g.len())?;
        check_len(format!("pred[{i}]"), k, p.len())?;
        let mut all_right = true;
        for ((c, &g), &p) in counts.iter_mut().zip(g).zip(p) {
            match (g, p) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (true, false) => c.fn_ += 1,
                (false, false) => {}
            }
            if g != p {
                all_right = false;
                wrong_decisions += 1;
            }
        }
        exact += u64::from(all_right);
    }
    let n = gold.len() as u64;
    let (per_label, avg) = summarize(labels, &counts);
    Ok(MultiLabelReport {
        labels: labels.to_vec(),
        n_samples: n,
        macro_precision: avg.macro_precision,
        macro_recall: avg.macro_recall,
        macro_f1: avg.macro_f1,
        micro_precision: avg.micro_precision,
        micro_recall: avg.micro_recall,
        micro_f1: avg.micro_f1,
        weighted_f1: avg.weighted_f1,
        subset_accuracy: exact as f64 / n as f64,
        hamming_loss: wrong_decisions as f64 / (n * k as u64) as f64,
        per_label,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, labels};
    use super::*;

    #[test]
    fn hand_computed_figures() {
        let l = labels(&["x", "y"]);
        let gold = vec![
            vec![true, false],
            vec![true, true],
            vec![false, true],
            vec![false, false],
        ];
        // thresholds: x 0.5, y 0.3; score == threshold predicts the label
        let scores = vec![
            vec![0.9, 0.1],
            vec![0.2, 0.3],
            vec![0.5, 0.8],
            vec![0.1, 0.29],
        ];
        let r = multilabel_report(&gold, &scores, &[0.5, 0.3], &l).unwrap();
        // x: pred [T,F,T,F] gold [T,T,F,F] -> tp1 fp1 fn1 ; y: pred [F,T,T,F] gold [F,T,T,F] -> tp2
        let x = r.label("x").unwrap();
        assert_close("x.precision", x.precision, 0.5);
        assert_close("x.recall", x.recall, 0.5);
        assert_close("x.f1", x.f1, 0.5);
        assert_eq!((x.support, x.predicted), (2, 2));
        let y = r.label("y").unwrap();
        assert_close("y.f1", y.f1, 1.0);
        assert_close("macro_f1", r.macro_f1, 0.75);
        // micro: tp 3 fp 1 fn 1 -> 6/8
        assert_close("micro_f1", r.micro_f1, 0.75);
        assert_close("micro_precision", r.micro_precision, 0.75);
        assert_close("subset_accuracy", r.subset_accuracy, 2.0 / 4.0);
        assert_close("hamming_loss", r.hamming_loss, 2.0 / 8.0);
    }

    #[test]
    fn label_never_present_nor_predicted_is_zero() {
        let l = labels(&["x", "y"]);
        let r = multilabel_report_from_predictions(&[vec![true, false]], &[vec![true, false]], &l)
            .unwrap();
        assert_eq!(r.label("y").unwrap().f1, 0.0);
        assert_close("macro_f1", r.macro_f1, 0.5);
        assert_close("micro_f1", r.micro_f1, 1.0);
    }

    #[test]
    fn errors() {
        let l = labels(&["x", "y"]);
        let ok_gold = vec![vec![true, false]];
        let ok_scores = vec![vec![0.9, 0.1]];
        assert!(matches!(
            multilabel_report(&ok_gold, &ok_scores, &[0.5], &l),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert_eq!(
            multilabel_report(&[], &[], &[0.5, 0.5], &l).unwrap_err(),
            MetricError::Empty("scores")
        );
        assert!(matches!(
            multilabel_report(&ok_gold, &[vec![0.9]], &[0.5, 0.5], &l),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert!(matches!(
            multilabel_report(&[vec![true]], &ok_scores, &[0.5, 0.5], &l),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert!(matches!(
            multilabel_report(&ok_gold, &[vec![f64::NAN, 0.1]], &[0.5, 0.5], &l),
            Err(MetricError::InvalidValue { .. })
        ));
        assert!(matches!(
            multilabel_report(&ok_gold, &ok_scores, &[f64::NAN, 0.5], &l),
            Err(MetricError::InvalidValue { .. })
        ));
        assert!(matches!(
            multilabel_report(&ok_gold, &[vec![0.9, 0.1], vec![0.9, 0.1]], &[0.5, 0.5], &l),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert_eq!(
            multilabel_report(&ok_gold, &ok_scores, &[], &[]).unwrap_err(),
            MetricError::Empty("labels")
        );
    }
}
