//! A loaded, indexed knowledge base: articles, their embeddings (dense index), the BM25
//! index and the intent → articles map. Immutable once built; a reload builds a new one.

use super::article::{snippet, Article};
use super::cache::{text_key, EmbeddingCache, TextKey};
use super::dense::DenseIndex;
use super::embedder::Embedder;
use super::lexical::Bm25;
use super::source;
use super::{KbError, KbIssue, KbOptions};
use ndarray::Array2;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use time::Date;

pub struct KnowledgeBase {
    pub(super) articles: Vec<Article>,
    pub(super) snippets: Vec<String>,
    /// Embedding rows of each article (contiguous in the dense index).
    pub(super) rows_of: Vec<Range<usize>>,
    pub(super) dense: DenseIndex,
    pub(super) lexical: Bm25,
    pub(super) by_intent: HashMap<String, Vec<u32>>,
    pub(super) languages: HashSet<String>,
    pub(super) options: KbOptions,
    /// Text hash → row, so a reload re-embeds only texts that changed.
    row_of_text: HashMap<TextKey, usize>,
    content_hash: String,
    fingerprint: String,
}

impl KnowledgeBase {
    /// Reads a folder of Markdown articles or a JSONL file, embeds what the disk cache in
    /// `cache_dir` does not already hold, and indexes everything. Malformed articles come
    /// back as issues and are left out; the error cases are a missing source, an I/O
    /// failure, or an encoder failure.
    pub fn load(
        source: &Path,
        embedder: &dyn Embedder,
        cache_dir: &Path,
        options: &KbOptions,
    ) -> Result<(KnowledgeBase, Vec<KbIssue>), KbError> {
        Self::load_reusing(source, embedder, cache_dir, options, None)
    }

    /// [`KnowledgeBase::load`] that also reuses the rows of a previous version (reloads).
    pub(super) fn load_reusing(
        source: &Path,
        embedder: &dyn Embedder,
        cache_dir: &Path,
        options: &KbOptions,
        previous: Option<&KnowledgeBase>,
    ) -> Result<(KnowledgeBase, Vec<KbIssue>), KbError> {
        options.validate()?;
        let content = source::read(source)?;
        for issue in &content.issues {
            tracing::warn!("knowledge base: {issue} (article skipped)");
        }
        let fingerprint = embedder.fingerprint();
        let cache = EmbeddingCache::new(cache_dir, source, &fingerprint);
        let kb = Self::build(
            content.articles,
            embedder,
            options,
            Some((&cache, content.content_hash.as_str())),
            previous.filter(|p| p.fingerprint == fingerprint),
            fingerprint.clone(),
            content.content_hash.clone(),
        )?;
        Ok((kb, content.issues))
    }

    /// Indexes articles built in code (synthetic benches, tests), without a disk cache.
    pub fn from_articles(
        articles: Vec<Article>,
        embedder: &dyn Embedder,
        options: &KbOptions,
    ) -> Result<KnowledgeBase, KbError> {
        options.validate()?;
        let fingerprint = embedder.fingerprint();
        Self::build(
            articles,
            embedder,
            options,
            None,
            None,
            fingerprint,
            String::new(),
        )
    }

