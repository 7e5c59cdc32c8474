//! The forward pass as one SPMD program: every pool thread runs `run_thread` with its
//! index, and the threads meet at five barriers per layer.
//!
//! The batch is never padded: all tokens of all sentences are stacked into one `[m, h]`
//! matrix for the linear layers, and attention runs per sentence and head.
//!
//! Who writes what (the disjointness `SharedMat` relies on):
//! - linear layers: work items are (column panel, block of rows) pairs, split into
//!   contiguous ranges by thread index, so each output element has exactly one writer;
//! - attention: items are (sentence, head) pairs, split the same way; a pair owns the
//!   sentence's rows × the head's `head_dim` columns of the context;
//! - layer norms are computed by every thread for all rows into its own buffer (cheap
//!   next to the matmuls, and it saves two barriers per layer);
//! - the output: after the last layer every thread holds all rows in its private `xn`;
//!   for pooled embeddings each thread pools the sentences of its range, for token states
//!   each thread copies the rows of its range, so each output row has one writer.
//!
//! Buffer reuse is ordered by the barriers: `sum` holds the attention block's residual
//! sum until every thread has normalised it (before the barrier after FFN1), then the
//! FFN's.

use super::kernels::{gemm_f32, gemm_i8, Epilogue, Isa, QuantRows, NR};
use super::ops;
use super::pool::Barrier;
use super::shared::SharedMat;
use super::weights::{Act, Linear, Weights};
use std::ops::Range;

/// Rows per work item of a linear layer: bounds a block's activations in L2 while long
/// batches still split into enough items for every thread.
const ROW_BLOCK: usize = 96;

/// The matrices every thread reads and writes parts of.
pub(crate) struct Mats<'a> {
    pub(crate) qkv: SharedMat<'a>,
    pub(crate) ctx: SharedMat<'a>,
    pub(crate) sum: SharedMat<'a>,
    pub(crate) ffn: SharedMat<'a>,
    /// `[batch, h]` sentence embeddings, or `[rows, h]` token states (see `Output`).
    pub(crate) out: SharedMat<'a>,
}

/// What a pass writes into `Mats::out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// Mean-pooled, L2-normalised sentence embeddings (serving).
    Pooled,
    /// Every token's hidden state, stacked as in the batch (training's frozen-layer cache).
    Tokens,
}

/// How far a pass runs and what it returns.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pass {
    /// Layers to run from the bottom (at most all of them; 0 = the embeddings' output).
    pub(crate) layers: usize,
    pub(crate) output: Output,
}

/// One thread's own buffers.
#[derive(Default)]
pub(crate) struct Private {
    /// Normalised hidden states `[m, h]` (input of the next layer).
    xn: Vec<f32>,
    /// Normalised attention-block output `[m, h]` (input of the FFN).
    h1n: Vec<f32>,
    quant: QuantRows,
    scores: Vec<f32>,
}

/// Where each sentence's tokens sit in the stacked matrix.
pub(crate) struct Batch<'a> {
    pub(crate) ids: Vec<&'a [u32]>,
    pub(crate) type_ids: Vec<&'a [u32]>,
    /// `(first row, length)` per sentence.
    pub(crate) spans: Vec<(usize, usize)>,
    pub(crate) rows: usize,
}

fn share(total: usize, t: usize, n: usize) -> Range<usize> {
    total * t / n..total * (t + 1) / n
}

/// This thread's part of `x · wᵀ + b` (then the epilogue) into `out`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn linear(
    isa: Isa,
    lin: &Linear,
    x: &[f32],
    m: usize,
    k: usize,
    quant: &mut QuantRows,
    t: usize,
    n: usize,
    epi: Epilogue,
    act: Option<Act>,
    out: &SharedMat,
) {
    let blocks = m.div_ceil(ROW_BLOCK);
    let mine = share(lin.panels() * blocks, t, n);
    if mine.is_empty() {
        return;
    }
    if let Linear::I8(_) = lin {
        quant.quantize(isa, x, m, k);
    }
    for item in mine {
        let (p, b) = (item / blocks, item % blocks);
        let rows = b * ROW_BLOCK..((b + 1) * ROW_BLOCK).min(m);
        // SAFETY: the (panel p, rows) block belongs to this thread alone: items are
        // split into disjoint ranges by thread index (see the module comment), and the
        // caller's barrier separates this phase from every reader of `out`.
        unsafe {
            match lin {
                Linear::F32(w) => gemm_f32(isa, x, rows.clone(), w, p..p + 1, epi, out),
                Linear::I8(w) => gemm_i8(isa, quant, rows.clone(), w, p..p + 1, epi, out),
            }
        }
        if let Some(act) = act {
            let cols = p * NR..((p + 1) * NR).min(lin.n());
            for r in rows.clone() {
                // SAFETY: the same block, written just above by this thread.
                let dst = unsafe { out.slice_mut(r, cols.start, cols.len()) };
                for v in dst {
                    *v = match act {
                        Act::Relu => v.max(0.0),
                        Act::GeluTanh => ops::gelu_tanh(*v),
                        Act::GeluErf => *v,
                    };
                }
            }
        }
    }
}

#[inline(always)]
fn norm_rows(src: &SharedMat, norm: &super::weights::Norm, eps: f32, m: usize, dst: &mut [f32]) {
    let h = src.cols();
    // SAFETY: called after the barrier that ends the phase writing `src`; nothing writes
    // it until the next barrier.
    let all = unsafe { src.all() };
    for r in 0..m {
        ops::layer_norm(
            &all[r * h..(r + 1) * h],
            norm,
            eps,
            &mut dst[r * h..(r + 1) * h],
        );
    }
}

