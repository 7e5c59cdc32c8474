//! The user-facing record format: one JSON [`Record`] per line (DESIGN.md "Data"), and the
//! `--data` spec that names either such a file or a split of a known data set.

use super::{load, DataError, Record, Split};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use triage_core::cause::Detail;

/// Reads a JSONL file of records. Blank lines are skipped, unknown fields ignored, `text`
/// is required (other fields default: `channel` chat, labels absent). Texts are trimmed and
/// records whose text is empty are skipped (counted in one warning), as in the adapters.
/// Errors name the file and the 1-based line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>, DataError> {
    let reader = BufReader::new(super::open(path)?);
    let mut out = Vec::new();
    let mut empty = 0usize;
    for (i, line) in reader.lines().enumerate() {
        let lineno = i as u64 + 1;
        let line = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => DataError::parse(path, Some(lineno), "not UTF-8"),
            _ => DataError::io(path, e),
        })?;
        let line = line.strip_prefix('\u{feff}').unwrap_or(&line);
        if line.trim().is_empty() {
            continue;
        }
        let mut rec: Record = serde_json::from_str(line)
            .map_err(|e| DataError::parse(path, Some(lineno), Detail::of(e)))?;
        let trimmed = rec.text.trim();
        if trimmed.is_empty() {
            empty += 1;
            continue;
        }
        if trimmed.len() != rec.text.len() {
            rec.text = trimmed.to_string();
        }
        out.push(rec);
    }
    if empty > 0 {
        tracing::warn!(file = %path.display(), skipped = empty, "skipped records with empty text");
    }
    Ok(out)
}

/// Writes records as JSONL (one compact JSON object per line; absent labels omitted).
pub fn write_jsonl(path: &Path, records: &[Record]) -> Result<(), DataError> {
    let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    let mut w = BufWriter::new(file);
    for rec in records {
        serde_json::to_writer(&mut w, rec).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        w.write_all(b"\n").map_err(|e| DataError::io(path, e))?;
    }
    w.flush().map_err(|e| DataError::io(path, e))
}

