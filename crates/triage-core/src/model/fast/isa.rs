//! The SIMD tiers of the fast encoder and the one place that decides which runs.
//!
//! Why tiers rather than one build per CPU: the same binary lands on AVX-512 Xeons and
//! Zen 4, on AVX2-only Zen 2/3 and older Intel parts, and on ARM. Each tier is compiled
//! into every x86-64 build (`#[target_feature]` functions) and chosen at start-up by
//! runtime detection, so nobody has to build for their CPU. A lower tier can be forced
//! (`--isa` / `TRIAGE_ISA`), so every tier a machine has is testable on it.
//!
//! | tier | needs | int8 dot product | f32 |
//! |---|---|---|---|
//! | `avx512` | AVX-512 F/BW/VL + VNNI (Ice Lake, Sapphire Rapids, Zen 4) | `vpdpbusd` zmm | 16-wide FMA |
//! | `avxvnni` | AVX2 + FMA and 256-bit VNNI: AVX-VNNI (VEX: Alder Lake, Zen 5) or AVX-512 VNNI+VL (EVEX) | `vpdpbusd` ymm | 8-wide FMA |
//! | `avx2` | AVX2 + FMA (Haswell, Zen 1–3) | `vpmaddubsw` + `vpmaddwd`, pair-bounded weights | 8-wide FMA |
//! | `scalar` | nothing | plain Rust | plain Rust |

use serde::{Deserialize, Serialize};

/// A kernel tier, ordered from the least to the most capable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isa {
    Scalar,
    Avx2,
    AvxVnni,
    Avx512,
}

/// A forced tier the CPU cannot run.
#[derive(Debug, Clone, thiserror::Error)]
#[error("instruction set {requested} is not available on this CPU (the best here is {best})")]
pub struct IsaUnavailable {
    requested: Isa,
    best: Isa,
}

impl Isa {
    /// Every tier, least capable first.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::AvxVnni, Isa::Avx512];

    pub fn as_str(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::AvxVnni => "avxvnni",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU runs the tier's instructions (checked at run time).
    pub fn supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => x86::avx2(),
            #[cfg(target_arch = "x86_64")]
            Isa::AvxVnni => x86::avx2() && (x86::vex_vnni() || x86::evex_vnni_256()),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86::avx512(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The most capable tier this CPU runs.
    pub fn best() -> Isa {
        Isa::ALL
            .into_iter()
            .rev()
            .find(|i| i.supported())
            .unwrap_or(Isa::Scalar)
    }

    /// This tier if the CPU runs it, else scalar: what every safe entry point to a SIMD
    /// kernel dispatches on, so that no call can reach instructions the CPU lacks.
    #[inline]
    pub(crate) fn checked(self) -> Isa {
        if self.supported() {
            self
        } else {
            Isa::Scalar
        }
    }

    /// Every tier this CPU runs, scalar first (what the tests iterate over).
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.supported()).collect()
    }

    /// The tier to run: the best, or `requested` when the CPU has it.
    pub fn resolve(requested: Option<Isa>) -> Result<Isa, IsaUnavailable> {
        match requested {
            None => Ok(Isa::best()),
            Some(r) if r.supported() => Ok(r),
            Some(r) => Err(IsaUnavailable {
                requested: r,
                best: Isa::best(),
            }),
        }
    }

