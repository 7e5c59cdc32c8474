//! The retrieval task of `triage eval`: each labelled record is a query to the knowledge
//! base, searched the way the server searches it (the record normalised for its channel,
//! its embedding from the bundle, the intent head's prediction as the boost when the
//! bundle reads its language); the gold articles are those tagged with the record's
//! intent. Figures: Recall@1/3/5/10 and MRR, under each channel transform.

use super::channels::{ChannelFigures, ChannelVariant};
use super::error::EvalError;
use crate::data::Record;
use crate::eval::kb::{retrieval_eval, EvalQuery};
use crate::metrics::RetrievalReport;
use ndarray::{Array2, Axis};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use triage_core::cause::Detail;
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::kb::{KbOptions, KnowledgeBase};
use triage_core::model::heads::intent_result;
use triage_core::model::Head;

/// The figure channel gaps are measured on.
const PRIMARY: &str = "recall_at_1";

/// Queries whose gold article was not first, shown in the report (the clean run's).
const MISSES_SHOWN: usize = 20;

/// What a retrieval task found beyond its figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RetrievalTaskEval {
    pub(crate) kb: String,
    pub(crate) articles: usize,
    /// sha256 of every byte of the knowledge base: which version was measured.
    pub(crate) kb_content_hash: String,
    /// Articles the knowledge base left out (file and line).
    pub(crate) kb_issues: Vec<String>,
    /// The clean run's figures.
    report: RetrievalReport,
    /// Gold intents no article is tagged with: their queries can only miss.
    pub(crate) uncovered_intents: Vec<String>,
    /// Queries whose gold article was not first (clean run, the first few).
    pub(crate) misses: Vec<Miss>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Miss {
    pub(crate) text: String,
    pub(crate) intent: String,
    /// Rank of the first gold article, `None` beyond the depth searched.
    pub(crate) rank: Option<usize>,
    /// What came first instead.
    pub(crate) top: Option<String>,
}

/// Loads the knowledge base with the bundle's encoder (article embeddings cached like
/// the server's).
pub(crate) fn load_kb(
    task: &str,
    source: &Path,
    classifier: &Classifier,
    config: &Config,
) -> Result<(KnowledgeBase, Vec<String>), EvalError> {
    let options = KbOptions {
        watch_interval_ms: 0,
        ..config.suggest.search.clone()
    };
    let (kb, issues) =
        KnowledgeBase::load(source, classifier, &config.suggest.cache_dir(), &options)
            .map_err(|e| EvalError::task(task, Detail::of(e)))?;
    for i in &issues {
        tracing::warn!(task, "knowledge base: {i}");
    }
    Ok((kb, issues.iter().map(ToString::to_string).collect()))
}

/// Queries of `records` as the server would search them.
fn queries(
    classifier: &Classifier,
    head: &Head,
    records: &[Record],
    emb: &Array2<f32>,
) -> Vec<EvalQuery> {
    let probs = head.scores(emb.view());
    records
        .iter()
        .zip(probs.axis_iter(Axis(0)))
        .map(|(r, p)| {
            let text = classifier.normalize_text(&r.text, r.channel);
            let lang = r
                .lang
                .clone()
                .unwrap_or_else(|| triage_core::text::detect_lang(&text).to_string());
            let predicted = classifier.covers_lang(&lang).then(|| {
                let i = intent_result(&head.spec, &p.to_vec(), 1);
                (i.label, i.confidence)
            });
            EvalQuery {
                text,
                channel: r.channel,
                lang: Some(lang),
                gold_intent: r.intent.clone().unwrap_or_default(),
                predicted,
            }
        })
        .collect()
}

/// Figures of one channel variant, as floors name them (unprefixed).
fn figures(r: &RetrievalReport) -> BTreeMap<String, f64> {
    let mut f = BTreeMap::new();
    f.insert("n".to_string(), r.n_queries as f64);
    for x in &r.recall_at {
        f.insert(format!("recall_at_{}", x.k), x.recall);
    }
    f.insert("mrr".to_string(), r.mrr);
    f.insert("not_found".to_string(), r.n_not_found as f64);
    f
}

