//! The matrix kernels of the fast encoder and the only SIMD code: weights packed once at
//! load into column panels, f32 FMA kernels and int8 kernels (u8 activations × i8
//! weights summed into i32) for each tier of [`Isa`] — AVX-512 VNNI (`avx512.rs`), AVX2
//! and 256-bit VNNI (`avx2.rs`) — and scalar versions of both that compute the same thing
//! on any CPU. A SIMD path is taken only when runtime detection confirms its
//! instructions ([`Isa::supported`], checked again at every safe entry point).
//!
//! Layouts (NR = 64 output columns per panel, padded with zero columns). A panel is cut
//! into column blocks of `B` columns (`B` = [`Isa::panel_block`]: 64 for AVX-512 and
//! scalar, 16 for the 256-bit tiers, whose tile is 16 columns wide), each block stored
//! whole, so a tile reads its weights as one sequential stream:
//! - f32 panel `p`, column `c` = `blk·B + cc`: element `(kk, c)` at
//!   `p·k·64 + blk·k·B + kk·B + cc`;
//! - int8 panel `p`: groups of 4 consecutive `k` × `B` columns, element `(kk, c)` at
//!   `p·kp·64 + blk·kp·B + (kk/4)·4B + cc·4 + kk%4` (what `vpdpbusd` multiplies at once);
//! - activations: row-major, f32 with stride `k`, or u8 with stride `kp`
//!   (`k` rounded up to 4; the padding meets zero weights).
//!
//! Int8 arithmetic: weights symmetric per output column (`w ≈ sw·q`, q ∈ [-127, 127]; on
//! the AVX2 tier each adjacent pair also within |q[2i]| + |q[2i+1]| ≤ 128: see
//! [`Isa::int8_pair_max`]), activations asymmetric
//! per row (`a ≈ sa·(u − za)`, u ∈ [0, 255]), so
//! `Σ a·w ≈ sa·sw·(Σ u·q − za·Σ q)`; `Σ q` per column is precomputed.

use super::shared::SharedMat;
use std::ops::Range;

/// Output columns per packed panel.
pub(crate) const NR: usize = 64;
/// Rows per register tile of the AVX-512 kernels (6 rows × 4 vectors = 24 accumulators).
const MR: usize = 6;

/// A buffer whose slice starts on a 64-byte boundary (one cache line, one zmm load).
struct Aligned<T> {
    buf: Vec<T>,
    off: usize,
    len: usize,
}

impl<T: Copy + Default> Aligned<T> {
    fn zeroed(len: usize) -> Self {
        let extra = 64 / std::mem::size_of::<T>().max(1);
        let buf = vec![T::default(); len + extra];
        let off = buf.as_ptr().align_offset(64).min(extra);
        Self { buf, off, len }
    }

