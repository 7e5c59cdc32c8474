//! Hybrid search and the two modes.
//!
//! Score of an article, in 0..1: a weighted mean of
//! * dense — its best row's cosine with the query embedding (floored at 0);
//! * lexical — BM25 squashed by `bm25 / (bm25 + lexical_half)`, an absolute scale (not
//!   "relative to the best hit"), so a query that matches nothing scores low everywhere
//!   and the bot threshold keeps its meaning;
//! * intent — the predicted intent's confidence if the article is tagged with it;
//!
//! multiplied by `stale_factor` when the article is older than `max_age_days`.
//!
//! Bot mode returns at most one answer, and only when the intent is confident, the best
//! eligible answer is tagged with that intent and clears its threshold: a bot must never
//! send an article about something else. Agent mode returns the top k answers and
//! scripts, preceded by an empathy script when the customer is upset.

use super::article::{Article, ArticleType, FollowUp};
use super::base::KnowledgeBase;
use crate::text::Channel;
use ndarray::ArrayView1;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use time::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// At most one answer a bot may send on its own, or none (the policy decides).
    Bot,
    /// The top k answers and scripts for a human agent, empathy script first when the
    /// customer is upset.
    Agent,
}

/// One search. `text` should be the normalised message (what the encoder saw);
/// `embedding` is that text's L2-normalised embedding from the same encoder the base was
/// built with (without it, only lexical and intent evidence count).
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub text: &'a str,
    pub embedding: Option<ArrayView1<'a, f32>>,
    /// Predicted intent label and its calibrated confidence.
    pub predicted_intent: Option<(&'a str, f32)>,
    /// Articles restricted to other channels are left out.
    pub channel: Option<Channel>,
    /// Only articles in this language, if the base has any in it.
    pub lang: Option<&'a str>,
    /// Put an empathy script first (agent mode).
    pub negative_emotion: bool,
    /// Predicted emotion labels, strongest first: pick the empathy script written for them.
    pub emotions: &'a [String],
    pub mode: Mode,
    pub k: usize,
}

impl<'a> Query<'a> {
    /// An agent-mode query for 3 suggestions with nothing else known.
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            embedding: None,
            predicted_intent: None,
            channel: None,
            lang: None,
            negative_emotion: false,
            emotions: &[],
            mode: Mode::Agent,
            k: 3,
        }
    }
}

/// Evidence behind a score, for explaining a suggestion to agents and for tuning.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ScoreParts {
    pub dense: f32,
    lexical: f32,
    intent: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: ArticleType,
    /// The article text (Markdown).
    pub answer: String,
    /// Its opening as plain text.
    pub snippet: String,
    pub score: f32,
    pub scores: ScoreParts,
    pub intents: Vec<String>,
    pub language: String,
    /// Older than the knowledge base's maximum age: check before sending.
    pub stale: bool,
    /// `YYYY-MM-DD`.
    pub updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
    /// File (and line, for JSONL) the article came from.
    source: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SearchError {
    #[error("query embedding has {got} dimensions, the knowledge base {want}")]
    Dimension { got: usize, want: usize },
    #[error("query embedding holds a non-finite value")]
    NotFinite,
}

#[derive(Clone, Copy)]
struct Scored {
    article: u32,
    score: f32,
    parts: ScoreParts,
}

impl KnowledgeBase {
    pub fn search(&self, q: &Query) -> Result<Vec<Suggestion>, SearchError> {
        let embedding = match q.embedding {
            Some(e) if self.dense.rows() > 0 => {
                if e.len() != self.dense.dim() {
                    return Err(SearchError::Dimension {
                        got: e.len(),
                        want: self.dense.dim(),
                    });
                }
                if e.iter().any(|x| !x.is_finite()) {
                    return Err(SearchError::NotFinite);
                }
                Some(e)
            }
            _ => None,
        };
        if self.articles.is_empty() || (q.k == 0 && q.mode == Mode::Agent && !q.negative_emotion) {
            return Ok(Vec::new());
        }
        let scored = self.score(q, embedding);
        let today = self
            .options
            .today
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
        let (mut main, empathy): (Vec<Scored>, Vec<Scored>) = scored
            .into_iter()
            .partition(|s| self.articles[s.article as usize].kind != ArticleType::Empathy);
        let stale = |s: &Scored| self.is_stale(&self.articles[s.article as usize], today);
        for s in main.iter_mut() {
            if stale(s) {
                s.score *= self.options.stale_factor;
            }
        }
        let by_score = |a: &Scored, b: &Scored| {
            b.score.total_cmp(&a.score).then_with(|| {
                self.articles[a.article as usize]
                    .id
                    .cmp(&self.articles[b.article as usize].id)
            })
        };
        match q.mode {
            Mode::Bot => {
                let Some((label, confidence)) = q.predicted_intent else {
                    return Ok(Vec::new());
                };
                if confidence < self.options.bot_min_confidence {
                    return Ok(Vec::new());
                }
                let best = main
                    .iter()
                    .filter(|s| self.articles[s.article as usize].kind == ArticleType::Answer)
                    .filter(|s| self.options.bot_allow_stale || !stale(s))
                    .min_by(|a, b| by_score(a, b));
                Ok(best
                    .filter(|s| {
                        let a = &self.articles[s.article as usize];
                        a.intents.iter().any(|i| i == label)
                            && s.score >= a.min_score.unwrap_or(self.options.bot_min_score)
                    })
                    .map(|s| self.suggestion(s, today))
                    .into_iter()
                    .collect())
            }
            Mode::Agent => {
                let mut out = Vec::with_capacity(q.k + 1);
                if q.negative_emotion {
                    if let Some(e) = self.pick_empathy(&empathy, q.emotions) {
                        out.push(self.suggestion(&e, today));
                    }
                }
                let k = q.k.min(main.len());
                if k > 0 && k < main.len() {
                    main.select_nth_unstable_by(k - 1, by_score);
                    main.truncate(k);
                }
                main.sort_by(by_score);
                out.extend(main.iter().take(k).map(|s| self.suggestion(s, today)));
                Ok(out)
            }
        }
    }

