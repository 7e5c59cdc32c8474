//! CLINC150 / OOS-eval (`clinc150/raw/data/data_full.json`): a JSON object of `[text,
//! intent]` lists. Train = `train` + `oos_train`, Dev = `val` + `oos_val`, Test = `test` +
//! `oos_test`; out-of-scope examples keep the data set's label `"oos"`.

use super::{DataError, Record, Sink, Split};
use serde::Deserialize;
use std::io::BufReader;
use std::path::Path;
use triage_core::text::Channel;

/// The out-of-scope label, spelled as in the data set.
pub(crate) const OOS: &str = "oos";

#[derive(Deserialize)]
struct Full {
    train: Vec<(String, String)>,
    val: Vec<(String, String)>,
    test: Vec<(String, String)>,
    oos_train: Vec<(String, String)>,
    oos_val: Vec<(String, String)>,
    oos_test: Vec<(String, String)>,
}

pub(crate) fn load(dir: &Path, split: Split) -> Result<Vec<Record>, DataError> {
    let path = dir.join("raw/data/data_full.json");
    let reader = BufReader::new(super::open(&path)?);
    let mut full: Full = serde_json::from_reader(reader).map_err(|e| DataError::json(&path, e))?;
    let (in_scope, oos) = match split {
        Split::Train => (
            std::mem::take(&mut full.train),
            std::mem::take(&mut full.oos_train),
        ),
        Split::Dev => (
            std::mem::take(&mut full.val),
            std::mem::take(&mut full.oos_val),
        ),
        Split::Test => (
            std::mem::take(&mut full.test),
            std::mem::take(&mut full.oos_test),
        ),
    };
    let mut sink = Sink::new(&path, "en", Channel::Chat);
    for (text, intent) in in_scope.into_iter().chain(oos) {
        sink.push(&text, Some(intent), None, None);
    }
    Ok(sink.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_set;
    use crate::data::testutil::{check_common, load_ok};

    fn count(recs: &[Record], oos: bool) -> usize {
        recs.iter()
            .filter(|r| (r.intent.as_deref() == Some(OOS)) == oos)
            .count()
    }

    #[test]
    fn sizes_and_labels() {
        for (split, in_scope, oos) in [
            (Split::Train, 15000, 100),
            (Split::Dev, 3000, 100),
            (Split::Test, 4500, 1000),
        ] {
            let recs = load_ok("clinc150", split);
            check_common("clinc150", &recs);
            assert_eq!(count(&recs, false), in_scope, "{split}");
            assert_eq!(count(&recs, true), oos, "{split}");
            let labels = label_set(&recs);
            assert_eq!(labels.len(), 151, "{split}");
            assert!(labels.iter().any(|l| l == "oos"));
            assert!(labels.iter().any(|l| l == "freeze_account"));
        }
    }
}
