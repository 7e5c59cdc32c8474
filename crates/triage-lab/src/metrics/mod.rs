//! Evaluation metrics for `triage eval`.
//!
//! Every figure follows scikit-learn's conventions (checked against the fixtures in
//! `shared/fixtures/metrics`, see the tests at the bottom of this file):
//!
//! * precision, recall and F1 use `zero_division = 0`: a ratio whose denominator is 0
//!   is 0; F1 is computed as `2·tp / (2·tp + fp + fn)`;
//! * macro averages are the unweighted mean over **all** labels passed in (labels
//!   without support count with their zeros), weighted averages weight by support,
//!   micro averages pool the counts;
//! * ECE uses equal-width bins `(i/n, (i+1)/n]`, confidence 0 falls in bin 0;
//! * AUROC is the area under the ROC curve with tied scores counted as half
//!   (identical to `roc_auc_score`);
//! * retrieval ranks are 1-based, `None` means the gold item was not returned
//!   (it counts as a miss for Recall@k and contributes 0 to MRR).
//!
//! Functions never panic on input: inconsistent input (length mismatches, empty
//! slices, NaN, label indices out of range) yields a [`MetricError`]. All result
//! structs serialise with serde so that they drop into a JSON report.

mod calibration;
mod multi_label;
mod oos;
mod retrieval;
mod single_label;

pub(crate) use calibration::{
    confidence_histogram, expected_calibration_error, Calibration, CalibrationBin, HistogramBin,
};
pub(crate) use multi_label::{
    multilabel_report, multilabel_report_from_predictions, MultiLabelReport,
};
#[cfg(test)]
use oos::roc_curve;
pub(crate) use oos::{
    auroc, even_thresholds, oos_report, oos_scores, oos_threshold_sweep, OosReport, SweepPoint,
};
#[cfg(test)]
use retrieval::{mean_reciprocal_rank, recall_at_k};
pub(crate) use retrieval::{retrieval_report, RetrievalReport, REPORT_KS};
pub(crate) use single_label::{classification_report, ClassificationReport, Confusion};

use serde::Serialize;
use std::collections::HashSet;
use thiserror::Error;

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MetricError {
    /// An input that must hold at least one item is empty.
    #[error("empty input: {0} has no items")]
    Empty(&'static str),
    /// Two inputs that must be parallel have different lengths.
    #[error("length mismatch: {what} has {found} items, expected {expected}")]
    LengthMismatch {
        what: String,
        expected: usize,
        found: usize,
    },
    /// A label index is not an index into the label list.
    #[error("{what}[{position}] = {index} is out of range for {n_labels} labels")]
    LabelOutOfRange {
        what: &'static str,
        position: usize,
        index: usize,
        n_labels: usize,
    },
    /// The same label name appears twice in the label list.
    #[error("duplicate label {0:?}")]
    DuplicateLabel(String),
    /// A number is NaN, infinite or outside its allowed range.
    #[error("{what}[{position}] = {value} is invalid: {reason}")]
    InvalidValue {
        what: String,
        position: usize,
        value: f64,
        reason: &'static str,
    },
    /// A retrieval rank of 0 (ranks are 1-based).
    #[error("gold_ranks[{position}] = 0 is invalid: ranks are 1-based")]
    ZeroRank { position: usize },
    /// A parameter (number of bins, k, label index) is unusable.
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument {
        name: &'static str,
        reason: &'static str,
    },
    /// AUROC / ROC needs both positive and negative examples.
    #[error(
        "ROC is undefined: only one class present ({positives} positives, {negatives} negatives)"
    )]
    SingleClass { positives: usize, negatives: usize },
}

/// Precision, recall, F1 and support of one label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelMetrics {
    pub(crate) label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Number of gold examples carrying the label.
    pub support: u64,
    /// Number of examples predicted with the label.
    pub(crate) predicted: u64,
}

/// Per-label counts, the input of every precision/recall/F1 figure.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    tp: u64,
    fp: u64,
    fn_: u64,
}

impl Counts {
    fn metrics(self, label: &str) -> LabelMetrics {
        LabelMetrics {
            label: label.to_string(),
            precision: ratio(self.tp, self.tp + self.fp),
            recall: ratio(self.tp, self.tp + self.fn_),
            f1: f1_from_counts(self.tp, self.fp, self.fn_),
            support: self.tp + self.fn_,
            predicted: self.tp + self.fp,
        }
    }
}

/// Macro, micro and support-weighted averages of per-label metrics.
#[derive(Debug, Clone, Copy)]
struct Averages {
    macro_precision: f64,
    macro_recall: f64,
    macro_f1: f64,
    micro_precision: f64,
    micro_recall: f64,
    micro_f1: f64,
    weighted_precision: f64,
    weighted_recall: f64,
    weighted_f1: f64,
}

