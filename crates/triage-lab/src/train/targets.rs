//! Turning records into what a head trains on: its kind, its label list, targets, and
//! the derived emotion groupings. Shared by head-only training and fine-tuning.

use crate::data::{self, Record};
use ndarray::Array2;
use std::collections::BTreeMap;
use triage_core::model::HeadKind;
use triage_core::text::Channel;

/// Sigmoid when the data carries emotions and no intents (or the head is `emotion`).
pub(crate) fn head_kind(head: &str, records: &[Record]) -> HeadKind {
    let has_intents = records.iter().any(|r| r.intent.is_some());
    let has_emotions = records.iter().any(|r| r.emotions.is_some());
    if head == "emotion" || (has_emotions && !has_intents) {
        HeadKind::Sigmoid
    } else {
        HeadKind::Softmax
    }
}

pub(crate) fn labels_of(kind: HeadKind, records: &[Record]) -> Vec<String> {
    match kind {
        HeadKind::Softmax => data::label_set(records),
        HeadKind::Sigmoid => {
            let mut set: Vec<String> = records
                .iter()
                .flat_map(|r| r.emotions.iter().flatten().cloned())
                .collect();
            set.sort();
            set.dedup();
            // goemotions' own order reads better in reports than alphabetical.
            let go = data::goemotions_labels();
            if set.iter().all(|l| go.contains(&l.as_str())) && set.len() == go.len() {
                go.iter().map(|s| s.to_string()).collect()
            } else {
                set
            }
        }
    }
}

/// Ekman and sentiment groupings and the frustration labels, for heads whose labels are
/// goemotions' (what the emotion head and the policy read sentiment from).
pub(crate) fn derived(
    labels: &[String],
) -> (BTreeMap<String, BTreeMap<String, String>>, Vec<String>) {
    let mut groupings = BTreeMap::new();
    let ekman: BTreeMap<String, String> = labels
        .iter()
        .filter_map(|l| Some((l.clone(), data::ekman_group(l)?.to_string())))
        .collect();
    let sentiment: BTreeMap<String, String> = labels
        .iter()
        .filter_map(|l| Some((l.clone(), data::sentiment_group(l)?.to_string())))
        .collect();
    if ekman.len() == labels.len() {
        groupings.insert("ekman".to_string(), ekman);
    }
    if sentiment.len() == labels.len() {
        groupings.insert("sentiment".to_string(), sentiment);
    }
    let frustration = ["anger", "annoyance", "disappointment", "disgust"]
        .iter()
        .filter(|l| labels.iter().any(|x| x == *l))
        .map(|s| s.to_string())
        .collect();
    (groupings, frustration)
}

pub(crate) fn texts(records: &[Record]) -> Vec<(String, Channel)> {
    records
        .iter()
        .map(|r| (r.text.clone(), r.channel))
        .collect()
}

pub(crate) fn class_targets(records: &[Record], labels: &[String]) -> Vec<u32> {
    records
        .iter()
        .map(|r| {
            let l = r.intent.as_deref().unwrap_or("");
            labels.iter().position(|x| x == l).unwrap_or(usize::MAX) as u32
        })
        .collect()
}

pub(crate) fn multi_hot(records: &[Record], labels: &[String]) -> Array2<f32> {
    let mut y = Array2::zeros((records.len(), labels.len()));
    for (i, r) in records.iter().enumerate() {
        for e in r.emotions.iter().flatten() {
            if let Some(j) = labels.iter().position(|x| x == e) {
                y[[i, j]] = 1.0;
            }
        }
    }
    y
}

/// Keeps records that carry a label for this kind of head (and, for dev, a known label).
pub(crate) fn usable(
    records: Vec<Record>,
    kind: HeadKind,
    labels: Option<&[String]>,
) -> Vec<Record> {
    records
        .into_iter()
        .filter(|r| match kind {
            HeadKind::Softmax => r
                .intent
                .as_ref()
                .is_some_and(|i| labels.is_none_or(|ls| ls.contains(i))),
            HeadKind::Sigmoid => r.emotions.is_some(),
        })
        .collect()
}
