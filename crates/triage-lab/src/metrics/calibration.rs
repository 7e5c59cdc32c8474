//! Calibration: expected calibration error, reliability-diagram bins, confidence
//! histogram.
//!
//! Bins are equal-width over `[0, 1]`: bin `i` is `(i/n, (i+1)/n]`, and a confidence of
//! exactly 0 falls in bin 0.

use super::{check_len, check_nonempty, check_probabilities, MetricError};
use serde::Serialize;

/// One bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CalibrationBin {
    /// Exclusive lower edge (`i / n_bins`; bin 0 also holds confidence 0).
    pub(crate) lower: f64,
    /// Inclusive upper edge (`(i + 1) / n_bins`).
    pub(crate) upper: f64,
    pub(crate) count: u64,
    /// Mean confidence of the bin's examples; `None` for an empty bin.
    pub(crate) mean_confidence: Option<f64>,
    /// Share of the bin's examples that are correct; `None` for an empty bin.
    pub(crate) accuracy: Option<f64>,
}

/// Expected calibration error with the bins it was computed from.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub(crate) n_bins: usize,
    pub(crate) n_samples: u64,
    /// `Σ_bins (count / n) · |mean_confidence − accuracy|`.
    pub ece: f64,
    /// Maximum calibration error: the largest `|mean_confidence − accuracy|` over
    /// non-empty bins.
    pub(crate) mce: f64,
    pub(crate) bins: Vec<CalibrationBin>,
}

/// Counts of correct and wrong predictions in one confidence bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HistogramBin {
    pub(crate) lower: f64,
    pub(crate) upper: f64,
    pub(crate) correct: u64,
    pub(crate) wrong: u64,
}

/// The bin of a confidence in `[0, 1]`: `i` such that `i/n < c <= (i+1)/n`, 0 for `c = 0`.
/// Edges are the correctly rounded `i / n`, so values on an edge land where the
/// mathematical definition puts them.
fn bin_index(c: f64, n_bins: usize) -> usize {
    let edge = |i: usize| i as f64 / n_bins as f64;
    if c <= 0.0 {
        return 0;
    }
    let mut idx = ((c * n_bins as f64).ceil() as usize)
        .saturating_sub(1)
        .min(n_bins - 1);
    while idx > 0 && c <= edge(idx) {
        idx -= 1;
    }
    while idx + 1 < n_bins && c > edge(idx + 1) {
        idx += 1;
    }
    idx
}

/// Upper bound on the number of bins (guards against absurd allocations).
const MAX_BINS: usize = 100_000;

fn validate(confidence: &[f64], correct: &[bool], n_bins: usize) -> Result<(), MetricError> {
    check_nonempty("confidence", confidence.len())?;
    check_len(
        "correct (parallel to confidence)",
        confidence.len(),
        correct.len(),
    )?;
    if n_bins == 0 {
        return Err(MetricError::InvalidArgument {
            name: "n_bins",
            reason: "must be at least 1",
        });
    }
    if n_bins > MAX_BINS {
        return Err(MetricError::InvalidArgument {
            name: "n_bins",
            reason: "must be at most MAX_BINS (100000)",
        });
    }
    check_probabilities("confidence", confidence)
}

/// Expected calibration error of top-1 `confidence` against whether each prediction was
/// `correct`, over `n_bins` equal-width bins, with the per-bin figures of a reliability
/// diagram.
pub(crate) fn expected_calibration_error(
    confidence: &[f64],
    correct: &[bool],
    n_bins: usize,
) -> Result<Calibration, MetricError> {
    validate(confidence, correct, n_bins)?;
    let mut count = vec![0u64; n_bins];
    let mut conf_sum = vec![0.0f64; n_bins];
    let mut correct_count = vec![0u64; n_bins];
    for (&c, &ok) in confidence.iter().zip(correct) {
        let i = bin_index(c, n_bins);
        count[i] += 1;
        conf_sum[i] += c;
        correct_count[i] += u64::from(ok);
    }
    let n = confidence.len() as u64;
    let mut ece = 0.0;
    let mut mce: f64 = 0.0;
    let mut bins = Vec::with_capacity(n_bins);
    for i in 0..n_bins {
        let (mean_confidence, accuracy) = if count[i] == 0 {
            (None, None)
        } else {
            let mean = conf_sum[i] / count[i] as f64;
            let acc = correct_count[i] as f64 / count[i] as f64;
            let gap = (mean - acc).abs();
            ece += count[i] as f64 / n as f64 * gap;
            mce = mce.max(gap);
            (Some(mean), Some(acc))
        };
        bins.push(CalibrationBin {
            lower: i as f64 / n_bins as f64,
            upper: (i + 1) as f64 / n_bins as f64,
            count: count[i],
            mean_confidence,
            accuracy,
        });
    }
    Ok(Calibration {
        n_bins,
        n_samples: n,
        ece,
        mce,
        bins,
    })
}