/// Thread `t` of `n`'s share of the forward pass of `batch`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_thread(
    t: usize,
    n: usize,
    barrier: &Barrier,
    isa: Isa,
    w: &Weights,
    batch: &Batch,
    mats: &Mats,
    pass: Pass,
    p: &mut Private,
) {
    let isa = isa.checked();
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: `checked` confirmed the tier's features at run time.
        Isa::Avx512 => {
            return unsafe { run_thread_avx512(t, n, barrier, isa, w, batch, mats, pass, p) }
        }
        Isa::Avx2 | Isa::AvxVnni => {
            return unsafe { run_thread_avx2(t, n, barrier, isa, w, batch, mats, pass, p) }
        }
        Isa::Scalar => {}
    }
    run_thread_body(t, n, barrier, isa, w, batch, mats, pass, p)
}

/// `run_thread_body` compiled again with a tier's features enabled, so the row
/// operations inlined into it (layer norm, attention, softmax, pooling) are vectorised
/// to the tier's width.
macro_rules! run_thread_with {
    ($(#[$doc:meta])* $name:ident, $features:literal) => {
        $(#[$doc])*
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            t: usize,
            n: usize,
            barrier: &Barrier,
            isa: Isa,
            w: &Weights,
            batch: &Batch,
            mats: &Mats,
            pass: Pass,
            p: &mut Private,
        ) {
            run_thread_body(t, n, barrier, isa, w, batch, mats, pass, p)
        }
    };
}

run_thread_with!(
    /// 8 wide: the AVX2 and 256-bit VNNI tiers.
    run_thread_avx2,
    "avx2,fma"
);
run_thread_with!(
    /// 16 wide: the AVX-512 tier.
    run_thread_avx512,
    "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma"
);

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn run_thread_body(
    t: usize,
    n: usize,
    barrier: &Barrier,
    isa: Isa,
    w: &Weights,
    batch: &Batch,
    mats: &Mats,
    pass: Pass,
    p: &mut Private,
) {
    let (h, m, dh) = (w.hidden, batch.rows, w.head_dim);
    p.xn.resize(m * h, 0.0);
    p.h1n.resize(m * h, 0.0);
    for (s, &(start, len)) in batch.spans.iter().enumerate() {
        for i in 0..len {
            let row = &mut p.xn[(start + i) * h..(start + i + 1) * h];
            ops::embed_token(w, batch.ids[s][i], i, batch.type_ids[s][i], row);
        }
    }
    let gelu_fused = w.act == Act::GeluErf;
    let (ffn_epi, ffn_act) = if gelu_fused {
        (Epilogue::Gelu, None)
    } else {
        (Epilogue::None, Some(w.act))
    };
    let items = batch.spans.len() * w.heads;
    for layer in w.layers.iter().take(pass.layers) {
        linear(
            isa,
            &layer.qkv,
            &p.xn,
            m,
            h,
            &mut p.quant,
            t,
            n,
            Epilogue::None,
            None,
            &mats.qkv,
        );
        barrier.wait();
        {
            // SAFETY: the QKV phase ended at the barrier above; nothing writes `qkv`
            // until after the next one.
            let qkv = unsafe { mats.qkv.all() };
            for item in share(items, t, n) {
                let (s, head) = (item / w.heads, item % w.heads);
                let (start, len) = batch.spans[s];
                let rows = &qkv[start * 3 * h..(start + len) * 3 * h];
                ops::attend(rows, len, h, head, dh, &mut p.scores, |i, vals| {
                    // SAFETY: (sentence s, head) is this thread's item: its rows × the
                    // head's columns have no other writer (module comment).
                    let dst = unsafe { mats.ctx.slice_mut(start + i, head * dh, dh) };
                    dst.copy_from_slice(vals);
                });
            }
        }
        barrier.wait();
        {
            // SAFETY: the attention phase ended at the barrier above.
            let ctx = unsafe { mats.ctx.all() };
            let res = Epilogue::Residual(&p.xn);
            linear(
                isa,
                &layer.out,
                ctx,
                m,
                h,
                &mut p.quant,
                t,
                n,
                res,
                None,
                &mats.sum,
            );
        }
        barrier.wait();
        norm_rows(&mats.sum, &layer.norm1, w.eps, m, &mut p.h1n);
        linear(
            isa,
            &layer.ff1,
            &p.h1n,
            m,
            h,
            &mut p.quant,
            t,
            n,
            ffn_epi,
            ffn_act,
            &mats.ffn,
        );
        barrier.wait();
        {
            // SAFETY: the FFN1 phase ended at the barrier above; every thread finished
            // reading `sum` (norm1) before it, so `sum` may be written again.
            let ffn = unsafe { mats.ffn.all() };
            let res = Epilogue::Residual(&p.h1n);
            linear(
                isa,
                &layer.ff2,
                ffn,
                m,
                w.inter,
                &mut p.quant,
                t,
                n,
                res,
                None,
                &mats.sum,
            );
        }
        barrier.wait();
        norm_rows(&mats.sum, &layer.norm2, w.eps, m, &mut p.xn);
    }
    match pass.output {
        Output::Pooled => {
            for s in share(batch.spans.len(), t, n) {
                let (start, len) = batch.spans[s];
                // SAFETY: sentence s is in this thread's range; each output row has one
                // writer.
                let dst = unsafe { mats.out.slice_mut(s, 0, h) };
                ops::mean_pool_normalize(&p.xn[start * h..(start + len) * h], len, h, dst);
            }
        }
        Output::Tokens => {
            for r in share(m, t, n) {
                // SAFETY: row r is in this thread's range; each output row has one writer.
                let dst = unsafe { mats.out.slice_mut(r, 0, h) };
                dst.copy_from_slice(&p.xn[r * h..(r + 1) * h]);
            }
        }
    }
}
