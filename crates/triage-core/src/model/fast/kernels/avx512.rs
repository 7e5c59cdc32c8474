//! AVX-512 kernels (F/BW/VL + VNNI): f32 FMA 16 wide, int8 with `vpdpbusd` on zmm.

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
pub(crate) unsafe fn min_max(row: &[f32]) -> (f32, f32) {
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
pub(crate) unsafe fn quantize_row(row: &[f32], inv: f32, z: f32, max: u8, out: &mut [u8]) {
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
            let q = _mm512_min_epi32(q, _mm512_set1_epi32(max as i32));
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
                macro_rules! go {
                    ($rows:literal) => {
                        tile_f32::<$rows>(ap, k, b, k, bias, epi, r, p * NR, cols, out)
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
                let cs = _mm512_loadu_si512(w.colsum.as_ptr().add(col0 + v * 16) as *const __m512i);
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
pub(crate) unsafe fn gemm_i8(
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
