//! GoEmotions (`goemotions/raw/data/original/{train,dev,test}.tsv`): TSV without header,
//! `text <TAB> comma-separated label ids <TAB> comment id`; ids index `original/labels.txt`.
//! `emotions` = the label names in file order (`neutral` kept as a label of its own).
//!
//! `sentiment` is derived from the labels through the GoEmotions sentiment grouping
//! ([`sentiment_group`]): if the labels contain both a positive and a negative emotion it is
//! `"ambiguous"`; otherwise a polar group wins (`"positive"` or `"negative"`, even next to
//! ambiguous or neutral labels); otherwise `"ambiguous"` if any label is ambiguous, else
//! `"neutral"`.

use super::{DataError, Record, Sink, Split};
use std::path::Path;
use triage_core::text::Channel;

const LABELS: [&str; 28] = [
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
];

/// The 28 GoEmotions labels in data-set order (index = label id in the TSV files).
pub fn goemotions_labels() -> [&'static str; 28] {
    LABELS
}

/// Ekman group of a GoEmotions label: `anger`, `disgust`, `fear`, `joy`, `sadness`,
/// `surprise` or `neutral` (the published ekman_mapping; the data set ships no mapping file,
/// the tests check it against the mirror's derived `ekman/` files).
pub fn ekman_group(label: &str) -> Option<&'static str> {
    Some(match label {
        "anger" | "annoyance" | "disapproval" => "anger",
        "disgust" => "disgust",
        "fear" | "nervousness" => "fear",
        "joy" | "amusement" | "approval" | "excitement" | "gratitude" | "love" | "optimism"
        | "relief" | "pride" | "admiration" | "desire" | "caring" => "joy",
        "sadness" | "disappointment" | "embarrassment" | "grief" | "remorse" => "sadness",
        "surprise" | "realization" | "confusion" | "curiosity" => "surprise",
        "neutral" => "neutral",
        _ => return None,
    })
}

/// Sentiment group of a GoEmotions label: `positive`, `negative`, `ambiguous` or `neutral`
/// (google-research's sentiment_mapping).
pub fn sentiment_group(label: &str) -> Option<&'static str> {
    Some(match label {
        "admiration" | "amusement" | "approval" | "caring" | "desire" | "excitement"
        | "gratitude" | "joy" | "love" | "optimism" | "pride" | "relief" => "positive",
        "anger" | "annoyance" | "disappointment" | "disapproval" | "disgust" | "embarrassment"
        | "fear" | "grief" | "nervousness" | "remorse" | "sadness" => "negative",
        "confusion" | "curiosity" | "realization" | "surprise" => "ambiguous",
        "neutral" => "neutral",
        _ => return None,
    })
}

/// One sentiment for a set of labels (rule in the module docs); `None` if no label maps.
fn record_sentiment<S: AsRef<str>>(labels: &[S]) -> Option<&'static str> {
    let groups: Vec<&str> = labels
        .iter()
        .filter_map(|l| sentiment_group(l.as_ref()))
        .collect();
    let has = |g: &str| groups.contains(&g);
    if has("positive") && has("negative") {
        Some("ambiguous")
    } else if has("positive") {
        Some("positive")
    } else if has("negative") {
        Some("negative")
    } else if has("ambiguous") {
        Some("ambiguous")
    } else if has("neutral") {
        Some("neutral")
    } else {
        None
    }
}

