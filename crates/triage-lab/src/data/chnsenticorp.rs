//! ChnSentiCorp_htl_all (`chnsenticorp_htl_all/raw/datasets/ChnSentiCorp_htl_all/
//! ChnSentiCorp_htl_all.csv`, header `label,review`; 1 = positive, 0 = negative): hotel
//! reviews, so `sentiment` only. Channel: the set is review-site text, which has no channel
//! of its own; we use `chat` (short, typed, first-person customer text) rather than
//! `email` or `social`. No official split: 80/10/10 train/dev/test by
//! [`hash_split`]`(text, 10, 10)`. One row has an empty review and is skipped.
//!
//! [`hash_split`]: super::hash_split

use super::{DataError, Record, Sink, Split, DERIVED_DEV_PCT, DERIVED_TEST_PCT};
use serde::Deserialize;
use std::path::Path;
use triage_core::cause::Detail;
use triage_core::text::Channel;

#[derive(Deserialize)]
struct Row {
    label: String,
    review: String,
}

pub(crate) fn load(dir: &Path, split: Split) -> Result<Vec<Record>, DataError> {
    let path = dir.join("raw/datasets/ChnSentiCorp_htl_all/ChnSentiCorp_htl_all.csv");
    let mut sink = Sink::new(&path, "zh", Channel::Chat).derived_split(
        DERIVED_DEV_PCT,
        DERIVED_TEST_PCT,
        split,
    );
    let mut reader = super::csv_reader(&path)?;
    let headers = reader
        .headers()
        .map_err(|e| DataError::csv(&path, e))?
        .clone();
    for rec in reader.records() {
        let rec = rec.map_err(|e| DataError::csv(&path, e))?;
        let line = rec.position().map(|p| p.line());
        let row: Row = rec
            .deserialize(Some(&headers))
            .map_err(|e| DataError::parse(&path, line, Detail::of(e)))?;
        let sentiment = match row.label.trim() {
            "1" => "positive",
            "0" => "negative",
            other => {
                return Err(DataError::parse(
                    &path,
                    line,
                    format!("label {other:?}: expected 0 or 1"),
                ))
            }
        };
        sink.push(&row.review, None, None, Some(sentiment.to_string()));
    }
    Ok(sink.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::{check_common, check_derived_disjoint, load_ok};

    #[test]
    fn sizes_and_labels() {
        let train = load_ok("chnsenticorp_htl_all", Split::Train);
        let dev = load_ok("chnsenticorp_htl_all", Split::Dev);
        let test = load_ok("chnsenticorp_htl_all", Split::Test);
        for r in [&train, &dev, &test] {
            check_common("chnsenticorp_htl_all", r);
            assert!(r.iter().all(|r| r.intent.is_none() && r.emotions.is_none()));
        }
        // 7766 rows, one with an empty review
        assert_eq!(train.len() + dev.len() + test.len(), 7765);
        assert_eq!((train.len(), dev.len(), test.len()), (6199, 789, 777));
        let all = [train, dev, test].concat();
        let pos = all
            .iter()
            .filter(|r| r.sentiment.as_deref() == Some("positive"))
            .count();
        let neg = all
            .iter()
            .filter(|r| r.sentiment.as_deref() == Some("negative"))
            .count();
        assert_eq!((pos, neg), (5322, 2443));
    }

    #[test]
    fn derived_splits_disjoint_and_deterministic() {
        check_derived_disjoint(
            "chnsenticorp_htl_all",
            &[Split::Train, Split::Dev, Split::Test],
        );
    }

    #[test]
    fn csv_errors_name_file_and_line() {
        let dir = std::env::temp_dir().join(format!("triage-chnsenti-test-{}", std::process::id()));
        let file = dir.join("raw/datasets/ChnSentiCorp_htl_all/ChnSentiCorp_htl_all.csv");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        // line 3 starts a two-line record, line 5 has an empty review (skipped), the bad
        // label is on line 6
        std::fs::write(
            &file,
            "label,review\n1,好\n0,\"不好\n真的\"\n1,  \n2,什么\n",
        )
        .unwrap();
        let err = load(&dir, Split::Train).unwrap_err();
        match &err {
            DataError::Parse { path, line, .. } => {
                assert_eq!(path, &file);
                assert_eq!(*line, Some(6), "{err}");
            }
            other => panic!("expected Parse, got {other}"),
        }
        assert!(
            err.to_string().contains("ChnSentiCorp_htl_all.csv:6:"),
            "{err}"
        );
        // a row with too many fields: csv's own error, same line convention
        std::fs::write(&file, "label,review\n1,好\n0,a,b\n").unwrap();
        let err = load(&dir, Split::Train).unwrap_err();
        assert!(
            matches!(err, DataError::Parse { line: Some(3), .. }),
            "{err}"
        );
    }
}
