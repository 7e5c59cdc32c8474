//! Single-label classification: accuracy, averaged and per-label precision/recall/F1,
//! confusion matrix.

use super::{
    check_labels, check_len, check_nonempty, summarize, Counts, LabelMetrics, MetricError,
};
use serde::Serialize;

/// The figures of a single-label head on one data set. Labels keep the order they were
/// given in; `confusion_matrix[gold][pred]`.
#[derive(Debug, Clone, Serialize)]
pub struct ClassificationReport {
    pub(crate) labels: Vec<String>,
    pub(crate) n_samples: u64,
    pub accuracy: f64,
    pub(crate) macro_precision: f64,
    pub(crate) macro_recall: f64,
    pub macro_f1: f64,
    pub(crate) micro_precision: f64,
    pub(crate) micro_recall: f64,
    pub micro_f1: f64,
    pub(crate) weighted_precision: f64,
    pub(crate) weighted_recall: f64,
    pub weighted_f1: f64,
    pub(crate) per_label: Vec<LabelMetrics>,
    /// Rows are gold labels, columns predicted labels, both in `labels` order.
    pub confusion_matrix: Vec<Vec<u64>>,
}

/// One off-diagonal cell of the confusion matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Confusion {
    pub(crate) gold: String,
    pub(crate) pred: String,
    pub(crate) count: u64,
}

impl ClassificationReport {
    /// The metrics of one label, by name.
    #[cfg(test)]
    fn label(&self, label: &str) -> Option<&LabelMetrics> {
        self.per_label.iter().find(|m| m.label == label)
    }

    /// The `k` most frequent confusions (gold ≠ pred, count > 0), by count descending,
    /// ties broken by label order (gold first, then pred).
    pub(crate) fn top_confusions(&self, k: usize) -> Vec<Confusion> {
        let mut cells: Vec<(usize, usize, u64)> = Vec::new();
        for (g, row) in self.confusion_matrix.iter().enumerate() {
            for (p, &count) in row.iter().enumerate() {
                if g != p && count > 0 {
                    cells.push((g, p, count));
                }
            }
        }
        cells.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        // `get` keeps a hand-built report with fewer labels than matrix rows from panicking.
        cells
            .into_iter()
            .filter_map(|(g, p, count)| {
                Some(Confusion {
                    gold: self.labels.get(g)?.clone(),
                    pred: self.labels.get(p)?.clone(),
                    count,
                })
            })
            .take(k)
            .collect()
    }
}

/// Accuracy, precision/recall/F1 (per label and macro/micro/weighted) and the confusion
/// matrix of `pred` against `gold`, both indices into `labels`.
///
/// Every label in `labels` counts in the macro average, including labels with no gold
/// and no predicted example (their figures are 0, sklearn's `zero_division=0`).
pub(crate) fn classification_report(
    gold: &[usize],
    pred: &[usize],
    labels: &[String],
) -> Result<ClassificationReport, MetricError> {
    check_labels(labels)?;
    check_nonempty("gold", gold.len())?;
    check_len("pred (parallel to gold)", gold.len(), pred.len())?;
    let k = labels.len();
    check_indices("gold", gold, k)?;
    check_indices("pred", pred, k)?;

    let mut confusion = vec![vec![0u64; k]; k];
    for (&g, &p) in gold.iter().zip(pred) {
        confusion[g][p] += 1;
    }
    let counts: Vec<Counts> = (0..k)
        .map(|j| {
            let tp = confusion[j][j];
            let support: u64 = confusion[j].iter().sum();
            let predicted: u64 = confusion.iter().map(|row| row[j]).sum();
            Counts {
                tp,
                fp: predicted - tp,
                fn_: support - tp,
            }
        })
        .collect();
    let correct: u64 = (0..k).map(|j| confusion[j][j]).sum();
    let n = gold.len() as u64;
    let (per_label, avg) = summarize(labels, &counts);

    Ok(ClassificationReport {
        labels: labels.to_vec(),
        n_samples: n,
        accuracy: correct as f64 / n as f64,
        macro_precision: avg.macro_precision,
        macro_recall: avg.macro_recall,
        macro_f1: avg.macro_f1,
        micro_precision: avg.micro_precision,
        micro_recall: avg.micro_recall,
        micro_f1: avg.micro_f1,
        weighted_precision: avg.weighted_precision,
        weighted_recall: avg.weighted_recall,
        weighted_f1: avg.weighted_f1,
        per_label,
        confusion_matrix: confusion,
    })
}

