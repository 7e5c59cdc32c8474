//! Runs a suite: each task's data through its bundle and head under each channel
//! transform, the handoff simulation, then the gate over every figure.

use super::channels::ChannelVariant;
use super::error::EvalError;
use super::gate::{self, Gate};
use super::handoff::{self, ConfidenceThreshold, HandoffDecider};
use super::report::{ChannelFigures, EvalReport, HandoffReport, TaskReport};
use super::sample::stable_sample;
use super::scoring::{self, Models};
use super::suite::{Suite, TaskKind, TaskSpec, TrainHeadSpec};
use super::{emotion, intent, relabel, retrieval};
use crate::data::{self, Record};
use crate::eval::simulate::PolicyDecider;
use crate::train::fit::FitOptions;
use crate::train::head_only::{self, HeadOnlyArgs};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use triage_core::cause::Detail;
use triage_core::config::Config;
use triage_core::model::HeadKind;

/// Texts shown per transformed channel, so a reader sees what the model was given.
const CHANNEL_EXAMPLES: usize = 3;

/// How a suite runs: the configuration bundles are loaded with, where data sets are, and
/// a handoff decider that replaces the suite's own (its `policy` file, or the confidence
/// threshold alone) when given.
pub struct RunOptions<'a> {
    pub config: Config,
    pub datasets: PathBuf,
    pub decider: Option<&'a dyn HandoffDecider>,
}

