//! Eval suites (`eval/suites/*.toml`): which bundle, head and data set each task uses,
//! which channel transforms it runs under, and the floors that make up the CI gate. A
//! task either classifies (`kind = "classification"`, the default) or searches a
//! knowledge base (`kind = "retrieval"`).
//!
//! Relative paths in a suite (`model`, `out`, `datasets`, `.jsonl` data) are resolved
//! against the working directory, like every other `triage` path, so a suite runs the
//! same from the CLI and from `.ci/run` (both start at the repository root).

use super::channels::ChannelVariant;
use super::error::EvalError;
use crate::data::Split;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use triage_core::cause::Detail;

fn default_seed() -> u64 {
    13
}

fn default_intent_set() -> String {
    "support".into()
}

fn default_split() -> Split {
    Split::Test
}

fn default_channels() -> Vec<ChannelVariant> {
    vec![ChannelVariant::Clean]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    /// Bundle every task uses unless it names its own [default: the configured model].
    #[serde(default)]
    pub model: Option<String>,
    /// Folder the reports go to \[default: `eval/reports/<name>`\].
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// Folder of the data sets `NAME:SPLIT` refers to [default: `../shared/datasets`].
    #[serde(default)]
    pub datasets: Option<PathBuf>,
    /// Seed of the channel transforms (one `StdRng` per task and channel).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// At most this many examples per task and per handoff group, picked by hash of the
    /// text (a stable sample across runs and label orders). For smoke suites.
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default, rename = "task")]
    pub tasks: Vec<TaskSpec>,
    #[serde(default)]
    pub handoff: Option<HandoffSpec>,
}

