//! The matrix kernels of the fast encoder and the only SIMD code: weights packed once at
//! load into column panels, an f32 AVX-512 FMA kernel, an int8 AVX-512 VNNI kernel
//! (`vpdpbusd`: u8 activations × i8 weights summed into i32), and scalar versions of both
//! that compute the same thing on any CPU. The AVX-512 paths are taken only when
//! `is_x86_feature_detected!` confirms the instructions at run time.
//!
//! Layouts (NR = 64 output columns per panel, padded with zero columns):
//! - f32 panel `p`: `k` rows of 64 floats, element `(kk, c)` at `p·k·64 + kk·64 + c`;
//! - int8 panel `p`: `kp/4` groups of 64 columns × 4 consecutive `k`, element `(kk, c)`
//!   at `p·kp·64 + (kk/4)·256 + c·4 + kk%4` (what `vpdpbusd` multiplies at once);
//! - activations: row-major, f32 with stride `k`, or u8 with stride `kp`
//!   (`k` rounded up to 4; the padding meets zero weights).
//!
//! Int8 arithmetic: weights symmetric per output column (`w ≈ sw·q`, q ∈ [-127, 127]),
//! activations asymmetric per row (`a ≈ sa·(u − za)`, u ∈ [0, 255]), so
//! `Σ a·w ≈ sa·sw·(Σ u·q − za·Σ q)`; `Σ q` per column is precomputed.

use super::shared::SharedMat;
use std::ops::Range;

/// Output columns per packed panel.
pub const NR: usize = 64;
/// Rows per register tile of the AVX-512 kernels (6 rows × 4 vectors = 24 accumulators).
const MR: usize = 6;

/// A buffer whose slice starts on a 64-byte boundary (one cache line, one zmm load).
pub struct Aligned<T> {
    buf: Vec<T>,
    off: usize,
    len: usize,
}

impl<T: Copy + Default> Aligned<T> {
    pub fn zeroed(len: usize) -> Self {
        let extra = 64 / std::mem::size_of::<T>().max(1);
        let buf = vec![T::default(); len + extra];
        let off = buf.as_ptr().align_offset(64).min(extra);
        Self { buf, off, len }
    }

    pub fn as_slice(&self) -> &[T] {
        &self.buf[self.off..self.off + self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.buf[self.off..self.off + self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What happens to `acc + bias` before it is stored.
#[derive(Clone, Copy)]
pub enum Epilogue<'a> {
    None,
    /// GELU with the exact (erf) form, erf from a rational approximation (|error| < 1e-6).
    Gelu,
    /// Adds a residual matrix of the output's shape (row-major, same row stride).
    Residual(&'a [f32]),
}

/// Which instruction sets the kernels may use, decided once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx512,
}

impl Isa {
    /// The best the CPU supports (AVX-512 F/BW/VL + VNNI together, as on Ice Lake and
    /// later Xeons and Zen 4), or scalar.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512vnni")
            {
                return Isa::Avx512;
            }
        }
        Isa::Scalar
    }
}

/// An f32 weight matrix `[n, k]` (Hugging Face `Linear` layout: out × in), packed.
pub struct PackedF32 {
    pub k: usize,
    pub n: usize,
    data: Aligned<f32>,
    /// Bias padded to whole panels.
    bias: Vec<f32>,
}

impl PackedF32 {
    pub fn pack(w: &[f32], bias: &[f32], n: usize, k: usize) -> Self {
        assert_eq!(w.len(), n * k, "weight shape");
        assert_eq!(bias.len(), n, "bias shape");
        let panels = n.div_ceil(NR);
        let mut data = Aligned::zeroed(panels * k * NR);
        let d = data.as_mut_slice();
        for col in 0..n {
            let (p, c) = (col / NR, col % NR);
            for kk in 0..k {
                d[p * k * NR + kk * NR + c] = w[col * k + kk];
            }
        }
        let mut b = bias.to_vec();
        b.resize(panels * NR, 0.0);
        Self {
            k,
            n,
            data,
            bias: b,
        }
    }

    pub fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }
}

/// An int8 weight matrix `[n, k]`, quantised per output column and packed for VNNI.
pub struct PackedI8 {
    pub k: usize,
    pub kp: usize,
    pub n: usize,
    data: Aligned<i8>,
    scale: Vec<f32>,
    colsum: Vec<i32>,
    bias: Vec<f32>,
}