    fn as_slice(&self) -> &[T] {
        &self.buf[self.off..self.off + self.len]
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.buf[self.off..self.off + self.len]
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// What happens to `acc + bias` before it is stored.
#[derive(Clone, Copy)]
pub(crate) enum Epilogue<'a> {
    None,
    /// GELU with the exact (erf) form, erf from a rational approximation (|error| < 1e-6).
    Gelu,
    /// Adds a residual matrix of the output's shape (row-major, same row stride).
    Residual(&'a [f32]),
}

pub(crate) use super::isa::Isa;

/// An f32 weight matrix `[n, k]` (Hugging Face `Linear` layout: out × in), packed.
pub(crate) struct PackedF32 {
    k: usize,
    pub(crate) n: usize,
    /// Columns per block within a panel (see the module comment).
    block: usize,
    data: Aligned<f32>,
    /// Bias padded to whole panels.
    bias: Vec<f32>,
}

impl PackedF32 {
    /// Packs `w` (`[n, k]`) in column blocks of `block` (a divisor of `NR`).
    pub(crate) fn pack(w: &[f32], bias: &[f32], n: usize, k: usize, block: usize) -> Self {
        assert_eq!(w.len(), n * k, "weight shape");
        assert_eq!(bias.len(), n, "bias shape");
        assert!(
            block > 0 && NR.is_multiple_of(block),
            "block must divide {NR}"
        );
        let panels = n.div_ceil(NR);
        let mut data = Aligned::zeroed(panels * k * NR);
        let d = data.as_mut_slice();
        for col in 0..n {
            let (p, c) = (col / NR, col % NR);
            let base = p * k * NR + (c / block) * k * block + c % block;
            for kk in 0..k {
                d[base + kk * block] = w[col * k + kk];
            }
        }
        let mut b = bias.to_vec();
        b.resize(panels * NR, 0.0);
        Self {
            k,
            n,
            block,
            data,
            bias: b,
        }
    }

    pub(crate) fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }
}

/// An int8 weight matrix `[n, k]`, quantised per output column and packed for VNNI.
pub(crate) struct PackedI8 {
    kp: usize,
    pub(crate) n: usize,
    /// Largest `|q[2i]| + |q[2i+1]|` of any column: what one `vpmaddubsw` i16 sum
    /// multiplies by an activation at most.
    pair_sum_max: i32,
    /// Columns per block within a panel (see the module comment).
    block: usize,
    data: Aligned<i8>,
    scale: Vec<f32>,
    colsum: Vec<i32>,
    bias: Vec<f32>,
}

impl PackedI8 {
    /// Quantises `w` (`[n, k]`) to magnitudes up to 127 and, with `pair_max`, adjacent
    /// pairs `(2i, 2i+1)` of a column to `|q[2i]| + |q[2i+1]| ≤ pair_max`
    /// ([`Isa::int8_pair_max`]), packed in column blocks of `block` (a divisor of `NR`).
    pub(crate) fn quantize(
        w: &[f32],
        bias: &[f32],
        n: usize,
        k: usize,
        pair_max: Option<i32>,
        block: usize,
    ) -> Self {
        assert_eq!(w.len(), n * k, "weight shape");
        assert_eq!(bias.len(), n, "bias shape");
        assert!(
            pair_max.is_none_or(|p| p >= 2),
            "pair_max must be at least 2"
        );
        assert!(
            block > 0 && NR.is_multiple_of(block),
            "block must divide {NR}"
        );
        let kp = k.div_ceil(4) * 4;
        let panels = n.div_ceil(NR);
        let mut data = Aligned::zeroed(panels * kp * NR);
        let mut scale = vec![1.0f32; panels * NR];
        let mut colsum = vec![0i32; panels * NR];
        let mut pair_sum_max = 0i32;
        let d = data.as_mut_slice();
        for col in 0..n {
            let row = &w[col * k..(col + 1) * k];
            let amax = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            // The step: the largest weight at 127, or, with a pair bound, the largest
            // pair sum at `pair_max - 1` (rounding each of the two adds at most 1/2).
            let s = match pair_max {
                None => amax / 127.0,
                Some(p) => {
                    let pmax = row
                        .chunks(2)
                        .map(|c| c.iter().map(|x| x.abs()).sum::<f32>())
                        .fold(0f32, f32::max);
                    (pmax / (p - 1) as f32).max(amax / 127.0)
                }
            };
            let s = if s > 0.0 { s } else { 1.0 };
            scale[col] = s;
            let (p, c) = (col / NR, col % NR);
            let base = p * kp * NR + (c / block) * kp * block + (c % block) * 4;
            let mut prev = 0i32;
            for (kk, &x) in row.iter().enumerate() {
                let q = (x / s).round().clamp(-127.0, 127.0) as i8;
                colsum[col] += q as i32;
                d[base + (kk / 4) * 4 * block + kk % 4] = q;
                let mag = (q as i32).abs();
                let pair = if kk % 2 == 1 { prev + mag } else { mag };
                pair_sum_max = pair_sum_max.max(pair);
                prev = mag;
            }
        }
        if let Some(p) = pair_max {
            assert!(pair_sum_max <= p, "pair sum {pair_sum_max} over {p}");
        }
        let mut b = bias.to_vec();
        b.resize(panels * NR, 0.0);
        Self {
            kp,
            n,
            pair_sum_max,
            block,
            data,
            scale,
            colsum,
            bias: b,
        }
    }

