//! `negative_emotion`: the customer is upset now. Each emotion, the frustration score,
//! the negative sentiment (when the model reads the language) and the strongest lexicon
//! word are compared with their thresholds scaled by the channel's and tier's
//! `emotion_scale`; every signal over its bar is named, strongest first.

use super::outcome::Fired;
use super::{Facts, Params, Rule};
use crate::policy::decision::{ReasonCode, Severity};

pub(super) struct NegativeEmotion;

impl Rule for NegativeEmotion {
    fn apply(&self, f: &Facts, p: &Params, fired: &mut Vec<Fired>) {
        let ne = &f.config.negative_emotion;
        if !ne.enabled {
            return;
        }
        let mut hits: Vec<(f32, String)> = Vec::new();
        if let Some(e) = f.emotion {
            for (label, &th) in &ne.emotions {
                let t = th * p.emotion_scale;
                if let Some(&s) = e.scores.get(label) {
                    if s >= t {
                        hits.push((s, format!("{label} {s:.2} >= {t:.2}")));
                    }
                }
            }
            if let Some(fr) = ne.frustration {
                let t = fr * p.emotion_scale;
                if e.frustration >= t {
                    hits.push((
                        e.frustration,
                        format!("frustration {:.2} >= {t:.2}", e.frustration),
                    ));
                }
            }
            if let Some(ns) = ne.negative_sentiment {
                let t = ns * p.emotion_scale;
                let neg = -e.sentiment.score;
                if neg >= t {
                    hits.push((neg, format!("negative sentiment {neg:.2} >= {t:.2}")));
                }
            }
        }
        if let Some(hit) = &f.m.lexicon {
            let t = ne.lexicon_threshold * p.emotion_scale;
            if hit.score >= t {
                hits.push((
                    hit.score,
                    format!("word {:?} {:.2} >= {t:.2}", hit.phrase, hit.score),
                ));
            }
        }
        if !hits.is_empty() {
            hits.sort_by(|a, b| b.0.total_cmp(&a.0));
            let detail: Vec<String> = hits.into_iter().map(|(_, d)| d).collect();
            fired.push(Fired::new(
                ReasonCode::NegativeEmotion,
                detail.join(", "),
                ne.action,
                ne.priority,
                Severity::Basic,
                None,
            ));
        }
    }
}