impl PackedI8 {
    pub fn quantize(w: &[f32], bias: &[f32], n: usize, k: usize) -> Self {
        assert_eq!(w.len(), n * k, "weight shape");
        assert_eq!(bias.len(), n, "bias shape");
        let kp = k.div_ceil(4) * 4;
        let panels = n.div_ceil(NR);
        let mut data = Aligned::zeroed(panels * kp * NR);
        let mut scale = vec![1.0f32; panels * NR];
        let mut colsum = vec![0i32; panels * NR];
        let d = data.as_mut_slice();
        for col in 0..n {
            let row = &w[col * k..(col + 1) * k];
            let amax = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
            scale[col] = s;
            let (p, c) = (col / NR, col % NR);
            for (kk, &x) in row.iter().enumerate() {
                let q = (x / s).round().clamp(-127.0, 127.0) as i8;
                colsum[col] += q as i32;
                d[p * kp * NR + (kk / 4) * 4 * NR + c * 4 + kk % 4] = q;
            }
        }
        let mut b = bias.to_vec();
        b.resize(panels * NR, 0.0);
        Self {
            k,
            kp,
            n,
            data,
            scale,
            colsum,
            bias: b,
        }
    }

    pub fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }
}

/// Rows of activations quantised to u8 with a scale and zero point per row.
pub struct QuantRows {
    pub kp: usize,
    data: Aligned<u8>,
    scale: Vec<f32>,
    zero: Vec<i32>,
}

impl Default for QuantRows {
    fn default() -> Self {
        Self {
            kp: 0,
            data: Aligned::zeroed(0),
            scale: Vec::new(),
            zero: Vec::new(),
        }
    }
}

impl QuantRows {
    /// Quantises `m` rows of `a` (row-major, `k` columns) into this buffer (grown as
    /// needed). The range always contains 0, so zero is exact (as in ONNX Runtime's
    /// dynamic quantisation). Rounding is to nearest, ties to even, on every path.
    pub fn quantize(&mut self, isa: Isa, a: &[f32], m: usize, k: usize) {
        assert!(a.len() >= m * k, "activations too short");
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
            let s = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
            let z = (-lo / s).round().clamp(0.0, 255.0);
            self.scale[r] = s;
            self.zero[r] = z as i32;
            let inv = 1.0 / s;
            let out = &mut data[r * kp..(r + 1) * kp];
            #[cfg(target_arch = "x86_64")]
            if isa == Isa::Avx512 {
                // SAFETY: Isa::Avx512 implies runtime-detected AVX-512F/BW; the function
                // writes exactly `row.len()` bytes of `out`, which is longer.
                unsafe { avx512::quantize_row(row, inv, z, out) };
                out[k..].fill(0);
                continue;
            }
            for (o, &x) in out.iter_mut().zip(row) {
                *o = x.mul_add(inv, z).round_ties_even().clamp(0.0, 255.0) as u8;
            }
            out[k..].fill(0);
        }
    }
}

