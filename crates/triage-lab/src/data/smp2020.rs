//! SMP2020-EWECT, COVID-19 ("virus") subset (`smp2020_ewect_virus/raw/data/`): each file is
//! a JSON array of `{"id", "content", "label"}`. Train/Dev come from `virus_train.txt`
//! (Dev = the ~10% whose text hashes into the dev bucket, [`hash_split`]`(text, 10, 0)`),
//! Test = `virus_eval_labeled.txt`. `emotions = Some(vec![label])` with the six labels
//! `happy`, `angry`, `sad`, `fear`, `surprise`, `neutral` — the data's misspelling
//! `neural` is mapped to `neutral` (the spelling goemotions and the rest of triage use).
//!
//! [`hash_split`]: super::hash_split

use super::{DataError, Record, Sink, Split, DERIVED_DEV_PCT};
use serde::Deserialize;
use std::io::BufReader;
use std::path::Path;
use triage_core::text::Channel;

/// The six labels, as emitted (`neural` in the data → `neutral`).
const SMP2020_LABELS: [&str; 6] = ["happy", "angry", "sad", "fear", "surprise", "neutral"];

#[derive(Deserialize)]
struct Row {
    content: String,
    label: String,
}

pub(crate) fn load(dir: &Path, split: Split) -> Result<Vec<Record>, DataError> {
    let file = match split {
        Split::Train | Split::Dev => "virus_train.txt",
        Split::Test => "virus_eval_labeled.txt",
    };
    let path = dir.join("raw/data").join(file);
    let rows: Vec<Row> = serde_json::from_reader(BufReader::new(super::open(&path)?))
        .map_err(|e| DataError::json(&path, e))?;
    let mut sink = Sink::new(&path, "zh", Channel::Social);
    if split != Split::Test {
        sink = sink.derived_split(DERIVED_DEV_PCT, 0, split);
    }
    for row in rows {
        let label = match row.label.trim() {
            "neural" => "neutral".to_string(),
            other => other.to_string(),
        };
        if !SMP2020_LABELS.contains(&label.as_str()) {
            return Err(DataError::parse(
                &path,
                None,
                format!("unknown label {label:?}"),
            ));
        }
        sink.push(&row.content, None, Some(vec![label]), None);
    }
    Ok(sink.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::{check_common, check_derived_disjoint, load_ok};
    use std::collections::BTreeMap;

    fn counts(recs: &[Record]) -> BTreeMap<&str, usize> {
        let mut m = BTreeMap::new();
        for r in recs {
            let e = r.emotions.as_ref().unwrap();
            assert_eq!(e.len(), 1);
            *m.entry(e[0].as_str()).or_default() += 1;
        }
        m
    }

    #[test]
    fn sizes_and_labels() {
        let train = load_ok("smp2020_ewect_virus", Split::Train);
        let dev = load_ok("smp2020_ewect_virus", Split::Dev);
        let test = load_ok("smp2020_ewect_virus", Split::Test);
        for r in [&train, &dev, &test] {
            check_common("smp2020_ewect_virus", r);
            assert!(r
                .iter()
                .all(|r| r.intent.is_none() && r.sentiment.is_none()));
        }
        assert_eq!(train.len() + dev.len(), 8606);
        assert_eq!((train.len(), dev.len()), (7737, 869));
        assert_eq!(test.len(), 2000);
        let train_all = [train, dev].concat();
        let all_train = counts(&train_all);
        let expect: BTreeMap<&str, usize> = [
            ("happy", 4423),
            ("neutral", 1460),
            ("angry", 1322),
            ("sad", 649),
            ("fear", 555),
            ("surprise", 197),
        ]
        .into();
        assert_eq!(all_train, expect);
        let expect_test: BTreeMap<&str, usize> = [
            ("happy", 923),
            ("neutral", 476),
            ("angry", 314),
            ("sad", 165),
            ("fear", 75),
            ("surprise", 47),
        ]
        .into();
        assert_eq!(counts(&test), expect_test);
    }

    #[test]
    fn derived_dev_is_disjoint_and_deterministic() {
        check_derived_disjoint("smp2020_ewect_virus", &[Split::Train, Split::Dev]);
    }
}