/// Per-label metrics and their averages from per-label counts (sklearn conventions).
fn summarize(labels: &[String], counts: &[Counts]) -> (Vec<LabelMetrics>, Averages) {
    let per_label: Vec<LabelMetrics> = labels
        .iter()
        .zip(counts)
        .map(|(label, c)| c.metrics(label))
        .collect();
    let k = per_label.len() as f64;
    let mean = |f: fn(&LabelMetrics) -> f64| {
        if per_label.is_empty() {
            0.0
        } else {
            per_label.iter().map(f).sum::<f64>() / k
        }
    };
    let total_support: u64 = per_label.iter().map(|m| m.support).sum();
    let weighted = |f: fn(&LabelMetrics) -> f64| {
        if total_support == 0 {
            0.0
        } else {
            per_label
                .iter()
                .map(|m| f(m) * m.support as f64)
                .sum::<f64>()
                / total_support as f64
        }
    };
    let tp: u64 = counts.iter().map(|c| c.tp).sum();
    let fp: u64 = counts.iter().map(|c| c.fp).sum();
    let fn_: u64 = counts.iter().map(|c| c.fn_).sum();
    let averages = Averages {
        macro_precision: mean(|m| m.precision),
        macro_recall: mean(|m| m.recall),
        macro_f1: mean(|m| m.f1),
        micro_precision: ratio(tp, tp + fp),
        micro_recall: ratio(tp, tp + fn_),
        micro_f1: f1_from_counts(tp, fp, fn_),
        weighted_precision: weighted(|m| m.precision),
        weighted_recall: weighted(|m| m.recall),
        weighted_f1: weighted(|m| m.f1),
    };
    (per_label, averages)
}

/// `num / den`, 0 when `den` is 0 (sklearn's `zero_division=0`).
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// F1 as scikit-learn computes it: `2·tp / (2·tp + fp + fn)`, 0 when undefined.
fn f1_from_counts(tp: u64, fp: u64, fn_: u64) -> f64 {
    ratio(2 * tp, 2 * tp + fp + fn_)
}

fn check_nonempty(what: &'static str, len: usize) -> Result<(), MetricError> {
    if len == 0 {
        Err(MetricError::Empty(what))
    } else {
        Ok(())
    }
}

fn check_len(what: impl Into<String>, expected: usize, found: usize) -> Result<(), MetricError> {
    if expected == found {
        Ok(())
    } else {
        Err(MetricError::LengthMismatch {
            what: what.into(),
            expected,
            found,
        })
    }
}

/// Labels must be non-empty and unique.
fn check_labels(labels: &[String]) -> Result<(), MetricError> {
    check_nonempty("labels", labels.len())?;
    let mut seen = HashSet::with_capacity(labels.len());
    for label in labels {
        if !seen.insert(label.as_str()) {
            return Err(MetricError::DuplicateLabel(label.clone()));
        }
    }
    Ok(())
}

/// Every value must be a number (not NaN).
fn check_not_nan(what: &str, values: &[f64]) -> Result<(), MetricError> {
    match values.iter().position(|v| v.is_nan()) {
        Some(position) => Err(MetricError::InvalidValue {
            what: what.to_string(),
            position,
            value: f64::NAN,
            reason: "NaN",
        }),
        None => Ok(()),
    }
}

