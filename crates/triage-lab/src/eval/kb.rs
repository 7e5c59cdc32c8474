//! Retrieval evaluation for `triage eval`: each query's gold articles are those tagged
//! with its gold intent; the figure is where the first of them lands in an agent-mode
//! search (Recall@1/3/5/10, MRR via `crate::metrics::retrieval_report`).

use crate::metrics::{retrieval_report, MetricError, RetrievalReport, REPORT_KS};
use ndarray::{ArrayView2, Axis};
use serde::Serialize;
use triage_core::kb::{KnowledgeBase, Mode, Query, SearchError};
use triage_core::text::Channel;

/// One evaluation query. `text` is the normalised message; the prediction comes from the
/// intent head on the same embedding (None to measure retrieval without the boost).
#[derive(Debug, Clone)]
pub struct EvalQuery {
    pub text: String,
    pub channel: Channel,
    pub lang: Option<String>,
    pub gold_intent: String,
    pub predicted: Option<(String, f32)>,
}

#[derive(Debug, thiserror::Error)]
pub enum KbEvalError {
    #[error("{queries} queries but {rows} embedding rows")]
    Rows { queries: usize, rows: usize },
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Metric(#[from] MetricError),
}

/// The report plus what it was computed from.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalEval {
    pub report: RetrievalReport,
    /// 1-based rank of the first gold article per query, `None` when not in the top k.
    pub(crate) ranks: Vec<Option<usize>>,
    /// Gold intents no article is tagged with (their queries can only miss).
    pub uncovered_intents: Vec<String>,
}

/// Depth of the ranked list: the largest cut-off reported.
fn eval_depth() -> usize {
    REPORT_KS.iter().copied().max().unwrap_or(10)
}

/// Ranks of the gold articles for every query. `embeddings` has one normalised row per
/// query (the same encoder as the base), or is `None` for lexical + intent only.
fn gold_ranks(
    kb: &KnowledgeBase,
    queries: &[EvalQuery],
    embeddings: Option<ArrayView2<f32>>,
) -> Result<Vec<Option<usize>>, KbEvalError> {
    if let Some(e) = embeddings {
        if e.nrows() != queries.len() {
            return Err(KbEvalError::Rows {
                queries: queries.len(),
                rows: e.nrows(),
            });
        }
    }
    let k = eval_depth();
    queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let row = embeddings.map(|e| e.index_axis(Axis(0), i).to_owned());
            let query = Query {
                text: &q.text,
                embedding: row.as_ref().map(|r| r.view()),
                predicted_intent: q.predicted.as_ref().map(|(l, c)| (l.as_str(), *c)),
                channel: Some(q.channel),
                lang: q.lang.as_deref(),
                negative_emotion: false,
                emotions: &[],
                mode: Mode::Agent,
                k,
            };
            let found = kb.search(&query)?;
            Ok(found
                .iter()
                .position(|s| s.intents.contains(&q.gold_intent))
                .map(|p| p + 1))
        })
        .collect()
}

/// Recall@k and MRR of the knowledge base on labelled queries.
pub fn retrieval_eval(
    kb: &KnowledgeBase,
    queries: &[EvalQuery],
    embeddings: Option<ArrayView2<f32>>,
) -> Result<RetrievalEval, KbEvalError> {
    let ranks = gold_ranks(kb, queries, embeddings)?;
    let report = retrieval_report(&ranks)?;
    let mut gold: Vec<String> = queries.iter().map(|q| q.gold_intent.clone()).collect();
    gold.sort();
    gold.dedup();
    let uncovered_intents = kb
        .uncovered_intents(&gold)
        .into_iter()
        .map(String::from)
        .collect();
    Ok(RetrievalEval {
        report,
        ranks,
        uncovered_intents,
    })
}
