//! Encodes banking77 test texts in a loop: a target for profilers, and a plain throughput
//! figure without criterion.
//! Run: `cargo run --release --example encode_loop -- [N] [BATCH]`, with
//! `TRIAGE_ENCODER=auto|candle|f32|int8` (default candle), `TRIAGE_ISA=scalar|avx2|
//! avxvnni|avx512` (default: the best this CPU runs) and `TRIAGE_THREADS` (default: all
//! cores; the fast encoders only).

use triage_core::model::fast::{EncoderKind, FastEncoder, Isa};
use triage_core::model::{Backend, Bundle, Encoded};

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
    let isa: Isa = match std::env::var("TRIAGE_ISA") {
        Ok(v) => v.parse().expect("TRIAGE_ISA"),
        Err(_) => Isa::best(),
    };
    let kind = kind.resolve(isa);
    let threads = std::env::var("TRIAGE_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let root = triage_lab::data::default_root();
    let texts: Vec<String> =
        triage_lab::data::load(&root, "banking77", triage_lab::data::Split::Test)
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
        Some(p) => {
            Box::new(FastEncoder::with_isa(&bundle.encoder, p, threads, isa).expect("fast encoder"))
        }
    };
    let cpu0 = cpu_secs();
    let started = std::time::Instant::now();
    for i in 0..n {
        let refs: Vec<&Encoded> = (0..batch)
            .map(|j| &encs[(i * batch + j) % encs.len()])
            .collect();
        encoder.embed(&refs).expect("embed");
    }
    let secs = started.elapsed().as_secs_f64();
    // CPU time of the loop: on a busy machine, sentences per CPU-second still compare
    // tiers (wall-clock figures need an idle one).
    let cpu = cpu_secs().zip(cpu0).map(|(b, a)| b - a);
    println!(
        "{} ({}) batch {batch}: {} sentences in {secs:.2}s: {:.1} sentences/s{}",
        kind.as_str(),
        if kind.precision().is_some() {
            isa.as_str()
        } else {
            "-"
        },
        n * batch,
        (n * batch) as f64 / secs,
        cpu.map_or(String::new(), |c| format!(
            ", {:.1} sentences per CPU-second",
            (n * batch) as f64 / c.max(1e-9)
        ))
    );
}

/// User + system CPU seconds of this process (Linux `/proc/self/stat`, 100 ticks/s).
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
