//! Fitting a linear head on frozen sentence embeddings: multinomial logistic regression
//! (softmax heads) or one logistic regression per label (sigmoid heads), full-batch AdamW
//! on candle. Frozen embeddings are small (n × 384), so full batches are both the fastest
//! and the most reproducible choice.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use ndarray::{Array1, Array2};

#[derive(Debug, Clone)]
pub struct FitOptions {
    pub steps: usize,
    pub lr: f64,
    pub weight_decay: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            steps: 400,
            lr: 0.05,
            weight_decay: 1e-4,
        }
    }
}

fn tensor2(a: &Array2<f32>) -> candle_core::Result<Tensor> {
    let (r, c) = a.dim();
    Tensor::from_iter(a.iter().copied(), &Device::Cpu)?.reshape((r, c))
}

fn to_arrays(w: &Var, b: &Var) -> candle_core::Result<(Array2<f32>, Array1<f32>)> {
    let (r, c) = w.dims2()?;
    let wv = w.as_tensor().flatten_all()?.to_vec1::<f32>()?;
    let bv = b.as_tensor().to_vec1::<f32>()?;
    let w =
        Array2::from_shape_vec((r, c), wv).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    Ok((w, Array1::from(bv)))
}

/// Full-batch AdamW on `W [labels, h]`, `b [labels]` from zeros, minimising `loss(logits)`.
fn fit_linear(
    x: &Array2<f32>,
    labels: usize,
    opts: &FitOptions,
    loss: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
) -> candle_core::Result<(Array2<f32>, Array1<f32>)> {
    let xs = tensor2(x)?;
    let w = Var::zeros((labels, x.ncols()), DType::F32, &Device::Cpu)?;
    let b = Var::zeros(labels, DType::F32, &Device::Cpu)?;
    let mut opt = AdamW::new(
        vec![w.clone(), b.clone()],
        ParamsAdamW {
            lr: opts.lr,
            weight_decay: opts.weight_decay,
            ..Default::default()
        },
    )?;
    for _ in 0..opts.steps {
        let logits = xs
            .matmul(&w.as_tensor().t()?)?
            .broadcast_add(b.as_tensor())?;
        opt.backward_step(&loss(&logits)?)?;
    }
    to_arrays(&w, &b)
}

/// Softmax head: `y[i]` is the class index of row `i`.
pub(crate) fn fit_softmax(
    x: &Array2<f32>,
    y: &[u32],
    classes: usize,
    opts: &FitOptions,
) -> candle_core::Result<(Array2<f32>, Array1<f32>)> {
    let ys = Tensor::from_slice(y, y.len(), &Device::Cpu)?;
    fit_linear(x, classes, opts, |logits| {
        candle_nn::loss::cross_entropy(logits, &ys)
    })
}

/// Sigmoid head: `y` is the multi-hot target `[n, labels]`.
pub(crate) fn fit_sigmoid(
    x: &Array2<f32>,
    y: &Array2<f32>,
    opts: &FitOptions,
) -> candle_core::Result<(Array2<f32>, Array1<f32>)> {
    let ys = tensor2(y)?;
    fit_linear(x, y.ncols(), opts, |logits| {
        candle_nn::loss::binary_cross_entropy_with_logit(logits, &ys)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_classes_are_learned() {
        // Two clusters on opposite axes.
        let x = Array2::from_shape_vec((4, 2), vec![1.0, 0.1, 0.9, -0.1, -1.0, 0.05, -0.8, 0.0])
            .unwrap();
        let (w, b) = fit_softmax(&x, &[0, 0, 1, 1], 2, &FitOptions::default()).unwrap();
        let logits = x.dot(&w.t()) + &b;
        for (i, want) in [0usize, 0, 1, 1].iter().enumerate() {
            let row = logits.row(i);
            let got = if row[0] > row[1] { 0 } else { 1 };
            assert_eq!(got, *want);
        }
        let y = Array2::from_shape_vec((4, 1), vec![1.0, 1.0, 0.0, 0.0]).unwrap();
        let (w, b) = fit_sigmoid(&x, &y, &FitOptions::default()).unwrap();
        let logits = x.dot(&w.t()) + &b;
        assert!(logits[[0, 0]] > 0.0 && logits[[3, 0]] < 0.0);
    }
}