    fn build(
        articles: Vec<Article>,
        embedder: &dyn Embedder,
        options: &KbOptions,
        cache: Option<(&EmbeddingCache, &str)>,
        previous: Option<&KnowledgeBase>,
        fingerprint: String,
        content_hash: String,
    ) -> Result<KnowledgeBase, KbError> {
        let mut texts = Vec::new();
        let mut rows_of = Vec::with_capacity(articles.len());
        let mut owner = Vec::new();
        for (i, a) in articles.iter().enumerate() {
            let start = texts.len();
            for t in a.embedding_texts() {
                texts.push(t);
                owner.push(i as u32);
            }
            rows_of.push(start..texts.len());
        }
        let keys: Vec<TextKey> = texts.iter().map(|t| text_key(t)).collect();
        let dim_hint = previous.map(|p| p.dense.dim()).filter(|&d| d > 0);
        let cached = match cache {
            Some((c, hash)) => c.load(hash, dim_hint),
            None => HashMap::new(),
        };
        // Rows known from the previous version or the disk cache; the rest is embedded.
        let mut known: Vec<Option<Vec<f32>>> = keys
            .iter()
            .map(|k| {
                previous
                    .and_then(|p| p.row_of_text.get(k).map(|&r| p.dense.vector(r)))
                    .or_else(|| cached.get(k).cloned())
            })
            .collect();
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| known[i].is_none()).collect();
        if !missing.is_empty() {
            let batch: Vec<String> = missing.iter().map(|&i| texts[i].clone()).collect();
            let emb = embedder.embed(&batch)?;
            if emb.nrows() != batch.len() || emb.ncols() == 0 {
                return Err(KbError::EmbeddingShape {
                    texts: batch.len(),
                    got: emb.dim(),
                });
            }
            for (&i, row) in missing.iter().zip(emb.outer_iter()) {
                known[i] = Some(row.to_vec());
            }
            tracing::info!(
                "knowledge base: embedded {} of {} texts ({} from cache)",
                missing.len(),
                texts.len(),
                texts.len() - missing.len()
            );
        }
        let dim = known.iter().flatten().map(Vec::len).next().unwrap_or(0);
        if known.iter().flatten().any(|v| v.len() != dim) {
            return Err(KbError::EmbeddingShape {
                texts: texts.len(),
                got: (texts.len(), dim),
            });
        }
        let mut vectors = Array2::<f32>::zeros((texts.len(), dim));
        for (mut row, v) in vectors.outer_iter_mut().zip(known.iter().flatten()) {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let norm = if norm > 0.0 && norm.is_finite() {
                norm
            } else {
                1.0
            };
            for (dst, &x) in row.iter_mut().zip(v) {
                *dst = if x.is_finite() { x / norm } else { 0.0 };
            }
        }
        if let Some((c, hash)) = cache {
            if !missing.is_empty() || !c.path_for(hash).is_file() {
                let rows: Vec<(TextKey, &[f32])> = keys
                    .iter()
                    .zip(vectors.outer_iter())
                    .map(|(k, r)| (*k, r.to_slice().unwrap_or(&[])))
                    .collect();
                c.store(hash, dim, &rows);
            }
        }
        let row_of_text = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let dense = DenseIndex::build(
            vectors,
            owner,
            options.approx_above,
            options.ef_construction,
            options.ef_search,
        );
        let lexical_texts: Vec<String> = articles.iter().map(Article::lexical_text).collect();
        let lexical = Bm25::build(lexical_texts.iter().map(String::as_str));
        let mut by_intent: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, a) in articles.iter().enumerate() {
            for intent in &a.intents {
                by_intent.entry(intent.clone()).or_default().push(i as u32);
            }
        }
        let snippets = articles
            .iter()
            .map(|a| snippet(&a.body, options.snippet_chars))
            .collect();
        let languages = articles.iter().map(|a| a.language.clone()).collect();
        Ok(KnowledgeBase {
            articles,
            snippets,
            rows_of,
            dense,
            lexical,
            by_intent,
            languages,
            options: options.clone(),
            row_of_text,
            content_hash,
            fingerprint,
        })
    }

    /// Fixes the date staleness is judged against (for tests and reproducible reports).
    pub fn with_today(mut self, today: Date) -> Self {
        self.options.today = Some(today);
        self
    }

    pub fn articles(&self) -> &[Article] {
        &self.articles
    }

    pub fn article(&self, id: &str) -> Option<&Article> {
        self.articles.iter().find(|a| a.id == id)
    }

    pub fn len(&self) -> usize {
        self.articles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.articles.is_empty()
    }

    pub fn options(&self) -> &KbOptions {
        &self.options
    }

    /// Embedding dimension (0 for an empty base).
    pub fn dim(&self) -> usize {
        self.dense.dim()
    }

    /// Whether dense search goes through the HNSW index.
    pub fn is_approximate(&self) -> bool {
        self.dense.is_approximate()
    }

    /// sha256 of every byte read from the source (empty for [`Self::from_articles`]).
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// The fingerprint of the embedder the articles were embedded with
    /// ([`Embedder::fingerprint`]: `name@version:hash` for a bundle).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Intents that articles are tagged with but the given label set lacks: such articles
    /// never get the intent boost, which usually means a typo or a renamed label.
    pub fn unknown_intents(&self, labels: &[String]) -> Vec<KbIssue> {
        let known: HashSet<&str> = labels.iter().map(String::as_str).collect();
        self.articles
            .iter()
            .flat_map(|a| {
                a.intents
                    .iter()
                    .filter(|i| !known.contains(i.as_str()))
                    .map(move |i| {
                        let (file, line) = source::split_source(&a.source);
                        KbIssue::new(
                            &file,
                            line,
                            format!(
                                "article {:?}: intent {i:?} is not a label of the model",
                                a.id
                            ),
                        )
                    })
            })
            .collect()
    }

    /// Labels of `labels` that no article is tagged with (coverage gaps).
    pub fn uncovered_intents<'a>(&self, labels: &'a [String]) -> Vec<&'a str> {
        labels
            .iter()
            .filter(|l| !self.by_intent.contains_key(l.as_str()))
            .map(String::as_str)
            .collect()
    }
}