pub fn run_suite(suite: &Suite, opts: RunOptions<'_>) -> Result<EvalReport, EvalError> {
    suite.validate().map_err(|message| EvalError::Suite {
        path: PathBuf::from(&suite.name),
        message: message.into(),
    })?;
    let started = Instant::now();
    let default_model = suite
        .model
        .clone()
        .unwrap_or_else(|| opts.config.model().to_string());
    let mut models = Models::new(opts.config.clone());
    preflight(suite, &default_model, &opts.datasets, &mut models)?;
    let mut tasks = Vec::new();
    let mut checks = Vec::new();
    for spec in &suite.tasks {
        let model = spec.model.clone().unwrap_or_else(|| default_model.clone());
        let report = run_task(suite, spec, &model, &opts.datasets, &mut models)?;
        checks.extend(gate::check(
            &spec.name,
            &report.figures,
            &spec.floors,
            &spec.ceilings,
        ));
        tracing::info!(task = %spec.name, secs = report.seconds, "task done");
        tasks.push(report);
    }
    let handoff = match &suite.handoff {
        None => None,
        Some(h) => {
            let t = Instant::now();
            let model = h.model.clone().unwrap_or_else(|| default_model.clone());
            let limit = h.max_per_group.or(suite.limit);
            let cases = handoff::assemble(&opts.datasets, h.split, limit)?;
            let classifier = models.get(&model)?;
            let head_name = format!("intent.{}", h.intent_set);
            let head = scoring::head(classifier, &head_name, "handoff")?;
            if head.spec.kind != HeadKind::Softmax {
                return Err(EvalError::task(
                    "handoff",
                    format!("{head_name} is not an intent (softmax) head"),
                ));
            }
            let records: Vec<Record> = cases.iter().map(|c| c.record.clone()).collect();
            let emb = scoring::embed(classifier, &records, "handoff")?;
            let responses = scoring::responses(classifier, &records, &emb, head);
            let own: Box<dyn HandoffDecider> = match &h.policy {
                Some(path) => Box::new(
                    PolicyDecider::from_file(
                        path,
                        classifier.manifest.languages.clone(),
                        h.threshold,
                    )
                    .map_err(|e| EvalError::task("handoff", Detail::of(e)))?,
                ),
                None => Box::new(ConfidenceThreshold {
                    threshold: h.threshold.unwrap_or(0.0),
                }),
            };
            let decider: &dyn HandoffDecider = opts.decider.unwrap_or(own.as_ref());
            let eval = handoff::simulate(&cases, &responses, decider, &h.intent_set, h.split);
            let figures: BTreeMap<String, f64> = handoff::figures(&eval).into_iter().collect();
            checks.extend(gate::check("handoff", &figures, &h.floors, &h.ceilings));
            Some(HandoffReport {
                bundle: scoring::bundle_ref(classifier, &model),
                figures,
                eval,
                seconds: t.elapsed().as_secs_f64(),
            })
        }
    };
    let gate = Gate::new(checks);
    Ok(EvalReport {
        suite: suite.name.clone(),
        created: super::report::utc_now(),
        code_commit: super::report::git_commit(),
        triage_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: suite.seed,
        limit: suite.limit,
        tasks,
        handoff,
        gate,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Checks every `label_map` that can be checked before anything runs (the head of a
/// task that trains its head exists only after training: `run_task` checks those), so a
/// typo fails in seconds rather than after an hour of other tasks.
fn preflight(
    suite: &Suite,
    default_model: &str,
    datasets: &Path,
    models: &mut Models,
) -> Result<(), EvalError> {
    for spec in suite.tasks.iter().filter(|t| !t.label_map.is_empty()) {
        if spec.train_head.is_some() {
            continue;
        }
        let model = spec.model.as_deref().unwrap_or(default_model);
        let classifier = models.get(model)?;
        let head = scoring::head(classifier, &spec.head, &spec.name)?;
        let records = data::load_spec(datasets, &spec.data)?;
        relabel::check(
            &spec.label_map,
            &records,
            head.spec.kind,
            &spec.head,
            &head.spec.labels,
        )
        .map_err(|m| EvalError::task(&spec.name, m))?;
    }
    Ok(())
}

fn run_task(
    suite: &Suite,
    spec: &TaskSpec,
    model: &str,
    datasets: &Path,
    models: &mut Models,
) -> Result<TaskReport, EvalError> {
    let started = Instant::now();
    let config = models.config().clone();
    let (model, trained_head) = match &spec.train_head {
        None => (model.to_string(), None),
        Some(t) => {
            let (dir, report) = train_head(spec, t, model, datasets, &config)?;
            (dir.to_string_lossy().into_owned(), Some(report))
        }
    };
    let classifier = models.get(&model)?;
    let head = scoring::head(classifier, &spec.head, &spec.name)?;
    let kind = head.spec.kind;

    let all = data::load_spec(datasets, &spec.data)?;
    let total = all.len();
    let all = if spec.label_map.is_empty() {
        all
    } else {
        relabel::check(&spec.label_map, &all, kind, &spec.head, &head.spec.labels)
            .map_err(|m| EvalError::task(&spec.name, m))?;
        relabel::apply(all, &spec.label_map)
    };
    // An emotion head also serves a sentiment, so sentiment-only records count.
    let labelled: Vec<Record> = all
        .into_iter()
        .filter(|r| match kind {
            HeadKind::Softmax => r.intent.is_some(),
            HeadKind::Sigmoid => r.emotions.is_some() || r.sentiment.is_some(),
        })
        .collect();
    let skipped = total - labelled.len();
    let records = stable_sample(labelled, spec.limit.or(suite.limit));
    if records.is_empty() {
        return Err(EvalError::task(
            &spec.name,
            format!(
                "{} has no records with {} labels",
                spec.data,
                if kind == HeadKind::Softmax {
                    "intent"
                } else {
                    "emotions or sentiment"
                }
            ),
        ));
    }

    let mut variants = vec![ChannelVariant::Clean];
    for c in &spec.channels {
        if !variants.contains(c) {
            variants.push(*c);
        }
    }
    if spec.kind == TaskKind::Retrieval {
        if kind != HeadKind::Softmax {
            return Err(EvalError::task(
                &spec.name,
                format!("{} is not an intent (softmax) head", spec.head),
            ));
        }
        let source = spec.kb.clone().unwrap_or_else(|| config.kb.clone());
        let (kb, issues) = retrieval::load_kb(&spec.name, &source, classifier, &config)?;
        let mut runs = Vec::with_capacity(variants.len());
        for variant in variants {
            let recs = variant.apply(&records, suite.seed);
            let what = format!("{}/{}", spec.name, variant.as_str());
            let emb = scoring::embed(classifier, &recs, &what)?;
            runs.push((variant, recs, emb));
        }
        let out = retrieval::run(&spec.name, &kb, &source, issues, &runs, classifier, head)?;
        return Ok(TaskReport {
            name: spec.name.clone(),
            task_kind: spec.kind,
            data: spec.data.clone(),
            head: spec.head.clone(),
            kind,
            bundle: scoring::bundle_ref(classifier, &model),
            n_examples: records.len() as u64,
            n_unlabelled: skipped as u64,
            figures: out.figures,
            label_map: spec.label_map.clone(),
            intent: None,
            emotion: None,
            retrieval: out.details,
            channels: out.channels,
            trained_head,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let mut figures = BTreeMap::new();
    let mut channels = Vec::new();
    let (mut intent_eval, mut emotion_eval) = (None, None);
    let mut clean_primary = 0.0;
    for variant in variants {
        let recs = variant.apply(&records, suite.seed);
        let emb = scoring::embed(
            classifier,
            &recs,
            &format!("{}/{}", spec.name, variant.as_str()),
        )?;
        let scores = head.scores(emb.view());
        let (figs, primary) = match kind {
            HeadKind::Softmax => {
                let gold: Vec<String> = recs
                    .iter()
                    .map(|r| r.intent.clone().unwrap_or_default())
                    .collect();
                let texts: Vec<String> = recs.iter().map(|r| r.text.clone()).collect();
                let e = intent::evaluate(&head.spec, &scores, &gold, &texts)
                    .map_err(EvalError::metric(&spec.name))?;
                let f = intent::figures(&e);
                if variant == ChannelVariant::Clean {
                    intent_eval = Some(e);
                }
                (f, intent::PRIMARY)
            }
            HeadKind::Sigmoid => {
                let gold: Vec<Option<Vec<String>>> =
                    recs.iter().map(|r| r.emotions.clone()).collect();
                let senti: Vec<Option<String>> = recs.iter().map(|r| r.sentiment.clone()).collect();
                let langs: Vec<String> = recs
                    .iter()
                    .map(|r| scoring::served_lang(classifier, r))
                    .collect();
                let e = emotion::evaluate(&head.spec, &scores, &gold, &senti, &langs)
                    .map_err(EvalError::metric(&spec.name))?;
                let f = emotion::figures(&e);
                let primary = emotion::primary(&e);
                if variant == ChannelVariant::Clean {
                    emotion_eval = Some(e);
                }
                (f, primary)
            }
        };
        let figs: BTreeMap<String, f64> = figs.into_iter().collect();
        let value = figs.get(primary).copied().unwrap_or(0.0);
        if variant == ChannelVariant::Clean {
            clean_primary = value;
            figures.extend(figs.clone());
        } else {
            for (k, v) in &figs {
                if k != "n" {
                    figures.insert(format!("{}.{k}", variant.as_str()), *v);
                }
            }
            figures.insert(format!("{}.gap", variant.as_str()), clean_primary - value);
        }
        channels.push(ChannelFigures {
            channel: variant,
            primary: primary.to_string(),
            value,
            gap: clean_primary - value,
            figures: figs,
            examples: if variant == ChannelVariant::Clean {
                vec![]
            } else {
                recs.iter()
                    .take(CHANNEL_EXAMPLES)
                    .map(|r| r.text.clone())
                    .collect()
            },
        });
    }
    Ok(TaskReport {
        name: spec.name.clone(),
        task_kind: spec.kind,
        data: spec.data.clone(),
        head: spec.head.clone(),
        kind,
        bundle: scoring::bundle_ref(classifier, &model),
        n_examples: records.len() as u64,
        n_unlabelled: skipped as u64,
        figures,
        label_map: spec.label_map.clone(),
        intent: intent_eval,
        emotion: emotion_eval,
        retrieval: None,
        channels,
        trained_head,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Fits the task's head on the base bundle's frozen encoder (`triage train --head-only`)
/// into the cache, unless a bundle from the same base, data and head is already there.
fn train_head(
    spec: &TaskSpec,
    t: &TrainHeadSpec,
    base: &str,
    datasets: &Path,
    config: &Config,
) -> Result<(PathBuf, serde_json::Value), EvalError> {
    let mut h = Sha256::new();
    for part in [base, &spec.head, &t.data, t.dev.as_deref().unwrap_or("-")] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    // The base's manifest and weights (size and mtime) stand for its content.
    let base_dir = Path::new(base);
    for f in ["bundle.toml", "model.safetensors"] {
        if let Ok(m) = std::fs::metadata(base_dir.join(f)) {
            h.update(m.len().to_le_bytes());
            if let Ok(t) = m.modified() {
                h.update(format!("{t:?}").as_bytes());
            }
        }
    }
    let key = format!("{:x}", h.finalize());
    let dir = crate::train::cache::cache_dir()
        .join("eval-heads")
        .join(&key[..16]);
    let stamp = dir.join("train_report.json");
    if let Ok(text) = std::fs::read_to_string(&stamp) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            tracing::info!(head = %spec.head, dir = %dir.display(), "reusing the head trained earlier");
            return Ok((dir, v));
        }
    }
    tracing::info!(head = %spec.head, data = %t.data, "training the head for this task");
    let args = HeadOnlyArgs {
        base: base.to_string(),
        data: t.data.clone(),
        dev: t.dev.clone(),
        head: spec.head.clone(),
        out: dir.clone(),
        name: None,
        version: None,
        base_model: None,
        languages: None,
        datasets: datasets.to_path_buf(),
        fit: FitOptions::default(),
    };
    // Heads are fitted on the reference (candle) encoder's embeddings, as the shipped
    // heads are; the encoder under evaluation then serves them. So the cached head does
    // not depend on the encoder, and int8 is judged with the heads it would serve.
    let fit_config = Config {
        encoder: triage_core::model::fast::EncoderKind::Candle,
        ..config.clone()
    };
    let report = head_only::run(&args, fit_config).map_err(|e| EvalError::Train {
        head: spec.head.clone(),
        source: Box::new(e),
    })?;
    let mut v = serde_json::to_value(&report).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("data".into(), t.data.clone().into());
        m.insert("base".into(), base.into());
    }
    std::fs::write(&stamp, v.to_string()).map_err(EvalError::write(&stamp))?;
    Ok((dir, v))
}