    fn is_stale(&self, a: &Article, today: Date) -> bool {
        (today - a.updated).whole_days() > i64::from(self.options.max_age_days)
    }

    /// Scores every eligible candidate. Exact bases score every eligible article;
    /// approximate ones score the union of the HNSW neighbours, the best BM25 hits and the
    /// articles tagged with the predicted intent.
    fn score(&self, q: &Query, embedding: Option<ArrayView1<f32>>) -> Vec<Scored> {
        let lang = q.lang.filter(|l| self.languages.contains(*l));
        let eligible = |a: &Article| {
            lang.is_none_or(|l| a.language == l) && q.channel.is_none_or(|c| a.suits_channel(c))
        };
        let o = &self.options;
        let wsum = o.dense_weight + o.lexical_weight + o.intent_weight;
        let (wd, wl, wi) = (
            o.dense_weight / wsum,
            o.lexical_weight / wsum,
            o.intent_weight / wsum,
        );
        let lexical: Vec<(u32, f32)> = if wl > 0.0 {
            self.lexical.scores(q.text)
        } else {
            Vec::new()
        };
        let intent = |a: &Article| match q.predicted_intent {
            Some((label, conf)) if a.intents.iter().any(|i| i == label) => conf.clamp(0.0, 1.0),
            _ => 0.0,
        };
        let combine = |article: u32, dense: f32, bm25: f32| {
            let a = &self.articles[article as usize];
            let parts = ScoreParts {
                dense: dense.clamp(0.0, 1.0),
                lexical: bm25 / (bm25 + o.lexical_half),
                intent: intent(a),
            };
            Scored {
                article,
                score: wd * parts.dense + wl * parts.lexical + wi * parts.intent,
                parts,
            }
        };
        let n = self.articles.len();
        match embedding.and_then(|e| self.dense.nearest(e, o.candidates).map(|near| (e, near))) {
            None => {
                let mut dense = vec![0.0f32; n];
                if let Some(e) = embedding {
                    let rows = self.dense.scan(e);
                    for (r, s) in rows.into_iter().enumerate() {
                        let d = &mut dense[self.dense.owner(r) as usize];
                        *d = d.max(s);
                    }
                }
                let mut bm25 = vec![0.0f32; n];
                for (d, s) in lexical {
                    bm25[d as usize] = s;
                }
                (0..n)
                    .filter(|&i| eligible(&self.articles[i]))
                    .map(|i| combine(i as u32, dense[i], bm25[i]))
                    .collect()
            }
            Some((e, near)) => {
                let mut candidates: HashSet<u32> =
                    near.iter().map(|&(r, _)| self.dense.owner(r)).collect();
                let mut lexical = lexical;
                if lexical.len() > o.candidates {
                    lexical.select_nth_unstable_by(o.candidates - 1, |a, b| b.1.total_cmp(&a.1));
                    lexical.truncate(o.candidates);
                }
                candidates.extend(lexical.iter().map(|&(d, _)| d));
                if let Some(tagged) = q.predicted_intent.and_then(|(l, _)| self.by_intent.get(l)) {
                    candidates.extend(tagged.iter().copied());
                }
                let bm25: HashMap<u32, f32> = lexical.into_iter().collect();
                candidates
                    .into_iter()
                    .filter(|&i| eligible(&self.articles[i as usize]))
                    .map(|i| {
                        let dense = self.rows_of[i as usize]
                            .clone()
                            .map(|r| self.dense.row_score(r, e))
                            .fold(0.0f32, f32::max);
                        combine(i, dense, bm25.get(&i).copied().unwrap_or(0.0))
                    })
                    .collect()
            }
        }
    }

    /// The empathy script for the strongest emotion that has one, else the one closest to
    /// the message.
    fn pick_empathy(&self, empathy: &[Scored], emotions: &[String]) -> Option<Scored> {
        let rank = |s: &Scored| {
            let a = &self.articles[s.article as usize];
            emotions
                .iter()
                .position(|e| a.emotions.contains(e))
                .unwrap_or(usize::MAX)
        };
        empathy.iter().copied().min_by(|a, b| {
            rank(a)
                .cmp(&rank(b))
                .then(b.score.total_cmp(&a.score))
                .then_with(|| {
                    self.articles[a.article as usize]
                        .id
                        .cmp(&self.articles[b.article as usize].id)
                })
        })
    }

    fn suggestion(&self, s: &Scored, today: Date) -> Suggestion {
        let a = &self.articles[s.article as usize];
        Suggestion {
            id: a.id.clone(),
            title: a.title.clone(),
            kind: a.kind,
            answer: a.body.clone(),
            snippet: self.snippets[s.article as usize].clone(),
            score: s.score,
            scores: s.parts,
            intents: a.intents.clone(),
            language: a.language.clone(),
            stale: self.is_stale(a, today),
            updated: format!(
                "{:04}-{:02}-{:02}",
                a.updated.year(),
                u8::from(a.updated.month()),
                a.updated.day()
            ),
            follow_up: a.follow_up.clone(),
            source: a.source.clone(),
        }
    }
}
