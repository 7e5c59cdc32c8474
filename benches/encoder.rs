//! Criterion benches of the pipeline stages on banking77 test texts: tokenization, each
//! encoder (candle f32, fast f32, fast int8) at batch 1, 8 and 32 over the same 2,048
//! texts, and the heads. Criterion's `thrpt` is sentences/s.
//! Run: `cargo bench --bench encoder` (figures in benches/README.md);
//! `ENCODERS=f32,int8` to pick encoders, `TRIAGE_THREADS` for the fast encoders' threads.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::path::PathBuf;
use triage::model::fast::{EncoderKind, FastEncoder};
use triage::model::{Backend, Bundle, Encoded};

fn texts(n: usize) -> Vec<String> {
    let root = std::env::var_os("TRIAGE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    triage::data::load(&root, "banking77", triage::data::Split::Test)
        .expect("banking77 test split")
        .into_iter()
        .take(n)
        .map(|r| r.text)
        .collect()
}

fn bundle() -> Bundle {
    let dir = std::env::var("TRIAGE_MODEL")
        .unwrap_or_else(|_| format!("{}/models/triage-en-small", env!("CARGO_MANIFEST_DIR")));
    Bundle::load(&dir).expect("bundle loads")
}

fn benches(c: &mut Criterion) {
    let b = bundle();
    let texts = texts(2048);
    let encs: Vec<Encoded> = texts
        .iter()
        .map(|t| b.tokenizer.encode(t).unwrap())
        .collect();
    let mean_len = encs.iter().map(|e| e.len()).sum::<usize>() as f64 / encs.len() as f64;
    eprintln!("{} texts, mean {mean_len:.1} tokens", encs.len());

    let mut g = c.benchmark_group("tokenize");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("one_text", |bench| {
        bench.iter(|| {
            i = (i + 1) % texts.len();
            b.tokenizer.encode(&texts[i]).unwrap()
        })
    });
    g.finish();

    let kinds: Vec<EncoderKind> = std::env::var("ENCODERS")
        .unwrap_or_else(|_| "candle,f32,int8".into())
        .split(',')
        .map(|k| k.trim().parse().expect("ENCODERS: candle, f32, int8"))
        .collect();
    let threads = std::env::var("TRIAGE_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    for kind in kinds {
        let fast;
        let encoder: &dyn Backend = match kind.precision() {
            None => &b.encoder,
            Some(p) => {
                fast = FastEncoder::new(&b.encoder, p, threads).expect("fast encoder");
                &fast
            }
        };
        let mut g = c.benchmark_group(format!("encoder_{}", kind.as_str()));
        for batch in [1usize, 8, 32] {
            g.throughput(Throughput::Elements(batch as u64));
            let mut start = 0;
            g.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |bench, &n| {
                bench.iter(|| {
                    start = (start + n) % (encs.len() - n);
                    let refs: Vec<&Encoded> = encs[start..start + n].iter().collect();
                    encoder.embed(&refs).unwrap()
                })
            });
        }
        g.finish();
    }

    let refs: Vec<&Encoded> = encs[..32].iter().collect();
    let emb = b.encoder.embed(&refs).unwrap();
    let mut g = c.benchmark_group("heads");
    g.throughput(Throughput::Elements(32));
    for head in &b.heads {
        g.bench_function(head.spec.name.as_str(), |bench| {
            bench.iter(|| head.scores(emb.view()))
        });
    }
    g.finish();
}

criterion_group! {
    name = encoder;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = benches
}
criterion_main!(encoder);
