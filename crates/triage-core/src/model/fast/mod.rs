//! The fast CPU encoder (issue 8): the same BERT forward pass as `model::bert`, written
//! over plain buffers for serving. What makes it fast at 15 tokens a sentence:
//! - weights packed once at load (candle's gemm re-packed them on every call: 36% of the
//!   time), with SIMD kernels for f32 and int8 on every x86-64 tier ([`Isa`]: AVX-512
//!   VNNI, 256-bit VNNI, AVX2), chosen at start-up;
//! - no padding: a batch's tokens are stacked, attention runs per sentence;
//! - one persistent thread pool and one job per batch, with spin barriers between
//!   phases instead of a rayon fork/join per operation;
//! - buffers kept between calls.
//!
//! Besides sentence embeddings it returns per-token hidden states after the first `k`
//! layers (`FastEncoder::hidden_after`, f32 only): training's frozen-layer cache.
//!
//! `Precision::F32` reproduces the candle encoder (cosine ≥ 0.9999, tested);
//! `Precision::Int8` quantises the linear layers' weights per output column at load and
//! their inputs per row at run time, except the first layer's feed-forward (f32).

mod forward;
mod isa;
mod kernels;
mod ops;
mod pool;
mod shared;
mod weights;

use super::backend::{Backend, BackendError};
use super::bert::BertModel;
use super::tokenize::Encoded;
use crate::cause::Detail;
use forward::{Batch, Mats, Output, Pass, Private};
pub use isa::{Isa, IsaUnavailable};
pub use weights::WeightsError;

/// Why the fast encoder could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FastError {
    #[error(transparent)]
    Isa(#[from] IsaUnavailable),
    #[error("cannot pack the model's weights for the fast encoder")]
    Weights(#[from] WeightsError),
}
use ndarray::Array2;
use pool::Pool;
use serde::{Deserialize, Serialize};
use shared::SharedMat;
use std::sync::Mutex;
use weights::Weights;

/// Arithmetic of the fast encoder's linear layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    Int8,
}

/// Which encoder serves a bundle: candle (the reference, what training back-propagates
/// through), the fast path in f32 or int8, or `auto`: int8 on the best SIMD tier of this
/// CPU, and candle where we have no SIMD tier (ARM, x86 without AVX2), since our scalar
/// kernels are slower than candle's own SIMD matmul there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    Candle,
    F32,
    Int8,
    #[default]
    Auto,
}

impl EncoderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EncoderKind::Candle => "candle",
            EncoderKind::F32 => "f32",
            EncoderKind::Int8 => "int8",
            EncoderKind::Auto => "auto",
        }
    }

    /// What `auto` means on a CPU whose best usable tier is `isa`; other kinds are
    /// themselves.
    pub fn resolve(self, isa: Isa) -> EncoderKind {
        match self {
            EncoderKind::Auto if isa.is_simd() => EncoderKind::Int8,
            EncoderKind::Auto => EncoderKind::Candle,
            k => k,
        }
    }

    /// Names the encoder's numerics in cache keys: a change to what an encoder computes
    /// (int8's f32 first-layer feed-forward; pair-bounded weights on the AVX2 tier) gets a new
    /// tag, so no stale vectors are read. `self` must be resolved (not `auto`).
    fn cache_tag(self, isa: Isa) -> &'static str {
        match self {
            EncoderKind::Candle | EncoderKind::Auto => "candle",
            EncoderKind::F32 => "f32",
            EncoderKind::Int8 if isa.int8_activation_max() < 255 => "int8-a7-ffn0-f32",
            EncoderKind::Int8 if isa.int8_pair_max().is_some() => "int8-wpair-ffn0-f32",
            EncoderKind::Int8 => "int8-ffn0-f32",
        }
    }

    /// The fast encoder's arithmetic, or `None` for candle. `self` must be resolved.
    pub fn precision(self) -> Option<Precision> {
        match self {
            EncoderKind::Candle | EncoderKind::Auto => None,
            EncoderKind::F32 => Some(Precision::F32),
            EncoderKind::Int8 => Some(Precision::Int8),
        }
    }
}

impl std::str::FromStr for EncoderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "candle" => Ok(EncoderKind::Candle),
            "f32" => Ok(EncoderKind::F32),
            "int8" => Ok(EncoderKind::Int8),
            "auto" => Ok(EncoderKind::Auto),
            _ => Err(format!("unknown encoder {s:?} (auto, candle, f32 or int8)")),
        }
    }
}

/// The encoder a classifier runs, as `/info`, `/metrics` and the start-up log name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EncoderInfo {
    /// Resolved: never `auto`.
    pub kind: EncoderKind,
    /// The kernel tier of the fast encoder; `None` for candle.
    pub isa: Option<Isa>,
    /// Threads of the fast encoder's pool (candle: its rayon pool, not counted here).
    pub(crate) threads: Option<usize>,
}

impl EncoderInfo {
    pub(crate) fn candle() -> Self {
        Self {
            kind: EncoderKind::Candle,
            isa: None,
            threads: None,
        }
    }

    /// The tag that names these numerics in embedding caches.
    pub fn cache_tag(&self) -> &'static str {
        self.kind.cache_tag(self.isa.unwrap_or(Isa::Scalar))
    }
}