/// What [`run`] measured.
pub(crate) struct Outcome {
    /// Every figure by the name floors use (`recall_at_1`, `social.mrr`, ...).
    pub(crate) figures: BTreeMap<String, f64>,
    /// Clean first, then each transform.
    pub(crate) channels: Vec<ChannelFigures>,
    /// The clean run's details.
    pub(crate) details: Option<RetrievalTaskEval>,
}

/// Searches for every record of every variant (each with its embeddings).
pub(crate) fn run(
    task: &str,
    kb: &KnowledgeBase,
    kb_source: &Path,
    kb_issues: Vec<String>,
    variants: &[(ChannelVariant, Vec<Record>, Array2<f32>)],
    classifier: &Classifier,
    head: &Head,
) -> Result<Outcome, EvalError> {
    let mut figures_all = BTreeMap::new();
    let mut channels = Vec::new();
    let mut details = None;
    let mut clean_primary = 0.0;
    for (variant, recs, emb) in variants {
        let qs = queries(classifier, head, recs, emb);
        let eval = retrieval_eval(kb, &qs, Some(emb.view()))
            .map_err(|e| EvalError::task(task, Detail::of(e)))?;
        let figs = figures(&eval.report);
        let value = figs.get(PRIMARY).copied().unwrap_or(0.0);
        if *variant == ChannelVariant::Clean {
            clean_primary = value;
            figures_all.extend(figs.clone());
            details = Some(RetrievalTaskEval {
                kb: kb_source.display().to_string(),
                articles: kb.len(),
                kb_content_hash: kb.content_hash().to_string(),
                kb_issues: kb_issues.clone(),
                report: eval.report.clone(),
                uncovered_intents: eval.uncovered_intents.clone(),
                misses: misses(kb, &qs, emb, &eval.ranks)?,
            });
        } else {
            for (k, v) in &figs {
                if k != "n" {
                    figures_all.insert(format!("{}.{k}", variant.as_str()), *v);
                }
            }
            figures_all.insert(format!("{}.gap", variant.as_str()), clean_primary - value);
        }
        channels.push(ChannelFigures {
            channel: *variant,
            primary: PRIMARY.to_string(),
            value,
            gap: clean_primary - value,
            figures: figs,
            examples: if *variant == ChannelVariant::Clean {
                vec![]
            } else {
                recs.iter().take(3).map(|r| r.text.clone()).collect()
            },
        });
    }
    Ok(Outcome {
        figures: figures_all,
        channels,
        details,
    })
}

/// The first queries whose gold article was not ranked first, with what came first.
fn misses(
    kb: &KnowledgeBase,
    qs: &[EvalQuery],
    emb: &Array2<f32>,
    ranks: &[Option<usize>],
) -> Result<Vec<Miss>, EvalError> {
    let missed: Vec<usize> = ranks
        .iter()
        .enumerate()
        .filter(|(_, r)| **r != Some(1))
        .map(|(i, _)| i)
        .take(MISSES_SHOWN)
        .collect();
    let mut out = Vec::with_capacity(missed.len());
    for i in missed {
        let q = &qs[i];
        let query = triage_core::kb::Query {
            text: &q.text,
            embedding: Some(emb.row(i)),
            predicted_intent: q.predicted.as_ref().map(|(l, c)| (l.as_str(), *c)),
            channel: Some(q.channel),
            lang: q.lang.as_deref(),
            negative_emotion: false,
            emotions: &[],
            mode: triage_core::kb::Mode::Agent,
            k: 1,
        };
        let top = kb
            .search(&query)
            .map_err(|e| EvalError::task("retrieval", Detail::of(e)))?
            .into_iter()
            .next()
            .map(|s| s.id);
        out.push(Miss {
            text: q.text.clone(),
            intent: q.gold_intent.clone(),
            rank: ranks[i],
            top,
        });
    }
    Ok(out)
}
