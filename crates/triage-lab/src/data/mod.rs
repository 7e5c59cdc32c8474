//! Data-set adapters (DESIGN.md "Data"): read the raw data sets in `../shared/datasets/`
//! (see its README.md and each SOURCE.md) into the canonical [`Record`].
//!
//! Entry points:
//! - [`load`]`(root, name, split)` reads one split of one of the nine known sets
//!   (`datasets` lists them with task, language, channel, licence and available splits);
//! - [`load_spec`]`(root, spec)` is what the CLI's `--data` flag takes: a path to a
//!   `.jsonl` file of records, or `NAME:SPLIT` (`banking77:train`, `slurp:dev`);
//! - [`read_jsonl`] / [`write_jsonl`] for the user-facing JSONL format.
//!
//! Every adapter trims texts, skips (and counts, with one `tracing::warn!` per file) empty
//! ones, never dedupes, and sets `lang` (`"en"` / `"zh"`) and `channel`.
//!
//! Splits. Where a set has no official split, one is derived by hash of the (trimmed) text
//! with `hash_split` (sha256, stable across platforms and Rust versions), so identical
//! texts always land in the same split:
//! - banking77: no official dev; Dev = the ~10% of `train.csv` whose text hashes into the
//!   dev bucket, Train = the rest of `train.csv`, Test = `test.csv`;
//! - bitext_customer_support, chnsenticorp_htl_all: single file, 80/10/10 train/dev/test;
//! - smp2020_ewect_virus: Dev = ~10% of `virus_train.txt` by hash, Train = the rest,
//!   Test = `virus_eval_labeled.txt`;
//! - slurp: only `devel` (→ Dev) and `test` (→ Test) exist; there is no Train.

mod record;
pub use record::{Record, Split};

mod banking77;
mod bitext;
mod cais;
mod chnsenticorp;
mod clinc150;
mod goemotions;
mod jsonl;
mod slurp;
mod smp2017;
mod smp2020;
mod split;

pub(crate) use clinc150::OOS;
pub use goemotions::{ekman_group, goemotions_labels, sentiment_group};
pub use jsonl::{load_spec, read_jsonl, write_jsonl};
pub(crate) use split::{hash_split, DERIVED_DEV_PCT, DERIVED_TEST_PCT};

use std::path::{Path, PathBuf};
use triage_core::cause::Detail;
use triage_core::text::Channel;

/// Everything that can go wrong reading data. File-level variants name the file; for
/// line-oriented formats (JSONL, CSV, TSV, the CAIS/SMP text files) and JSON, `line` is the
/// 1-based line where the problem was found.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data file not found: {}", .path.display())]
    MissingFile { path: PathBuf },
    #[error("cannot read or write {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `message` is ours, or the parser's error (JSON, CSV, zip, UTF-8), then kept as
    /// the source.
    #[error("{}{}: {message}", .path.display(), line_suffix(.line))]
    Parse {
        path: PathBuf,
        line: Option<u64>,
        #[source]
        message: Detail,
    },
    #[error("unknown data set {name:?}: expected one of {}", known_names())]
    UnknownDataset { name: String },
    #[error("unknown split {split:?}: expected train, dev or test")]
    UnknownSplit { split: String },
    #[error("data set {dataset} has no {split} split (available: {available})")]
    SplitNotAvailable {
        dataset: &'static str,
        split: Split,
        available: String,
    },
    #[error(
        "invalid data spec {spec:?}: expected a path to a .jsonl file or NAME:SPLIT \
         (e.g. banking77:train, clinc150:test, slurp:dev)"
    )]
    InvalidSpec { spec: String },
}

