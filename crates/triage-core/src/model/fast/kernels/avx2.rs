//! 256-bit kernels: the `avx2` tier (AVX2 + FMA) and the `avxvnni` tier (the same with a
//! 256-bit `vpdpbusd`).
//!
//! The panels are the AVX-512 kernels' (64 columns); a 256-bit register holds 8 floats,
//! so a tile covers 16 of the 64 columns (2 registers) and the kernel walks a panel's 4
//! column blocks in turn. Each block is packed whole (`Isa::panel_block` = 16): with the
//! AVX-512 layout a block's weights sat at a 256-byte stride and the tile stalled on
//! their loads (38% of the int8 kernel's samples on one `vmovdqa` at batch 1). Register
//! budget (16 ymm):
//! - f32: 6 rows × 2 accumulators + 2 weight vectors + 1 broadcast = 15 (the 6×16 tile
//!   of BLIS's Haswell kernel);
//! - int8 with `vpmaddubsw`: every 4-k group costs `vpmaddubsw` (u8·i8 pairs summed into
//!   i16) + `vpmaddwd` by ones (pairs into i32) + `vpaddd`, and needs a vector of ones
//!   and temporaries: 4 rows × 2 accumulators (14 registers in all), as ONNX Runtime's
//!   MLAS U8S8 AVX2 kernel does. Each adjacent pair of a column's weights sums to at
//!   most 128 in magnitude, so the i16 sums cannot saturate ([`Isa::int8_pair_max`]);
//! - int8 with `vpdpbusd` (VEX or EVEX, 256-bit): one instruction and no temporaries, so
//!   6 rows × 2 accumulators as for f32, and full 8-bit weights.

use super::*;
use std::arch::x86_64::*;

/// Rows per f32 tile.
const MR_F32: usize = 6;

#[inline]
#[target_feature(enable = "avx2,fma")]
fn erf_ps(x: __m256) -> __m256 {
    let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-4.0)), _mm256_set1_ps(4.0));
    let x2 = _mm256_mul_ps(x, x);
    let mut p = _mm256_set1_ps(ERF_ALPHA[0]);
    for &c in &ERF_ALPHA[1..] {
        p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(c));
    }
    let mut q = _mm256_set1_ps(ERF_BETA[0]);
    for &c in &ERF_BETA[1..] {
        q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(c));
    }
    let e = _mm256_div_ps(_mm256_mul_ps(x, p), q);
    _mm256_min_ps(_mm256_max_ps(e, _mm256_set1_ps(-1.0)), _mm256_set1_ps(1.0))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn gelu_ps(x: __m256) -> __m256 {
    let e = erf_ps(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2),
    ));
    _mm256_mul_ps(
        _mm256_mul_ps(_mm256_set1_ps(0.5), x),
        _mm256_add_ps(_mm256_set1_ps(1.0), e),
    )
}

/// Lane mask of the first `lanes` (0..=8) of 8 floats, for `maskload`/`maskstore`.
#[inline]
#[target_feature(enable = "avx2")]
fn lane_mask(lanes: usize) -> __m256i {
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(lanes as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// # Safety
/// The CPU has AVX2; `p` points at `lanes` (≤ 8) readable floats.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_partial(p: *const f32, lanes: usize) -> __m256 {
    // SAFETY: per the contract; the masked load touches only the first `lanes`.
    unsafe {
        if lanes >= 8 {
            _mm256_loadu_ps(p)
        } else {
            _mm256_maskload_ps(p, lane_mask(lanes))
        }
    }
}

/// # Safety
/// The CPU has AVX2; `p` points at `lanes` (≤ 8) writable floats.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_partial(p: *mut f32, x: __m256, lanes: usize) {
    // SAFETY: per the contract; the masked store touches only the first `lanes`.
    unsafe {
        if lanes >= 8 {
            _mm256_storeu_ps(p, x)
        } else {
            _mm256_maskstore_ps(p, lane_mask(lanes), x)
        }
    }
}

/// Smallest and largest element.
///
/// # Safety
/// The CPU has AVX2 + FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn min_max(row: &[f32]) -> (f32, f32) {
    let mut lo = _mm256_set1_ps(f32::INFINITY);
    let mut hi = _mm256_set1_ps(f32::NEG_INFINITY);
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        // SAFETY: `c` holds exactly 8 floats.
        let x = unsafe { _mm256_loadu_ps(c.as_ptr()) };
        lo = _mm256_min_ps(lo, x);
        hi = _mm256_max_ps(hi, x);
    }
    let mut l = [0f32; 8];
    let mut h = [0f32; 8];
    // SAFETY: two 8-float stack arrays.
    unsafe {
        _mm256_storeu_ps(l.as_mut_ptr(), lo);
        _mm256_storeu_ps(h.as_mut_ptr(), hi);
    }
    let mut lo = l.iter().copied().fold(f32::INFINITY, f32::min);
    let mut hi = h.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for &x in chunks.remainder() {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    (lo, hi)
}

