//! Encodes banking77 test texts in a loop: a target for profilers, and a plain throughput
//! figure without criterion.
//! Run: `cargo run --release --example encode_loop -- [N] [BATCH]`, with
//! `TRIAGE_ENCODER=candle|f32|int8` (default candle) and `TRIAGE_THREADS` (default: all
//! cores; the fast encoders only).

use triage::model::fast::{EncoderKind, FastEncoder};
use triage::model::{Backend, Bundle, Encoded};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(200);
    let batch = args.get(1).copied().unwrap_or(1);
    let dir = std::env::var("TRIAGE_MODEL").unwrap_or_else(|_| "models/triage-en-small".into());
    let bundle = Bundle::load(&dir).expect("bundle");
    let kind: EncoderKind = std::env::var("TRIAGE_ENCODER")
        .unwrap_or_else(|_| "candle".into())
        .parse()
        .expect("TRIAGE_ENCODER");
    let threads = std::env::var("TRIAGE_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let root = triage::data::default_root();
    let texts: Vec<String> = triage::data::load(&root, "banking77", triage::data::Split::Test)
        .expect("banking77")
        .into_iter()
        .map(|r| r.text)
        .collect();
    let encs: Vec<Encoded> = texts
        .iter()
        .map(|t| bundle.tokenizer.encode(t).unwrap())
        .collect();
    let encoder: Box<dyn Backend> = match kind.precision() {
        None => Box::new(bundle.encoder),
        Some(p) => Box::new(FastEncoder::new(&bundle.encoder, p, threads).expect("fast encoder")),
    };
    let started = std::time::Instant::now();
    for i in 0..n {
        let refs: Vec<&Encoded> = (0..batch)
            .map(|j| &encs[(i * batch + j) % encs.len()])
            .collect();
        encoder.embed(&refs).expect("embed");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} batch {batch}: {} sentences in {secs:.2}s: {:.1} sentences/s",
        kind.as_str(),
        n * batch,
        (n * batch) as f64 / secs
    );
}