fn read_labels(path: &Path) -> Result<Vec<String>, DataError> {
    let text = super::read_string(path)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

pub(crate) fn load(dir: &Path, split: Split) -> Result<Vec<Record>, DataError> {
    let base = dir.join("raw/data/original");
    let labels = read_labels(&base.join("labels.txt"))?;
    let path = base.join(format!("{split}.tsv"));
    let content = super::read_string(&path)?;
    let mut sink = Sink::new(&path, "en", Channel::Social);
    for (i, line) in content.split('\n').enumerate() {
        let lineno = Some(i as u64 + 1);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        // text may in principle hold a tab; the last two columns are ids
        let mut cols = line.rsplitn(3, '\t');
        let (_id, ids, text) = match (cols.next(), cols.next(), cols.next()) {
            (Some(id), Some(ids), Some(text)) => (id, ids, text),
            _ => {
                return Err(DataError::parse(
                    &path,
                    lineno,
                    "expected 3 tab-separated columns",
                ))
            }
        };
        let mut emotions = Vec::new();
        for id in ids.split(',') {
            let label = id
                .trim()
                .parse::<usize>()
                .ok()
                .and_then(|k| labels.get(k))
                .ok_or_else(|| DataError::parse(&path, lineno, format!("bad label id {id:?}")))?;
            emotions.push(label.clone());
        }
        let sentiment = record_sentiment(&emotions).map(String::from);
        sink.push(text, None, Some(emotions), sentiment);
    }
    Ok(sink.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::{check_common, load_ok, root};
    use std::collections::BTreeSet;

    #[test]
    fn labels_match_labels_txt() {
        let from_file =
            read_labels(&root().join("goemotions/raw/data/original/labels.txt")).unwrap();
        assert_eq!(from_file, goemotions_labels());
        for l in goemotions_labels() {
            assert!(ekman_group(l).is_some(), "{l}");
            assert!(sentiment_group(l).is_some(), "{l}");
        }
        assert_eq!(ekman_group("nope"), None);
        assert_eq!(sentiment_group("nope"), None);
        let ekman: BTreeSet<_> = goemotions_labels()
            .iter()
            .filter_map(|l| ekman_group(l))
            .collect();
        assert_eq!(ekman.len(), 7);
        let groups: BTreeSet<_> = goemotions_labels()
            .iter()
            .filter_map(|l| sentiment_group(l))
            .collect();
        assert_eq!(groups.len(), 4);
    }

    #[test]
    fn sizes_labels_and_multi_label_rows() {
        for (split, n, multi) in [
            (Split::Train, 43410, 7102),
            (Split::Dev, 5426, 878),
            (Split::Test, 5427, 837),
        ] {
            let recs = load_ok("goemotions", split);
            check_common("goemotions", &recs);
            assert_eq!(recs.len(), n, "{split}");
            let multi_rows = recs
                .iter()
                .filter(|r| r.emotions.as_ref().unwrap().len() > 1)
                .count();
            assert_eq!(multi_rows, multi, "{split}");
            let seen: BTreeSet<&str> = recs
                .iter()
                .flat_map(|r| r.emotions.as_ref().unwrap().iter().map(String::as_str))
                .collect();
            assert_eq!(seen.len(), 28, "{split}");
            assert!(recs
                .iter()
                .all(|r| r.intent.is_none() && r.sentiment.is_some()));
        }
        let test = load_ok("goemotions", Split::Test);
        assert!(test[0]
            .text
            .starts_with("I’m really sorry about your situation :("));
        assert_eq!(
            test[0].emotions.as_deref(),
            Some(&["sadness".to_string()][..])
        );
        assert_eq!(test[0].sentiment.as_deref(), Some("negative"));
    }

    /// Our ekman / sentiment mappings reproduce the mirror's derived `ekman/` and `group/`
    /// files row by row.
    #[test]
    fn mappings_match_mirror_derived_files() {
        let base = root().join("goemotions/raw/data");
        let ek_labels = read_labels(&base.join("ekman/labels.txt")).unwrap();
        let gr_labels = read_labels(&base.join("group/labels.txt")).unwrap();
        let read = |sub: &str, split: &str, names: &[String]| -> Vec<BTreeSet<String>> {
            let text =
                std::fs::read_to_string(base.join(sub).join(format!("{split}.tsv"))).unwrap();
            text.lines()
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let ids = l.rsplit('\t').nth(1).unwrap();
                    ids.split(',')
                        .map(|i| names[i.parse::<usize>().unwrap()].clone())
                        .collect()
                })
                .collect()
        };
        for split in [Split::Train, Split::Dev, Split::Test] {
            let recs = load_ok("goemotions", split);
            let ek = read("ekman", &split.to_string(), &ek_labels);
            let gr = read("group", &split.to_string(), &gr_labels);
            assert_eq!(recs.len(), ek.len());
            assert_eq!(recs.len(), gr.len());
            for ((r, e), g) in recs.iter().zip(&ek).zip(&gr) {
                let emos = r.emotions.as_ref().unwrap();
                let mine_e: BTreeSet<String> = emos
                    .iter()
                    .map(|l| ekman_group(l).unwrap().to_string())
                    .collect();
                let mine_g: BTreeSet<String> = emos
                    .iter()
                    .map(|l| sentiment_group(l).unwrap().to_string())
                    .collect();
                assert_eq!(&mine_e, e, "{:?}", r.text);
                assert_eq!(&mine_g, g, "{:?}", r.text);
            }
        }
    }

    #[test]
    fn sentiment_rule() {
        assert_eq!(record_sentiment(&["joy", "anger"]), Some("ambiguous"));
        assert_eq!(record_sentiment(&["joy", "surprise"]), Some("positive"));
        assert_eq!(record_sentiment(&["neutral", "sadness"]), Some("negative"));
        assert_eq!(
            record_sentiment(&["curiosity", "neutral"]),
            Some("ambiguous")
        );
        assert_eq!(record_sentiment(&["neutral"]), Some("neutral"));
        assert_eq!(record_sentiment::<&str>(&[]), None);
    }
}