    pub(crate) fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }
}

/// Rows of activations quantised to u8 with a scale and zero point per row.
pub(crate) struct QuantRows {
    kp: usize,
    /// Largest quantised value: 255, or 127 where the kernel needs it
    /// ([`Isa::int8_activation_max`]).
    max: u8,
    data: Aligned<u8>,
    scale: Vec<f32>,
    zero: Vec<i32>,
}

impl Default for QuantRows {
    fn default() -> Self {
        Self {
            kp: 0,
            max: 255,
            data: Aligned::zeroed(0),
            scale: Vec::new(),
            zero: Vec::new(),
        }
    }
}

impl QuantRows {
    /// Quantises `m` rows of `a` (row-major, `k` columns) into this buffer (grown as
    /// needed). The range always contains 0, so zero is exact (as in ONNX Runtime's
    /// dynamic quantisation). Rounding is to nearest, ties to even, on every path. The
    /// range is the one `isa`'s int8 kernel needs ([`Isa::int8_activation_max`]).
    pub(crate) fn quantize(&mut self, isa: Isa, a: &[f32], m: usize, k: usize) {
        self.quantize_to(isa, isa.int8_activation_max(), a, m, k)
    }

    /// As `quantize`, to `0..=max`, with `isa`'s SIMD code.
    fn quantize_to(&mut self, isa: Isa, max: u8, a: &[f32], m: usize, k: usize) {
        assert!(a.len() >= m * k, "activations too short");
        assert!(max > 0, "max must be positive");
        let isa = isa.checked();
        let levels = max as f32;
        self.max = max;
        let kp = k.div_ceil(4) * 4;
        if self.data.len() < m * kp {
            self.data = Aligned::zeroed(m * kp);
        }
        self.kp = kp;
        self.scale.resize(m, 0.0);
        self.zero.resize(m, 0);
        let data = self.data.as_mut_slice();
        for r in 0..m {
            let row = &a[r * k..(r + 1) * k];
            let (lo, hi) = min_max(isa, row);
            let (lo, hi) = (lo.min(0.0), hi.max(0.0));
            let s = if hi > lo { (hi - lo) / levels } else { 1.0 };
            let z = (-lo / s).round().clamp(0.0, levels);
            self.scale[r] = s;
            self.zero[r] = z as i32;
            let inv = 1.0 / s;
            let out = &mut data[r * kp..(r + 1) * kp];
            #[cfg(target_arch = "x86_64")]
            match isa {
                Isa::Avx512 => {
                    // SAFETY: `checked` confirmed AVX-512F/BW; the function writes
                    // exactly `row.len()` bytes of `out`, which is longer.
                    unsafe { avx512::quantize_row(row, inv, z, max, out) };
                    out[k..].fill(0);
                    continue;
                }
                Isa::Avx2 | Isa::AvxVnni => {
                    // SAFETY: `checked` confirmed AVX2 + FMA; as above.
                    unsafe { avx2::quantize_row(row, inv, z, max, out) };
                    out[k..].fill(0);
                    continue;
                }
                Isa::Scalar => {}
            }
            for (o, &x) in out.iter_mut().zip(row) {
                *o = x.mul_add(inv, z).round_ties_even().clamp(0.0, levels) as u8;
            }
            out[k..].fill(0);
        }
    }
}

/// Smallest and largest element; `isa` must be [`Isa::checked`].
fn min_max(isa: Isa, row: &[f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: the caller checked the tier (AVX-512F, or AVX2 + FMA).
        Isa::Avx512 => return unsafe { avx512::min_max(row) },
        Isa::Avx2 | Isa::AvxVnni => return unsafe { avx2::min_max(row) },
        Isa::Scalar => {}
    }
    let _ = isa;
    let mut lo = [f32::INFINITY; 16];
    let mut hi = [f32::NEG_INFINITY; 16];
    let mut chunks = row.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            lo[i] = lo[i].min(c[i]);
            hi[i] = hi[i].max(c[i]);
        }
    }
    for &x in chunks.remainder() {
        lo[0] = lo[0].min(x);
        hi[0] = hi[0].max(x);
    }
    (
        lo.iter().copied().fold(f32::INFINITY, f32::min),
        hi.iter().copied().fold(f32::NEG_INFINITY, f32::max),
    )
}