    /// The bound on `|q[2i]| + |q[2i+1]|`, the quantised weights of one column that
    /// `vpmaddubsw` multiplies by two activations and adds into one saturating i16, or
    /// `None` where the tier sums exactly in i32 (VNNI, scalar). With activations up to
    /// 255, 255·127·2 = 64,770 would overflow, so one side must give: the three ways
    /// built and measured (benches/README.md):
    /// - 7-bit weights (|q| ≤ 63: ONNX Runtime's `reduce_range`, oneDNN's weight
    ///   scaling): the default eval suite moved by up to 1.97 points (chnsenticorp);
    /// - 7-bit activations (u ≤ 127): up to 0.94 points, but one MiniLM reference
    ///   embedding fell to cosine 0.985 (the bar is 0.99);
    /// - **a pair-sum bound** (shipped): each column's scale is chosen so that every
    ///   adjacent pair sums to at most 32,767 / 255 = 128 in magnitude, so no i16 sum
    ///   can saturate, while a weight whose neighbour is small keeps up to 8 bits. A
    ///   column's step is `max pair / 127` instead of 7-bit's `max / 63`: the same in the
    ///   worst case (two equal extremes side by side), finer in the usual one. On the
    ///   suite against candle f32: largest move 0.80 points (7-bit weights: 1.97), mean
    ///   0.12 (0.21), 8 of 73 figures over 0.3 points (13); the AVX-512 tier: 0.90, 0.10, 5.
    pub(crate) fn int8_pair_max(self) -> Option<i32> {
        match self {
            Isa::Avx2 => Some(i16::MAX as i32 / self.int8_activation_max() as i32),
            _ => None,
        }
    }

    /// Largest quantised activation on this tier (see [`Self::int8_pair_max`]).
    pub(crate) fn int8_activation_max(self) -> u8 {
        255
    }

    /// Columns per contiguous block of a packed weight panel: a tile's width, so that
    /// a tile streams its weights sequentially (`kernels` module comment).
    pub(crate) fn panel_block(self) -> usize {
        match self {
            Isa::Avx2 | Isa::AvxVnni => 16,
            Isa::Scalar | Isa::Avx512 => 64,
        }
    }

    /// Whether the tier has SIMD kernels of ours (else the fast encoder is plain Rust,
    /// slower than candle's own SIMD matmul).
    pub fn is_simd(self) -> bool {
        self != Isa::Scalar
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Isa {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "scalar" => Ok(Isa::Scalar),
            "avx2" => Ok(Isa::Avx2),
            "avxvnni" => Ok(Isa::AvxVnni),
            "avx512" | "avx512vnni" => Ok(Isa::Avx512),
            _ => Err(format!(
                "unknown instruction set {s:?} (scalar, avx2, avxvnni or avx512)"
            )),
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::is_x86_feature_detected as has;

    pub(crate) fn avx2() -> bool {
        has!("avx2") && has!("fma")
    }

    /// AVX-VNNI: 256-bit `vpdpbusd` with a VEX encoding.
    pub(crate) fn vex_vnni() -> bool {
        has!("avxvnni")
    }

    /// AVX-512 VNNI with VL: the same 256-bit `vpdpbusd`, EVEX-encoded.
    pub(crate) fn evex_vnni_256() -> bool {
        has!("avx512vnni") && has!("avx512vl")
    }

    pub(crate) fn avx512() -> bool {
        has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512vnni") && avx2()
    }
}

#[cfg(test)]
mod tests {
    use super::Isa;

    #[test]
    fn names_round_trip_and_tiers_are_ordered() {
        for isa in Isa::ALL {
            assert_eq!(isa.as_str().parse::<Isa>().unwrap(), isa);
        }
        assert_eq!("AVX-512".parse::<Isa>().unwrap(), Isa::Avx512);
        assert!("neon".parse::<Isa>().is_err());
        assert!(Isa::Scalar < Isa::Avx2 && Isa::Avx2 < Isa::AvxVnni);
        assert!(Isa::AvxVnni < Isa::Avx512);
    }

    #[test]
    fn resolution_takes_the_best_or_a_supported_forced_tier() {
        let best = Isa::best();
        assert_eq!(Isa::resolve(None).unwrap(), best);
        assert_eq!(Isa::resolve(Some(Isa::Scalar)).unwrap(), Isa::Scalar);
        for isa in Isa::ALL {
            assert_eq!(Isa::resolve(Some(isa)).is_ok(), isa.supported());
            // Tiers are nested: whatever runs a tier runs every tier below it.
            if isa.supported() {
                assert!(Isa::ALL
                    .iter()
                    .filter(|&&i| i <= isa)
                    .all(|i| i.supported()));
            }
        }
        assert!(Isa::available().contains(&best));
    }
}
