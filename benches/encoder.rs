//! Criterion benches of the pipeline stages on banking77 test texts: tokenization, each
//! encoder (candle f32, and the fast f32 and int8 on every kernel tier this CPU runs) at
//! batch 1, 8 and 32 over the same 2,048 texts, and the heads. Criterion's `thrpt` is
//! sentences/s; groups are named `encoder_<kind>` (candle) and `encoder_<kind>_<tier>`.
//! Run: `cargo bench --bench encoder` (figures in benches/README.md);
//! `ENCODERS=candle,int8@avx2,f32@avx512` to pick encoders (a kind without a tier runs on
//! the best one; `int8@scalar` forces the scalar code), `TRIAGE_THREADS` for the fast
//! encoders' threads.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::path::PathBuf;
use triage_core::model::fast::{EncoderKind, FastEncoder, Isa};
use triage_core::model::{Backend, Bundle, Encoded};

fn texts(n: usize) -> Vec<String> {
    let root = std::env::var_os("TRIAGE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    triage_lab::data::load(&root, "banking77", triage_lab::data::Split::Test)
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

    let simd = Isa::available().into_iter().filter(|i| i.is_simd());
    let default: Vec<String> = std::iter::once("candle".to_string())
        .chain(simd.flat_map(|i| [format!("f32@{i}"), format!("int8@{i}")]))
        .collect();
    let kinds: Vec<(EncoderKind, Isa)> = std::env::var("ENCODERS")
        .map(|v| v.split(',').map(|k| k.trim().to_string()).collect())
        .unwrap_or(default)
        .iter()
        .map(|spec| {
            let (kind, isa) = spec.split_once('@').unwrap_or((spec, ""));
            let kind: EncoderKind = kind.parse().expect("ENCODERS: candle, f32, int8");
            let isa = if isa.is_empty() {
                Isa::best()
            } else {
                isa.parse().expect("ENCODERS: a tier after @")
            };
            (kind.resolve(Isa::best()), isa)
        })
        .collect();
    let threads = std::env::var("TRIAGE_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    for (kind, isa) in kinds {
        let fast;
        let (encoder, name): (&dyn Backend, String) = match kind.precision() {
            None => (&b.encoder, format!("encoder_{}", kind.as_str())),
            Some(p) => {
                fast = FastEncoder::with_isa(&b.encoder, p, threads, isa).expect("fast encoder");
                (&fast, format!("encoder_{}_{isa}", kind.as_str()))
            }
        };
        let mut g = c.benchmark_group(name);
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