/// What a task measures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// The head's predictions against the records' labels.
    #[default]
    Classification,
    /// Knowledge-base search with each record as the query: the gold articles are those
    /// tagged with its intent (Recall@k, MRR).
    Retrieval,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Names the task in reports, in floors' error messages and in the output folder.
    pub name: String,
    #[serde(default)]
    pub kind: TaskKind,
    /// `NAME:SPLIT` of a known data set (`banking77:test`) or a `.jsonl` file of records.
    pub data: String,
    /// Head to evaluate: `intent.<set>` (softmax) or `emotion` (sigmoid). For retrieval,
    /// the intent head whose prediction boosts the articles tagged with it, as in serving.
    pub head: String,
    /// Retrieval: the knowledge base, a folder of articles or a JSONL file [default: the
    /// configured `kb`].
    #[serde(default)]
    pub kb: Option<PathBuf>,
    #[serde(default)]
    pub model: Option<String>,
    /// Channel transforms to run the test set under; `clean` is always run first.
    #[serde(default = "default_channels")]
    pub channels: Vec<ChannelVariant>,
    /// Overrides the suite's `limit` for this task.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Fit `head` on the bundle's frozen encoder first (for sets the bundle was not
    /// trained on, like slurp), then evaluate that head.
    #[serde(default)]
    pub train_head: Option<TrainHeadSpec>,
    /// Gold labels rewritten before scoring (`{ happy = "joy" }`), for a set labelled in
    /// another vocabulary than the head's (see `eval::relabel`). Every key must occur in
    /// the data and every target must be a label of the head: checked before any task
    /// runs (after training, for a head the task trains).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub label_map: BTreeMap<String, String>,
    /// Minimum value per figure (`accuracy = 0.9`); the gate fails below it.
    #[serde(default)]
    pub floors: BTreeMap<String, f64>,
    /// Maximum value per figure, for figures where lower is better (`ece = 0.05`).
    #[serde(default)]
    pub ceilings: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainHeadSpec {
    /// Training data (`slurp:dev`): a `.jsonl` file or `NAME:SPLIT`.
    pub(crate) data: String,
    /// Calibration data [default: 10% of `data` by hash, or the set's dev split].
    #[serde(default)]
    pub(crate) dev: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffSpec {
    #[serde(default)]
    pub(crate) model: Option<String>,
    /// Intent set the simulated requests ask for (`support` → `intent.support`).
    #[serde(default = "default_intent_set")]
    pub(crate) intent_set: String,
    /// The handoff policy file whose rules decide (`config/policy.toml`); without it the
    /// bot keeps a message when its confidence is at least `threshold`.
    #[serde(default)]
    pub(crate) policy: Option<PathBuf>,
    /// Confidence under which the bot hands over: the threshold-only decider's, or, with
    /// `policy`, a replacement for the file's `low_confidence.threshold`. The sweep marks
    /// it as configured.
    #[serde(default)]
    pub(crate) threshold: Option<f32>,
    /// Split the labelled set is assembled from.
    #[serde(default = "default_split")]
    pub(crate) split: Split,
    /// Overrides the suite's `limit` for each group.
    #[serde(default)]
    pub(crate) max_per_group: Option<usize>,
    #[serde(default)]
    pub(crate) floors: BTreeMap<String, f64>,
    #[serde(default)]
    pub(crate) ceilings: BTreeMap<String, f64>,
}

/// Figure names a floor or ceiling may use (a channel's figures are prefixed by its
/// name, e.g. `voice.accuracy`, `social.gap`). Checked when the suite is read, so a typo
/// fails at once instead of silently never gating.
const TASK_FIGURES: &[&str] = &[
    "n",
    "accuracy",
    "macro_f1",
    "micro_f1",
    "weighted_f1",
    "macro_precision",
    "macro_recall",
    "ece",
    "mce",
    "in_scope_accuracy",
    "oos_recall",
    "oos_precision",
    "oos_f1",
    "oos_auroc",
    "subset_accuracy",
    "hamming_loss",
    "ekman.macro_f1",
    "ekman.micro_f1",
    "sentiment_group.macro_f1",
    "sentiment_group.micro_f1",
    "ekman.gold_macro_f1",
    "sentiment.accuracy",
    "sentiment.macro_f1",
    "sentiment.polar_accuracy",
    "frustration_auroc",
    "served.negative_share",
    "served.anger_share",
    "served.mean_frustration",
    "served.labels_per_message",
    "gap",
];

/// Figure names of a retrieval task (channel prefixes as for [`TASK_FIGURES`]).
const RETRIEVAL_FIGURES: &[&str] = &[
    "n",
    "recall_at_1",
    "recall_at_3",
    "recall_at_5",
    "recall_at_10",
    "mrr",
    "not_found",
    "gap",
];

/// Figure names of the handoff simulation.
pub(crate) const HANDOFF_FIGURES: &[&str] = &[
    "n",
    "containment",
    "wrong_answer_rate",
    "wrong_answer_share_of_kept",
    "handoff_precision",
    "handoff_recall",
    "not_kept_recall",
    "human_request_recall",
];

/// Per-group shares of the handoff simulation: `<group>.bot` and `<group>.handoff`.
pub(crate) fn handoff_group_figure(m: &str) -> bool {
    m.split_once('.').is_some_and(|(g, f)| {
        matches!(f, "bot" | "handoff") && super::handoff::Group::ALL.iter().any(|x| x.as_str() == g)
    })
}

impl Suite {
    pub fn from_file(path: &Path) -> Result<Self, EvalError> {
        let err = |message: Detail| EvalError::Suite {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(Detail::of(e)))?;
        let suite: Suite = toml::from_str(&text).map_err(|e| err(Detail::of(e)))?;
        suite.validate().map_err(|m| err(m.into()))?;
        Ok(suite)
    }

    /// Unique task names, at least one task or a handoff section, known figure names,
    /// bounds that are numbers.
    pub fn validate(&self) -> Result<(), String> {
        if self.tasks.is_empty() && self.handoff.is_none() {
            return Err("the suite has no [[task]] and no [handoff] section".into());
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.tasks {
            if t.name.trim().is_empty()
                || t.name.contains(['/', '\\'])
                || t.name == "."
                || t.name == ".."
            {
                return Err(format!(
                    "task name {:?} must be non-empty and usable as a folder name",
                    t.name
                ));
            }
            if t.name == "handoff" {
                return Err("\"handoff\" is reserved for the handoff simulation".into());
            }
            if !seen.insert(t.name.as_str()) {
                return Err(format!("task {:?} is defined twice", t.name));
            }
            if t.limit == Some(0) {
                return Err(format!("task {:?}: limit must be at least 1", t.name));
            }
            let figures = match t.kind {
                TaskKind::Classification => {
                    if t.kb.is_some() {
                        return Err(format!(
                            "task {:?}: `kb` is for kind = \"retrieval\" tasks",
                            t.name
                        ));
                    }
                    TASK_FIGURES
                }
                TaskKind::Retrieval => {
                    if !t.label_map.is_empty() {
                        return Err(format!(
                            "task {:?}: `label_map` is for classification tasks",
                            t.name
                        ));
                    }
                    if t.train_head.is_some() {
                        return Err(format!(
                            "task {:?}: a retrieval task cannot train its head",
                            t.name
                        ));
                    }
                    if !t.head.starts_with("intent.") {
                        return Err(format!(
                            "task {:?}: a retrieval task's head is the intent head that boosts articles (intent.<set>), not {:?}",
                            t.name, t.head
                        ));
                    }
                    RETRIEVAL_FIGURES
                }
            };
            if let Some((k, v)) = t.label_map.iter().find(|(k, v)| {
                [k, v]
                    .iter()
                    .any(|s| s.trim().is_empty() || s.trim() != s.as_str())
            }) {
                return Err(format!(
                    "task {:?}: label_map entry {k:?} = {v:?} needs a label on both sides, without surrounding spaces",
                    t.name
                ));
            }
            check_bounds(&t.name, &t.floors, &t.ceilings, figures, |m| {
                let base = ChannelVariant::strip_prefix(m);
                figures.contains(&base) && (base != "gap" || base.len() < m.len())
            })?;
        }
        if self.limit == Some(0) {
            return Err("limit must be at least 1".into());
        }
        if let Some(h) = &self.handoff {
            if h.policy.is_none() && h.threshold.is_none() {
                return Err("[handoff] needs a `policy` file or a `threshold`".into());
            }
            if let Some(t) = h
                .threshold
                .filter(|t| !(t.is_finite() && (0.0..=1.0).contains(t)))
            {
                return Err(format!("handoff threshold {t} is not in [0, 1]"));
            }
            if h.max_per_group == Some(0) {
                return Err("handoff max_per_group must be at least 1".into());
            }
            check_bounds("handoff", &h.floors, &h.ceilings, HANDOFF_FIGURES, |m| {
                HANDOFF_FIGURES.contains(&m) || handoff_group_figure(m)
            })?;
        }
        Ok(())
    }
}

fn check_bounds(
    task: &str,
    floors: &BTreeMap<String, f64>,
    ceilings: &BTreeMap<String, f64>,
    figures: &[&str],
    known: impl Fn(&str) -> bool,
) -> Result<(), String> {
    for (kind, bounds) in [("floor", floors), ("ceiling", ceilings)] {
        for (metric, value) in bounds {
            if !known(metric) {
                return Err(format!(
                    "{task}: unknown figure {metric:?} in {kind}s (known: {})",
                    if task == "handoff" {
                        figures.join(", ")
                    } else {
                        format!(
                            "{}, and voice.<figure> / social.<figure>",
                            figures.join(", ")
                        )
                    }
                ));
            }
            if !value.is_finite() {
                return Err(format!("{task}: {kind} {metric} = {value} is not a number"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Suite, String> {
        let s: Suite = toml::from_str(text).map_err(|e| e.to_string())?;
        s.validate()?;
        Ok(s)
    }

    #[test]
    fn reads_tasks_channels_floors_and_handoff() {
        let s = parse(
            r#"
            name = "x"
            limit = 50
            [[task]]
            name = "banking77"
            data = "banking77:test"
            head = "intent.banking"
            channels = ["clean", "voice", "social"]
            floors = { accuracy = 0.8, "voice.accuracy" = 0.7 }
            ceilings = { ece = 0.1, "social.gap" = 0.2 }
            [[task]]
            name = "slurp"
            data = "slurp:test"
            head = "intent.slurp"
            train_head = { data = "slurp:dev" }
            [handoff]
            threshold = 0.5
            floors = { containment = 0.5 }
            "#,
        )
        .unwrap();
        assert_eq!(s.tasks.len(), 2);
        assert_eq!(s.tasks[0].channels.len(), 3);
        assert_eq!(s.tasks[1].channels, vec![ChannelVariant::Clean]);
        assert_eq!(s.tasks[1].train_head.as_ref().unwrap().data, "slurp:dev");
        let h = s.handoff.unwrap();
        assert_eq!((h.intent_set.as_str(), h.split), ("support", Split::Test));
        assert_eq!(s.seed, 13);
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        let task = |extra: &str| {
            format!("name = \"x\"\n[[task]]\nname = \"t\"\ndata = \"a.jsonl\"\nhead = \"intent.a\"\n{extra}")
        };
        let e = parse(&task("floors = { acuracy = 0.8 }")).unwrap_err();
        assert!(e.contains("acuracy") && e.contains("accuracy"), "{e}");
        assert!(
            parse(&task("floors = { gap = 0.1 }")).is_err(),
            "gap needs a channel"
        );
        assert!(parse(&task("ceilings = { \"voice.gap\" = 0.1 }")).is_ok());
        assert!(parse(&task("channels = [\"fax\"]")).is_err());
        assert!(parse(&task("limit = 0")).is_err());
        assert!(parse(&task("flors = { accuracy = 0.8 }")).is_err());
        assert!(parse("name = \"empty\"")
            .unwrap_err()
            .contains("no [[task]]"));
        let twice = format!(
            "{}\n[[task]]\nname = \"t\"\ndata = \"b.jsonl\"\nhead = \"emotion\"\n",
            task("")
        );
        assert!(parse(&twice).unwrap_err().contains("twice"));
        let bad_threshold = "name = \"h\"\n[handoff]\nthreshold = 1.5\n";
        assert!(parse(bad_threshold).unwrap_err().contains("threshold"));
        let no_decider = "name = \"h\"\n[handoff]\nsplit = \"dev\"\n";
        assert!(parse(no_decider).unwrap_err().contains("policy"));
        let retrieval = |extra: &str| {
            format!("name = \"x\"\n[[task]]\nname = \"r\"\nkind = \"retrieval\"\ndata = \"a.jsonl\"\nhead = \"intent.a\"\n{extra}")
        };
        assert!(parse(&retrieval(
            "floors = { recall_at_1 = 0.9, \"voice.mrr\" = 0.8 }"
        ))
        .is_ok());
        let e = parse(&retrieval("floors = { accuracy = 0.9 }")).unwrap_err();
        assert!(e.contains("accuracy") && e.contains("recall_at_1"), "{e}");
        assert!(parse(&task("floors = { recall_at_1 = 0.9 }")).is_err());
        assert!(parse(&task("kb = \"config/kb/support\"")).is_err());
        assert!(parse(&retrieval("train_head = { data = \"a.jsonl\" }")).is_err());
        assert!(parse(&retrieval("").replace("intent.a", "emotion")).is_err());
        let mapped = task("label_map = { happy = \"joy\", angry = \"anger\" }");
        let s = parse(&mapped).unwrap();
        assert_eq!(
            s.tasks[0].label_map.get("happy").map(String::as_str),
            Some("joy")
        );
        assert!(parse(&task("label_map = { happy = \"\" }"))
            .unwrap_err()
            .contains("label_map"));
        assert!(parse(&task("label_map = { happy = \" joy\" }")).is_err());
        assert!(parse(&task("label_map = { happy = 3 }")).is_err());
        assert!(parse(&task(
            "floors = { \"sentiment.polar_accuracy\" = 0.8, \"ekman.gold_macro_f1\" = 0.3 }"
        ))
        .is_ok());
        assert!(parse(&retrieval("label_map = { a = \"b\" }"))
            .unwrap_err()
            .contains("classification"));
        let bad_handoff_floor =
            "name = \"h\"\n[handoff]\nthreshold = 0.5\nfloors = { accuracy = 0.9 }\n";
        assert!(parse(bad_handoff_floor)
            .unwrap_err()
            .contains("containment"));
    }

    #[test]
    fn shipped_suites_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval/suites");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Suite::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(
            n >= 2,
            "expected the default and smoke suites in {}",
            dir.display()
        );
    }
}
