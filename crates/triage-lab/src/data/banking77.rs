//! BANKING77 (`banking77/raw/banking_data/{train,test}.csv`, header `text,category`).
//!
//! There is no official dev split: Dev is the ~10% ([`DERIVED_DEV_PCT`]) of `train.csv`
//! whose text hashes into the dev bucket ([`hash_split`]`(text, 10, 0)`), Train is the rest
//! of `train.csv` (so Train + Dev = the official 10003), Test is `test.csv`. The dev split
//! is not stratified: it has 956 examples over 76 intents (`contactless_not_working`, 35
//! examples in train.csv, gets none).
//!
//! [`hash_split`]: super::hash_split

use super::{DataError, Record, Sink, Split, DERIVED_DEV_PCT};
use serde::Deserialize;
use std::path::Path;
use triage_core::text::Channel;

#[derive(Deserialize)]
struct Row {
    text: String,
    category: String,
}

pub(crate) fn load(dir: &Path, split: Split) -> Result<Vec<Record>, DataError> {
    let file = match split {
        Split::Train | Split::Dev => "train.csv",
        Split::Test => "test.csv",
    };
    let path = dir.join("raw/banking_data").join(file);
    let mut sink = Sink::new(&path, "en", Channel::Chat);
    if split != Split::Test {
        sink = sink.derived_split(DERIVED_DEV_PCT, 0, split);
    }
    let mut reader = super::csv_reader(&path)?;
    for row in reader.deserialize::<Row>() {
        let row = row.map_err(|e| DataError::csv(&path, e))?;
        sink.push(&row.text, Some(row.category), None, None);
    }
    Ok(sink.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_set;
    use crate::data::testutil::{check_common, check_derived_disjoint, load_ok, texts};

    #[test]
    fn sizes_and_labels() {
        let train = load_ok("banking77", Split::Train);
        let dev = load_ok("banking77", Split::Dev);
        let test = load_ok("banking77", Split::Test);
        for r in [&train, &dev, &test] {
            check_common("banking77", r);
        }
        assert_eq!(train.len() + dev.len(), 10003);
        assert_eq!(train.len(), 9047);
        assert_eq!(dev.len(), 956);
        assert_eq!(test.len(), 3080);
        assert_eq!(label_set(&train).len(), 77);
        // not stratified: the hash puts none of the 35 `contactless_not_working` examples
        // in dev
        assert_eq!(label_set(&dev).len(), 76);
        assert!(!label_set(&dev)
            .iter()
            .any(|l| l == "contactless_not_working"));
        assert_eq!(label_set(&test).len(), 77);
        // label spellings kept as in the data
        assert!(label_set(&test)
            .iter()
            .any(|l| l == "Refund_not_showing_up"));
        assert!(label_set(&test)
            .iter()
            .any(|l| l == "reverted_card_payment?"));
        // the official test set overlaps train.csv in 6 texts (data, not our split)
        let train_all: std::collections::HashSet<&str> =
            texts(&train).union(&texts(&dev)).copied().collect();
        assert_eq!(train_all.intersection(&texts(&test)).count(), 6);
    }

    #[test]
    fn derived_dev_is_disjoint_and_deterministic() {
        check_derived_disjoint("banking77", &[Split::Train, Split::Dev]);
    }
}
