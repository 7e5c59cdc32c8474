//! Knowledge-base search latency over 1k, 10k and 100k synthetic articles, excluding the
//! encoder: query vectors are random (normalised, near one of the article clusters), as
//! the serving path passes in an embedding it already has.
//!
//! Articles: one embedding row each (384 dimensions, like the shipped bundle), drawn
//! around 500 random cluster centres; a six-word title from a 5,000-word vocabulary for
//! BM25; one of 77 intents. Queries: four words, a predicted intent at confidence 0.9,
//! agent mode, k = 3. Bases above `approx_above` (20,000 rows by default) use HNSW; the
//! bench also reports how often HNSW returns the exact search's top article.
//!
//! Run: `cargo bench --bench kb_search` (`KB_BENCH_SIZES=1000,10000` to pick sizes,
//! `KB_BENCH_QUERIES=N` for the number of timed queries, default 1,000).

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::time::Instant;
use triage_core::kb::{
    Article, ArticleType, EmbedError, Embedder, KbOptions, KnowledgeBase, Mode, Query,
};

const DIM: usize = 384;
const CLUSTERS: usize = 500;
const VOCAB: usize = 5_000;
const INTENTS: usize = 77;

/// Hands out the pre-drawn vector of each title.
struct Synthetic {
    rows: HashMap<String, Vec<f32>>,
}

impl Embedder for Synthetic {
    fn embed(&self, texts: &[String]) -> Result<Array2<f32>, EmbedError> {
        let mut out = Array2::zeros((texts.len(), DIM));
        for (i, t) in texts.iter().enumerate() {
            let v = self
                .rows
                .get(t)
                .ok_or_else(|| EmbedError(format!("no vector for {t:?}").into()))?;
            out.row_mut(i).assign(&Array1::from(v.clone()));
        }
        Ok(out)
    }
    fn fingerprint(&self) -> String {
        "synthetic".into()
    }
}

fn unit(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}

fn near(center: &[f32], noise: f32, rng: &mut StdRng) -> Vec<f32> {
    let mut v: Vec<f32> = center
        .iter()
        .map(|c| c + noise * rng.gen_range(-1.0f32..1.0))
        .collect();
    unit(&mut v);
    v
}

fn word(rng: &mut StdRng) -> String {
    // Zipf-like: low ids are far more frequent, as in real text.
    let r: f64 = rng.gen_range(0.0..1.0);
    format!("w{}", ((VOCAB as f64).powf(r) as usize).min(VOCAB - 1))
}

fn main() {
    let sizes: Vec<usize> = std::env::var("KB_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let n_queries: usize = std::env::var("KB_BENCH_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let mut rng = StdRng::seed_from_u64(6);
    let centers: Vec<Vec<f32>> = (0..CLUSTERS)
        .map(|_| {
            let mut v: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            unit(&mut v);
            v
        })
        .collect();
    let date = triage_core::kb::article::parse_date("2026-11-01").expect("date");
    println!("| articles | index | build s | p50 ms | p90 ms | p99 ms | top-1 = exact | exact top-1 in top 3 |");
    println!("|---|---|---|---|---|---|---|---|");
    for &n in &sizes {
        let mut rows = HashMap::with_capacity(n);
        let articles: Vec<Article> = (0..n)
            .map(|i| {
                let title = format!(
                    "a{i} {}",
                    (0..6).map(|_| word(&mut rng)).collect::<Vec<_>>().join(" ")
                );
                rows.insert(title.clone(), near(&centers[i % CLUSTERS], 0.08, &mut rng));
                Article {
                    id: format!("a{i}"),
                    title,
                    intents: vec![format!("intent_{}", i % INTENTS)],
                    channels: vec![],
                    language: "en".into(),
                    kind: ArticleType::Answer,
                    updated: date,
                    questions: vec![],
                    emotions: vec![],
                    follow_up: None,
                    min_score: None,
                    tags: vec![],
                    body: String::new(),
                    source: format!("synthetic:{i}"),
                }
            })
            .collect();
        let embedder = Synthetic { rows };
        let options = KbOptions {
            today: Some(date),
            ..KbOptions::default()
        };
        let started = Instant::now();
        let kb = KnowledgeBase::from_articles(articles.clone(), &embedder, &options)
            .expect("synthetic base builds");
        let build = started.elapsed().as_secs_f64();
        // The exact scan of the same base, to measure what HNSW loses.
        let exact = kb.is_approximate().then(|| {
            KnowledgeBase::from_articles(
                articles,
                &embedder,
                &KbOptions {
                    approx_above: usize::MAX,
                    ..options.clone()
                },
            )
            .expect("exact base builds")
        });
        let queries: Vec<(Vec<f32>, String, String)> = (0..n_queries + 50)
            .map(|_| {
                let c = rng.gen_range(0..CLUSTERS);
                let text = (0..4).map(|_| word(&mut rng)).collect::<Vec<_>>().join(" ");
                (
                    near(&centers[c], 0.1, &mut rng),
                    text,
                    format!("intent_{}", rng.gen_range(0..INTENTS)),
                )
            })
            .collect();
        let query = |q: &(Vec<f32>, String, String)| -> Vec<String> {
            let emb = ndarray::ArrayView1::from(&q.0[..]);
            let qq = Query {
                embedding: Some(emb),
                predicted_intent: Some((&q.2, 0.9)),
                mode: Mode::Agent,
                k: 3,
                ..Query::new(&q.1)
            };
            (kb.search(&qq).expect("search").into_iter())
                .map(|s| s.id)
                .collect()
        };
        for q in &queries[..50] {
            std::hint::black_box(query(q));
        }
        let mut ms = Vec::with_capacity(n_queries);
        let (mut agree, mut in_top3) = (0usize, 0usize);
        for q in &queries[50..] {
            let t = Instant::now();
            let ids = std::hint::black_box(query(q));
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            if let Some(exact) = &exact {
                let emb = ndarray::ArrayView1::from(&q.0[..]);
                let qq = Query {
                    embedding: Some(emb),
                    predicted_intent: Some((&q.2, 0.9)),
                    k: 1,
                    ..Query::new(&q.1)
                };
                let want = exact.search(&qq).expect("search");
                agree += usize::from(want.first().map(|s| &s.id) == ids.first());
                in_top3 += usize::from(want.first().is_some_and(|w| ids.contains(&w.id)));
            }
        }
        ms.sort_by(f64::total_cmp);
        let pct = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
        println!(
            "| {n} | {} | {build:.1} | {:.3} | {:.3} | {:.3} | {} | {} |",
            if kb.is_approximate() { "HNSW" } else { "exact" },
            pct(0.5),
            pct(0.9),
            pct(0.99),
            if exact.is_some() {
                format!("{:.1}%", 100.0 * agree as f64 / n_queries as f64)
            } else {
                "(exact)".into()
            },
            if exact.is_some() {
                format!("{:.1}%", 100.0 * in_top3 as f64 / n_queries as f64)
            } else {
                "(exact)".into()
            }
        );
    }
}