/// `out[i] = clamp(round_even(row[i]·inv + z), 0, max)`, bit for bit as the scalar code.
///
/// # Safety
/// The CPU has AVX2 + FMA; `out` is at least as long as `row`.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn quantize_row(row: &[f32], inv: f32, z: f32, max: u8, out: &mut [u8]) {
    assert!(out.len() >= row.len());
    let (vi, vz) = (_mm256_set1_ps(inv), _mm256_set1_ps(z));
    let vmax = _mm256_set1_epi32(max as i32);
    // The two narrowing packs interleave 128-bit lanes; this puts the 4-byte groups
    // back in order.
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let n = row.len();
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: 32 floats of `row` and 32 bytes of `out` from `i` are in bounds. The
        // conversion rounds to nearest even (the default MXCSR mode, which Rust keeps);
        // the signed-to-unsigned saturating packs clamp to [0, 255] as the scalar code.
        unsafe {
            let p = row.as_ptr().add(i);
            macro_rules! q {
                ($o:expr) => {
                    _mm256_min_epi32(
                        _mm256_cvtps_epi32(_mm256_fmadd_ps(_mm256_loadu_ps(p.add($o)), vi, vz)),
                        vmax,
                    )
                };
            }
            let (q0, q1, q2, q3) = (q!(0), q!(8), q!(16), q!(24));
            let w01 = _mm256_packus_epi32(q0, q1);
            let w23 = _mm256_packus_epi32(q2, q3);
            let b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23), order);
            _mm256_storeu_si256(out.as_mut_ptr().add(i) as *mut __m256i, b);
        }
        i += 32;
    }
    for (o, &x) in out[i..n].iter_mut().zip(&row[i..]) {
        *o = x.mul_add(inv, z).round_ties_even().clamp(0.0, max as f32) as u8;
    }
}

/// Rows of the next tile: the rows left split into equal tiles of at most `max`.
fn balanced_tile(left: usize, max: usize) -> usize {
    let tiles = left.div_ceil(max);
    left.div_ceil(tiles)
}

/// Bias, epilogue and store of one tile row's 2 vectors (16 columns, `lanes` valid).
///
/// # Safety
/// `dst` points at row `r`, column `col0` of `out`, whose `lanes` (≤ 16) columns from
/// there are ours; `bias` covers 16 floats; the residual (if any) covers row `r` (checked
/// by the public wrappers).
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn store_row(
    acc: [__m256; 2],
    bias: *const f32,
    epi: Epilogue,
    r: usize,
    col0: usize,
    ld: usize,
    lanes: usize,
    dst: *mut f32,
) {
    for (v, &a) in acc.iter().enumerate() {
        let l = lanes.saturating_sub(v * 8).min(8);
        if l == 0 {
            break;
        }
        // SAFETY: per the function contract; only the first `l` lanes are touched.
        unsafe {
            let mut x = _mm256_add_ps(a, _mm256_loadu_ps(bias.add(v * 8)));
            match epi {
                Epilogue::None => {}
                Epilogue::Gelu => x = gelu_ps(x),
                Epilogue::Residual(res) => {
                    let rp = res.as_ptr().add(r * ld + col0 + v * 8);
                    x = _mm256_add_ps(x, load_partial(rp, l));
                }
            }
            store_partial(dst.add(v * 8), x, l);
        }
    }
}

/// One f32 tile: `R` rows × 16 columns.
///
/// # Safety
/// `a` points at the tile's first row (stride `lda`, `k` valid columns each), `b` at a
/// 32-byte aligned column block of `k` rows of 16 floats, the rest as `store_row`.
#[inline]
#[target_feature(enable = "avx2,fma")]
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
    lanes: usize,
    out: &SharedMat,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    for kk in 0..k {
        // SAFETY: kk < k: the two aligned loads stay inside the panel and the broadcasts
        // inside each row's k columns.
        unsafe {
            let bp = b.add(kk * 16);
            let b0 = _mm256_load_ps(bp);
            let b1 = _mm256_load_ps(bp.add(8));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let x = _mm256_set1_ps(*a.add(r * lda + kk));
                acc_r[0] = _mm256_fmadd_ps(x, b0, acc_r[0]);
                acc_r[1] = _mm256_fmadd_ps(x, b1, acc_r[1]);
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        // SAFETY: row0 + r < out.rows (the caller's tile), columns per `lanes`.
        unsafe {
            let dst = out.ptr_at(row0 + r, col0);
            store_row(*acc_r, bias, epi, row0 + r, col0, out.cols(), lanes, dst);
        }
    }
}

