//! AdamW with decoupled weight decay, written out (rather than candle-nn's) so that its
//! moments can be saved in a checkpoint and an interrupted run resumes exactly.

use candle_core::{Result, Tensor, Var};
use std::collections::HashMap;

pub(crate) struct AdamW {
    /// (name, parameter, decays?) — biases and LayerNorm weights do not decay.
    params: Vec<(String, Var, bool)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: usize,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
}

impl AdamW {
    pub(crate) fn new(params: Vec<(String, Var)>, weight_decay: f64) -> Result<Self> {
        let m = params
            .iter()
            .map(|(_, p)| p.zeros_like())
            .collect::<Result<Vec<_>>>()?;
        let v = params
            .iter()
            .map(|(_, p)| p.zeros_like())
            .collect::<Result<Vec<_>>>()?;
        let params = params
            .into_iter()
            .map(|(n, p)| {
                let decays = !(n.ends_with(".bias") || n.contains("LayerNorm"));
                (n, p, decays)
            })
            .collect();
        Ok(Self {
            params,
            m,
            v,
            step: 0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        })
    }

    /// One update with learning rate `lr_of(name)`, gradients scaled by `scale` (clipping).
    pub(crate) fn step(
        &mut self,
        grads: &candle_core::backprop::GradStore,
        scale: f64,
        lr_of: impl Fn(&str) -> f64,
    ) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for (i, (name, p, decays)) in self.params.iter().enumerate() {
            let Some(g) = grads.get(p.as_tensor()) else {
                continue;
            };
            let g = (g * scale)?;
            self.m[i] = ((&self.m[i] * b1)? + (&g * (1.0 - b1))?)?;
            self.v[i] = ((&self.v[i] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let lr = lr_of(name);
            let update = ((&self.m[i] / c1)? / ((&self.v[i] / c2)?.sqrt()? + self.eps)?)?;
            let mut next = (p.as_tensor() - (update * lr)?)?;
            if *decays && self.weight_decay > 0.0 {
                next = (next - (p.as_tensor() * (lr * self.weight_decay))?)?;
            }
            p.set(&next)?;
        }
        Ok(())
    }

    /// Parameters and moments, for a checkpoint.
    pub(crate) fn state(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for (i, (name, p, _)) in self.params.iter().enumerate() {
            out.insert(format!("param.{name}"), p.as_tensor().clone());
            out.insert(format!("m.{name}"), self.m[i].clone());
            out.insert(format!("v.{name}"), self.v[i].clone());
        }
        out
    }

    pub(crate) fn restore(&mut self, state: &HashMap<String, Tensor>, step: usize) -> Result<()> {
        for (i, (name, p, _)) in self.params.iter().enumerate() {
            let get = |k: String| {
                state
                    .get(&k)
                    .cloned()
                    .ok_or_else(|| candle_core::Error::Msg(format!("checkpoint lacks {k}")))
            };
            p.set(&get(format!("param.{name}"))?)?;
            self.m[i] = get(format!("m.{name}"))?;
            self.v[i] = get(format!("v.{name}"))?;
        }
        self.step = step;
        Ok(())
    }

    /// How many parameters received a gradient (a frozen-by-mistake check).
    pub(crate) fn params_with_grads(&self, grads: &candle_core::backprop::GradStore) -> usize {
        self.params
            .iter()
            .filter(|(_, p, _)| grads.get(p.as_tensor()).is_some())
            .count()
    }

    /// Global L2 norm of the gradients of the parameters.
    pub(crate) fn grad_norm(&self, grads: &candle_core::backprop::GradStore) -> Result<f64> {
        let mut total = 0f64;
        for (_, p, _) in &self.params {
            if let Some(g) = grads.get(p.as_tensor()) {
                total += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            }
        }
        Ok(total.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn minimises_a_quadratic_and_round_trips_its_state() {
        let x = Var::from_slice(&[3.0f32, -2.0], 2, &Device::Cpu).unwrap();
        let mut opt = AdamW::new(vec![("w.weight".into(), x.clone())], 0.0).unwrap();
        for _ in 0..300 {
            let loss = x.as_tensor().sqr().unwrap().sum_all().unwrap();
            let g = loss.backward().unwrap();
            opt.step(&g, 1.0, |_| 0.05).unwrap();
        }
        let v = x.as_tensor().to_vec1::<f32>().unwrap();
        assert!(v.iter().all(|a| a.abs() < 0.1), "{v:?}");
        let state = opt.state();
        let y = Var::zeros(2, DType::F32, &Device::Cpu).unwrap();
        let mut other = AdamW::new(vec![("w.weight".into(), y.clone())], 0.0).unwrap();
        other.restore(&state, opt.step).unwrap();
        assert_eq!(y.as_tensor().to_vec1::<f32>().unwrap(), v);
        assert_eq!(other.step, 300);
    }
}
