//! The small per-row operations between the matmuls: embedding lookup, layer norm,
//! attention of one head over one sentence, mean pooling. Plain Rust over slices, all
//! `#[inline(always)]`: `forward::run_thread` is compiled a second time with AVX-512
//! enabled, and these loops are vectorised inside it.

use super::weights::{Norm, Weights};

/// Sum with 16 independent lanes: a plain `iter().sum()` is one sequential chain (float
/// addition is not reassociated), this one vectorises.
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let mut chunks = xs.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// Σ (x − mean)², 16 lanes.
#[inline(always)]
fn sum_sq_dev(xs: &[f32], mean: f32) -> f32 {
    let mut acc = [0f32; 16];
    let mut chunks = xs.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            acc[i] += (c[i] - mean) * (c[i] - mean);
        }
    }
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// `out = LayerNorm(x)` for one row (two passes, f32 as in candle's fused kernel).
#[inline(always)]
pub(crate) fn layer_norm(x: &[f32], norm: &Norm, eps: f32, out: &mut [f32]) {
    let n = x.len() as f32;
    let mean = sum(x) / n;
    let inv = 1.0 / (sum_sq_dev(x, mean) / n + eps).sqrt();
    for (((o, &v), &g), &b) in out.iter_mut().zip(x).zip(&norm.gamma).zip(&norm.beta) {
        *o = (v - mean) * inv * g + b;
    }
}

/// Embeddings of one token (word + position + type), layer-normed into `out`.
#[inline(always)]
pub(crate) fn embed_token(w: &Weights, id: u32, pos: usize, type_id: u32, out: &mut [f32]) {
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
    layer_norm_in_place(out, &w.emb_norm, w.eps);
}

#[inline(always)]
fn layer_norm_in_place(x: &mut [f32], norm: &Norm, eps: f32) {
    let n = x.len() as f32;
    let mean = sum(x) / n;
    let inv = 1.0 / (sum_sq_dev(x, mean) / n + eps).sqrt();
    for ((v, &g), &b) in x.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// Largest element, 16 lanes (`f32::max` folds do not vectorise: NaN rules).
#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 16];
    let mut chunks = xs.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    for &x in chunks.remainder() {
        acc[0] = if x > acc[0] { x } else { acc[0] };
    }
    acc.iter()
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

/// Self-attention of one head over one sentence (no padding, so no mask).
/// `qkv` holds the sentence's rows `[len, 3h]`; writes `len` rows of `head_dim` values
/// through `write(row, values)`. `scratch` is grown to hold the transposed keys and the
/// `len²` scores.
///
/// Both products are written as sums of scaled rows (over keys, then over head
/// dimensions) so that they vectorise without horizontal reductions.
#[inline(always)]
pub(crate) fn attend(
    qkv: &[f32],
    len: usize,
    hidden: usize,
    head: usize,
    head_dim: usize,
    scratch: &mut Vec<f32>,
    mut write: impl FnMut(usize, &[f32]),
) {
    let stride = 3 * hidden;
    let (qo, ko, vo) = (
        head * head_dim,
        hidden + head * head_dim,
        2 * hidden + head * head_dim,
    );
    let scale = 1.0 / (head_dim as f32).sqrt();
    scratch.clear();
    scratch.resize(len * len + head_dim * len, 0.0);
    let (scores, kt) = scratch.split_at_mut(len * len);
    // Keys transposed: kt[d][j].
    for j in 0..len {
        let k = &qkv[j * stride + ko..j * stride + ko + head_dim];
        for (d, &x) in k.iter().enumerate() {
            kt[d * len + j] = x;
        }
    }
    for i in 0..len {
        let q = &qkv[i * stride + qo..i * stride + qo + head_dim];
        let row = &mut scores[i * len..(i + 1) * len];
        for (d, &qd) in q.iter().enumerate() {
            let qd = qd * scale;
            for (s, &k) in row.iter_mut().zip(&kt[d * len..(d + 1) * len]) {
                *s += qd * k;
            }
        }
        let m = max(row);
        for s in row.iter_mut() {
            *s = exp(*s - m);
        }
        let inv = 1.0 / sum(row);
        for s in row.iter_mut() {
            *s *= inv;
        }
    }
    let mut ctx = [0f32; 256];
    let ctx = &mut ctx[..head_dim.min(256)];
    assert_eq!(ctx.len(), head_dim, "head_dim above 256");
    for i in 0..len {
        ctx.fill(0.0);
        for j in 0..len {
            let p = scores[i * len + j];
            let v = &qkv[j * stride + vo..j * stride + vo + head_dim];
            for (c, &x) in ctx.iter_mut().zip(v) {
                *c += p * x;
            }
        }
        write(i, ctx);
    }
}

/// Mean of `rows` (`[len, h]`), L2-normalised, into `out`.
#[inline(always)]
pub(crate) fn mean_pool_normalize(rows: &[f32], len: usize, h: usize, out: &mut [f32]) {
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
    let norm = dot(out, out).sqrt().max(1e-12);
    for o in out.iter_mut() {
        *o /= norm;
    }
}

/// `tanh`-form GELU and ReLU, for configs that ask for them (the erf form is fused into
/// the matmul).
#[inline(always)]
pub(crate) fn gelu_tanh(x: f32) -> f32 {
    let c = (2.0 / std::f32::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// `e^x` for x ≤ 88 (softmax arguments are ≤ 0): Cephes' polynomial on
/// x = n·ln2 + r, |r| ≤ ln2/2, relative error < 3e-7. Unlike `f32::exp` (a libm call) it
/// vectorises.
#[inline(always)]
#[allow(clippy::excessive_precision)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest without a libm call: adding 1.5·2^23 drops the fraction bits.
    const MAGIC: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + MAGIC) - MAGIC;
    let r = n.mul_add(-0.693_359_4, x);
    let r = n.mul_add(2.121_944_4e-4, r);
    let mut p = 1.987_569_1e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 5.000_000_1e-1);
    let y = (p * r).mul_add(r, r) + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    #[test]
    fn exp_is_accurate_over_the_softmax_range() {
        for i in 0..=20_000 {
            let x = -87.0 + i as f32 * (87.0 + 5.0) / 20_000.0;
            let want = (x as f64).exp();
            let got = super::exp(x) as f64;
            assert!(
                ((got - want) / want).abs() < 5e-7,
                "exp({x}): {got} vs {want}"
            );
        }
    }
}
