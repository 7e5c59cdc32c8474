//! Stable subsamples for smoke suites. Data files are often sorted by label (banking77's
//! test.csv is), so "the first N" would test a handful of intents; ordering by a hash of
//! the text spreads the sample over all labels and keeps it the same from run to run.

use crate::data::Record;
use sha2::{Digest, Sha256};

/// At most `limit` records, chosen by the sha256 of their text, in their original order.
pub fn stable_sample(records: Vec<Record>, limit: Option<usize>) -> Vec<Record> {
    let Some(limit) = limit else { return records };
    if records.len() <= limit {
        return records;
    }
    let mut keyed: Vec<([u8; 32], usize)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (Sha256::digest(r.text.as_bytes()).into(), i))
        .collect();
    keyed.sort_unstable();
    let mut keep: Vec<usize> = keyed.into_iter().take(limit).map(|(_, i)| i).collect();
    keep.sort_unstable();
    let mut keep = keep.into_iter().peekable();
    records
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| {
            if keep.peek() == Some(&i) {
                keep.next();
                Some(r)
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ordered_and_bounded() {
        let recs: Vec<Record> = (0..100)
            .map(|i| Record {
                text: format!("text {i}"),
                ..Default::default()
            })
            .collect();
        let a = stable_sample(recs.clone(), Some(10));
        assert_eq!(a.len(), 10);
        assert_eq!(a, stable_sample(recs.clone(), Some(10)));
        let idx: Vec<usize> = a.iter().map(|r| r.text[5..].parse().unwrap()).collect();
        assert!(idx.windows(2).all(|w| w[0] < w[1]), "{idx:?}");
        assert!(
            *idx.last().unwrap() > 20,
            "not just the first rows: {idx:?}"
        );
        // A smaller sample is a subset of a larger one.
        let b = stable_sample(recs.clone(), Some(20));
        assert!(a.iter().all(|r| b.contains(r)));
        assert_eq!(stable_sample(recs.clone(), None).len(), 100);
        assert_eq!(stable_sample(recs, Some(500)).len(), 100);
    }
}
