//! The small per-row operations between the matmuls: embedding lookup, layer norm,
//! attention of one head over one sentence, mean pooling. At 15 tokens these are a few
//! percent of the work; they are plain Rust over slices.

use super::weights::{Norm, Weights};

/// `out = LayerNorm(x)` for one row (two passes, f32 as in candle's fused kernel).
pub fn layer_norm(x: &[f32], norm: &Norm, eps: f32, out: &mut [f32]) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + eps).sqrt();
    for (((o, &v), &g), &b) in out.iter_mut().zip(x).zip(&norm.gamma).zip(&norm.beta) {
        *o = (v - mean) * inv * g + b;
    }
}

/// Embeddings of one token (word + position + type), layer-normed into `out`.
pub fn embed_token(w: &Weights, id: u32, pos: usize, type_id: u32, out: &mut [f32]) {
    let h = w.hidden;
    let id = (id as usize).min(w.vocab - 1);
    let pos = pos.min(w.max_positions - 1);
    let ty = (type_id as usize).min(w.type_vocab - 1);
    let word = &w.word[id * h..(id + 1) * h];
    let p = &w.position[pos * h..(pos + 1) * h];
    let t = &w.token_type[ty * h..(ty + 1) * h];
    for i in 0..h {
        out[i] = word[i] + p[i] + t[i];
    }
    let x = out.to_vec();
    layer_norm(&x, &w.emb_norm, w.eps, out);
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// Self-attention of one head over one sentence (no padding, so no mask).
/// `qkv` holds the sentence's rows `[len, 3h]`; writes `len` rows of `head_dim` values
/// through `write(row, values)`. `scores` is scratch of at least `len²`.
pub fn attend(
    qkv: &[f32],
    len: usize,
    hidden: usize,
    head: usize,
    head_dim: usize,
    scores: &mut Vec<f32>,
    mut write: impl FnMut(usize, &[f32]),
) {
    let stride = 3 * hidden;
    let (qo, ko, vo) = (
        head * head_dim,
        hidden + head * head_dim,
        2 * hidden + head * head_dim,
    );
    let scale = 1.0 / (head_dim as f32).sqrt();
    scores.clear();
    scores.resize(len * len, 0.0);
    for i in 0..len {
        let q = &qkv[i * stride + qo..i * stride + qo + head_dim];
        let row = &mut scores[i * len..(i + 1) * len];
        let mut max = f32::NEG_INFINITY;
        for (j, s) in row.iter_mut().enumerate() {
            let k = &qkv[j * stride + ko..j * stride + ko + head_dim];
            *s = dot(q, k) * scale;
            max = max.max(*s);
        }
        let mut sum = 0.0;
        for s in row.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        let inv = 1.0 / sum;
        for s in row.iter_mut() {
            *s *= inv;
        }
    }
    let mut ctx = vec![0f32; head_dim];
    for i in 0..len {
        ctx.fill(0.0);
        for j in 0..len {
            let p = scores[i * len + j];
            let v = &qkv[j * stride + vo..j * stride + vo + head_dim];
            for (c, &x) in ctx.iter_mut().zip(v) {
                *c += p * x;
            }
        }
        write(i, &ctx);
    }
}

/// Mean of `rows` (`[len, h]`), L2-normalised, into `out`.
pub fn mean_pool_normalize(rows: &[f32], len: usize, h: usize, out: &mut [f32]) {
    out.fill(0.0);
    for r in 0..len {
        for (o, &x) in out.iter_mut().zip(&rows[r * h..(r + 1) * h]) {
            *o += x;
        }
    }
    let inv_len = 1.0 / len.max(1) as f32;
    for o in out.iter_mut() {
        *o *= inv_len;
    }
    let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    for o in out.iter_mut() {
        *o /= norm;
    }
}

/// `tanh`-form GELU and ReLU, for configs that ask for them (the erf form is fused into
/// the matmul).
pub fn gelu_tanh(x: f32) -> f32 {
    let c = (2.0 / std::f32::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}
