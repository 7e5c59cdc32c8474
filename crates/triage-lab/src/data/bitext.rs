//! Bitext customer-support sample (`bitext_customer_support/raw/data/train/
//! Bitext_Sample_Customer_Support_Training_Dataset.csv`): one CSV with multi-line quoted
//! fields; text = `instruction`, intent = `intent`. No official split: 80/10/10
//! train/dev/test by [`hash_split`]`(text, 10, 10)`.
//!
//! [`hash_split`]: super::hash_split

use super::{DataError, Record, Sink, Split, DERIVED_DEV_PCT, DERIVED_TEST_PCT};
use serde::Deserialize;
use std::path::Path;
use triage_core::text::Channel;

#[derive(Deserialize)]
struct Row {
    instruction: String,
    intent: String,
    /// Bitext's register tags, one letter each (`W` offensive/profane, `P` polite, `Q`
    /// colloquial, `Z` typos, …; SOURCE.md).
    #[serde(default)]
    tags: String,
}

pub(crate) fn load(dir: &Path, split: Split) -> Result<Vec<Record>, DataError> {
    let path = dir.join("raw/data/train/Bitext_Sample_Customer_Support_Training_Dataset.csv");
    let mut sink = Sink::new(&path, "en", Channel::Chat).derived_split(
        DERIVED_DEV_PCT,
        DERIVED_TEST_PCT,
        split,
    );
    let mut reader = super::csv_reader(&path)?;
    for row in reader.deserialize::<Row>() {
        let row = row.map_err(|e| DataError::csv(&path, e))?;
        sink.push(&row.instruction, Some(row.intent), None, None);
    }
    Ok(sink.finish())
}

/// The records of `split` with their register tags (letters of every row with that text,
/// merged): what the emotion mix reads `W` (offensive) and `P` (polite) from.
pub(crate) fn load_tagged(dir: &Path, split: Split) -> Result<Vec<(Record, String)>, DataError> {
    let path = dir.join("raw/data/train/Bitext_Sample_Customer_Support_Training_Dataset.csv");
    let mut tags: std::collections::HashMap<String, String> = Default::default();
    let mut reader = super::csv_reader(&path)?;
    for row in reader.deserialize::<Row>() {
        let row = row.map_err(|e| DataError::csv(&path, e))?;
        let t = tags.entry(row.instruction.trim().to_string()).or_default();
        for c in row.tags.chars() {
            if !t.contains(c) {
                t.push(c);
            }
        }
    }
    Ok(load(dir, split)?
        .into_iter()
        .map(|r| {
            let t = tags.get(r.text.trim()).cloned().unwrap_or_default();
            (r, t)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_set;
    use crate::data::testutil::{check_common, check_derived_disjoint, load_ok};

    #[test]
    fn sizes_and_labels() {
        let train = load_ok("bitext_customer_support", Split::Train);
        let dev = load_ok("bitext_customer_support", Split::Dev);
        let test = load_ok("bitext_customer_support", Split::Test);
        for r in [&train, &dev, &test] {
            check_common("bitext_customer_support", r);
            assert_eq!(label_set(r).len(), 27);
        }
        assert_eq!(train.len() + dev.len() + test.len(), 4514);
        assert_eq!((train.len(), dev.len(), test.len()), (3642, 436, 436));
        let all: Vec<Record> = [train, dev, test].concat();
        let n = |i: &str| {
            all.iter()
                .filter(|r| r.intent.as_deref() == Some(i))
                .count()
        };
        // per-intent counts from SOURCE.md
        assert_eq!(n("cancel_order"), 139);
        assert_eq!(n("delivery_period"), 204);
        assert_eq!(n("newsletter_subscription"), 142);
        // the first row of the file, read past its multi-line quoted `response`
        assert!(all
            .iter()
            .any(|r| r.text == "how can I cancel purchase 113542617735902?"
                && r.intent.as_deref() == Some("cancel_order")));
    }

    #[test]
    fn derived_splits_disjoint_and_deterministic() {
        check_derived_disjoint(
            "bitext_customer_support",
            &[Split::Train, Split::Dev, Split::Test],
        );
    }
}
