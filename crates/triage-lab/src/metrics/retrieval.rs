//! Retrieval (knowledge-base suggestions): Recall@k and mean reciprocal rank.
//!
//! Input is, per query, the 1-based rank of the gold item in the returned list, or
//! `None` when the gold item was not returned: a miss for every Recall@k and a
//! reciprocal rank of 0.

use super::{check_nonempty, MetricError};
use serde::Serialize;

/// The cut-offs reported in [`RetrievalReport::recall_at`].
pub(crate) const REPORT_KS: [usize; 4] = [1, 3, 5, 10];

/// Recall at one cut-off.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecallAtK {
    pub k: usize,
    pub recall: f64,
}

/// Retrieval figures over a set of queries.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalReport {
    pub n_queries: u64,
    /// Queries whose gold item was not returned at all.
    pub n_not_found: u64,
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    /// Recall at each of [`REPORT_KS`].
    pub recall_at: Vec<RecallAtK>,
    pub mrr: f64,
}

/// Share of queries whose gold item is ranked `k` or better.
pub(crate) fn recall_at_k(gold_ranks: &[Option<usize>], k: usize) -> Result<f64, MetricError> {
    validate(gold_ranks)?;
    if k == 0 {
        return Err(MetricError::InvalidArgument {
            name: "k",
            reason: "must be at least 1",
        });
    }
    let hits = gold_ranks
        .iter()
        .filter(|r| matches!(r, Some(rank) if *rank <= k))
        .count();
    Ok(hits as f64 / gold_ranks.len() as f64)
}

/// Mean over queries of `1 / rank` (0 for a query whose gold item was not returned).
pub(crate) fn mean_reciprocal_rank(gold_ranks: &[Option<usize>]) -> Result<f64, MetricError> {
    validate(gold_ranks)?;
    let sum: f64 = gold_ranks
        .iter()
        .map(|r| r.map_or(0.0, |rank| 1.0 / rank as f64))
        .sum();
    Ok(sum / gold_ranks.len() as f64)
}

/// Recall@1, Recall@3, Recall@{1,3,5,10} and MRR.
pub(crate) fn retrieval_report(
    gold_ranks: &[Option<usize>],
) -> Result<RetrievalReport, MetricError> {
    validate(gold_ranks)?;
    let recall_at = REPORT_KS
        .iter()
        .map(|&k| recall_at_k(gold_ranks, k).map(|recall| RecallAtK { k, recall }))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RetrievalReport {
        n_queries: gold_ranks.len() as u64,
        n_not_found: gold_ranks.iter().filter(|r| r.is_none()).count() as u64,
        recall_at_1: recall_at_k(gold_ranks, 1)?,
        recall_at_3: recall_at_k(gold_ranks, 3)?,
        recall_at,
        mrr: mean_reciprocal_rank(gold_ranks)?,
    })
}

fn validate(gold_ranks: &[Option<usize>]) -> Result<(), MetricError> {
    check_nonempty("gold_ranks", gold_ranks.len())?;
    match gold_ranks.iter().position(|r| *r == Some(0)) {
        Some(position) => Err(MetricError::ZeroRank { position }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::assert_close;
    use super::*;

    #[test]
    fn hand_computed_figures() {
        let ranks = [Some(1), Some(2), None, Some(4)];
        let r = retrieval_report(&ranks).unwrap();
        assert_close("recall_at_1", r.recall_at_1, 0.25);
        assert_close("recall_at_3", r.recall_at_3, 0.5);
        assert_close("recall_at_k(4)", recall_at_k(&ranks, 4).unwrap(), 0.75);
        assert_close("recall_at_k(100)", recall_at_k(&ranks, 100).unwrap(), 0.75);
        assert_close("mrr", r.mrr, (1.0 + 0.5 + 0.0 + 0.25) / 4.0);
        assert_eq!((r.n_queries, r.n_not_found), (4, 1));
        let ks: Vec<usize> = r.recall_at.iter().map(|x| x.k).collect();
        assert_eq!(ks, REPORT_KS.to_vec());
        assert_close("recall_at[5]", r.recall_at[2].recall, 0.75);
    }

    #[test]
    fn errors() {
        assert_eq!(
            retrieval_report(&[]).unwrap_err(),
            MetricError::Empty("gold_ranks")
        );
        assert_eq!(
            retrieval_report(&[Some(1), Some(0)]).unwrap_err(),
            MetricError::ZeroRank { position: 1 }
        );
        assert!(matches!(
            recall_at_k(&[Some(1)], 0),
            Err(MetricError::InvalidArgument { name: "k", .. })
        ));
        assert!(mean_reciprocal_rank(&[]).is_err());
        assert_close(
            "all missing",
            mean_reciprocal_rank(&[None, None]).unwrap(),
            0.0,
        );
    }
}
