//! Encodes banking77 test texts one at a time in a loop: a target for profilers.
//! Run: `cargo run --release --example encode_loop -- [N] [BATCH]`

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
    let started = std::time::Instant::now();
    for i in 0..n {
        let refs: Vec<&Encoded> = (0..batch)
            .map(|j| &encs[(i * batch + j) % encs.len()])
            .collect();
        bundle.encoder.embed(&refs).expect("embed");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} sentences in {secs:.2}s: {:.1} sentences/s",
        n * batch,
        (n * batch) as f64 / secs
    );
}