fn min_max(isa: Isa, row: &[f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        // SAFETY: Isa::Avx512 implies runtime-detected AVX-512F.
        return unsafe { avx512::min_max(row) };
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

pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = ERF_ALPHA.iter().fold(0.0f32, |acc, &c| acc.mul_add(x2, c));
    let q = ERF_BETA.iter().fold(0.0f32, |acc, &c| acc.mul_add(x2, c));
    (x * p / q).clamp(-1.0, 1.0)
}

pub fn gelu(x: f32) -> f32 {
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
pub unsafe fn gemm_f32(
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
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        // SAFETY: Isa::Avx512 is only constructed after runtime detection; bounds were
        // checked above; exclusivity of the output block is the caller's promise.
        unsafe { avx512::gemm_f32(a, rows, w, panels, epi, out) };
        return;
    }
    let _ = isa;
    let d = w.data.as_slice();
    for p in panels {
        let cols = (n - p * NR).min(NR);
        let panel = &d[p * k * NR..(p + 1) * k * NR];
        for r in rows.clone() {
            let arow = &a[r * k..r * k + k];
            let mut acc = [0f32; NR];
            for (kk, &x) in arow.iter().enumerate() {
                let b = &panel[kk * NR..kk * NR + NR];
                for c in 0..NR {
                    acc[c] += x * b[c];
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
pub unsafe fn gemm_i8(
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
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        // SAFETY: as in gemm_f32.
        unsafe { avx512::gemm_i8(qa, rows, w, panels, epi, out) };
        return;
    }
    let _ = isa;
    let d = w.data.as_slice();
    let qd = qa.data.as_slice();
    for p in panels {
        let cols = (n - p * NR).min(NR);
        let panel = &d[p * kp * NR..(p + 1) * kp * NR];
        for r in rows.clone() {
            let arow = &qd[r * kp..(r + 1) * kp];
            let mut acc = [0i32; NR];
            for g in 0..kp / 4 {
                let grp = &panel[g * 4 * NR..(g + 1) * 4 * NR];
                for c in 0..NR {
                    for t in 0..4 {
                        acc[c] += arow[g * 4 + t] as i32 * grp[c * 4 + t] as i32;
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
mod avx512 {
    use super::*;
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn erf_ps(x: __m512) -> __m512 {
        let x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-4.0)), _mm512_set1_ps(4.0));
        let x2 = _mm512_mul_ps(x, x);
        let mut p = _mm512_set1_ps(ERF_ALPHA[0]);
        for &c in &ERF_ALPHA[1..] {
            p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(c));
        }
        let mut q = _mm512_set1_ps(ERF_BETA[0]);
        for &c in &ERF_BETA[1..] {
            q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(c));
        }
        let e = _mm512_div_ps(_mm512_mul_ps(x, p), q);
        _mm512_min_ps(_mm512_max_ps(e, _mm512_set1_ps(-1.0)), _mm512_set1_ps(1.0))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn gelu_ps(x: __m512) -> __m512 {
        let e = erf_ps(_mm512_mul_ps(
            x,
            _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2),
        ));
        _mm512_mul_ps(
            _mm512_mul_ps(_mm512_set1_ps(0.5), x),
            _mm512_add_ps(_mm512_set1_ps(1.0), e),
        )
    }

    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn min_max(row: &[f32]) -> (f32, f32) {
        let mut lo = _mm512_set1_ps(f32::INFINITY);
        let mut hi = _mm512_set1_ps(f32::NEG_INFINITY);
        let mut i = 0;
        while i < row.len() {
            let m = mask(row.len() - i, 0);
            // SAFETY: masked load of the lanes inside `row` only.
            let x = unsafe { _mm512_maskz_loadu_ps(m, row.as_ptr().add(i)) };
            lo = _mm512_mask_min_ps(lo, m, lo, x);
            hi = _mm512_mask_max_ps(hi, m, hi, x);
            i += 16;
        }
        (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi))
    }

    /// `out[i] = clamp(round_even(row[i]·inv + z), 0, 255)`.
    ///
    /// # Safety
    /// The CPU has AVX-512F/BW; `out` is at least as long as `row`.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn quantize_row(row: &[f32], inv: f32, z: f32, out: &mut [u8]) {
        assert!(out.len() >= row.len());
        let (vi, vz) = (_mm512_set1_ps(inv), _mm512_set1_ps(z));
        let zero = _mm512_setzero_si512();
        let mut i = 0;
        while i < row.len() {
            let m = mask(row.len() - i, 0);
            // SAFETY: masked loads/stores of the lanes inside `row` and `out` only. The
            // conversion rounds to nearest even (the default MXCSR mode, as Rust keeps
            // it); negative values become 0, and the unsigned saturating narrowing caps
            // at 255.
            unsafe {
                let x = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row.as_ptr().add(i)), vi, vz);
                let q = _mm512_max_epi32(_mm512_cvtps_epi32(x), zero);
                _mm512_mask_cvtusepi32_storeu_epi8(out.as_mut_ptr().add(i) as *mut _, m, q);
            }
            i += 16;
        }
    }

    /// Rows of the next tile: the rows left split into equal tiles of at most MR (15
    /// rows → 5 + 5 + 5 rather than 6 + 6 + 3, whose last tile would be load-bound).
    fn balanced_tile(left: usize) -> usize {
        let tiles = left.div_ceil(MR);
        left.div_ceil(tiles)
    }

    fn mask(cols: usize, v: usize) -> __mmask16 {
        let left = cols.saturating_sub(v * 16).min(16);
        ((1u32 << left) - 1) as __mmask16
    }

    /// Bias, epilogue and masked store of one tile row's 4 vectors.
    ///
    /// # Safety
    /// `dst` points at row `r`, column `col0` of `out`; the 4·16 columns starting there
    /// that `cols` covers are ours; `bias` covers 64 floats; the residual (if any) covers
    /// row `r` (checked by the public wrappers).
    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn store_row(
        acc: [__m512; 4],
        bias: *const f32,
        epi: Epilogue,
        r: usize,
        col0: usize,
        ld: usize,
        cols: usize,
        dst: *mut f32,
    ) {
        for (v, &a) in acc.iter().enumerate() {
            let m = mask(cols, v);
            if m == 0 {
                break;
            }
            // SAFETY: per the function contract; masked lanes are not touched.
            unsafe {
                let mut x = _mm512_add_ps(a, _mm512_loadu_ps(bias.add(v * 16)));
                match epi {
                    Epilogue::None => {}
                    Epilogue::Gelu => x = gelu_ps(x),
                    Epilogue::Residual(res) => {
                        let rp = res.as_ptr().add(r * ld + col0 + v * 16);
                        x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, rp));
                    }
                }
                _mm512_mask_storeu_ps(dst.add(v * 16), m, x);
            }
        }
    }

    /// One tile of `R` rows × one panel.
    ///
    /// # Safety
    /// `a` points at the tile's first row (stride `lda`, `k` valid columns each), `b` at a
    /// 64-byte aligned f32 panel of `k·64` floats, the rest as `store_row`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_f32<const R: usize>(
        a: *const f32,
        lda: usize,
        b: *const f32,
        k: usize,
        bias: *const f32,
        epi: Epilogue,
        row0: usize,
        col0: usize,
        cols: usize,
        out: &SharedMat,
    ) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for kk in 0..k {
            // SAFETY: kk < k, so the 4 aligned loads stay inside the panel and the
            // broadcasts inside each row's k columns.
            unsafe {
                let bp = b.add(kk * NR);
                let b0 = _mm512_load_ps(bp);
                let b1 = _mm512_load_ps(bp.add(16));
                let b2 = _mm512_load_ps(bp.add(32));
                let b3 = _mm512_load_ps(bp.add(48));
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_ps(*a.add(r * lda + kk));
                    acc_r[0] = _mm512_fmadd_ps(x, b0, acc_r[0]);
                    acc_r[1] = _mm512_fmadd_ps(x, b1, acc_r[1]);
                    acc_r[2] = _mm512_fmadd_ps(x, b2, acc_r[2]);
                    acc_r[3] = _mm512_fmadd_ps(x, b3, acc_r[3]);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            // SAFETY: row0 + r < out.rows (the caller's tile), columns per `cols`.
            unsafe {
                let dst = out.ptr_at(row0 + r, col0);
                store_row(*acc_r, bias, epi, row0 + r, col0, out.cols(), cols, dst);
            }
        }
    }

    /// # Safety
    /// As `super::gemm_f32`, plus: the CPU has AVX-512F (checked by `Isa::detect`).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gemm_f32(
        a: &[f32],
        rows: Range<usize>,
        w: &PackedF32,
        panels: Range<usize>,
        epi: Epilogue,
        out: &SharedMat,
    ) {
        let k = w.k;
        let d = w.data.as_slice().as_ptr();
        for p in panels {
            let cols = (w.n - p * NR).min(NR);
            // SAFETY: p < panels() so the panel and its bias exist; rows are in bounds
            // of `a` and `out` (checked by the wrapper).
            unsafe {
                let b = d.add(p * k * NR);
                let bias = w.bias.as_ptr().add(p * NR);
                let mut r = rows.start;
                while r < rows.end {
                    let left = rows.end - r;
                    let tile = balanced_tile(left);
                    let ap = a.as_ptr().add(r * k);
                    let args = (ap, k, b, k, bias, epi, r, p * NR, cols, out);
                    match tile {
                        6 => tile_f32::<6>(
                            args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8,
                            args.9,
                        ),
                        5 => tile_f32::<5>(
                            args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8,
                            args.9,
                        ),
                        4 => tile_f32::<4>(
                            args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8,
                            args.9,
                        ),
                        3 => tile_f32::<3>(
                            args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8,
                            args.9,
                        ),
                        2 => tile_f32::<2>(
                            args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8,
                            args.9,
                        ),
                        _ => tile_f32::<1>(
                            args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8,
                            args.9,
                        ),
                    }
                    r += tile;
                }
            }
        }
    }

    /// Int8 tile: `R` rows × one panel with `vpdpbusd`.
    ///
    /// # Safety
    /// `a` points at the tile's first quantised row (stride `kp`), `b` at a 64-byte
    /// aligned int8 panel of `kp·64` bytes; `scale`, `colsum`, `bias` cover the panel's 64
    /// columns; the rest as `store_row`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_i8<const R: usize>(
        a: *const u8,
        kp: usize,
        b: *const i8,
        qa: &QuantRows,
        w: &PackedI8,
        p: usize,
        epi: Epilogue,
        row0: usize,
        cols: usize,
        out: &SharedMat,
    ) {
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        for g in 0..kp / 4 {
            // SAFETY: g < kp/4: the loads stay inside the panel (256 bytes per group) and
            // each 4-byte broadcast inside its row.
            unsafe {
                let bp = b.add(g * 4 * NR) as *const __m512i;
                let b0 = _mm512_load_si512(bp);
                let b1 = _mm512_load_si512(bp.add(1));
                let b2 = _mm512_load_si512(bp.add(2));
                let b3 = _mm512_load_si512(bp.add(3));
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_epi32(std::ptr::read_unaligned(
                        a.add(r * kp + g * 4) as *const i32
                    ));
                    acc_r[0] = _mm512_dpbusd_epi32(acc_r[0], x, b0);
                    acc_r[1] = _mm512_dpbusd_epi32(acc_r[1], x, b1);
                    acc_r[2] = _mm512_dpbusd_epi32(acc_r[2], x, b2);
                    acc_r[3] = _mm512_dpbusd_epi32(acc_r[3], x, b3);
                }
            }
        }
        let col0 = p * NR;
        for (r, acc_r) in acc.iter().enumerate() {
            let row = row0 + r;
            let za = _mm512_set1_epi32(qa.zero[row]);
            let sa = _mm512_set1_ps(qa.scale[row]);
            let mut f = [_mm512_setzero_ps(); 4];
            for v in 0..4 {
                // SAFETY: the panel's 64 columns of colsum and scale exist (padded).
                unsafe {
                    let cs =
                        _mm512_loadu_si512(w.colsum.as_ptr().add(col0 + v * 16) as *const __m512i);
                    let sw = _mm512_loadu_ps(w.scale.as_ptr().add(col0 + v * 16));
                    let x = _mm512_sub_epi32(acc_r[v], _mm512_mullo_epi32(za, cs));
                    f[v] = _mm512_mul_ps(_mm512_cvtepi32_ps(x), _mm512_mul_ps(sw, sa));
                }
            }
            // SAFETY: row < out.rows (the caller's tile), columns per `cols`.
            unsafe {
                let dst = out.ptr_at(row, col0);
                store_row(
                    f,
                    w.bias.as_ptr().add(col0),
                    epi,
                    row,
                    col0,
                    out.cols(),
                    cols,
                    dst,
                );
            }
        }
    }

    /// # Safety
    /// As `super::gemm_i8`, plus: the CPU has AVX-512F/BW and VNNI (`Isa::detect`).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn gemm_i8(
        qa: &QuantRows,
        rows: Range<usize>,
        w: &PackedI8,
        panels: Range<usize>,
        epi: Epilogue,
        out: &SharedMat,
    ) {
        let kp = w.kp;
        let d = w.data.as_slice().as_ptr();
        let qd = qa.data.as_slice().as_ptr();
        for p in panels {
            let cols = (w.n - p * NR).min(NR);
            // SAFETY: p < panels(); rows in bounds of `qa` and `out` (wrapper checks).
            unsafe {
                let b = d.add(p * kp * NR);
                let mut r = rows.start;
                while r < rows.end {
                    let left = rows.end - r;
                    let tile = balanced_tile(left);
                    let ap = qd.add(r * kp);
                    match tile {
                        6 => tile_i8::<6>(ap, kp, b, qa, w, p, epi, r, cols, out),
                        5 => tile_i8::<5>(ap, kp, b, qa, w, p, epi, r, cols, out),
                        4 => tile_i8::<4>(ap, kp, b, qa, w, p, epi, r, cols, out),
                        3 => tile_i8::<3>(ap, kp, b, qa, w, p, epi, r, cols, out),
                        2 => tile_i8::<2>(ap, kp, b, qa, w, p, epi, r, cols, out),
                        _ => tile_i8::<1>(ap, kp, b, qa, w, p, epi, r, cols, out),
                    }
                    r += tile;
                }
            }
        }
    }
}

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

    fn isas() -> Vec<Isa> {
        let mut v = vec![Isa::Scalar];
        if Isa::detect() == Isa::Avx512 {
            v.push(Isa::Avx512);
        }
        v
    }

    // Shapes include sizes that are not multiples of 4, 6, 16 or 64.
    const SHAPES: [(usize, usize, usize); 6] = [
        (1, 1, 1),
        (15, 384, 384),
        (7, 37, 70),
        (13, 130, 17),
        (31, 96, 200),
        (6, 1536, 64),
    ];

    #[test]
    fn f32_kernels_match_a_naive_matmul() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for isa in isas() {
            for &(m, k, n) in &SHAPES {
                let a = random(&mut rng, m * k, 1.0);
                let w = random(&mut rng, n * k, 0.1);
                let bias = random(&mut rng, n, 0.5);
                let res = random(&mut rng, m * n, 1.0);
                let packed = PackedF32::pack(&w, &bias, n, k);
                let want = naive(&a, &w, &bias, m, n, k);
                for epi in ["none", "gelu", "residual"] {
                    let mut buf = vec![f32::NAN; m * n];
                    let out = SharedMat::new(&mut buf, m, n);
                    let e = match epi {
                        "gelu" => Epilogue::Gelu,
                        "residual" => Epilogue::Residual(&res),
                        _ => Epilogue::None,
                    };
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

    #[test]
    fn int8_kernels_match_a_naive_matmul_within_quantisation_error() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let isas = isas();
        for &(m, k, n) in &SHAPES {
            // Skewed activations (as after GELU) exercise the zero point.
            let a: Vec<f32> = random(&mut rng, m * k, 1.0)
                .into_iter()
                .map(|x| if x < 0.0 { x * 0.1 } else { x * 3.0 })
                .collect();
            let w = random(&mut rng, n * k, 0.1);
            let bias = random(&mut rng, n, 0.5);
            let packed = PackedI8::quantize(&w, &bias, n, k);
            let mut qa = QuantRows::default();
            qa.quantize(Isa::Scalar, &a, m, k);
            if Isa::detect() == Isa::Avx512 {
                let mut qv = QuantRows::default();
                qv.quantize(Isa::Avx512, &a, m, k);
                assert_eq!(
                    qa.data.as_slice()[..m * qa.kp],
                    qv.data.as_slice()[..m * qv.kp]
                );
                assert_eq!(qa.scale, qv.scale);
                assert_eq!(qa.zero, qv.zero);
            }
            let want = naive(&a, &w, &bias, m, n, k);
            let mut results = Vec::new();
            for &isa in &isas {
                let mut buf = vec![f32::NAN; m * n];
                let out = SharedMat::new(&mut buf, m, n);
                unsafe {
                    gemm_i8(
                        isa,
                        &qa,
                        0..m,
                        &packed,
                        0..packed.panels(),
                        Epilogue::None,
                        &out,
                    )
                };
                // Error bound: each product carries at most half a step of each factor.
                for r in 0..m {
                    let amax = a[r * k..(r + 1) * k]
                        .iter()
                        .fold(0f32, |x, y| x.max(y.abs()));
                    for c in 0..n {
                        let wmax = w[c * k..(c + 1) * k]
                            .iter()
                            .fold(0f32, |x, y| x.max(y.abs()));
                        let bound = k as f64
                            * (amax as f64 * wmax as f64 / 127.0
                                + wmax as f64 * amax as f64 / 127.0)
                            * 0.5
                            + 1e-4;
                        let got = buf[r * n + c] as f64;
                        let e = (got - want[r * n + c]).abs();
                        assert!(
                            e <= bound,
                            "{isa:?} {m}x{k}x{n} [{r},{c}]: {got} vs {}",
                            want[r * n + c]
                        );
                    }
                }
                results.push(buf);
            }
            // Scalar and VNNI compute the same integers: identical up to float rounding.
            if results.len() == 2 {
                for (x, y) in results[0].iter().zip(&results[1]) {
                    assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{x} vs {y}");
                }
            }
            // The typical error is far below the worst case: relative RMS under 2%.
            let got = &results[0];
            let num: f64 = got
                .iter()
                .zip(&want)
                .map(|(g, w)| (*g as f64 - w).powi(2))
                .sum();
            let den: f64 = want.iter().map(|w| w * w).sum();
            assert!(
                num.sqrt() <= 0.02 * den.sqrt() + 1e-3,
                "{m}x{k}x{n}: rel rms {}",
                (num / den).sqrt()
            );
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