fn check_indices(what: &'static str, values: &[usize], n_labels: usize) -> Result<(), MetricError> {
    match values.iter().position(|&v| v >= n_labels) {
        Some(position) => Err(MetricError::LabelOutOfRange {
            what,
            position,
            index: values[position],
            n_labels,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, labels};
    use super::*;

    // gold: a a a b b c ; pred: a a b b c c
    // a: tp 2 fp 0 fn 1 -> p 1, r 2/3, f1 4/5
    // b: tp 1 fp 1 fn 1 -> p 1/2, r 1/2, f1 1/2
    // c: tp 1 fp 1 fn 0 -> p 1/2, r 1, f1 2/3
    fn small() -> ClassificationReport {
        classification_report(
            &[0, 0, 0, 1, 1, 2],
            &[0, 0, 1, 1, 2, 2],
            &labels(&["a", "b", "c"]),
        )
        .unwrap()
    }

    #[test]
    fn hand_computed_figures() {
        let r = small();
        assert_close("accuracy", r.accuracy, 4.0 / 6.0);
        let a = r.label("a").unwrap();
        assert_close("a.precision", a.precision, 1.0);
        assert_close("a.recall", a.recall, 2.0 / 3.0);
        assert_close("a.f1", a.f1, 0.8);
        assert_eq!(a.support, 3);
        let c = r.label("c").unwrap();
        assert_close("c.precision", c.precision, 0.5);
        assert_close("c.recall", c.recall, 1.0);
        assert_close("c.f1", c.f1, 2.0 / 3.0);
        assert_close("macro_precision", r.macro_precision, 2.0 / 3.0);
        assert_close(
            "macro_recall",
            r.macro_recall,
            (2.0 / 3.0 + 0.5 + 1.0) / 3.0,
        );
        assert_close("macro_f1", r.macro_f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0);
        assert_close("micro_f1", r.micro_f1, 4.0 / 6.0);
        assert_close(
            "weighted_f1",
            r.weighted_f1,
            (0.8 * 3.0 + 0.5 * 2.0 + 2.0 / 3.0) / 6.0,
        );
        assert_close(
            "weighted_recall",
            r.weighted_recall,
            (2.0 / 3.0 * 3.0 + 0.5 * 2.0 + 1.0) / 6.0,
        );
        assert_eq!(
            r.confusion_matrix,
            vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]
        );
    }

    #[test]
    fn label_without_examples_scores_zero_and_counts_in_macro() {
        let r = classification_report(&[0, 1], &[0, 1], &labels(&["a", "b", "unused"])).unwrap();
        let u = r.label("unused").unwrap();
        assert_eq!((u.precision, u.recall, u.f1, u.support), (0.0, 0.0, 0.0, 0));
        assert_close("macro_f1", r.macro_f1, 2.0 / 3.0);
        assert_close("weighted_f1", r.weighted_f1, 1.0);
        assert_close("accuracy", r.accuracy, 1.0);
    }

    #[test]
    fn top_confusions_sorted_by_count_then_label_order() {
        // gold/pred pairs: (2,0) x2, (1,0) x1, (0,1) x1, (0,2) x2
        let gold = [2, 2, 1, 0, 0, 0, 1];
        let pred = [0, 0, 0, 1, 2, 2, 1];
        let r = classification_report(&gold, &pred, &labels(&["a", "b", "c"])).unwrap();
        let top = r.top_confusions(3);
        let got: Vec<(&str, &str, u64)> = top
            .iter()
            .map(|c| (c.gold.as_str(), c.pred.as_str(), c.count))
            .collect();
        assert_eq!(got, vec![("a", "c", 2), ("c", "a", 2), ("a", "b", 1)]);
        assert_eq!(r.top_confusions(100).len(), 4);
        assert!(r.top_confusions(0).is_empty());
        assert!(classification_report(&[0], &[0], &labels(&["a"]))
            .unwrap()
            .top_confusions(5)
            .is_empty());
    }

    #[test]
    fn errors() {
        let l = labels(&["a", "b"]);
        assert_eq!(
            classification_report(&[], &[], &l).unwrap_err(),
            MetricError::Empty("gold")
        );
        assert!(matches!(
            classification_report(&[0, 1], &[0], &l),
            Err(MetricError::LengthMismatch {
                expected: 2,
                found: 1,
                ..
            })
        ));
        assert_eq!(
            classification_report(&[0, 1], &[0, 2], &l).unwrap_err(),
            MetricError::LabelOutOfRange {
                what: "pred",
                position: 1,
                index: 2,
                n_labels: 2
            }
        );
        assert!(matches!(
            classification_report(&[5], &[0], &l),
            Err(MetricError::LabelOutOfRange { what: "gold", .. })
        ));
        assert_eq!(
            classification_report(&[0], &[0], &[]).unwrap_err(),
            MetricError::Empty("labels")
        );
        assert_eq!(
            classification_report(&[0], &[0], &labels(&["a", "a"])).unwrap_err(),
            MetricError::DuplicateLabel("a".into())
        );
    }
}
