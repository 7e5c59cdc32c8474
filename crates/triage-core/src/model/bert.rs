//! BERT encoder on candle (CPU). Our own forward pass rather than candle-transformers'
//! so that the serving path can fuse the Q/K/V projections, skip dropout entirely and,
//! later, swap in quantised matmuls, while training reuses the same module with dropout.
//!
//! Weights use Hugging Face names (`embeddings.word_embeddings.weight`,
//! `encoder.layer.N.attention.self.query.weight`, ...), optionally under a `bert.` prefix
//! as in `BertForSequenceClassification` checkpoints.

use super::config::BertConfig;
use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{Embedding, Linear, VarBuilder};

/// Layer norm with two paths: candle-nn's fused kernel for serving, and the composite
/// (differentiable) form for training — the fused kernel has no backward pass and would
/// silently cut the gradient to every layer below it.
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn new(weight: Tensor, bias: Tensor, eps: f64) -> Self {
        Self { weight, bias, eps }
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        if train {
            candle_nn::ops::layer_norm_slow(xs, &self.weight, &self.bias, self.eps as f32)
        } else {
            candle_nn::ops::layer_norm(xs, &self.weight, &self.bias, self.eps as f32)
        }
    }
}

/// Softmax over the last axis; the fused kernel has no backward pass either.
fn softmax(xs: &Tensor, train: bool) -> Result<Tensor> {
    if train {
        candle_nn::ops::softmax(xs, D::Minus1)
    } else {
        candle_nn::ops::softmax_last_dim(xs)
    }
}

/// A padded batch of token ids, shape `[batch, seq]`, and its attention mask (1 = token).
pub(crate) struct BatchInput {
    pub(crate) ids: Tensor,
    pub(crate) type_ids: Tensor,
    pub(crate) mask: Tensor,
}

fn linear(vb: VarBuilder, in_dim: usize, out_dim: usize) -> Result<Linear> {
    let w = vb.get((out_dim, in_dim), "weight")?;
    let b = vb.get(out_dim, "bias")?;
    Ok(Linear::new(w, Some(b)))
}

fn layer_norm(vb: VarBuilder, dim: usize, eps: f64) -> Result<LayerNorm> {
    let w = vb.get(dim, "weight")?;
    let b = vb.get(dim, "bias")?;
    Ok(LayerNorm::new(w, b, eps))
}

fn dropout(xs: &Tensor, p: f64, train: bool) -> Result<Tensor> {
    if train && p > 0.0 {
        candle_nn::ops::dropout(xs, p as f32)
    } else {
        Ok(xs.clone())
    }
}

#[derive(Clone, Copy)]
enum Act {
    GeluErf,
    GeluTanh,
    Relu,
}

impl Act {
    fn from_name(name: &str) -> Self {
        match name {
            "gelu_new" | "gelu_pytorch_tanh" => Act::GeluTanh,
            "relu" => Act::Relu,
            _ => Act::GeluErf,
        }
    }
    fn apply(self, xs: &Tensor) -> Result<Tensor> {
        match self {
            Act::GeluErf => xs.gelu_erf(),
            Act::GeluTanh => xs.gelu(),
            Act::Relu => xs.relu(),
        }
    }
}

struct Embeddings {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    norm: LayerNorm,
}

impl Embeddings {
    fn load(vb: VarBuilder, c: &BertConfig) -> Result<Self> {
        let emb = |name: &str, n: usize| -> Result<Embedding> {
            let w = vb.pp(name).get((n, c.hidden_size), "weight")?;
            Ok(Embedding::new(w, c.hidden_size))
        };
        Ok(Self {
            word: emb("word_embeddings", c.vocab_size)?,
            position: emb("position_embeddings", c.max_position_embeddings)?,
            token_type: emb("token_type_embeddings", c.type_vocab_size)?,
            norm: layer_norm(vb.pp("LayerNorm"), c.hidden_size, c.layer_norm_eps)?,
        })
    }

    fn forward(&self, input: &BatchInput, train: bool) -> Result<Tensor> {
        let (_b, seq) = input.ids.dims2()?;
        let positions = Tensor::arange(0u32, seq as u32, input.ids.device())?;
        let xs = self
            .word
            .forward(&input.ids)?
            .add(&self.token_type.forward(&input.type_ids)?)?
            .broadcast_add(&self.position.forward(&positions)?)?;
        self.norm.forward(&xs, train)
    }
}