/// Resolves a `--data` spec: a path to a `.jsonl` file (anything ending in `.jsonl`, or an
/// existing file), `NAME:SPLIT` for a known data set under `root` (e.g.
/// `banking77:train`, `clinc150:test`, `slurp:dev`; `val`/`valid`/`devel` mean dev), or
/// `calm_requests:SPLIT` (`super::calm_requests`, every record labelled `neutral`).
pub fn load_spec(root: &Path, spec: &str) -> Result<Vec<Record>, DataError> {
    let spec = spec.trim();
    let as_path = Path::new(spec);
    if spec.ends_with(".jsonl") || as_path.is_file() {
        return read_jsonl(as_path);
    }
    match spec.rsplit_once(':') {
        Some((name, split)) if !name.is_empty() => {
            let split: Split = split.trim().parse().map_err(|_| DataError::UnknownSplit {
                split: split.to_string(),
            })?;
            if name.trim() == super::CALM_REQUESTS {
                return Ok(super::calm_requests(root, split)?
                    .into_iter()
                    .flatten()
                    .map(|r| Record {
                        emotions: Some(vec!["neutral".into()]),
                        intent: None,
                        ..r
                    })
                    .collect());
            }
            load(root, name.trim(), split)
        }
        _ => Err(DataError::InvalidSpec {
            spec: spec.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::root;
    use std::path::PathBuf;
    use triage_core::text::Channel;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("triage-data-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn round_trip() {
        let recs = vec![
            Record {
                text: "where is my parcel??".into(),
                channel: Channel::Chat,
                lang: Some("en".into()),
                intent: Some("track_order".into()),
                emotions: Some(vec!["annoyance".into()]),
                sentiment: Some("negative".into()),
            },
            Record {
                text: "我要听周杰伦的歌 \"quoted\"\nnewline".into(),
                channel: Channel::Voice,
                lang: Some("zh".into()),
                intent: Some("PlayMusic".into()),
                ..Default::default()
            },
            Record {
                text: "labelled, no emotion".into(),
                channel: Channel::Social,
                emotions: Some(vec![]),
                ..Default::default()
            },
        ];
        let p = tmp("round_trip.jsonl");
        write_jsonl(&p, &recs).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(!text.lines().nth(2).unwrap().contains("intent"));
        assert_eq!(read_jsonl(&p).unwrap(), recs);
        // and a real data set survives the trip
        let real = load(&root(), "cais", Split::Dev).unwrap();
        let p2 = tmp("cais_dev.jsonl");
        write_jsonl(&p2, &real).unwrap();
        assert_eq!(read_jsonl(&p2).unwrap(), real);
        let via_spec = load_spec(&root(), p2.to_str().unwrap()).unwrap();
        assert_eq!(via_spec, real);
    }

    #[test]
    fn defaults_blank_lines_extra_fields() {
        let p = tmp("defaults.jsonl");
        std::fs::write(
            &p,
            "\n{\"text\": \"  hi there \", \"extra\": 1}\n   \n{\"text\": \"x\", \"channel\": \"email\"}\n{\"text\": \"  \"}\n",
        )
        .unwrap();
        let recs = read_jsonl(&p).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].text, "hi there");
        assert_eq!(recs[0].channel, Channel::Chat);
        assert_eq!(recs[0].intent, None);
        assert_eq!(recs[1].channel, Channel::Email);
    }

    #[test]
    fn error_names_file_and_line() {
        let p = tmp("bad.jsonl");
        std::fs::write(
            &p,
            "{\"text\": \"ok\"}\n{\"text\": \"also ok\", \"intent\": \"a\"}\n{\"text\": \"broken\", \n{\"text\": \"fine\"}\n",
        )
        .unwrap();
        let err = read_jsonl(&p).unwrap_err();
        match &err {
            DataError::Parse { path, line, .. } => {
                assert_eq!(path, &p);
                assert_eq!(*line, Some(3));
            }
            other => panic!("expected Parse, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("bad.jsonl:3:"), "{msg}");
    }

    #[test]
    fn missing_text_is_an_error() {
        let p = tmp("no_text.jsonl");
        std::fs::write(&p, "{\"text\": \"ok\"}\n\n{\"intent\": \"a\"}\n").unwrap();
        let err = read_jsonl(&p).unwrap_err();
        assert!(
            matches!(err, DataError::Parse { line: Some(3), .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("text"), "{err}");
    }

    #[test]
    fn missing_file() {
        let err = read_jsonl(Path::new("/nonexistent/x.jsonl")).unwrap_err();
        assert!(matches!(err, DataError::MissingFile { .. }), "{err:?}");
        let err = load_spec(&root(), "/nonexistent/x.jsonl").unwrap_err();
        assert!(matches!(err, DataError::MissingFile { .. }), "{err:?}");
    }

    #[test]
    fn specs() {
        let r = root();
        assert_eq!(load_spec(&r, "banking77:test").unwrap().len(), 3080);
        assert_eq!(load_spec(&r, "slurp:dev").unwrap().len(), 2033);
        assert_eq!(load_spec(&r, "slurp:devel").unwrap().len(), 2033);
        assert_eq!(load_spec(&r, "clinc150:test").unwrap().len(), 5500);
        assert!(matches!(
            load_spec(&r, "nope:train"),
            Err(DataError::UnknownDataset { .. })
        ));
        assert!(matches!(
            load_spec(&r, "banking77:nope"),
            Err(DataError::UnknownSplit { .. })
        ));
        assert!(matches!(
            load_spec(&r, "slurp:train"),
            Err(DataError::SplitNotAvailable { .. })
        ));
        assert!(matches!(
            load_spec(&r, "banking77"),
            Err(DataError::InvalidSpec { .. })
        ));
    }
}