/// # Safety
/// As `super::gemm_f32`, plus: the CPU has AVX2 + FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn gemm_f32(
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
        for blk in 0..cols.div_ceil(16) {
            let lanes = (cols - blk * 16).min(16);
            let col0 = p * NR + blk * 16;
            // SAFETY: p < panels() so the panel and its padded bias exist; rows are in
            // bounds of `a` and `out` (checked by the wrapper).
            unsafe {
                let b = d.add(p * k * NR + blk * k * 16);
                let bias = w.bias.as_ptr().add(col0);
                let mut r = rows.start;
                while r < rows.end {
                    let tile = balanced_tile(rows.end - r, MR_F32);
                    let ap = a.as_ptr().add(r * k);
                    macro_rules! go {
                        ($rows:literal) => {
                            tile_f32::<$rows>(ap, k, b, k, bias, epi, r, col0, lanes, out)
                        };
                    }
                    match tile {
                        6 => go!(6),
                        5 => go!(5),
                        4 => go!(4),
                        3 => go!(3),
                        2 => go!(2),
                        _ => go!(1),
                    }
                    r += tile;
                }
            }
        }
    }
}

/// Integer results of one int8 tile row into floats: `(acc − za·Σq)·sa·sw`, then bias,
/// epilogue and store.
///
/// # Safety
/// As `store_row`; `w`'s colsum and scale cover `col0..col0 + 16` (padded panels).
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn store_row_i8(
    acc: [__m256i; 2],
    qa: &QuantRows,
    w: &PackedI8,
    epi: Epilogue,
    row: usize,
    col0: usize,
    lanes: usize,
    out: &SharedMat,
) {
    let za = _mm256_set1_epi32(qa.zero[row]);
    let sa = _mm256_set1_ps(qa.scale[row]);
    let mut f = [_mm256_setzero_ps(); 2];
    for v in 0..2 {
        // SAFETY: the panel's 64 columns of colsum and scale exist (padded).
        unsafe {
            let cs = _mm256_loadu_si256(w.colsum.as_ptr().add(col0 + v * 8) as *const __m256i);
            let sw = _mm256_loadu_ps(w.scale.as_ptr().add(col0 + v * 8));
            let x = _mm256_sub_epi32(acc[v], _mm256_mullo_epi32(za, cs));
            f[v] = _mm256_mul_ps(_mm256_cvtepi32_ps(x), _mm256_mul_ps(sw, sa));
        }
    }
    // SAFETY: per the contract.
    unsafe {
        let dst = out.ptr_at(row, col0);
        store_row(
            f,
            w.bias.as_ptr().add(col0),
            epi,
            row,
            col0,
            out.cols(),
            lanes,
            dst,
        );
    }
}

