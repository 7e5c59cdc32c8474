//! SMP2017-ECDT task 1 (`smp2017_ecdt_task1/raw/dataSet/往年数据.zip`), read directly from
//! the zip (nothing is extracted): `Task1data/{train,develop,test}/<split>_<label>.txt`,
//! one utterance per line (CRLF; some files start with a UTF-8 BOM, most do not); the
//! label (one of 31 domains) is in the file name. `develop` → [`Split::Dev`]. The zip's
//! `data.json` (train + develop concatenated, not valid JSON) is not used.

use super::{DataError, Record, Sink, Split};
use std::io::Read;
use std::path::{Path, PathBuf};
use triage_core::cause::Detail;
use triage_core::text::Channel;

const ZIP_PATH: &str = "raw/dataSet/往年数据.zip";

pub(crate) fn load(dir: &Path, split: Split) -> Result<Vec<Record>, DataError> {
    let path = dir.join(ZIP_PATH);
    let zip_err = |e: zip::result::ZipError| {
        DataError::parse(&path, None, Detail::with(format!("zip: {e}"), e))
    };
    let mut archive = zip::ZipArchive::new(super::open(&path)?).map_err(zip_err)?;
    let folder = match split {
        Split::Train => "train",
        Split::Dev => "develop",
        Split::Test => "test",
    };
    let prefix = format!("Task1data/{folder}/{folder}_");
    let mut entries: Vec<(String, String)> = archive
        .file_names()
        .filter_map(|name| {
            let label = name.strip_prefix(&prefix)?.strip_suffix(".txt")?;
            (!label.is_empty() && !label.contains('/'))
                .then(|| (name.to_string(), label.to_string()))
        })
        .collect();
    entries.sort();
    if entries.is_empty() {
        return Err(DataError::parse(
            &path,
            None,
            format!("no {prefix}<label>.txt files in the zip"),
        ));
    }
    let mut out = Vec::new();
    for (name, label) in entries {
        // errors name `<zip>/<entry>`
        let entry_path: PathBuf = path.join(&name);
        let mut bytes = Vec::new();
        archive
            .by_name(&name)
            .map_err(zip_err)?
            .read_to_end(&mut bytes)
            .map_err(|e| {
                DataError::parse(&entry_path, None, Detail::with(format!("zip: {e}"), e))
            })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            DataError::parse(
                &entry_path,
                None,
                Detail::with(format!("not UTF-8: {e}"), e),
            )
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let mut sink = Sink::new(&entry_path, "zh", Channel::Chat);
        for line in text.lines() {
            sink.push(line, Some(label.clone()), None, None);
        }
        out.extend(sink.finish());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_set;
    use crate::data::testutil::{check_common, load_ok, texts};

    #[test]
    fn sizes_and_labels() {
        let train = load_ok("smp2017_ecdt_task1", Split::Train);
        let dev = load_ok("smp2017_ecdt_task1", Split::Dev);
        let test = load_ok("smp2017_ecdt_task1", Split::Test);
        for r in [&train, &dev, &test] {
            check_common("smp2017_ecdt_task1", r);
            assert_eq!(label_set(r).len(), 31);
            assert!(r.iter().all(|r| !r.text.contains('\u{feff}')));
        }
        assert_eq!(train.len(), 2299);
        assert_eq!(dev.len(), 770);
        assert_eq!(test.len(), 667);
        assert!(texts(&train).is_disjoint(&texts(&test)));
        assert!(texts(&train).is_disjoint(&texts(&dev)));
        assert!(train
            .iter()
            .any(|r| r.text == "今天东莞天气如何" && r.intent.as_deref() == Some("weather")));
    }

    #[test]
    fn missing_zip_is_named() {
        let err = load(Path::new("/nonexistent"), Split::Train).unwrap_err();
        assert!(matches!(err, DataError::MissingFile { ref path } if path.ends_with(ZIP_PATH)));
    }
}