// erf(x) ≈ x·P(x²)/Q(x²) on [-4, 4] (the rational approximation of Eigen and XLA).
const ERF_ALPHA: [f32; 7] = [
    -2.726_142_3e-10,
    2.770_681_4e-8,
    -2.101_024e-6,
    -5.692_506_4e-5,
    -7.349_906_3e-4,
    -2.954_6e-3,
    -1.609_603_3e-2,
];
const ERF_BETA: [f32; 5] = [
    -1.456_607_2e-5,
    -2.133_740_6e-4,
    -1.682_827e-3,
    -7.373_329e-3,
    -1.426_474e-2,
];

fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = ERF_ALPHA.iter().fold(0.0f32, |acc, &c| acc.mul_add(x2, c));
    let q = ERF_BETA.iter().fold(0.0f32, |acc, &c| acc.mul_add(x2, c));
    (x * p / q).clamp(-1.0, 1.0)
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

fn apply_epilogue(v: f32, epi: Epilogue, r: usize, col: usize, ld: usize) -> f32 {
    match epi {
        Epilogue::None => v,
        Epilogue::Gelu => gelu(v),
        Epilogue::Residual(res) => v + res[r * ld + col],
    }
}

fn check_args(m: usize, k: usize, a_len: usize, lda: usize, out: &SharedMat, n: usize) {
    assert!(
        a_len >= m.saturating_sub(1) * lda + k || m == 0,
        "activations too short"
    );
    assert!(out.rows() >= m && out.cols() == n, "output shape");
}

/// `out[rows, panel columns] = a[rows] · wᵀ + bias` (then the epilogue), for the panels
/// in `panels`. `a` is row-major `[m, w.k]`.
///
/// # Safety
/// No other thread may access the written block of `out` (those rows × the columns of
/// `panels`) until the caller's next barrier; `Epilogue::Residual` must not alias `out`.
pub(crate) unsafe fn gemm_f32(
    isa: Isa,
    a: &[f32],
    rows: Range<usize>,
    w: &PackedF32,
    panels: Range<usize>,
    epi: Epilogue,
    out: &SharedMat,
) {
    let (k, n) = (w.k, w.n);
    check_args(rows.end, k, a.len(), k, out, n);
    assert!(panels.end <= w.panels(), "panel range");
    if let Epilogue::Residual(res) = epi {
        assert!(res.len() >= rows.end * n, "residual too short");
    }
    if rows.is_empty() || panels.is_empty() {
        return;
    }
    let isa = isa.checked();
    // A SIMD kernel reads its tier's block layout (scalar code reads any).
    assert!(
        !isa.is_simd() || w.block == isa.panel_block(),
        "weights packed for another tier"
    );
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: `checked` confirmed the tier's instructions at run time; bounds were
        // checked above; exclusivity of the output block is the caller's promise.
        Isa::Avx512 => return unsafe { avx512::gemm_f32(a, rows, w, panels, epi, out) },
        Isa::Avx2 | Isa::AvxVnni => return unsafe { avx2::gemm_f32(a, rows, w, panels, epi, out) },
        Isa::Scalar => {}
    }
    let _ = isa;
    let d = w.data.as_slice();
    for p in panels {
        let cols = (n - p * NR).min(NR);
        let panel = &d[p * k * NR..(p + 1) * k * NR];
        let bl = w.block;
        for r in rows.clone() {
            let arow = &a[r * k..r * k + k];
            let mut acc = [0f32; NR];
            for (blk, acc) in acc.chunks_exact_mut(bl).enumerate() {
                let block = &panel[blk * k * bl..(blk + 1) * k * bl];
                for (kk, &x) in arow.iter().enumerate() {
                    let b = &block[kk * bl..(kk + 1) * bl];
                    for c in 0..bl {
                        acc[c] += x * b[c];
                    }
                }
            }
            // SAFETY: in bounds (check_args); this block is ours per the caller.
            let dst = unsafe { out.slice_mut(r, p * NR, cols) };
            for c in 0..cols {
                let col = p * NR + c;
                dst[c] = apply_epilogue(acc[c] + w.bias[col], epi, r, col, n);
            }
        }
    }
}

