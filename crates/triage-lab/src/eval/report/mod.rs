//! What a run produced, and the files it is written to (in the suite's output folder):
//!
//! * `report.json`: every figure, the bundles (name, version, path), the data, the code's
//!   git commit and the gate;
//! * `report.md`: the tables, for reading in a terminal or a pull request;
//! * `report.html`: the same tables and SVG plots (confusion heatmap, reliability diagram,
//!   confidence histogram, sweep curves) in one self-contained file;
//! * `<task>/intent_report.json` and `<task>/intent_errors.json` for every intent task, in
//!   Rasa's format, so existing Rasa tooling reads them.

mod doc;
mod html;
mod markdown;
pub mod rasa;
mod svg;

pub(crate) use super::channels::ChannelFigures;
use super::emotion::EmotionEval;
use super::error::EvalError;
use super::gate::Gate;
use super::handoff::HandoffEval;
use super::intent::IntentEval;
use super::retrieval::RetrievalTaskEval;
use super::scoring::BundleRef;
use super::suite::TaskKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use triage_core::model::HeadKind;

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub(crate) suite: String,
    /// UTC time the run finished, RFC 3339.
    pub(crate) created: String,
    /// `git rev-parse HEAD` of the working directory at run time (`-dirty` when tracked
    /// files outside `eval/reports/` were modified), or `unknown`.
    pub(crate) code_commit: String,
    pub(crate) triage_version: String,
    pub(crate) seed: u64,
    pub(crate) limit: Option<usize>,
    pub tasks: Vec<TaskReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff: Option<HandoffReport>,
    pub gate: Gate,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub name: String,
    /// `classification` or `retrieval`.
    pub(crate) task_kind: TaskKind,
    pub(crate) data: String,
    pub(crate) head: String,
    pub(crate) kind: HeadKind,
    pub(crate) bundle: BundleRef,
    pub n_examples: u64,
    /// Records of the data without the label this head needs (left out).
    pub(crate) n_unlabelled: u64,
    /// Every headline figure by the name floors use (`accuracy`, `voice.gap`, ...).
    pub figures: BTreeMap<String, f64>,
    /// The suite's gold relabelling for this task (data label → head label), if any.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) label_map: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) intent: Option<IntentEval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) emotion: Option<EmotionEval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retrieval: Option<RetrievalTaskEval>,
    /// Clean first, then each transform, with its gap to clean.
    pub(crate) channels: Vec<ChannelFigures>,
    /// Set when the suite trained this head before evaluating it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trained_head: Option<serde_json::Value>,
    pub(crate) seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HandoffReport {
    pub(crate) bundle: BundleRef,
    pub(crate) figures: BTreeMap<String, f64>,
    #[serde(flatten)]
    pub eval: HandoffEval,
    pub(crate) seconds: f64,
}

impl EvalReport {
    /// Every bundle the run used, once each.
    fn bundles(&self) -> Vec<&BundleRef> {
        let mut out: Vec<&BundleRef> = Vec::new();
        let all = self
            .tasks
            .iter()
            .map(|t| &t.bundle)
            .chain(self.handoff.iter().map(|h| &h.bundle));
        for b in all {
            if !out.contains(&b) {
                out.push(b);
            }
        }
        out
    }
}

/// Writes every report file into `dir` (created if needed); returns the paths written.
pub fn write_all(report: &EvalReport, dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    std::fs::create_dir_all(dir).map_err(EvalError::write(dir))?;
    let mut written = Vec::new();
    let mut put = |path: PathBuf, text: String| -> Result<(), EvalError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(EvalError::write(parent))?;
        }
        std::fs::write(&path, text).map_err(EvalError::write(&path))?;
        written.push(path);
        Ok(())
    };
    put(dir.join("report.json"), to_json(report)?)?;
    put(dir.join("report.md"), markdown::render(report))?;
    put(dir.join("report.html"), html::render(report))?;
    for t in &report.tasks {
        if let Some(e) = &t.intent {
            put(
                dir.join(&t.name).join("intent_report.json"),
                pretty(&rasa::intent_report(&e.classification))?,
            )?;
            put(
                dir.join(&t.name).join("intent_errors.json"),
                pretty(&rasa::intent_errors(&e.errors))?,
            )?;
        }
    }
    Ok(written)
}

fn pretty(v: &serde_json::Value) -> Result<String, EvalError> {
    serde_json::to_string_pretty(v).map_err(|e| EvalError::Write {
        path: PathBuf::from("json"),
        source: e.into(),
    })
}

fn to_json(report: &EvalReport) -> Result<String, EvalError> {
    serde_json::to_string_pretty(report).map_err(|e| EvalError::Write {
        path: PathBuf::from("report.json"),
        source: e.into(),
    })
}

/// The commit of the code in the working directory, `-dirty` if tracked files other than
/// the committed reports differ.
pub(crate) fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            // Committed reports are outputs, not code: rewriting them is not "dirty".
            let dirty = run(&[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":(exclude)eval/reports",
            ])
            .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}-dirty")
            } else {
                c
            }
        }
        _ => "unknown".into(),
    }
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    utc_from_unix(secs)
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn utc_from_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `0.1234` as `0.1234`; a missing figure as `–`.
fn fmt4(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "–".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_from_unix(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
