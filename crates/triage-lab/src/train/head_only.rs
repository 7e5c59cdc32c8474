//! `triage train --head-only`: a new head on the frozen encoder of a base bundle, written
//! as a bundle with the head added (or replaced). How users teach triage their own
//! intents in minutes, and how the first shipped bundle was built.

use super::cache::embed_cached;
use super::calibrate::{fit_oos_threshold, fit_temperature, fit_thresholds};
use super::fit::{fit_sigmoid, fit_softmax, FitOptions};
use super::targets::{class_targets, derived, head_kind, labels_of, multi_hot, texts, usable};
use crate::data::{self, Record, Split};
use crate::metrics;
use ndarray::{Array2, Axis};
use std::path::PathBuf;
use triage_core::cause::Detail;
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::model::writer::write_bundle;
use triage_core::model::{Bundle, Head, HeadKind, HeadSpec};

#[derive(Debug, Clone)]
pub struct HeadOnlyArgs {
    pub base: String,
    /// Training data: a `.jsonl` file or `NAME:SPLIT`.
    pub data: String,
    /// Dev data for calibration; default: the data set's dev split, or 10% of the
    /// training file by hash of the text.
    pub dev: Option<String>,
    pub head: String,
    pub out: PathBuf,
    pub name: Option<String>,
    pub version: Option<String>,
    pub base_model: Option<String>,
    pub languages: Option<Vec<String>>,
    pub datasets: PathBuf,
    pub fit: FitOptions,
}