/// `out[rows, panel columns] ≈ a[rows] · wᵀ + bias` with int8 weights and the rows of
/// `a` quantised in `qa` (`qa` must hold at least `rows.end` rows of `w.k` columns).
///
/// # Safety
/// As `gemm_f32`.
pub(crate) unsafe fn gemm_i8(
    isa: Isa,
    qa: &QuantRows,
    rows: Range<usize>,
    w: &PackedI8,
    panels: Range<usize>,
    epi: Epilogue,
    out: &SharedMat,
) {
    let (kp, n) = (w.kp, w.n);
    assert_eq!(qa.kp, kp, "activations quantised for another k");
    assert!(qa.scale.len() >= rows.end, "too few quantised rows");
    check_args(rows.end, kp, qa.data.len(), kp, out, n);
    assert!(panels.end <= w.panels(), "panel range");
    if let Epilogue::Residual(res) = epi {
        assert!(res.len() >= rows.end * n, "residual too short");
    }
    if rows.is_empty() || panels.is_empty() {
        return;
    }
    let isa = isa.checked();
    assert!(
        !isa.is_simd() || w.block == isa.panel_block(),
        "weights packed for another tier"
    );
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: as in gemm_f32.
        Isa::Avx512 => return unsafe { avx512::gemm_i8(qa, rows, w, panels, epi, out) },
        Isa::AvxVnni => return unsafe { avx2::gemm_i8_vnni(qa, rows, w, panels, epi, out) },
        Isa::Avx2 => {
            // Larger values could saturate `vpmaddubsw`'s i16 pair sums: wrong, not unsafe.
            assert!(
                w.pair_sum_max * qa.max as i32 <= i16::MAX as i32,
                "int8 ranges of another tier"
            );
            return unsafe { avx2::gemm_i8(qa, rows, w, panels, epi, out) };
        }
        Isa::Scalar => {}
    }
    let _ = isa;
    let d = w.data.as_slice();
    let qd = qa.data.as_slice();
    for p in panels {
        let cols = (n - p * NR).min(NR);
        let panel = &d[p * kp * NR..(p + 1) * kp * NR];
        let bl = w.block;
        for r in rows.clone() {
            let arow = &qd[r * kp..(r + 1) * kp];
            let mut acc = [0i32; NR];
            for (blk, acc) in acc.chunks_exact_mut(bl).enumerate() {
                let block = &panel[blk * kp * bl..(blk + 1) * kp * bl];
                for g in 0..kp / 4 {
                    let grp = &block[g * 4 * bl..(g + 1) * 4 * bl];
                    for c in 0..bl {
                        for t in 0..4 {
                            acc[c] += arow[g * 4 + t] as i32 * grp[c * 4 + t] as i32;
                        }
                    }
                }
            }
            // SAFETY: in bounds (check_args); this block is ours per the caller.
            let dst = unsafe { out.slice_mut(r, p * NR, cols) };
            for c in 0..cols {
                let col = p * NR + c;
                let v = (acc[c] - qa.zero[r] * w.colsum[col]) as f32 * (qa.scale[r] * w.scale[col])
                    + w.bias[col];
                dst[c] = apply_epilogue(v, epi, r, col, n);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(rng: &mut impl Rng, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(-scale..scale)).collect()
    }

    /// out = a · wᵀ + bias (+ epilogue), in f64.
    fn naive(a: &[f32], w: &[f32], bias: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
        let mut out = vec![0f64; m * n];
        for r in 0..m {
            for c in 0..n {
                let mut s = bias[c] as f64;
                for kk in 0..k {
                    s += a[r * k + kk] as f64 * w[c * k + kk] as f64;
                }
                out[r * n + c] = s;
            }
        }
        out
    }

    /// Every tier this CPU runs (the scalar one included).
    fn isas() -> Vec<Isa> {
        Isa::available()
    }

    // Shapes include sizes that are not multiples of 4, 6, 8, 16 or 64.
    const SHAPES: [(usize, usize, usize); 8] = [
        (1, 1, 1),
        (15, 384, 384),
        (7, 37, 70),
        (13, 130, 17),
        (31, 96, 200),
        (6, 1536, 64),
        (5, 9, 8),
        (3, 64, 129),
    ];

    fn epilogue<'a>(name: &str, res: &'a [f32]) -> Epilogue<'a> {
        match name {
            "gelu" => Epilogue::Gelu,
            "residual" => Epilogue::Residual(res),
            _ => Epilogue::None,
        }
    }

    #[test]
    fn f32_kernels_match_a_naive_matmul() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for isa in isas() {
            for &(m, k, n) in &SHAPES {
                let a = random(&mut rng, m * k, 1.0);
                let w = random(&mut rng, n * k, 0.1);
                let bias = random(&mut rng, n, 0.5);
                let res = random(&mut rng, m * n, 1.0);
                let packed = PackedF32::pack(&w, &bias, n, k, isa.panel_block());
                let want = naive(&a, &w, &bias, m, n, k);
                for epi in ["none", "gelu", "residual"] {
                    let mut buf = vec![f32::NAN; m * n];
                    let out = SharedMat::new(&mut buf, m, n);
                    let e = epilogue(epi, &res);
                    // Two calls over split rows and panels, as two threads would.
                    let half = m / 2;
                    let pm = packed.panels() / 2;
                    unsafe {
                        gemm_f32(isa, &a, 0..half, &packed, 0..packed.panels(), e, &out);
                        gemm_f32(isa, &a, half..m, &packed, 0..pm, e, &out);
                        gemm_f32(isa, &a, half..m, &packed, pm..packed.panels(), e, &out);
                    }
                    for i in 0..m * n {
                        let w = match epi {
                            "gelu" => gelu(want[i] as f32) as f64,
                            "residual" => want[i] + res[i] as f64,
                            _ => want[i],
                        };
                        let tol = 1e-4 * (1.0 + w.abs()) * (k as f64).sqrt();
                        assert!(
                            (buf[i] as f64 - w).abs() <= tol,
                            "{isa:?} {m}x{k}x{n} {epi} [{i}]: {} vs {w}",
                            buf[i]
                        );
                    }
                }
            }
        }
    }

    fn run_i8(
        isa: Isa,
        qa: &QuantRows,
        w: &PackedI8,
        m: usize,
        epi: Epilogue,
        split: bool,
    ) -> Vec<f32> {
        let n = w.n;
        let mut buf = vec![f32::NAN; m * n];
        let out = SharedMat::new(&mut buf, m, n);
        let (half, pm) = if split {
            (m / 2, w.panels() / 2)
        } else {
            (m, 0)
        };
        unsafe {
            gemm_i8(isa, qa, 0..half, w, 0..w.panels(), epi, &out);
            gemm_i8(isa, qa, half..m, w, 0..pm, epi, &out);
            gemm_i8(isa, qa, half..m, w, pm..w.panels(), epi, &out);
        }
        buf
    }

    #[test]
    fn int8_kernels_match_a_naive_matmul_within_quantisation_error() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for &(m, k, n) in &SHAPES {
            // Skewed activations (as after GELU) exercise the zero point.
            let a: Vec<f32> = random(&mut rng, m * k, 1.0)
                .into_iter()
                .map(|x| if x < 0.0 { x * 0.1 } else { x * 3.0 })
                .collect();
            let w = random(&mut rng, n * k, 0.1);
            let bias = random(&mut rng, n, 0.5);
            let res = random(&mut rng, m * n, 1.0);
            let want = naive(&a, &w, &bias, m, n, k);
            for isa in isas() {
                // Every tier quantises activations to the same bytes as the scalar code.
                let amax_q = isa.int8_activation_max();
                let mut qa = QuantRows::default();
                qa.quantize_to(Isa::Scalar, amax_q, &a, m, k);
                let mut qv = QuantRows::default();
                qv.quantize(isa, &a, m, k);
                assert_eq!(qv.max, amax_q);
                assert_eq!(
                    qa.data.as_slice()[..m * qa.kp],
                    qv.data.as_slice()[..m * qv.kp],
                    "{isa:?}"
                );
                assert_eq!(qa.scale, qv.scale);
                assert_eq!(qa.zero, qv.zero);
                let packed =
                    PackedI8::quantize(&w, &bias, n, k, isa.int8_pair_max(), isa.panel_block());
                let got = run_i8(isa, &qv, &packed, m, Epilogue::None, true);
                // Error bound: each product carries at most half a step of each factor.
                for r in 0..m {
                    let amax = a[r * k..(r + 1) * k]
                        .iter()
                        .fold(0f32, |x, y| x.max(y.abs())) as f64;
                    for c in 0..n {
                        let wmax = w[c * k..(c + 1) * k]
                            .iter()
                            .fold(0f32, |x, y| x.max(y.abs()))
                            as f64;
                        let bound = k as f64
                            * (amax * packed.scale[c] as f64 + wmax * amax * 2.0 / amax_q as f64)
                            * 0.5
                            + 1e-4;
                        let g = got[r * n + c] as f64;
                        assert!(
                            (g - want[r * n + c]).abs() <= bound,
                            "{isa:?} {m}x{k}x{n} [{r},{c}]: {g} vs {}",
                            want[r * n + c]
                        );
                    }
                }
                // The typical error is far below the worst case: relative RMS under 2%
                // (8-bit values) or 3% (the AVX2 tier's pair-bounded weights).
                let num: f64 = got
                    .iter()
                    .zip(&want)
                    .map(|(g, w)| (*g as f64 - w).powi(2))
                    .sum();
                let den: f64 = want.iter().map(|w| w * w).sum();
                let rel = if isa.int8_pair_max().is_none() && amax_q == 255 {
                    0.02
                } else {
                    0.03
                };
                assert!(
                    num.sqrt() <= rel * den.sqrt() + 1e-3,
                    "{isa:?} {m}x{k}x{n}: rel rms {}",
                    (num / den).sqrt()
                );
                // SIMD and scalar compute the same integers from the same packed weights:
                // identical up to float rounding, with every epilogue.
                for epi in ["none", "gelu", "residual"] {
                    let e = epilogue(epi, &res);
                    let simd = run_i8(isa, &qv, &packed, m, e, true);
                    let scalar = run_i8(Isa::Scalar, &qa, &packed, m, e, false);
                    for (i, (x, y)) in scalar.iter().zip(&simd).enumerate() {
                        assert!(
                            (x - y).abs() <= 1e-4 * (1.0 + x.abs()),
                            "{isa:?} {m}x{k}x{n} {epi} [{i}]: {x} vs {y}"
                        );
                    }
                }
            }
        }
    }

    /// The worst case for `vpmaddubsw`: activations at 255 and weights at their extremes in
    /// adjacent positions. With the tier's weight range no i16 sum saturates, so every
    /// tier agrees with the exact scalar integers.
    #[test]
    fn int8_kernels_do_not_saturate_at_the_extremes() {
        let (m, k, n) = (7, 256, 72);
        // Rows alternate between all-max and a ramp; the zero point is 0 (all ≥ 0).
        let a: Vec<f32> = (0..m * k)
            .map(|i| {
                if (i / k) % 2 == 0 {
                    1.0
                } else {
                    (i % k) as f32 / k as f32
                }
            })
            .collect();
        for isa in isas() {
            // Columns of equal-signed extremes, of alternating signs, and of mixtures.
            let w: Vec<f32> = (0..n * k)
                .map(|i| {
                    let (c, kk) = (i / k, i % k);
                    match c % 3 {
                        0 => 1.0,
                        1 => -1.0,
                        _ if kk % 2 == 0 => 1.0,
                        _ => -1.0,
                    }
                })
                .collect();
            let bias = vec![0.0; n];
            let packed =
                PackedI8::quantize(&w, &bias, n, k, isa.int8_pair_max(), isa.panel_block());
            let mut qa = QuantRows::default();
            qa.quantize(isa, &a, m, k);
            assert!(qa.data.as_slice()[..k].iter().all(|&u| u == qa.max));
            let simd = run_i8(isa, &qa, &packed, m, Epilogue::None, false);
            let scalar = run_i8(Isa::Scalar, &qa, &packed, m, Epilogue::None, false);
            let want = naive(&a, &w, &bias, m, n, k);
            for i in 0..m * n {
                assert!(
                    (simd[i] - scalar[i]).abs() <= 1e-4 * (1.0 + scalar[i].abs()),
                    "{isa:?} [{i}]: {} vs {}",
                    simd[i],
                    scalar[i]
                );
                // Within the quantisation bound (values and weights are at most 1).
                let step = packed.scale[i % n] as f64;
                let bound = k as f64 * (1.0 / qa.max as f64 + step) * 0.5 + 1e-4;
                assert!(
                    (simd[i] as f64 - want[i]).abs() <= bound,
                    "{isa:?} [{i}]: {} vs {}",
                    simd[i],
                    want[i]
                );
            }
        }
    }

    /// The AVX2 tier's weights: no adjacent pair over 128 even where the two largest
    /// weights of a column sit side by side, and on bell-shaped weights (as a BERT's are)
    /// a step well under the 7-bit weights' `max / 63` it replaced.
    #[test]
    fn pair_bounded_weights_cannot_saturate_and_keep_more_precision() {
        let (n, k) = (64, 384);
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        // Sums of uniforms: roughly normal, with a few large weights.
        let mut w: Vec<f32> = (0..n * k)
            .map(|_| (0..4).map(|_| rng.gen_range(-1.0f32..1.0)).sum())
            .collect();
        // Column 0: its two largest weights adjacent and of one sign (the worst case).
        w[10] = 5.0;
        w[11] = 5.0;
        let bias = vec![0.0; n];
        let pair = Isa::Avx2.int8_pair_max();
        assert_eq!(pair, Some(128));
        let packed = PackedI8::quantize(&w, &bias, n, k, pair, Isa::Avx2.panel_block());
        assert!(packed.pair_sum_max <= 128, "{}", packed.pair_sum_max);
        assert!(packed.pair_sum_max * 255 <= i16::MAX as i32);
        let mut finer = 0.0;
        for c in 0..n {
            let amax = w[c * k..(c + 1) * k]
                .iter()
                .fold(0f32, |m, x| m.max(x.abs()));
            let seven_bit = amax / 63.0;
            assert!(packed.scale[c] <= seven_bit * 1.01, "column {c}");
            finer += seven_bit / packed.scale[c] / n as f32;
        }
        // Column 0 gains nothing (10/127 against 5/63); on average the step is 1.3× finer.
        assert!(finer > 1.25, "mean step ratio {finer}");
        let full = PackedI8::quantize(&w, &bias, n, k, None, Isa::Avx512.panel_block());
        assert!(
            full.pair_sum_max > 128,
            "the unbounded packing would saturate here"
        );
    }

    #[test]
    fn an_unsupported_tier_runs_the_scalar_code() {
        // `checked` never hands out a tier the CPU lacks.
        for isa in Isa::ALL {
            let c = isa.checked();
            assert!(c.supported());
            assert!(c == isa || c == Isa::Scalar);
        }
    }

    /// erf by its Taylor series in f64 (converges everywhere; fine for |x| ≤ 5).
    fn erf_ref(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_approximation_is_accurate() {
        for i in -500..=500 {
            let x = i as f32 / 100.0;
            let e = (erf(x) as f64 - erf_ref(x as f64)).abs();
            assert!(e < 2e-6, "erf({x}): {} vs {}", erf(x), erf_ref(x as f64));
        }
    }
}
