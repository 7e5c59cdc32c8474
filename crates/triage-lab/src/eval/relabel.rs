//! A task's `label_map`: gold labels rewritten before scoring, so a set labelled in its
//! own vocabulary can be scored against a head trained on another one (SMP2020's
//! `happy`/`angry`/… against the GoEmotions head's `joy`/`anger`/…). Only gold changes;
//! the head and its predictions are untouched, and the report states the map.
//!
//! A map is checked against the data and the head before anything is embedded: a key
//! that no gold label spells is a typo that would silently map nothing, and a target the
//! head does not have could never be predicted, so both are errors, not warnings.

use crate::data::Record;
use std::collections::{BTreeMap, BTreeSet};
use triage_core::model::HeadKind;

/// Gold labels of `records` for a head of `kind` (intents, or every emotion label).
fn gold_labels(records: &[Record], kind: HeadKind) -> BTreeSet<&str> {
    match kind {
        HeadKind::Softmax => records.iter().filter_map(|r| r.intent.as_deref()).collect(),
        HeadKind::Sigmoid => records
            .iter()
            .filter_map(|r| r.emotions.as_ref())
            .flatten()
            .map(String::as_str)
            .collect(),
    }
}

/// Checks `map` against the data's gold labels and the head's labels; the message says
/// which key or target is wrong and what was expected.
pub(crate) fn check(
    map: &BTreeMap<String, String>,
    records: &[Record],
    kind: HeadKind,
    head: &str,
    head_labels: &[String],
) -> Result<(), String> {
    let gold = gold_labels(records, kind);
    let unused: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !gold.contains(k))
        .collect();
    if !unused.is_empty() {
        return Err(format!(
            "label_map key(s) {} match no gold label of the data (its labels: {})",
            unused.join(", "),
            gold.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    let missing: Vec<&str> = map
        .values()
        .map(String::as_str)
        .filter(|v| !head_labels.iter().any(|l| l == v))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "label_map target(s) {} are not labels of head {head} (its labels: {})",
            missing.join(", "),
            head_labels.join(", ")
        ));
    }
    Ok(())
}

/// `records` with their gold intent / emotion labels rewritten by `map` (labels without
/// a key are kept; a record's emotion set stays free of duplicates). Sentiments are never
/// touched: they are not the head's labels.
pub(crate) fn apply(records: Vec<Record>, map: &BTreeMap<String, String>) -> Vec<Record> {
    if map.is_empty() {
        return records;
    }
    let get = |l: String| map.get(&l).cloned().unwrap_or(l);
    records
        .into_iter()
        .map(|mut r| {
            r.intent = r.intent.map(get);
            r.emotions = r.emotions.map(|es| {
                let mut out: Vec<String> = Vec::with_capacity(es.len());
                for e in es.into_iter().map(get) {
                    if !out.contains(&e) {
                        out.push(e);
                    }
                }
                out
            });
            r
        })
        .collect()
}

/// `happy → joy, angry → anger` — how reports show a map.
pub(crate) fn describe(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} → {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_core::text::Channel;

    fn rec(intent: Option<&str>, emotions: Option<&[&str]>) -> Record {
        Record {
            text: "x".into(),
            channel: Channel::Social,
            lang: Some("zh".into()),
            intent: intent.map(str::to_string),
            emotions: emotions.map(|e| e.iter().map(|s| s.to_string()).collect()),
            sentiment: Some("positive".into()),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn labels(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rewrites_gold_only_and_keeps_unmapped_labels() {
        let m = map(&[("happy", "joy"), ("angry", "anger"), ("glad", "joy")]);
        let out = apply(
            vec![
                rec(None, Some(&["happy", "glad", "neutral"])),
                rec(Some("angry"), None),
            ],
            &m,
        );
        assert_eq!(
            out[0].emotions.as_deref(),
            Some(&labels(&["joy", "neutral"])[..])
        );
        assert_eq!(out[0].sentiment.as_deref(), Some("positive"));
        assert_eq!(out[1].intent.as_deref(), Some("anger"));
        assert!(describe(&m).contains("happy → joy"));
    }

    #[test]
    fn typos_and_targets_outside_the_head_are_errors() {
        let data = vec![rec(None, Some(&["happy"])), rec(None, Some(&["angry"]))];
        let head = labels(&["joy", "anger", "neutral"]);
        let ok = map(&[("happy", "joy"), ("angry", "anger")]);
        assert!(check(&ok, &data, HeadKind::Sigmoid, "emotion", &head).is_ok());
        let typo = map(&[("hapy", "joy")]);
        let e = check(&typo, &data, HeadKind::Sigmoid, "emotion", &head).unwrap_err();
        assert!(e.contains("hapy") && e.contains("angry, happy"), "{e}");
        let outside = map(&[("happy", "happiness")]);
        let e = check(&outside, &data, HeadKind::Sigmoid, "emotion", &head).unwrap_err();
        assert!(e.contains("happiness") && e.contains("joy, anger"), "{e}");
        // An intent head looks at intents, not emotions.
        assert!(check(&ok, &data, HeadKind::Softmax, "intent.x", &head).is_err());
    }
}
