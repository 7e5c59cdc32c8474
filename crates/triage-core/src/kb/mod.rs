//! Knowledge-base suggestions (DESIGN.md "suggestions"): the answers a bot may send on
//! its own and the few an agent should see.
//!
//! A knowledge base is a folder of Markdown articles with YAML front matter, or one JSONL
//! file ([`article`] has the fields). [`KnowledgeBase::load`] reads it, reports malformed
//! articles as [`KbIssue`]s (file and line) and serves the rest, embeds the articles with
//! the bundle's encoder (cached on disk by bundle fingerprint and text hash, `cache`),
//! and indexes them for a hybrid search: cosine on the embeddings (exact with ndarray for
//! small bases, HNSW above [`KbOptions::approx_above`]), BM25 (`lexical`), and a boost for
//! articles tagged with the predicted intent, weighted by its confidence (`search`).
//! [`LiveKb`] is the one live knowledge base of a server: it loads the base in the
//! background, polls its files (with the one watcher helper, [`crate::watch`]) and swaps
//! in a rebuilt [`KnowledgeBase`] when they change, without a restart.
//!
//! The caller computes the query embedding with the same encoder (it already has it from
//! classification) and passes it in, so a search never runs the encoder.

pub mod article;
mod cache;
mod dense;
mod embedder;
mod lexical;
mod live;
mod search;
pub(crate) mod source;

mod base;

pub use article::{Article, ArticleType, FollowUp};
pub use base::KnowledgeBase;
pub use embedder::{EmbedError, Embedder};
pub use live::{KbState, KbStatus, LiveKb, ReloadOutcome, Version};
pub use search::{Mode, Query, ScoreParts, SearchError, Suggestion};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with one article (or one JSONL line): it is skipped, the rest serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KbIssue {
    pub file: PathBuf,
    /// 1-based line, where known.
    pub line: Option<usize>,
    pub message: String,
}

impl KbIssue {
    fn new(file: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for KbIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// What stops a whole knowledge base from loading (a bad article is a [`KbIssue`]).
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("knowledge base {} not found: give a folder of .md articles or a .jsonl file", .0.display())]
    NotFound(PathBuf),
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("embedding knowledge-base articles failed: {0}")]
    Embed(#[from] EmbedError),
    #[error("the encoder returned {got:?} embeddings for {texts} texts")]
    EmbeddingShape { texts: usize, got: (usize, usize) },
    #[error("invalid knowledge-base options: {0}")]
    Options(String),
}

/// Every knowledge-base setting, in one struct (a `[suggest]`-style table of the server
/// config).
///
/// The weights and `lexical_half` were picked on the bitext dev split (never the test
/// split) for the best Recall@1 without the intent boost. The bot thresholds were picked
/// on dev too: at 0.7 / 0.6 the bot answered 75.9% of dev chat queries, all correctly,
/// and 1.2% of clinc150's out-of-scope test queries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KbOptions {
    /// Weight of the dense (cosine) score in the final score.
    pub dense_weight: f32,
    /// Weight of the lexical score, BM25 squashed to 0..1 by `bm25 / (bm25 + lexical_half)`.
    pub lexical_weight: f32,
    /// The BM25 score that counts as half a lexical match.
    pub lexical_half: f32,
    /// Weight of the intent match: the predicted intent's confidence when the article is
    /// tagged with it, else 0.
    pub intent_weight: f32,
    /// Articles whose `updated` date is older than this are flagged `stale` ...
    pub max_age_days: u32,
    /// ... and their score is multiplied by this.
    pub stale_factor: f32,
    /// Bot mode answers only when the predicted intent's confidence is at least this ...
    pub bot_min_confidence: f32,
    /// ... and the best answer scores at least this (or the article's own `min_score`).
    pub bot_min_score: f32,
    /// Whether a bot may send an article past `max_age_days` on its own.
    pub bot_allow_stale: bool,
    /// Above this many embedding rows, dense search uses an HNSW index instead of an
    /// exact scan.
    pub approx_above: usize,
    /// Rows taken from the HNSW index (and from BM25) as candidates before exact
    /// re-scoring.
    pub candidates: usize,
    /// HNSW search breadth (more: better recall, slower).
    pub ef_search: usize,
    /// HNSW build breadth.
    pub ef_construction: usize,
    /// Length of the snippet shown to agents, in characters.
    pub snippet_chars: usize,
    /// Interval of the file watcher, in milliseconds.
    pub watch_interval_ms: u64,
    /// The date staleness is judged against; today's (UTC) when unset. Set it for tests
    /// and reproducible evaluation reports.
    #[serde(skip)]
    pub today: Option<time::Date>,
}

impl Default for KbOptions {
    fn default() -> Self {
        Self {
            dense_weight: 0.5,
            lexical_weight: 0.2,
            lexical_half: 16.0,
            intent_weight: 0.3,
            max_age_days: 365,
            stale_factor: 0.8,
            bot_min_confidence: 0.7,
            bot_min_score: 0.6,
            bot_allow_stale: false,
            approx_above: 20_000,
            candidates: 100,
            ef_search: 128,
            ef_construction: 100,
            snippet_chars: 240,
            watch_interval_ms: 2_000,
            today: None,
        }
    }
}

impl KbOptions {
    fn validate(&self) -> Result<(), KbError> {
        let w = [self.dense_weight, self.lexical_weight, self.intent_weight];
        if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f32>() <= 0.0 {
            return Err(KbError::Options(
                "dense_weight, lexical_weight and intent_weight must be >= 0, not all 0".into(),
            ));
        }
        if self.lexical_half.is_nan() || self.lexical_half <= 0.0 {
            return Err(KbError::Options("lexical_half must be > 0".into()));
        }
        if !(0.0..=1.0).contains(&self.stale_factor) {
            return Err(KbError::Options("stale_factor must be in 0..=1".into()));
        }
        if self.candidates == 0 || self.ef_search == 0 || self.ef_construction == 0 {
            return Err(KbError::Options(
                "candidates, ef_search and ef_construction must be >= 1".into(),
            ));
        }
        Ok(())
    }
}