/// Every value must be a probability in `[0, 1]`.
fn check_probabilities(what: &str, values: &[f64]) -> Result<(), MetricError> {
    check_not_nan(what, values)?;
    match values.iter().position(|v| !(0.0..=1.0).contains(v)) {
        Some(position) => Err(MetricError::InvalidValue {
            what: what.to_string(),
            position,
            value: values[position],
            reason: "expected a probability in [0, 1]",
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod test_util {
    /// Asserts `got` is within 1e-9 of `want`, naming the figure on failure.
    pub(crate) fn assert_close(name: &str, got: f64, want: f64) {
        assert!(
            (got - want).abs() <= 1e-9,
            "{name}: got {got}, expected {want} (diff {})",
            got - want
        );
    }

    pub(crate) fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }
}

#[cfg(test)]
mod fixture_tests {
    //! One test per fixture file: every figure in `expected` must be reproduced to 1e-9,
    //! and every key of `expected` must be checked (an unknown key fails the test).

    use super::test_util::assert_close;
    use super::*;
    use serde_json::Value;
    use std::path::PathBuf;

    /// `$TRIAGE_FIXTURES` (either the `metrics` folder itself or its parent), else
    /// `<CARGO_MANIFEST_DIR>/../../../shared/fixtures/metrics`, else the absolute
    /// `/work/shared/fixtures/metrics`.
    fn fixtures_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("TRIAGE_FIXTURES") {
            let dir = PathBuf::from(dir);
            let nested = dir.join("metrics");
            return if nested.join("single_label.json").is_file() {
                nested
            } else {
                dir
            };
        }
        let relative = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../../../shared/fixtures/metrics");
        if relative.is_dir() {
            relative
        } else {
            PathBuf::from("/work/shared/fixtures/metrics")
        }
    }

    fn load(name: &str) -> Value {
        let path = fixtures_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("cannot parse fixture {}: {e}", path.display()))
    }

    fn f64_of(v: &Value, name: &str) -> f64 {
        v.as_f64()
            .unwrap_or_else(|| panic!("{name}: not a number: {v}"))
    }

    fn u64_of(v: &Value, name: &str) -> u64 {
        v.as_u64()
            .unwrap_or_else(|| panic!("{name}: not an integer: {v}"))
    }

    fn array<'a>(v: &'a Value, name: &str) -> &'a Vec<Value> {
        v.as_array()
            .unwrap_or_else(|| panic!("{name}: not an array"))
    }

    fn object<'a>(v: &'a Value, name: &str) -> &'a serde_json::Map<String, Value> {
        v.as_object()
            .unwrap_or_else(|| panic!("{name}: not an object"))
    }

    fn strings(v: &Value, name: &str) -> Vec<String> {
        array(v, name)
            .iter()
            .map(|x| x.as_str().expect("label string").to_string())
            .collect()
    }

    fn indices(v: &Value, name: &str) -> Vec<usize> {
        array(v, name)
            .iter()
            .map(|x| u64_of(x, name) as usize)
            .collect()
    }

    fn matrix_f64(v: &Value, name: &str) -> Vec<Vec<f64>> {
        array(v, name)
            .iter()
            .map(|row| array(row, name).iter().map(|x| f64_of(x, name)).collect())
            .collect()
    }

    /// Checks one label's precision/recall/f1/support object against the computed one.
    fn check_label(prefix: &str, want: &Value, got: &LabelMetrics) {
        let want = object(want, prefix);
        for (key, value) in want {
            let name = format!("{prefix}.{key}");
            match key.as_str() {
                "precision" => assert_close(&name, got.precision, f64_of(value, &name)),
                "recall" => assert_close(&name, got.recall, f64_of(value, &name)),
                "f1" => assert_close(&name, got.f1, f64_of(value, &name)),
                "support" => assert_eq!(got.support, u64_of(value, &name), "{name}"),
                _ => panic!("unchecked expected figure {name}"),
            }
        }
    }

    fn check_per_label(want: &Value, labels: &[String], got: &[LabelMetrics]) {
        let want = object(want, "per_label");
        assert_eq!(want.len(), labels.len(), "per_label: number of labels");
        for (label, figures) in want {
            let metrics = got
                .iter()
                .find(|m| &m.label == label)
                .unwrap_or_else(|| panic!("per_label.{label}: label not in report"));
            check_label(&format!("per_label.{label}"), figures, metrics);
        }
    }

    #[test]
    fn single_label_fixture() {
        let fx = load("single_label.json");
        let labels = strings(&fx["labels"], "labels");
        let gold = indices(&fx["y_true"], "y_true");
        let pred = indices(&fx["y_pred"], "y_pred");
        let probs = matrix_f64(&fx["probs"], "probs");
        let report = classification_report(&gold, &pred, &labels).expect("report");

        let expected = object(&fx["expected"], "expected");
        assert!(!expected.is_empty());
        for (key, want) in expected {
            match key.as_str() {
                "accuracy" => assert_close(key, report.accuracy, f64_of(want, key)),
                "macro_f1" => assert_close(key, report.macro_f1, f64_of(want, key)),
                "micro_f1" => assert_close(key, report.micro_f1, f64_of(want, key)),
                "weighted_f1" => assert_close(key, report.weighted_f1, f64_of(want, key)),
                "per_label" => check_per_label(want, &labels, &report.per_label),
                "confusion_matrix" => {
                    let want: Vec<Vec<u64>> = array(want, key)
                        .iter()
                        .map(|row| array(row, key).iter().map(|x| u64_of(x, key)).collect())
                        .collect();
                    assert_eq!(report.confusion_matrix, want, "confusion_matrix");
                }
                "ece_15" => {
                    let confidence: Vec<f64> = probs
                        .iter()
                        .map(|row| row.iter().cloned().fold(f64::NEG_INFINITY, f64::max))
                        .collect();
                    let correct: Vec<bool> = gold.iter().zip(&pred).map(|(g, p)| g == p).collect();
                    let cal = expected_calibration_error(&confidence, &correct, 15).expect("ece");
                    assert_close(key, cal.ece, f64_of(want, key));
                    assert_eq!(cal.bins.len(), 15, "ece_15: bins");
                    let total: u64 = cal.bins.iter().map(|b| b.count).sum();
                    assert_eq!(total, gold.len() as u64, "ece_15: binned samples");
                }
                "oos_auroc" => {
                    let oos = labels.iter().position(|l| l == "oos").expect("oos label");
                    let scores = oos_scores(&probs, oos).expect("oos scores");
                    let positive: Vec<bool> = gold.iter().map(|&g| g == oos).collect();
                    assert_close(
                        key,
                        auroc(&scores, &positive).expect("auroc"),
                        f64_of(want, key),
                    );
                    let curve = roc_curve(&scores, &positive).expect("roc");
                    assert_close("oos_auroc (roc_curve.auc)", curve.auc, f64_of(want, key));
                }
                _ => panic!("unchecked expected figure {key}"),
            }
        }
        // Single-label micro averages all equal accuracy.
        assert_close("micro_precision", report.micro_precision, report.accuracy);
        assert_close("micro_recall", report.micro_recall, report.accuracy);
    }

    #[test]
    fn multi_label_fixture() {
        let fx = load("multi_label.json");
        assert!(
            fx["description"].as_str().unwrap_or("").contains(">="),
            "fixture convention changed: expected 'score >= threshold'"
        );
        let labels = strings(&fx["labels"], "labels");
        let thresholds: Vec<f64> = array(&fx["thresholds"], "thresholds")
            .iter()
            .map(|x| f64_of(x, "thresholds"))
            .collect();
        let gold: Vec<Vec<bool>> = array(&fx["y_true"], "y_true")
            .iter()
            .map(|row| {
                array(row, "y_true")
                    .iter()
                    .map(|x| u64_of(x, "y_true") == 1)
                    .collect()
            })
            .collect();
        let scores = matrix_f64(&fx["scores"], "scores");
        let report = multilabel_report(&gold, &scores, &thresholds, &labels).expect("report");

        let expected = object(&fx["expected"], "expected");
        assert!(!expected.is_empty());
        for (key, want) in expected {
            match key.as_str() {
                "macro_f1" => assert_close(key, report.macro_f1, f64_of(want, key)),
                "micro_f1" => assert_close(key, report.micro_f1, f64_of(want, key)),
                "per_label" => check_per_label(want, &labels, &report.per_label),
                _ => panic!("unchecked expected figure {key}"),
            }
        }
    }

    #[test]
    fn retrieval_fixture() {
        let fx = load("retrieval.json");
        let ranks: Vec<Option<usize>> = array(&fx["ranks"], "ranks")
            .iter()
            .map(|x| {
                if x.is_null() {
                    None
                } else {
                    Some(u64_of(x, "ranks") as usize)
                }
            })
            .collect();
        let report = retrieval_report(&ranks).expect("report");

        let expected = object(&fx["expected"], "expected");
        assert!(!expected.is_empty());
        for (key, want) in expected {
            match key.as_str() {
                "mrr" => assert_close(key, report.mrr, f64_of(want, key)),
                "recall_at_1" => assert_close(key, report.recall_at_1, f64_of(want, key)),
                "recall_at_3" => assert_close(key, report.recall_at_3, f64_of(want, key)),
                _ => match key.strip_prefix("recall_at_").map(str::parse::<usize>) {
                    Some(Ok(k)) => assert_close(
                        key,
                        recall_at_k(&ranks, k).expect("recall@k"),
                        f64_of(want, key),
                    ),
                    _ => panic!("unchecked expected figure {key}"),
                },
            }
        }
        assert_close(
            "recall_at_k(1) == recall_at_1",
            recall_at_k(&ranks, 1).unwrap(),
            report.recall_at_1,
        );
        assert_close(
            "mean_reciprocal_rank",
            mean_reciprocal_rank(&ranks).unwrap(),
            report.mrr,
        );
    }

    #[test]
    fn reports_serialize_to_json() {
        let labels = super::test_util::labels(&["a", "b"]);
        let report = classification_report(&[0, 1, 1], &[0, 0, 1], &labels).unwrap();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["accuracy"].as_f64().unwrap(), 2.0 / 3.0);
        assert_eq!(
            json["confusion_matrix"],
            serde_json::json!([[1, 0], [1, 1]])
        );
        let cal = expected_calibration_error(&[0.9, 0.2], &[true, false], 4).unwrap();
        let json = serde_json::to_value(&cal).unwrap();
        assert!(json["bins"][1]["mean_confidence"].is_null(), "{json}");
    }
}
