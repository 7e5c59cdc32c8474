//! Dense retrieval over article embeddings (several rows per article: title, questions,
//! opening). Small bases are scanned exactly with one ndarray matrix-vector product;
//! above a configurable size an HNSW graph (instant-distance, pure Rust) proposes
//! candidate rows, which are then scored exactly, so the approximate index only decides
//! *which* rows are looked at, never their score.

use instant_distance::{Builder, HnswMap, Search};
use ndarray::{Array2, ArrayView1};

/// An L2-normalised embedding as an HNSW point; distance = 1 − cosine.
#[derive(Clone, Debug)]
struct Vector(Box<[f32]>);

impl instant_distance::Point for Vector {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - dot(&self.0, &other.0)
    }
}

/// Dot product written so LLVM vectorises it: eight independent accumulators over
/// exact chunks (no bounds checks in the loop).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

pub(crate) struct DenseIndex {
    /// `[rows, dim]`, L2-normalised.
    vectors: Array2<f32>,
    /// Article of each row.
    owner: Vec<u32>,
    ann: Option<HnswMap<Vector, u32>>,
}

impl DenseIndex {
    /// Builds the index; rows must already be normalised. The HNSW graph is built when
    /// there are more than `approx_above` rows.
    pub(crate) fn build(
        vectors: Array2<f32>,
        owner: Vec<u32>,
        approx_above: usize,
        ef_construction: usize,
        ef_search: usize,
    ) -> Self {
        let ann = (vectors.nrows() > approx_above).then(|| {
            let points: Vec<Vector> = vectors
                .outer_iter()
                .map(|r| Vector(r.to_vec().into_boxed_slice()))
                .collect();
            let rows: Vec<u32> = (0..vectors.nrows() as u32).collect();
            Builder::default()
                .ef_construction(ef_construction)
                .ef_search(ef_search)
                .seed(0x0072_6961_6765)
                .build(points, rows)
        });
        Self {
            vectors,
            owner,
            ann,
        }
    }

    pub(crate) fn dim(&self) -> usize {
        self.vectors.ncols()
    }

    pub(crate) fn rows(&self) -> usize {
        self.vectors.nrows()
    }

    pub(crate) fn is_approximate(&self) -> bool {
        self.ann.is_some()
    }

    pub(crate) fn owner(&self, row: usize) -> u32 {
        self.owner[row]
    }

    /// A copy of one row.
    pub(crate) fn vector(&self, row: usize) -> Vec<f32> {
        self.vectors.row(row).to_vec()
    }

    /// Cosine of the query with one row.
    pub(crate) fn row_score(&self, row: usize, query: ArrayView1<f32>) -> f32 {
        match (self.vectors.row(row).as_slice(), query.as_slice()) {
            (Some(r), Some(q)) => dot(r, q),
            _ => self.vectors.row(row).dot(&query),
        }
    }

    /// Exact: cosine of the query with every row.
    pub(crate) fn scan(&self, query: ArrayView1<f32>) -> Vec<f32> {
        self.vectors.dot(&query).to_vec()
    }

    /// Approximate: up to `n` rows nearest to the query, with their cosine. `None` when
    /// the index is exact (call [`DenseIndex::scan`]).
    pub(crate) fn nearest(&self, query: ArrayView1<f32>, n: usize) -> Option<Vec<(usize, f32)>> {
        let ann = self.ann.as_ref()?;
        let point = Vector(query.to_vec().into_boxed_slice());
        let mut search = Search::default();
        Some(
            ann.search(&point, &mut search)
                .take(n)
                .map(|item| (*item.value as usize, 1.0 - item.distance))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;
    use rand::{Rng, SeedableRng};

    fn random_unit(n: usize, dim: usize, seed: u64) -> Array2<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut m = Array2::from_shape_fn((n, dim), |_| rng.gen_range(-1.0f32..1.0));
        for mut r in m.outer_iter_mut() {
            let norm = r.dot(&r).sqrt();
            r /= norm;
        }
        m
    }

    #[test]
    fn approximate_finds_the_exact_best_row() {
        let m = random_unit(600, 16, 1);
        let exact = DenseIndex::build(m.clone(), (0..600).collect(), 10_000, 100, 100);
        let approx = DenseIndex::build(m.clone(), (0..600).collect(), 100, 100, 100);
        assert!(!exact.is_approximate() && approx.is_approximate());
        let queries = random_unit(50, 16, 2);
        let mut hits = 0;
        for q in queries.outer_iter() {
            let s = exact.scan(q);
            let best = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
            let near = approx.nearest(q, 10).unwrap();
            assert!((near[0].1 - approx.row_score(near[0].0, q)).abs() < 1e-5);
            hits += usize::from(near.iter().any(|&(r, _)| r == best));
        }
        assert!(hits >= 48, "HNSW found the best row for {hits}/50 queries");
    }

    #[test]
    fn dot_matches_ndarray() {
        let a = Array1::from_iter((0..37).map(|i| i as f32 * 0.1));
        let b = Array1::from_iter((0..37).map(|i| 1.0 - i as f32 * 0.05));
        let want = a.dot(&b);
        assert!((dot(a.as_slice().unwrap(), b.as_slice().unwrap()) - want).abs() < 1e-3);
    }
}