#[derive(Default)]
struct Scratch {
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    sum: Vec<f32>,
    ffn: Vec<f32>,
    privates: Vec<Mutex<Private>>,
}

fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

pub struct FastEncoder {
    weights: Weights,
    precision: Precision,
    isa: Isa,
    pool: Pool,
    scratch: Mutex<Scratch>,
}

impl FastEncoder {
    /// Packs (and for int8 quantises) `model`'s weights for the best tier of this CPU;
    /// `threads` = 0 uses every core.
    pub fn new(model: &BertModel, precision: Precision, threads: usize) -> Result<Self, FastError> {
        Self::with_isa(model, precision, threads, Isa::best())
    }

    /// As `new` on a chosen tier (a lower one than the best: tests and benchmarks run
    /// every tier the machine has). A tier the CPU lacks is an error.
    pub fn with_isa(
        model: &BertModel,
        precision: Precision,
        threads: usize,
        isa: Isa,
    ) -> Result<Self, FastError> {
        let isa = Isa::resolve(Some(isa))?;
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        let weights = Weights::from_bert(model, precision, isa)?;
        let pool = Pool::new(threads);
        let scratch = Scratch {
            privates: (0..pool.threads()).map(|_| Mutex::default()).collect(),
            ..Default::default()
        };
        if isa == Isa::Scalar {
            tracing::warn!("the fast encoder runs scalar kernels (no SIMD tier of ours here or one forced): expect it to be slower than candle");
        }
        Ok(Self {
            weights,
            precision,
            isa,
            pool,
            scratch: Mutex::new(scratch),
        })
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn threads(&self) -> usize {
        self.pool.threads()
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Per-token hidden states after the first `k` layers, one `[len·h]` vector per item
    /// in input order: what candle's `BertModel::hidden_after` returns, without padding
    /// (k = 0: the embeddings' layer-normed output; k above the model's depth: all
    /// layers, as there). Training caches these for its frozen lower layers.
    ///
    /// f32 only: int8 would change the numbers training learns from, so an int8 encoder
    /// refuses rather than quietly caching different states.
    pub fn hidden_after(
        &self,
        batch: &[&Encoded],
        k: usize,
    ) -> Result<Vec<Vec<f32>>, BackendError> {
        if self.precision != Precision::F32 {
            return Err(BackendError(
                "per-token hidden states need the f32 fast encoder (int8 changes them)".into(),
            ));
        }
        let pass = Pass {
            layers: k,
            output: Output::Tokens,
        };
        let h = self.weights.hidden;
        let flat = self.run(batch, pass)?;
        let mut rest = flat.as_slice();
        Ok(batch
            .iter()
            .map(|e| {
                let (mine, tail) = rest.split_at(e.len() * h);
                rest = tail;
                mine.to_vec()
            })
            .collect())
    }

    /// One pool job over `batch`: `[batch, h]` pooled embeddings or `[rows, h]` token
    /// states, flat, as `pass` asks.
    fn run(&self, batch: &[&Encoded], pass: Pass) -> Result<Vec<f32>, BackendError> {
        let w = &self.weights;
        let h = w.hidden;
        let mut spans = Vec::with_capacity(batch.len());
        let mut rows = 0;
        for e in batch {
            if e.ids.len() != e.type_ids.len() {
                return Err(BackendError("ids and type ids differ in length".into()));
            }
            spans.push((rows, e.len()));
            rows += e.len();
        }
        let input = Batch {
            ids: batch.iter().map(|e| e.ids.as_slice()).collect(),
            type_ids: batch.iter().map(|e| e.type_ids.as_slice()).collect(),
            spans,
            rows,
        };
        let out_rows = match pass.output {
            Output::Pooled => batch.len(),
            Output::Tokens => rows,
        };
        let mut out = vec![0f32; out_rows * h];
        if batch.is_empty() {
            return Ok(out);
        }
        let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let s = &mut *guard;
        grow(&mut s.qkv, rows * 3 * h);
        grow(&mut s.ctx, rows * h);
        grow(&mut s.sum, rows * h);
        grow(&mut s.ffn, rows * w.inter);
        let mats = Mats {
            qkv: SharedMat::new(&mut s.qkv, rows, 3 * h),
            ctx: SharedMat::new(&mut s.ctx, rows, h),
            sum: SharedMat::new(&mut s.sum, rows, h),
            ffn: SharedMat::new(&mut s.ffn, rows, w.inter),
            out: SharedMat::new(&mut out, out_rows, h),
        };
        let privates = &s.privates;
        let n = self.pool.threads();
        let isa = self.isa;
        self.pool.run(&|t, barrier| {
            let mut p = privates[t].lock().unwrap_or_else(|e| e.into_inner());
            forward::run_thread(t, n, barrier, isa, w, &input, &mats, pass, &mut p);
        });
        Ok(out)
    }
}

impl Backend for FastEncoder {
    fn embed(&self, batch: &[&Encoded]) -> Result<Array2<f32>, BackendError> {
        let pass = Pass {
            layers: self.weights.layers.len(),
            output: Output::Pooled,
        };
        let out = self.run(batch, pass)?;
        Array2::from_shape_vec((batch.len(), self.weights.hidden), out)
            .map_err(|e| BackendError(Detail::of(e)))
    }

    fn hidden_size(&self) -> usize {
        self.weights.hidden
    }
}
