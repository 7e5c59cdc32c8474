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
//! | `avx2` | AVX2 + FMA (Haswell, Zen 1–3) | `vpmaddubsw` + `vpmaddwd`, 7-bit weights | 8-wide FMA |
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

    /// Largest magnitude of a quantised int8 weight on this tier. `vpmaddubsw` adds two
    /// u8·i8 products into a saturating i16: 255·127·2 = 64,770 would overflow, so one
    /// side must lose a bit. Both were built and measured (benches/README.md):
    /// - 7-bit weights (255·63·2 = 32,130; ONNX Runtime's `reduce_range`, oneDNN's weight
    ///   scaling): every reference embedding of both base models within cosine 0.99;
    ///   the default eval suite moved by up to 1.97 points (chnsenticorp 0.843 against
    ///   its floor of 0.845);
    /// - 7-bit activations (127·127·2 = 32,258): the suite moved by up to 0.94 points,
    ///   but one MiniLM reference embedding fell to cosine 0.985 (the bar is 0.99).
    ///
    /// The AVX2 tier ships 7-bit weights; exact i32 dot products (VNNI, scalar) keep
    /// 8 bits on both sides. [`Self::int8_activation_max`] keeps the other choice one
    /// line away.
    pub(crate) fn int8_weight_max(self) -> i8 {
        match self {
            Isa::Avx2 => 63,
            _ => 127,
        }
    }

    /// Largest quantised activation on this tier (see [`Self::int8_weight_max`]).
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
