//! Time to build training's frozen-layer cache both ways, side by side: candle's padded
//! `hidden_after` (what `triage train` used before `frozen_encoder = "fast"`) against the
//! fast f32 encoder's `hidden_after` on every SIMD tier this CPU runs, over the same
//! banking77 + clinc150 training texts, tokenised beforehand, in the recipe's batches of
//! 64 sorted by length, with the lower 8 of 12 layers of the multilingual e5 base (the
//! `triage-multi-small` recipe).
//!
//! Run from the repository root:
//!   RAYON_NUM_THREADS=2 cargo run --release --example frozen_cache -- [N] [K] [THREADS]
//! (defaults: 2000 texts, k = 8, 2 threads for the fast encoder; candle's matmul threads
//! come from RAYON_NUM_THREADS). Also prints the smallest per-token cosine and largest
//! absolute difference against candle, so a fast figure from broken numbers shows.

use std::time::Instant;
use triage_core::model::backend::candle_hidden_after;
use triage_core::model::fast::{FastEncoder, Isa, Precision};
use triage_core::model::{Bundle, Encoded, TextTokenizer};

const BASE: &str = "../shared/models/multilingual-e5-small-zh-en";
const BATCH: usize = 64;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(2000);
    let k = args.get(1).copied().unwrap_or(8);
    let threads = args.get(2).copied().unwrap_or(2);
    let mut bundle = Bundle::load(BASE).expect("multilingual base model");
    // The recipe's prefix and length limit, as `finetune::run` sets them.
    bundle.tokenizer =
        TextTokenizer::from_file(&bundle.files.tokenizer, 128, "query: ").expect("tokenizer");
    let root = triage_lab::data::default_root();
    let mut texts = Vec::new();
    for name in ["banking77", "clinc150"] {
        let records =
            triage_lab::data::load(&root, name, triage_lab::data::Split::Train).expect("data set");
        // An even spread over each split (they are grouped by label).
        let step = (records.len() / (n / 2).max(1)).max(1);
        texts.extend(
            records
                .into_iter()
                .step_by(step)
                .take(n / 2)
                .map(|r| r.text),
        );
    }
    let mut encs: Vec<Encoded> = texts
        .iter()
        .map(|t| bundle.tokenizer.encode(t).expect("tokenise"))
        .collect();
    encs.sort_by_key(Encoded::len);
    let batches: Vec<Vec<&Encoded>> = encs.chunks(BATCH).map(|c| c.iter().collect()).collect();
    let tokens: usize = encs.iter().map(Encoded::len).sum();
    let cpu = if Isa::Avx512.supported() {
        "avx512_vnni"
    } else if Isa::Avx2.supported() {
        "avx2"
    } else {
        "no avx2"
    };
    println!(
        "{} texts ({tokens} tokens), k = {k} of {} layers, batches of {BATCH}, CPU {cpu}",
        encs.len(),
        bundle.encoder.num_layers()
    );

    let started = Instant::now();
    let want: Vec<Vec<f32>> = batches
        .iter()
        .flat_map(|b| candle_hidden_after(&bundle.encoder, b, k).expect("candle"))
        .collect();
    let candle_rate = encs.len() as f64 / started.elapsed().as_secs_f64();
    println!("candle            {candle_rate:8.1} texts/s");

    let h = bundle.config.hidden_size;
    for isa in Isa::available().into_iter().rev().filter(|i| i.is_simd()) {
        let fast = FastEncoder::with_isa(&bundle.encoder, Precision::F32, threads, isa)
            .expect("fast encoder");
        let started = Instant::now();
        let got: Vec<Vec<f32>> = batches
            .iter()
            .flat_map(|b| fast.hidden_after(b, k).expect("fast"))
            .collect();
        let rate = encs.len() as f64 / started.elapsed().as_secs_f64();
        let (mut min_cos, mut max_abs) = (1f64, 0f32);
        for (g, w) in got.iter().zip(&want) {
            for (a, b) in g.chunks(h).zip(w.chunks(h)) {
                min_cos = min_cos.min(cosine(a, b));
                max_abs = a
                    .iter()
                    .zip(b)
                    .fold(max_abs, |m, (x, y)| m.max((x - y).abs()));
            }
        }
        println!(
            "fast f32 {:<8} {rate:8.1} texts/s  {:5.2}x candle  (min cosine {min_cos:.6}, max abs {max_abs:.1e})",
            isa.as_str(),
            rate / candle_rate
        );
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}