/// An int8 GEMM over 256-bit registers, one per way of computing 4-byte dot products:
/// `$dot(acc, x, b)` adds, per i32 lane, the products of `x`'s 4 u8 and `b`'s 4 i8.
macro_rules! int8_gemm {
    ($(#[$doc:meta])* $gemm:ident, $tile:ident, $features:literal, $rows:literal, $dot:expr) => {
        /// # Safety
        /// As `store_row_i8`; `a` points at the tile's first quantised row (stride `kp`),
        /// `b` at a 32-byte aligned int8 column block (`kp/4` groups of 64 bytes).
        #[inline]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $tile<const R: usize>(
            a: *const u8,
            kp: usize,
            b: *const i8,
            qa: &QuantRows,
            w: &PackedI8,
            epi: Epilogue,
            row0: usize,
            col0: usize,
            lanes: usize,
            out: &SharedMat,
        ) {
            let mut acc = [[_mm256_setzero_si256(); 2]; R];
            for g in 0..kp / 4 {
                // SAFETY: g < kp/4: the loads stay inside the block (64 bytes per group)
                // and each 4-byte broadcast inside its row.
                unsafe {
                    let bp = b.add(g * 64) as *const __m256i;
                    let b0 = _mm256_load_si256(bp);
                    let b1 = _mm256_load_si256(bp.add(1));
                    for (r, acc_r) in acc.iter_mut().enumerate() {
                        let x = _mm256_set1_epi32(std::ptr::read_unaligned(
                            a.add(r * kp + g * 4) as *const i32,
                        ));
                        acc_r[0] = $dot(acc_r[0], x, b0);
                        acc_r[1] = $dot(acc_r[1], x, b1);
                    }
                }
            }
            for (r, acc_r) in acc.iter().enumerate() {
                // SAFETY: row0 + r < out.rows (the caller's tile), columns per `lanes`.
                unsafe { store_row_i8(*acc_r, qa, w, epi, row0 + r, col0, lanes, out) };
            }
        }

        $(#[$doc])*
        ///
        /// # Safety
        /// As `super::gemm_i8`, plus: the CPU has this function's features.
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $gemm(
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
                for blk in 0..cols.div_ceil(16) {
                    let lanes = (cols - blk * 16).min(16);
                    let col0 = p * NR + blk * 16;
                    // SAFETY: p < panels(); rows in bounds of `qa` and `out` (wrapper
                    // checks); the block starts `blk·kp·16` bytes into the panel.
                    unsafe {
                        let b = d.add(p * kp * NR + blk * kp * 16);
                        let mut r = rows.start;
                        while r < rows.end {
                            let tile = balanced_tile(rows.end - r, $rows);
                            let ap = qd.add(r * kp);
                            macro_rules! go {
                                ($n:literal) => {
                                    $tile::<$n>(ap, kp, b, qa, w, epi, r, col0, lanes, out)
                                };
                            }
                            match tile {
                                6 => go!(6),
                                5 => go!(5),
                                4 => go!(4),
                                3 => go!(3),
                                2 => go!(2),
                                _ => go!(1),
                            }
                            r += tile;
                        }
                    }
                }
            }
        }
    };
}

/// `vpmaddubsw` + `vpmaddwd` + `vpaddd`. Exact only while no pair sum exceeds i16,
/// which the tier's pair-bounded weights guarantee.
#[inline]
#[target_feature(enable = "avx2")]
fn dot_maddubs(acc: __m256i, x: __m256i, b: __m256i) -> __m256i {
    let pairs = _mm256_maddubs_epi16(x, b);
    _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
}

#[inline]
#[target_feature(enable = "avx2,avxvnni")]
fn dot_vex(acc: __m256i, x: __m256i, b: __m256i) -> __m256i {
    _mm256_dpbusd_avx_epi32(acc, x, b)
}

#[inline]
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
fn dot_evex(acc: __m256i, x: __m256i, b: __m256i) -> __m256i {
    _mm256_dpbusd_epi32(acc, x, b)
}

int8_gemm!(
    /// Int8 GEMM on AVX2 (`vpmaddubsw`), weights quantised to 7 bits.
    gemm_i8,
    tile_i8,
    "avx2,fma",
    4,
    dot_maddubs
);
int8_gemm!(
    /// Int8 GEMM with AVX-VNNI's VEX `vpdpbusd` (Alder Lake and later, Zen 5).
    gemm_i8_vex,
    tile_i8_vex,
    "avx2,fma,avxvnni",
    6,
    dot_vex
);
int8_gemm!(
    /// Int8 GEMM with AVX-512 VNNI's EVEX `vpdpbusd` on 256-bit registers: the
    /// `avxvnni` tier on CPUs that have AVX-512 VNNI but not AVX-VNNI (Ice Lake, Zen 4).
    gemm_i8_evex,
    tile_i8_evex,
    "avx2,fma,avx512vnni,avx512vl",
    6,
    dot_evex
);

/// The `avxvnni` tier's int8 GEMM: VEX `vpdpbusd` where the CPU has it, else EVEX.
///
/// # Safety
/// As `super::gemm_i8`, plus: [`Isa::AvxVnni`] is supported.
pub(crate) unsafe fn gemm_i8_vnni(
    qa: &QuantRows,
    rows: Range<usize>,
    w: &PackedI8,
    panels: Range<usize>,
    epi: Epilogue,
    out: &SharedMat,
) {
    // SAFETY: the tier's support means one of the two encodings is present.
    unsafe {
        if crate::model::fast::isa::x86::vex_vnni() {
            gemm_i8_vex(qa, rows, w, panels, epi, out)
        } else {
            gemm_i8_evex(qa, rows, w, panels, epi, out)
        }
    }
}