/// Self-attention with Q, K and V kept as separate projections (what training updates)
/// and, for inference, one fused `[3h, h]` projection: one matmul instead of three.
struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    qkv: Option<Linear>,
    output: Linear,
    norm: LayerNorm,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(vb: VarBuilder, c: &BertConfig) -> Result<Self> {
        let h = c.hidden_size;
        let sa = vb.pp("self");
        Ok(Self {
            query: linear(sa.pp("query"), h, h)?,
            key: linear(sa.pp("key"), h, h)?,
            value: linear(sa.pp("value"), h, h)?,
            qkv: None,
            output: linear(vb.pp("output").pp("dense"), h, h)?,
            norm: layer_norm(vb.pp("output").pp("LayerNorm"), h, c.layer_norm_eps)?,
            heads: c.num_attention_heads,
            head_dim: c.head_dim(),
        })
    }

    fn fuse(&mut self) -> Result<()> {
        let w = Tensor::cat(
            &[self.query.weight(), self.key.weight(), self.value.weight()],
            0,
        )?;
        let bias = |l: &Linear| l.bias().cloned();
        let b = match (bias(&self.query), bias(&self.key), bias(&self.value)) {
            (Some(q), Some(k), Some(v)) => Some(Tensor::cat(&[q, k, v], 0)?),
            _ => None,
        };
        self.qkv = Some(Linear::new(w, b));
        Ok(())
    }

    /// `[b, s, h]` → `[b, heads, s, head_dim]`
    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, s, _) = xs.dims3()?;
        xs.reshape((b, s, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    fn forward(&self, xs: &Tensor, bias: &Tensor, p: f64, train: bool) -> Result<Tensor> {
        let (b, s, h) = xs.dims3()?;
        let (q, k, v) = match &self.qkv {
            Some(qkv) => {
                let all = qkv.forward(xs)?;
                (
                    all.narrow(D::Minus1, 0, h)?,
                    all.narrow(D::Minus1, h, h)?,
                    all.narrow(D::Minus1, 2 * h, h)?,
                )
            }
            None => (
                self.query.forward(xs)?,
                self.key.forward(xs)?,
                self.value.forward(xs)?,
            ),
        };
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let q = (self.split_heads(&q)? * scale)?;
        let k = self.split_heads(&k)?;
        let v = self.split_heads(&v)?;
        let scores = q.matmul(&k.t()?)?.broadcast_add(bias)?;
        let probs = softmax(&scores, train)?;
        let probs = dropout(&probs, p, train)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, s, h))?;
        let out = dropout(&self.output.forward(&ctx)?, p, train)?;
        self.norm.forward(&(out + xs)?, train)
    }
}

struct Layer {
    attention: Attention,
    intermediate: Linear,
    output: Linear,
    norm: LayerNorm,
    act: Act,
}

impl Layer {
    fn load(vb: VarBuilder, c: &BertConfig) -> Result<Self> {
        Ok(Self {
            attention: Attention::load(vb.pp("attention"), c)?,
            intermediate: linear(
                vb.pp("intermediate").pp("dense"),
                c.hidden_size,
                c.intermediate_size,
            )?,
            output: linear(
                vb.pp("output").pp("dense"),
                c.intermediate_size,
                c.hidden_size,
            )?,
            norm: layer_norm(
                vb.pp("output").pp("LayerNorm"),
                c.hidden_size,
                c.layer_norm_eps,
            )?,
            act: Act::from_name(&c.hidden_act),
        })
    }

    fn forward(&self, xs: &Tensor, bias: &Tensor, p: f64, train: bool) -> Result<Tensor> {
        let xs = self.attention.forward(xs, bias, p, train)?;
        let inner = self.act.apply(&self.intermediate.forward(&xs)?)?;
        let out = dropout(&self.output.forward(&inner)?, p, train)?;
        self.norm.forward(&(out + xs)?, train)
    }
}

pub struct BertModel {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    dropout: f64,
    pub(crate) config: BertConfig,
}

