//! CAIS (`cais/raw/CAIS/{train,valid,test}/ch.{split}` + `ch.{split}.intent`).
//!
//! The sentence file is character-level BIO: one `<char> <tag>` per line, a blank line
//! after each utterance (a space character appears as a line `"  O"`, so the tag is what
//! follows the *last* space). The `.intent` file has one intent per utterance, in the same
//! order; the two counts must agree. `valid` → [`Split::Dev`]. Slots are not kept.

use super::{DataError, Record, Sink, Split};
use std::path::Path;
use triage_core::text::Channel;

pub(crate) fn load(dir: &Path, split: Split) -> Result<Vec<Record>, DataError> {
    let name = match split {
        Split::Train => "train",
        Split::Dev => "valid",
        Split::Test => "test",
    };
    let base = dir.join("raw/CAIS").join(name);
    let sent_path = base.join(format!("ch.{name}"));
    let intent_path = base.join(format!("ch.{name}.intent"));
    let sentences = read_bio(&sent_path)?;
    let intents: Vec<String> = super::read_string(&intent_path)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if sentences.len() != intents.len() {
        return Err(DataError::parse(
            &intent_path,
            None,
            format!(
                "{} intents but {} utterances in {}",
                intents.len(),
                sentences.len(),
                sent_path.display()
            ),
        ));
    }
    let mut sink = Sink::new(&sent_path, "zh", Channel::Voice);
    for (text, intent) in sentences.iter().zip(intents) {
        sink.push(text, Some(intent), None, None);
    }
    Ok(sink.finish())
}

/// The utterances of a char-per-line BIO file, in order.
fn read_bio(path: &Path) -> Result<Vec<String>, DataError> {
    let content = super::read_string(path)?;
    let mut out = Vec::new();
    let mut current = String::new();
    let mut open = false;
    for (i, line) in content.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if open {
                out.push(std::mem::take(&mut current));
                open = false;
            }
            continue;
        }
        let (ch, _tag) = line.rsplit_once(' ').ok_or_else(|| {
            DataError::parse(
                path,
                Some(i as u64 + 1),
                format!("expected `<char> <tag>`, got {line:?}"),
            )
        })?;
        current.push_str(ch);
        open = true;
    }
    if open {
        out.push(current);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_set;
    use crate::data::testutil::{check_common, load_ok};

    #[test]
    fn sizes_and_labels() {
        let train = load_ok("cais", Split::Train);
        let dev = load_ok("cais", Split::Dev);
        let test = load_ok("cais", Split::Test);
        for r in [&train, &dev, &test] {
            check_common("cais", r);
        }
        assert_eq!((train.len(), dev.len(), test.len()), (7995, 994, 1012));
        assert_eq!(label_set(&train).len(), 13);
        assert_eq!(label_set(&dev).len(), 12);
        assert_eq!(label_set(&test).len(), 14);
        let all = [train.clone(), dev, test].concat();
        assert_eq!(label_set(&all).len(), 14);
        let n = |i: &str| {
            all.iter()
                .filter(|r| r.intent.as_deref() == Some(i))
                .count()
        };
        assert_eq!(n("PlayMusic"), 8706);
        assert_eq!(n("GetDate"), 1);
        assert_eq!(train[0].text, "我要听吴雨霏的歌");
        assert_eq!(train[1].text, "我要听tfboys唱的歌。");
        // spaces inside utterances survive (`"  O"` lines)
        assert!(all.iter().any(|r| r.text == "周杰伦 夜曲"));
    }

    #[test]
    fn bio_parsing() {
        let dir = std::env::temp_dir().join(format!("triage-cais-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ch.x");
        std::fs::write(&p, "我 O\n  O\na B-x\n\n\n你 O\n").unwrap();
        assert_eq!(read_bio(&p).unwrap(), ["我 a", "你"]);
        std::fs::write(&p, "我 O\n\n坏\n").unwrap();
        let err = read_bio(&p).unwrap_err();
        assert!(
            matches!(err, DataError::Parse { line: Some(3), .. }),
            "{err}"
        );
    }
}