/// Counts of correct and wrong predictions per confidence bin (same bins as
/// [`expected_calibration_error`]).
pub(crate) fn confidence_histogram(
    confidence: &[f64],
    correct: &[bool],
    n_bins: usize,
) -> Result<Vec<HistogramBin>, MetricError> {
    validate(confidence, correct, n_bins)?;
    let mut bins: Vec<HistogramBin> = (0..n_bins)
        .map(|i| HistogramBin {
            lower: i as f64 / n_bins as f64,
            upper: (i + 1) as f64 / n_bins as f64,
            correct: 0,
            wrong: 0,
        })
        .collect();
    for (&c, &ok) in confidence.iter().zip(correct) {
        let bin = &mut bins[bin_index(c, n_bins)];
        if ok {
            bin.correct += 1;
        } else {
            bin.wrong += 1;
        }
    }
    Ok(bins)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::assert_close;
    use super::*;

    #[test]
    fn bin_edges_are_right_closed() {
        assert_eq!(bin_index(0.0, 15), 0);
        assert_eq!(bin_index(1.0, 15), 14);
        for n in [1usize, 3, 7, 10, 15, 20, 100] {
            for i in 1..=n {
                let edge = i as f64 / n as f64;
                assert_eq!(bin_index(edge, n), i - 1, "edge {i}/{n}");
                let above = f64::from_bits(edge.to_bits() + 1);
                if i < n {
                    assert_eq!(bin_index(above, n), i, "just above {i}/{n}");
                }
            }
        }
        assert_eq!(bin_index(0.5, 2), 0);
        assert_eq!(bin_index(0.51, 2), 1);
        assert_eq!(bin_index(f64::MIN_POSITIVE, 10), 0);
    }

    #[test]
    fn hand_computed_ece() {
        // 2 bins: (0,0.5] holds 0.2 (wrong), 0.4 (right); (0.5,1] holds 0.9 x2 (right, wrong), 1.0 (right).
        let conf = [0.2, 0.4, 0.9, 0.9, 1.0];
        let ok = [false, true, true, false, true];
        let cal = expected_calibration_error(&conf, &ok, 2).unwrap();
        // bin 0: mean 0.3, acc 0.5, gap 0.2, weight 2/5; bin 1: mean 2.8/3, acc 2/3, weight 3/5.
        let gap1 = 2.8 / 3.0 - 2.0 / 3.0;
        assert_close("ece", cal.ece, 0.4 * 0.2 + 0.6 * gap1);
        assert_close("mce", cal.mce, gap1);
        assert_eq!(cal.bins[0].count, 2);
        assert_close(
            "bin0.mean_confidence",
            cal.bins[0].mean_confidence.unwrap(),
            0.3,
        );
        assert_close("bin0.accuracy", cal.bins[0].accuracy.unwrap(), 0.5);
        assert_eq!((cal.bins[1].lower, cal.bins[1].upper), (0.5, 1.0));
        assert_eq!(cal.n_samples, 5);
    }

    #[test]
    fn perfectly_calibrated_is_zero_and_empty_bins_are_none() {
        let cal = expected_calibration_error(&[1.0, 1.0, 0.0], &[true, true, false], 10).unwrap();
        assert_close("ece", cal.ece, 0.0);
        assert_eq!(cal.bins[0].count, 1);
        assert_eq!(cal.bins[9].count, 2);
        assert!(cal.bins[4].mean_confidence.is_none() && cal.bins[4].accuracy.is_none());
    }

    #[test]
    fn histogram_counts() {
        let h =
            confidence_histogram(&[0.1, 0.15, 0.7, 0.95], &[true, false, false, true], 4).unwrap();
        assert_eq!(h.len(), 4);
        assert_eq!((h[0].correct, h[0].wrong), (1, 1));
        assert_eq!((h[1].correct, h[1].wrong), (0, 0));
        assert_eq!((h[2].correct, h[2].wrong), (0, 1));
        assert_eq!((h[3].correct, h[3].wrong), (1, 0));
        assert_eq!((h[3].lower, h[3].upper), (0.75, 1.0));
    }

    #[test]
    fn errors() {
        assert_eq!(
            expected_calibration_error(&[], &[], 10).unwrap_err(),
            MetricError::Empty("confidence")
        );
        assert!(matches!(
            expected_calibration_error(&[0.5], &[true, false], 10),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert!(matches!(
            expected_calibration_error(&[0.5], &[true], 0),
            Err(MetricError::InvalidArgument { name: "n_bins", .. })
        ));
        assert!(matches!(
            confidence_histogram(&[0.5], &[true], usize::MAX),
            Err(MetricError::InvalidArgument { name: "n_bins", .. })
        ));
        assert!(matches!(
            expected_calibration_error(&[0.5, f64::NAN], &[true, true], 10),
            Err(MetricError::InvalidValue { position: 1, .. })
        ));
        assert!(matches!(
            expected_calibration_error(&[1.5], &[true], 10),
            Err(MetricError::InvalidValue { position: 0, .. })
        ));
        assert!(matches!(
            confidence_histogram(&[-0.1], &[true], 10),
            Err(MetricError::InvalidValue { .. })
        ));
        assert!(matches!(
            confidence_histogram(&[f64::INFINITY], &[true], 10),
            Err(MetricError::InvalidValue { .. })
        ));
    }
}