impl BertModel {
    /// `vb` points at the encoder root (the caller strips a `bert.` prefix if present).
    pub fn load(vb: VarBuilder, config: &BertConfig) -> Result<Self> {
        let embeddings = Embeddings::load(vb.pp("embeddings"), config)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(vb.pp(format!("encoder.layer.{i}")), config))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embeddings,
            layers,
            dropout: config.hidden_dropout_prob,
            config: config.clone(),
        })
    }

    /// Prepares the model for serving: fused Q/K/V. Call only on frozen weights.
    pub(crate) fn fuse_for_inference(&mut self) -> Result<()> {
        for layer in &mut self.layers {
            layer.attention.fuse()?;
        }
        Ok(())
    }

    /// Last hidden states `[b, s, h]`.
    fn forward(&self, input: &BatchInput, train: bool) -> Result<Tensor> {
        self.hidden_after(input, self.layers.len(), train)
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Hidden states after the first `k` layers (0 = embeddings only). Training with the
    /// lower layers frozen computes these once per example and caches them.
    pub(crate) fn hidden_after(&self, input: &BatchInput, k: usize, train: bool) -> Result<Tensor> {
        let xs = dropout(&self.embeddings.forward(input, train)?, self.dropout, train)?;
        self.forward_layers(&xs, &input.mask, 0..k.min(self.layers.len()), train)
    }

    /// Runs `layers` on hidden states `xs` `[b, s, h]` with attention mask `[b, s]`.
    pub fn forward_layers(
        &self,
        xs: &Tensor,
        mask: &Tensor,
        layers: std::ops::Range<usize>,
        train: bool,
    ) -> Result<Tensor> {
        // Additive mask: 0 for tokens, a large negative for padding, shape [b, 1, 1, s].
        let (b, s) = mask.dims2()?;
        let mask = mask.to_dtype(DType::F32)?;
        let bias = ((mask - 1.0)? * 1e4)?.reshape((b, 1, 1, s))?;
        let mut xs = xs.clone();
        for layer in &self.layers[layers] {
            xs = layer.forward(&xs, &bias, self.dropout, train)?;
        }
        Ok(xs)
    }

    /// Every weight under its Hugging Face name (Q/K/V unfused), for encoders that run
    /// the same network another way (`model::fast`).
    pub(crate) fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        let mut put = |name: String, t: &Tensor| out.push((name, t.clone()));
        let e = &self.embeddings;
        put(
            "embeddings.word_embeddings.weight".into(),
            e.word.embeddings(),
        );
        put(
            "embeddings.position_embeddings.weight".into(),
            e.position.embeddings(),
        );
        put(
            "embeddings.token_type_embeddings.weight".into(),
            e.token_type.embeddings(),
        );
        put("embeddings.LayerNorm.weight".into(), &e.norm.weight);
        put("embeddings.LayerNorm.bias".into(), &e.norm.bias);
        for (i, l) in self.layers.iter().enumerate() {
            let p = format!("encoder.layer.{i}");
            let a = &l.attention;
            let linears = [
                ("attention.self.query", &a.query),
                ("attention.self.key", &a.key),
                ("attention.self.value", &a.value),
                ("attention.output.dense", &a.output),
                ("intermediate.dense", &l.intermediate),
                ("output.dense", &l.output),
            ];
            for (name, lin) in linears {
                put(format!("{p}.{name}.weight"), lin.weight());
                if let Some(b) = lin.bias() {
                    put(format!("{p}.{name}.bias"), b);
                }
            }
            for (name, n) in [
                ("attention.output.LayerNorm", &a.norm),
                ("output.LayerNorm", &l.norm),
            ] {
                put(format!("{p}.{name}.weight"), &n.weight);
                put(format!("{p}.{name}.bias"), &n.bias);
            }
        }
        out
    }

    /// Mean pooling over real tokens followed by L2 normalisation: the sentence-transformers
    /// recipe both base models were trained with.
    pub(crate) fn sentence_embeddings(&self, input: &BatchInput, train: bool) -> Result<Tensor> {
        let hidden = self.forward(input, train)?;
        mean_pool_normalize(&hidden, &input.mask)
    }
}

pub fn mean_pool_normalize(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    mean.broadcast_div(&norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::VarMap;

    fn tiny() -> BertConfig {
        serde_json::from_str(
            r#"{"vocab_size": 20, "hidden_size": 8, "num_hidden_layers": 2,
                "num_attention_heads": 2, "intermediate_size": 16,
                "max_position_embeddings": 16, "hidden_dropout_prob": 0.0}"#,
        )
        .unwrap()
    }

    #[test]
    fn training_mode_propagates_gradients_to_the_first_layer() {
        let varmap = VarMap::new();
        let model = BertModel::load(
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
            &tiny(),
        )
        .unwrap();
        let input = BatchInput {
            ids: Tensor::new(&[[1u32, 2, 3, 0]], &Device::Cpu).unwrap(),
            type_ids: Tensor::zeros((1, 4), DType::U32, &Device::Cpu).unwrap(),
            mask: Tensor::new(&[[1u32, 1, 1, 0]], &Device::Cpu).unwrap(),
        };
        let loss = model
            .sentence_embeddings(&input, true)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let vars = varmap.data().lock().unwrap();
        for name in [
            "encoder.layer.0.attention.self.query.weight",
            "encoder.layer.0.output.LayerNorm.weight",
            "embeddings.word_embeddings.weight",
        ] {
            assert!(
                grads.get(vars[name].as_tensor()).is_some(),
                "no gradient for {name}"
            );
        }
    }

    #[test]
    fn serving_and_training_paths_agree_without_dropout() {
        let varmap = VarMap::new();
        let model = BertModel::load(
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
            &tiny(),
        )
        .unwrap();
        let input = BatchInput {
            ids: Tensor::new(&[[4u32, 5, 6]], &Device::Cpu).unwrap(),
            type_ids: Tensor::zeros((1, 3), DType::U32, &Device::Cpu).unwrap(),
            mask: Tensor::new(&[[1u32, 1, 1]], &Device::Cpu).unwrap(),
        };
        let a = model
            .sentence_embeddings(&input, false)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let b = model
            .sentence_embeddings(&input, true)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (x, y) in a[0].iter().zip(&b[0]) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
}
