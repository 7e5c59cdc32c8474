//! SLURP (`slurp/raw/dataset/slurp/{devel,test}.jsonl`): only `devel` (→ [`Split::Dev`])
//! and `test` (→ [`Split::Test`]) are available; there is no Train (head-only training uses
//! Dev). Text = `sentence` (gold transcript), channel voice.
//!
//! Intent = `scenario + "_" + action`, the scenario_action form SLURP's own evaluation
//! uses. The file's `intent` field is *not* used: in 67 rows (30 devel, 37 test) it holds
//! the bare action (`query`, `music`, `hue_lightoff`, ...) and in one test row it disagrees
//! with `action`; building it from the two fields gives the consistent form (59 intents in
//! each split, 60 in both, 18 scenarios).

use super::{not_available, DataError, Record, Sink, Split};
use serde::Deserialize;
use std::path::Path;
use triage_core::cause::Detail;
use triage_core::text::Channel;

#[derive(Deserialize)]
struct Row {
    sentence: String,
    scenario: String,
    action: String,
}

pub(crate) fn load(dir: &Path, split: Split) -> Result<Vec<Record>, DataError> {
    let file = match split {
        Split::Dev => "devel.jsonl",
        Split::Test => "test.jsonl",
        Split::Train => return Err(not_available(super::dataset_info("slurp").unwrap(), split)),
    };
    let path = dir.join("raw/dataset/slurp").join(file);
    let content = super::read_string(&path)?;
    let mut sink = Sink::new(&path, "en", Channel::Voice);
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line)
            .map_err(|e| DataError::parse(&path, Some(i as u64 + 1), Detail::of(e)))?;
        let intent = format!("{}_{}", row.scenario.trim(), row.action.trim());
        sink.push(&row.sentence, Some(intent), None, None);
    }
    Ok(sink.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_set;
    use crate::data::testutil::{check_common, load_ok, texts};
    use std::collections::BTreeSet;

    fn scenarios(recs: &[Record]) -> BTreeSet<&str> {
        recs.iter()
            .map(|r| r.intent.as_deref().unwrap().split('_').next().unwrap())
            .collect()
    }

    #[test]
    fn sizes_and_labels() {
        let dev = load_ok("slurp", Split::Dev);
        let test = load_ok("slurp", Split::Test);
        check_common("slurp", &dev);
        check_common("slurp", &test);
        assert_eq!(dev.len(), 2033);
        assert_eq!(test.len(), 2974);
        assert_eq!(scenarios(&dev).len(), 18);
        assert_eq!(scenarios(&test).len(), 18);
        assert_eq!(label_set(&dev).len(), 59);
        assert_eq!(label_set(&test).len(), 59);
        assert_eq!(label_set(&[dev.clone(), test.clone()].concat()).len(), 60);
        assert!(label_set(&dev).iter().all(|l| l.contains('_')));
        assert!(texts(&dev).is_disjoint(&texts(&test)));
        assert_eq!(test[0].text, "event reminder mona tuesday");
        assert_eq!(test[0].intent.as_deref(), Some("calendar_set"));
    }

    #[test]
    fn no_train_split() {
        let err = crate::data::load(&crate::data::default_root(), "slurp", Split::Train);
        assert!(matches!(err, Err(DataError::SplitNotAvailable { .. })));
        let dir = crate::data::default_root().join("slurp");
        assert!(matches!(
            load(&dir, Split::Train),
            Err(DataError::SplitNotAvailable { .. })
        ));
    }
}