fn line_suffix(line: &Option<u64>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

fn known_names() -> String {
    DATASETS
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl DataError {
    fn parse(path: &Path, line: Option<u64>, message: impl Into<Detail>) -> Self {
        DataError::Parse {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// Maps "not found" to [`DataError::MissingFile`], anything else to [`DataError::Io`].
    fn io(path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }

    /// A CSV error, with the 1-based line of the offending record when csv knows it.
    fn csv(path: &Path, err: csv::Error) -> Self {
        let line = err.position().map(|p| p.line());
        if !matches!(err.kind(), csv::ErrorKind::Io(_)) {
            return DataError::parse(path, line, Detail::of(err));
        }
        let message = err.to_string();
        match err.into_kind() {
            csv::ErrorKind::Io(e) => DataError::io(path, e),
            _ => DataError::parse(path, line, message),
        }
    }

    /// A serde_json error for a whole-file JSON document (line from serde_json).
    fn json(path: &Path, err: serde_json::Error) -> Self {
        let line = (err.line() > 0).then_some(err.line() as u64);
        DataError::parse(path, line, Detail::of(err))
    }
}

/// One known data set: what it is, where it may be used, which splits [`load`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DatasetInfo {
    /// Folder name under the data-sets root, and the `NAME` in `NAME:SPLIT`.
    pub(crate) name: &'static str,
    /// `"intent"`, `"emotion"` or `"sentiment"`: which record field it labels.
    task: &'static str,
    /// `"en"` or `"zh"`.
    lang: &'static str,
    channel: Channel,
    /// As stated by the source repository (see its SOURCE.md).
    pub(crate) licence: &'static str,
    /// True only for the sets the shipped default model may train on (DESIGN.md "Data").
    pub(crate) permissive: bool,
    /// Splits [`load`] serves, official or derived (see `split_note`).
    splits: &'static [Split],
    /// How the splits map onto the raw files.
    split_note: &'static str,
}

const ALL_SPLITS: &[Split] = &[Split::Train, Split::Dev, Split::Test];

static DATASETS: [DatasetInfo; 9] = [
    DatasetInfo {
        name: "clinc150",
        task: "intent",
        lang: "en",
        channel: Channel::Chat,
        licence: "CC-BY-3.0",
        permissive: true,
        splits: ALL_SPLITS,
        split_note: "official data_full.json: train/val/test plus oos_train/oos_val/oos_test (intent \"oos\")",
    },
    DatasetInfo {
        name: "banking77",
        task: "intent",
        lang: "en",
        channel: Channel::Chat,
        licence: "CC-BY-4.0",
        permissive: true,
        splits: ALL_SPLITS,
        split_note: "test = official test.csv; dev = ~10% of train.csv by sha256 of the text; train = the rest of train.csv",
    },
    DatasetInfo {
        name: "bitext_customer_support",
        task: "intent",
        lang: "en",
        channel: Channel::Chat,
        licence: "CDLA-Sharing-1.0",
        permissive: true,
        splits: ALL_SPLITS,
        split_note: "single file; derived 80/10/10 train/dev/test by sha256 of the text",
    },
    DatasetInfo {
        name: "goemotions",
        task: "emotion",
        lang: "en",
        channel: Channel::Social,
        licence: "Apache-2.0 (mirror repo)",
        permissive: true,
        splits: ALL_SPLITS,
        split_note: "official original/{train,dev,test}.tsv",
    },
    DatasetInfo {
        name: "slurp",
        task: "intent",
        lang: "en",
        channel: Channel::Voice,
        licence: "CC-BY-4.0 (text)",
        permissive: false,
        splits: &[Split::Dev, Split::Test],
        split_note: "official devel.jsonl = dev, test.jsonl = test; the train split is not available",
    },
    DatasetInfo {
        name: "smp2017_ecdt_task1",
        task: "intent",
        lang: "zh",
        channel: Channel::Chat,
        licence: "unknown (research use)",
        permissive: false,
        splits: ALL_SPLITS,
        split_note: "official Task1data/{train,develop,test} inside the zip",
    },
    DatasetInfo {
        name: "cais",
        task: "intent",
        lang: "zh",
        channel: Channel::Voice,
        licence: "unknown (research use)",
        permissive: false,
        splits: ALL_SPLITS,
        split_note: "official CAIS/{train,valid,test}",
    },
    DatasetInfo {
        name: "smp2020_ewect_virus",
        task: "emotion",
        lang: "zh",
        channel: Channel::Social,
        licence: "unknown (research use)",
        permissive: false,
        splits: ALL_SPLITS,
        split_note: "test = official virus_eval_labeled.txt; dev = ~10% of virus_train.txt by sha256 of the text; train = the rest",
    },
    DatasetInfo {
        name: "chnsenticorp_htl_all",
        task: "sentiment",
        lang: "zh",
        channel: Channel::Chat,
        licence: "unknown (research use)",
        permissive: false,
        splits: ALL_SPLITS,
        split_note: "single file; derived 80/10/10 train/dev/test by sha256 of the text",
    },
];

/// The nine known data sets, in a fixed order.
pub(crate) fn datasets() -> &'static [DatasetInfo] {
    &DATASETS
}

/// Looks a data set up by its folder name (also accepts the short aliases `bitext`,
/// `smp2017`, `smp2020`, `chnsenticorp`).
pub(crate) fn dataset_info(name: &str) -> Option<&'static DatasetInfo> {
    let name = match name {
        "bitext" => "bitext_customer_support",
        "smp2017" => "smp2017_ecdt_task1",
        "smp2020" => "smp2020_ewect_virus",
        "chnsenticorp" => "chnsenticorp_htl_all",
        other => other,
    };
    DATASETS.iter().find(|d| d.name == name)
}

/// Reads one split of a known data set from `root` (the data-sets folder, e.g.
/// `/work/shared/datasets`).
pub fn load(root: &Path, name: &str, split: Split) -> Result<Vec<Record>, DataError> {
    let info = dataset_info(name).ok_or_else(|| DataError::UnknownDataset {
        name: name.to_string(),
    })?;
    if !info.splits.contains(&split) {
        return Err(not_available(info, split));
    }
    let dir = root.join(info.name);
    match info.name {
        "clinc150" => clinc150::load(&dir, split),
        "banking77" => banking77::load(&dir, split),
        "bitext_customer_support" => bitext::load(&dir, split),
        "goemotions" => goemotions::load(&dir, split),
        "slurp" => slurp::load(&dir, split),
        "smp2017_ecdt_task1" => smp2017::load(&dir, split),
        "cais" => cais::load(&dir, split),
        "smp2020_ewect_virus" => smp2020::load(&dir, split),
        "chnsenticorp_htl_all" => chnsenticorp::load(&dir, split),
        other => unreachable!("data set {other} is listed but has no adapter"),
    }
}

fn not_available(info: &DatasetInfo, split: Split) -> DataError {
    DataError::SplitNotAvailable {
        dataset: info.name,
        split,
        available: info
            .splits
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// bitext_customer_support's records of `split` with their register tags (`W` offensive,
/// `P` polite, …): the in-domain emotion supervision of the handoff signals (issue 15).
pub(crate) fn bitext_tagged(root: &Path, split: Split) -> Result<Vec<(Record, String)>, DataError> {
    bitext::load_tagged(&root.join("bitext_customer_support"), split)
}

/// The pseudo data set of calm customer requests (`calm_requests:test` in a data spec):
/// what the suite measures calm emotion figures on (issue 15).
const CALM_REQUESTS: &str = "calm_requests";

/// The calm customer requests of `split`, one list per source: bitext without its
/// offensive `W` rows, banking77, clinc150 in-scope. Requests as they come, which a support
/// emotion reading should call calm; the emotion mix trains on the train split's.
pub(crate) fn calm_requests(root: &Path, split: Split) -> Result<Vec<Vec<Record>>, DataError> {
    let bitext = bitext_tagged(root, split)?
        .into_iter()
        .filter(|(_, tags)| !tags.contains('W'))
        .map(|(r, _)| r)
        .collect();
    let banking = load(root, "banking77", split)?;
    let clinc = load(root, "clinc150", split)?
        .into_iter()
        .filter(|r| r.intent.as_deref() != Some(OOS))
        .collect();
    Ok(vec![bitext, banking, clinc])
}

/// Sorted unique intents of `records` (records without an intent are ignored).
pub(crate) fn label_set(records: &[Record]) -> Vec<String> {
    let mut labels: Vec<String> = records.iter().filter_map(|r| r.intent.clone()).collect();
    labels.sort();
    labels.dedup();
    labels
}

/// Where the data sets are by default: `$TRIAGE_DATASETS` if set, else
/// `<crate>/../shared/datasets`, else `../shared/datasets` from the working directory, else
/// `/work/shared/datasets`. If none exists, returns the crate-relative path (so the error
/// names a sensible place).
pub fn default_root() -> PathBuf {
    if let Some(p) = std::env::var_os("TRIAGE_DATASETS").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    let candidates = [
        manifest.clone(),
        PathBuf::from("../shared/datasets"),
        PathBuf::from("/work/shared/datasets"),
    ];
    candidates
        .into_iter()
        .find(|p| p.is_dir())
        .unwrap_or(manifest)
}

// ---------------------------------------------------------------------------------------
// Shared helpers for the adapters.

fn read_string(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    String::from_utf8(bytes)
        .map_err(|e| DataError::parse(path, None, Detail::with(format!("not UTF-8: {e}"), e)))
}

fn open(path: &Path) -> Result<std::fs::File, DataError> {
    std::fs::File::open(path).map_err(|e| DataError::io(path, e))
}

/// A CSV reader over `path` with a header row (fields may be multi-line quoted).
fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>, DataError> {
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(open(path)?))
}

/// Collects the records of one file: trims texts, drops (and counts) empty ones, applies an
/// optional derived hash split, and warns once about the empty ones when finished.
struct Sink {
    file: PathBuf,
    lang: &'static str,
    channel: Channel,
    /// Keep only texts whose `hash_split(text, dev, test)` equals this split.
    derived: Option<(u32, u32, Split)>,
    empty: usize,
    records: Vec<Record>,
}

impl Sink {
    fn new(file: &Path, lang: &'static str, channel: Channel) -> Self {
        Sink {
            file: file.to_path_buf(),
            lang,
            channel,
            derived: None,
            empty: 0,
            records: Vec::new(),
        }
    }

    /// Only keep the texts that [`hash_split`]`(text, dev_pct, test_pct)` puts in `split`.
    fn derived_split(mut self, dev_pct: u32, test_pct: u32, split: Split) -> Self {
        self.derived = Some((dev_pct, test_pct, split));
        self
    }

    fn push(
        &mut self,
        text: &str,
        intent: Option<String>,
        emotions: Option<Vec<String>>,
        sentiment: Option<String>,
    ) {
        let text = text.trim();
        if text.is_empty() {
            self.empty += 1;
            return;
        }
        if let Some((dev, test, want)) = self.derived {
            if hash_split(text, dev, test) != want {
                return;
            }
        }
        self.records.push(Record {
            text: text.to_string(),
            channel: self.channel,
            lang: Some(self.lang.to_string()),
            intent,
            emotions,
            sentiment,
        });
    }

    fn finish(self) -> Vec<Record> {
        if self.empty > 0 {
            tracing::warn!(
                file = %self.file.display(),
                skipped = self.empty,
                "skipped records with empty text"
            );
        }
        self.records
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use std::collections::HashSet;

    pub(crate) fn root() -> PathBuf {
        default_root()
    }

    pub(crate) fn load_ok(name: &str, split: Split) -> Vec<Record> {
        load(&root(), name, split).unwrap_or_else(|e| panic!("{name}:{split}: {e}"))
    }

    pub(crate) fn texts(records: &[Record]) -> HashSet<&str> {
        records.iter().map(|r| r.text.as_str()).collect()
    }

    /// Every record is trimmed, non-empty and carries the data set's lang and channel.
    pub(crate) fn check_common(name: &str, records: &[Record]) {
        let info = dataset_info(name).unwrap();
        for r in records {
            assert!(!r.text.is_empty(), "{name}: empty text");
            assert_eq!(r.text, r.text.trim(), "{name}: untrimmed text");
            assert_eq!(r.lang.as_deref(), Some(info.lang), "{name}: lang");
            assert_eq!(r.channel, info.channel, "{name}: channel");
        }
    }

    /// The derived splits of a set are disjoint by text and loading is deterministic.
    pub(crate) fn check_derived_disjoint(name: &str, splits: &[Split]) {
        let loaded: Vec<Vec<Record>> = splits.iter().map(|&s| load_ok(name, s)).collect();
        for (i, a) in loaded.iter().enumerate() {
            for b in &loaded[i + 1..] {
                let (ta, tb) = (texts(a), texts(b));
                assert!(ta.is_disjoint(&tb), "{name}: derived splits share texts");
            }
        }
        for (&s, first) in splits.iter().zip(&loaded) {
            assert_eq!(&load_ok(name, s), first, "{name}:{s} not deterministic");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_nine_data_sets_and_permissive_ones() {
        let names: Vec<&str> = datasets().iter().map(|d| d.name).collect();
        assert_eq!(
            names,
            [
                "clinc150",
                "banking77",
                "bitext_customer_support",
                "goemotions",
                "slurp",
                "smp2017_ecdt_task1",
                "cais",
                "smp2020_ewect_virus",
                "chnsenticorp_htl_all"
            ]
        );
        let permissive: Vec<&str> = datasets()
            .iter()
            .filter(|d| d.permissive)
            .map(|d| d.name)
            .collect();
        assert_eq!(
            permissive,
            [
                "clinc150",
                "banking77",
                "bitext_customer_support",
                "goemotions"
            ]
        );
        assert_eq!(
            dataset_info("slurp").unwrap().splits,
            &[Split::Dev, Split::Test]
        );
        for d in datasets() {
            assert!(d.lang == "en" || d.lang == "zh");
            assert!(root().join(d.name).is_dir(), "{} folder missing", d.name);
        }
        assert_eq!(
            dataset_info("bitext").unwrap().name,
            "bitext_customer_support"
        );
    }

    fn root() -> PathBuf {
        default_root()
    }

    #[test]
    fn unknown_data_set_is_an_error() {
        let err = load(&root(), "nope", Split::Train).unwrap_err();
        assert!(matches!(err, DataError::UnknownDataset { ref name } if name == "nope"));
        let msg = err.to_string();
        assert!(msg.contains("nope") && msg.contains("banking77"), "{msg}");
    }

    #[test]
    fn split_not_available_is_an_error() {
        let err = load(&root(), "slurp", Split::Train).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::SplitNotAvailable {
                    dataset: "slurp",
                    split: Split::Train,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("dev, test"), "{err}");
    }

    #[test]
    fn missing_root_names_the_file() {
        let err = load(Path::new("/nonexistent/datasets"), "banking77", Split::Test).unwrap_err();
        match err {
            DataError::MissingFile { path } => {
                assert!(
                    path.ends_with("banking77/raw/banking_data/test.csv"),
                    "{path:?}"
                )
            }
            other => panic!("expected MissingFile, got {other}"),
        }
    }

    #[test]
    fn label_set_sorted_unique() {
        let r = |i: Option<&str>| Record {
            text: "x".into(),
            intent: i.map(String::from),
            ..Default::default()
        };
        let recs = [r(Some("b")), r(Some("a")), r(None), r(Some("b"))];
        assert_eq!(label_set(&recs), ["a", "b"]);
    }

    #[test]
    fn default_root_finds_the_data() {
        assert!(
            default_root().join("README.md").is_file(),
            "{:?}",
            default_root()
        );
    }
}
