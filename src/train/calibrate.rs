//! Choices made on the dev split, never on test: the softmax temperature (lowest dev
//! negative log-likelihood), per-label sigmoid thresholds (best dev F1 per label) and the
//! out-of-scope confidence threshold.

use crate::model::Head;
use ndarray::{Array2, ArrayView2};

/// Temperature minimising the negative log-likelihood of `gold` over a log-spaced grid.
pub fn fit_temperature(logits: ArrayView2<f32>, gold: &[u32]) -> f32 {
    let grid = (0..=60).map(|i| 0.25f32 * (16.0f32).powf(i as f32 / 60.0)); // 0.25 .. 4
    let nll = |t: f32| -> f64 {
        logits
            .outer_iter()
            .zip(gold)
            .map(|(row, &g)| {
                let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v / t));
                let lse = row
                    .iter()
                    .map(|&v| ((v / t - max) as f64).exp())
                    .sum::<f64>()
                    .ln()
                    + max as f64;
                lse - (row[g as usize] / t) as f64
            })
            .sum()
    };
    grid.map(|t| (t, nll(t)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| t)
        .unwrap_or(1.0)
}

/// Per-label threshold with the best dev F1; 0.5 for labels without dev positives.
pub fn fit_thresholds(scores: ArrayView2<f32>, gold: &Array2<f32>) -> Vec<f32> {
    (0..scores.ncols())
        .map(|j| {
            let positives = gold.column(j).iter().filter(|&&g| g > 0.5).count();
            if positives == 0 {
                return 0.5;
            }
            let mut best = (0.5f32, -1.0f64);
            for k in 2..=95 {
                let t = k as f32 / 100.0;
                let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
                for (s, g) in scores.column(j).iter().zip(gold.column(j)) {
                    match (*s >= t, *g > 0.5) {
                        (true, true) => tp += 1,
                        (true, false) => fp += 1,
                        (false, true) => fn_ += 1,
                        _ => {}
                    }
                }
                let f1 = 2.0 * tp as f64 / (2 * tp + fp + fn_).max(1) as f64;
                if f1 > best.1 {
                    best = (t, f1);
                }
            }
            best.0
        })
        .collect()
}

/// Out-of-scope threshold on the max in-scope probability that maximises the mean of
/// in-scope accuracy and out-of-scope recall on dev (both matter equally to a bot: a
/// wrong answer and a missed "I don't know" each lose the customer).
pub fn fit_oos_threshold(head: &Head, probs: ArrayView2<f32>, gold: &[u32]) -> Option<f32> {
    let oos = head
        .spec
        .labels
        .iter()
        .position(|l| Some(l) == head.spec.out_of_scope.as_ref())?;
    let mut best = (0.0f32, -1.0f64);
    for k in 0..=95 {
        let t = k as f32 / 100.0;
        let (mut in_ok, mut in_n, mut oos_ok, mut oos_n) = (0usize, 0usize, 0usize, 0usize);
        for (row, &g) in probs.outer_iter().zip(gold) {
            let (arg, conf) =
                row.iter()
                    .enumerate()
                    .fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
            let pred_oos = arg == oos || conf < t;
            if g as usize == oos {
                oos_n += 1;
                oos_ok += pred_oos as usize;
            } else {
                in_n += 1;
                in_ok += (!pred_oos && arg == g as usize) as usize;
            }
        }
        if in_n == 0 || oos_n == 0 {
            return None;
        }
        let score = (in_ok as f64 / in_n as f64 + oos_ok as f64 / oos_n as f64) / 2.0;
        if score > best.1 {
            best = (t, score);
        }
    }
    Some(best.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn overconfident_logits_get_a_temperature_above_one() {
        // Right 3 times out of 4 with huge margins: NLL prefers softening.
        let logits = array![[10.0f32, 0.0], [10.0, 0.0], [10.0, 0.0], [10.0, 0.0]];
        let t = fit_temperature(logits.view(), &[0, 0, 0, 1]);
        assert!(t > 1.0, "{t}");
    }

    #[test]
    fn thresholds_separate_positives() {
        let scores = array![[0.9f32], [0.8], [0.3], [0.2]];
        let gold = array![[1.0f32], [1.0], [0.0], [0.0]];
        let t = fit_thresholds(scores.view(), &gold)[0];
        assert!(t > 0.3 && t <= 0.8, "{t}");
    }
}