/// What the fit measured, printed and written into the head's `source`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeadReport {
    head: String,
    kind: HeadKind,
    labels: usize,
    train_examples: usize,
    dev_examples: usize,
    dev_metric: String,
    dev_value: f64,
    temperature: f32,
    oos_threshold: Option<f32>,
    seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] data::DataError),
    #[error(transparent)]
    Bundle(#[from] triage_core::model::BundleError),
    #[error(transparent)]
    Triage(#[from] triage_core::error::TriageError),
    #[error("training failed: {0}")]
    Fit(#[from] candle_core::Error),
    #[error(transparent)]
    Encoder(#[from] triage_core::model::BackendError),
    /// A message of ours, or an error (I/O, JSON, tokenizer) kept as the source.
    #[error("{0}")]
    Invalid(#[source] Detail),
}

/// Training and dev records, and where dev came from (for the model card).
fn load_data(args: &HeadOnlyArgs) -> Result<(Vec<Record>, Vec<Record>, String), TrainError> {
    let train = data::load_spec(&args.datasets, &args.data)?;
    if let Some(dev) = &args.dev {
        return Ok((train, data::load_spec(&args.datasets, dev)?, dev.clone()));
    }
    if let Some((name, "train")) = args.data.split_once(':') {
        if let Ok(dev) = data::load(&args.datasets, name, Split::Dev) {
            return Ok((train, dev, format!("{name}:dev")));
        }
    }
    let (train, dev): (Vec<Record>, Vec<Record>) = train
        .into_iter()
        .partition(|r| data::hash_split(&r.text, 10, 0) == Split::Train);
    Ok((train, dev, format!("10% of {} by text hash", args.data)))
}

pub fn run(args: &HeadOnlyArgs, config: Config) -> Result<HeadReport, TrainError> {
    let started = std::time::Instant::now();
    let (train, dev, dev_source) = load_data(args)?;
    let kind = head_kind(&args.head, &train);
    let train = usable(train, kind, None);
    if train.is_empty() {
        return Err(TrainError::Invalid(
            format!(
                "{}: no records with {} labels",
                args.data,
                if kind == HeadKind::Softmax {
                    "intent"
                } else {
                    "emotions"
                }
            )
            .into(),
        ));
    }
    let labels = labels_of(kind, &train);
    if labels.len() < 2 {
        return Err(TrainError::Invalid(
            format!(
                "{}: need at least 2 labels, found {}",
                args.data,
                labels.len()
            )
            .into(),
        ));
    }
    let dev = usable(dev, kind, Some(&labels));
    tracing::info!(head = %args.head, ?kind, labels = labels.len(), train = train.len(), dev = dev.len(), "fitting head");

    let classifier = Classifier::new(Bundle::load(&args.base)?, config);
    let x = embed_cached(&classifier, &texts(&train), "train")?;
    let xd = embed_cached(&classifier, &texts(&dev), "dev")?;

    let spec = new_spec(&args.head, kind, &labels);
    let (w, b) = match kind {
        HeadKind::Softmax => {
            fit_softmax(&x, &class_targets(&train, &labels), labels.len(), &args.fit)?
        }
        HeadKind::Sigmoid => fit_sigmoid(&x, &multi_hot(&train, &labels), &args.fit)?,
    };
    let (head, metric, value) = calibrated_head(spec, w, b, &xd, &dev)?;
    let mut report = HeadReport {
        head: args.head.clone(),
        kind,
        labels: labels.len(),
        train_examples: train.len(),
        dev_examples: dev.len(),
        dev_metric: metric.into(),
        dev_value: value,
        temperature: head.spec.temperature,
        oos_threshold: head.spec.oos_threshold,
        seconds: 0.0,
    };
    let mut head = head;
    head.spec.source = Some(format!(
        "linear head on frozen encoder embeddings; train {} ({} examples), dev {} ({} examples, {} {:.4})",
        args.data,
        train.len(),
        dev_source,
        dev.len(),
        metric,
        value
    ));
    write_with_head(&classifier, args, head)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// A head spec with the defaults a fresh head starts from (out-of-scope when the labels
/// include clinc150's `oos`; goemotions groupings for emotion labels).
pub(crate) fn new_spec(name: &str, kind: HeadKind, labels: &[String]) -> HeadSpec {
    let (groupings, frustration) = match kind {
        HeadKind::Sigmoid => derived(labels),
        HeadKind::Softmax => Default::default(),
    };
    HeadSpec {
        name: name.to_string(),
        kind,
        labels: labels.to_vec(),
        temperature: 1.0,
        thresholds: if kind == HeadKind::Sigmoid {
            vec![0.5; labels.len()]
        } else {
            vec![]
        },
        out_of_scope: labels.iter().find(|l| *l == data::OOS).cloned(),
        oos_threshold: None,
        groupings,
        frustration,
        source: None,
        by_language: Default::default(),
    }
}

/// Calibrates a fitted head on dev embeddings — temperature and out-of-scope threshold
/// for softmax heads, per-label thresholds for sigmoid heads — and returns it with its
/// dev figure (accuracy or macro-F1).
pub(crate) fn calibrated_head(
    mut spec: HeadSpec,
    w: Array2<f32>,
    b: ndarray::Array1<f32>,
    xd: &Array2<f32>,
    dev: &[Record],
) -> Result<(Head, &'static str, f64), TrainError> {
    let labels = spec.labels.clone();
    let head = |spec: &HeadSpec| {
        Head::new(spec.clone(), w.clone(), b.clone()).map_err(|m| TrainError::Invalid(m.into()))
    };
    match spec.kind {
        HeadKind::Softmax => {
            let yd = class_targets(dev, &labels);
            if !dev.is_empty() {
                spec.temperature = fit_temperature((xd.dot(&w.t()) + &b).view(), &yd);
                let probe = head(&spec)?;
                spec.oos_threshold = fit_oos_threshold(&probe, probe.scores(xd.view()).view(), &yd);
            }
            let h = head(&spec)?;
            let acc = accuracy(&h, xd, &yd);
            Ok((h, "accuracy", acc))
        }
        HeadKind::Sigmoid => {
            let yd = multi_hot(dev, &labels);
            if !dev.is_empty() {
                let probe = head(&spec)?;
                spec.thresholds = fit_thresholds(probe.scores(xd.view()).view(), &yd);
            }
            let h = head(&spec)?;
            let f1 = macro_f1(&h, xd, &yd);
            Ok((h, "macro_f1", f1))
        }
    }
}

fn accuracy(head: &Head, x: &Array2<f32>, gold: &[u32]) -> f64 {
    if gold.is_empty() {
        return 0.0;
    }
    let probs = head.scores(x.view());
    let correct = probs
        .axis_iter(Axis(0))
        .zip(gold)
        .filter(|(row, &g)| {
            let r = triage_core::model::heads::intent_result(&head.spec, &row.to_vec(), 1);
            head.spec.labels.get(g as usize) == Some(&r.label)
        })
        .count();
    correct as f64 / gold.len() as f64
}

fn macro_f1(head: &Head, x: &Array2<f32>, gold: &Array2<f32>) -> f64 {
    let scores = head.scores(x.view());
    let to_rows = |a: &Array2<f32>, f: fn(f32) -> bool| -> Vec<Vec<bool>> {
        a.outer_iter()
            .map(|r| r.iter().map(|&v| f(v)).collect())
            .collect()
    };
    let gold = to_rows(gold, |v| v > 0.5);
    let scores: Vec<Vec<f64>> = scores
        .outer_iter()
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    let thresholds: Vec<f64> = head.spec.thresholds.iter().map(|&t| t as f64).collect();
    metrics::multilabel_report(&gold, &scores, &thresholds, &head.spec.labels)
        .map(|r| r.macro_f1)
        .unwrap_or(0.0)
}

fn write_with_head(c: &Classifier, args: &HeadOnlyArgs, head: Head) -> Result<(), TrainError> {
    let mut manifest = c.manifest.clone();
    if let Some(n) = &args.name {
        manifest.name = n.clone();
    }
    if let Some(v) = &args.version {
        manifest.version = v.clone();
    }
    if let Some(v) = &args.base_model {
        manifest.base_model = v.clone();
    }
    if let Some(v) = &args.languages {
        manifest.languages = v.clone();
    }
    let mut heads: Vec<Head> = c
        .heads()
        .iter()
        .filter(|h| h.spec.name != head.spec.name)
        .cloned()
        .collect();
    heads.push(head);
    manifest.heads = heads.iter().map(|h| h.spec.clone()).collect();
    write_bundle(&args.out, &c.files, &manifest, &heads)?;
    super::card::write_model_card(&args.out, &manifest, "").map_err(|e| {
        let text = format!("{}: {e}", args.out.join("MODEL_CARD.md").display());
        TrainError::Invalid(Detail::with(text, e))
    })?;
    Ok(())
}

pub fn default_datasets() -> PathBuf {
    data::default_root()
}
