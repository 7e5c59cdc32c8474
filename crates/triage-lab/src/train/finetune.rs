//! `triage train --recipe`: multi-task fine-tuning of the encoder's upper layers and all
//! heads, each example training only the head it has labels for.
//!
//! Why the lower layers are frozen: on two CPU cores a full forward and backward pass of
//! MiniLM over ~90k examples per epoch takes hours. Freezing the lower `freeze_layers`
//! layers lets us compute their outputs once (cached in memory) and back-propagate only
//! through the upper layers, several times cheaper, while the upper layers (which carry
//! most of the task-specific change in fine-tuning) still adapt.
//!
//! Batches come from one task at a time, grouped by length, in an order fixed by the seed,
//! so a run is reproducible and a checkpoint resumes exactly.

use super::adamw::AdamW;
use super::head_only::{calibrated_head, new_spec, TrainError};
use super::recipe::{FrozenEncoder, Recipe};
use super::targets::{class_targets, head_kind, labels_of, multi_hot, usable};
use crate::data::{self, Record};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use triage_core::cause::Detail;
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::model::backend::candle_hidden_after;
use triage_core::model::bert::{mean_pool_normalize, BertModel};
use triage_core::model::bundle::read_weights;
use triage_core::model::fast::{FastEncoder, Isa, Precision};
use triage_core::model::writer::write_with_encoder;
use triage_core::model::{Bundle, Encoded, Head, HeadKind, Manifest};
use triage_core::text::{self, Channel, NormalizeOptions};

/// One example: the frozen layers' output for its tokens, and its target.
struct Example {
    hidden: Vec<f32>,
    len: usize,
    target: Target,
}

enum Target {
    Class(u32),
    Multi(Vec<f32>),
}

struct TaskData {
    head: String,
    kind: HeadKind,
    labels: Vec<String>,
    train: Vec<Example>,
    dev: Vec<Example>,
    dev_records: Vec<Record>,
    weight: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FinetuneReport {
    steps: usize,
    best_step: usize,
    best_dev_score: f64,
    train_examples: usize,
    minutes: f64,
    heads: Vec<(String, String, f64)>,
}

/// Records for a task: the training split (augmented, subsampled) and dev.
fn task_records(
    recipe: &Recipe,
    task: &super::recipe::Task,
    root: &Path,
    rng: &mut StdRng,
) -> Result<(Vec<Record>, Vec<Record>), TrainError> {
    let mut train = data::load_spec(root, &task.data)?;
    if let Some(max) = task.max_examples {
        train.shuffle(rng);
        train.truncate(max);
    }
    let mut extra = Vec::new();
    for r in &train {
        if rng.gen_bool(recipe.augment.voice.clamp(0.0, 1.0)) {
            extra.push(Record {
                text: crate::augment::voice_style(&r.text, rng),
                channel: Channel::Voice,
                ..r.clone()
            });
        }
        if rng.gen_bool(recipe.augment.social.clamp(0.0, 1.0)) {
            extra.push(Record {
                text: crate::augment::social_style(&r.text, rng),
                channel: Channel::Social,
                ..r.clone()
            });
        }
    }
    train.extend(extra);
    let dev = data::load_spec(root, &task.dev)?;
    Ok((train, dev))
}

/// The fast f32 encoder for the frozen-layer cache, when the recipe allows it and this
/// CPU has a SIMD tier of ours (or the config forces one): a read-only copy of the base
/// weights, so training still updates only its own candle model. `None`: candle computes
/// the cache.
fn frozen_encoder(recipe: &Recipe, base: &Bundle, config: &Config) -> Option<FastEncoder> {
    if recipe.train.frozen_encoder == FrozenEncoder::Candle {
        tracing::info!("frozen layers cached by candle (the recipe asks for it)");
        return None;
    }
    let isa = config.isa.unwrap_or_else(Isa::best);
    if !isa.is_simd() && config.isa.is_none() {
        tracing::info!("frozen layers cached by candle: no SIMD tier of the fast encoder here");
        return None;
    }
    let threads = config.threads.unwrap_or(0);
    match FastEncoder::with_isa(&base.encoder, Precision::F32, threads, isa) {
        Ok(fast) => {
            tracing::info!(isa = %fast.isa(), threads = fast.threads(), "frozen layers cached by the fast f32 encoder");
            Some(fast)
        }
        Err(error) => {
            let error = triage_core::cause::chain(&error).join("; ");
            tracing::warn!(%error, "fast encoder unavailable: frozen layers cached by candle");
            None
        }
    }
}

/// Runs the frozen lower layers once over `records`, in length-sorted batches, on `fast`
/// if given (unpadded), else on candle (padded).
fn frozen_outputs(
    bundle: &Bundle,
    fast: Option<&FastEncoder>,
    norm: &NormalizeOptions,
    records: &[Record],
    k: usize,
    what: &str,
) -> Result<Vec<(Vec<f32>, usize)>, TrainError> {
    let encs: Vec<Encoded> = records
        .iter()
        .map(|r| {
            let n = text::normalize(&r.text, r.channel, norm);
            let n = if n.trim().is_empty() {
                r.text.trim().to_string()
            } else {
                n
            };
            bundle
                .tokenizer
                .encode(&n)
                .map_err(|e| TrainError::Invalid(Detail::of(e)))
        })
        .collect::<Result<_, _>>()?;
    let mut order: Vec<usize> = (0..encs.len()).collect();
    order.sort_by_key(|&i| encs[i].len());
    let mut out: Vec<(Vec<f32>, usize)> = vec![(Vec::new(), 0); encs.len()];
    let bar = triage_core::progress::bar(encs.len() as u64, what);
    for chunk in order.chunks(64) {
        let refs: Vec<&Encoded> = chunk.iter().map(|&i| &encs[i]).collect();
        let hidden = match fast {
            Some(fast) => fast.hidden_after(&refs, k)?,
            None => candle_hidden_after(&bundle.encoder, &refs, k)?,
        };
        for (states, &i) in hidden.into_iter().zip(chunk) {
            out[i] = (states, encs[i].len());
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    Ok(out)
}

fn examples(
    outputs: Vec<(Vec<f32>, usize)>,
    records: &[Record],
    kind: HeadKind,
    labels: &[String],
) -> Vec<Example> {
    let targets: Vec<Target> = match kind {
        HeadKind::Softmax => class_targets(records, labels)
            .into_iter()
            .map(Target::Class)
            .collect(),
        HeadKind::Sigmoid => multi_hot(records, labels)
            .outer_iter()
            .map(|r| Target::Multi(r.to_vec()))
            .collect(),
    };
    outputs
        .into_iter()
        .zip(targets)
        .map(|((hidden, len), target)| Example {
            hidden,
            len,
            target,
        })
        .collect()
}

/// Pads cached hidden states to `[b, s, h]` with their mask.
fn batch_tensors(batch: &[&Example], h: usize) -> candle_core::Result<(Tensor, Tensor)> {
    let s = batch.iter().map(|e| e.len).max().unwrap_or(1).max(1);
    let mut xs = vec![0f32; batch.len() * s * h];
    let mut mask = vec![0u32; batch.len() * s];
    for (i, e) in batch.iter().enumerate() {
        xs[i * s * h..i * s * h + e.len * h].copy_from_slice(&e.hidden);
        mask[i * s..i * s + e.len].fill(1);
    }
    Ok((
        Tensor::from_vec(xs, (batch.len(), s, h), &Device::Cpu)?,
        Tensor::from_vec(mask, (batch.len(), s), &Device::Cpu)?,
    ))
}

/// The fixed order of (task, example indices) batches for the whole run.
fn schedule(
    tasks: &[TaskData],
    batch_size: usize,
    epochs: f64,
    seed: u64,
) -> Vec<(usize, Vec<usize>)> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut per_task: Vec<Vec<Vec<usize>>> = tasks
        .iter()
        .map(|t| {
            // Group by length: sort, cut into batches, shuffle the batches.
            let mut idx: Vec<usize> = (0..t.train.len()).collect();
            idx.shuffle(&mut rng);
            idx.sort_by_key(|&i| t.train[i].len);
            let mut batches: Vec<Vec<usize>> = idx.chunks(batch_size).map(|c| c.to_vec()).collect();
            batches.shuffle(&mut rng);
            batches
        })
        .collect();
    let total: usize = per_task.iter().map(|b| b.len()).sum();
    let steps = (total as f64 * epochs).round() as usize;
    let weights: Vec<f64> = tasks.iter().map(|t| t.weight).collect();
    let sum: f64 = weights.iter().sum();
    let mut cursor = vec![0usize; tasks.len()];
    (0..steps)
        .map(|_| {
            let mut r = rng.gen::<f64>() * sum;
            let mut t = 0;
            while t + 1 < weights.len() && r >= weights[t] {
                r -= weights[t];
                t += 1;
            }
            let batches = &mut per_task[t];
            if cursor[t] == batches.len() {
                cursor[t] = 0;
                batches.shuffle(&mut rng);
            }
            cursor[t] += 1;
            (t, batches[cursor[t] - 1].clone())
        })
        .collect()
}

struct Trainer {
    model: BertModel,
    heads: Vec<(Var, Var)>,
    k: usize,
    h: usize,
}

impl Trainer {
    fn logits(&self, task: usize, batch: &[&Example], train: bool) -> candle_core::Result<Tensor> {
        let (xs, mask) = batch_tensors(batch, self.h)?;
        let n = self.model.num_layers();
        let hidden = self.model.forward_layers(&xs, &mask, self.k..n, train)?;
        let pooled = mean_pool_normalize(&hidden, &mask)?;
        let (w, b) = &self.heads[task];
        pooled
            .matmul(&w.as_tensor().t()?)?
            .broadcast_add(b.as_tensor())
    }

    fn loss(&self, task: &TaskData, t: usize, batch: &[&Example]) -> candle_core::Result<Tensor> {
        let logits = self.logits(t, batch, true)?;
        match task.kind {
            HeadKind::Softmax => {
                let y: Vec<u32> = batch
                    .iter()
                    .map(|e| match &e.target {
                        Target::Class(c) => *c,
                        Target::Multi(_) => 0,
                    })
                    .collect();
                candle_nn::loss::cross_entropy(&logits, &Tensor::new(y, &Device::Cpu)?)
            }
            HeadKind::Sigmoid => {
                let l = task.labels.len();
                let y: Vec<f32> = batch
                    .iter()
                    .flat_map(|e| match &e.target {
                        Target::Multi(v) => v.clone(),
                        Target::Class(_) => vec![0.0; l],
                    })
                    .collect();
                let y = Tensor::from_vec(y, (batch.len(), l), &Device::Cpu)?;
                candle_nn::loss::binary_cross_entropy_with_logit(&logits, &y)
            }
        }
    }

    /// Mean over tasks of dev accuracy (softmax) or macro-F1 at 0.5 (sigmoid).
    fn dev_score(&self, tasks: &[TaskData]) -> candle_core::Result<f64> {
        let mut total = 0.0;
        for (t, task) in tasks.iter().enumerate() {
            let mut correct = 0usize;
            let l = task.labels.len();
            let (mut tp, mut fp, mut fneg) = (vec![0usize; l], vec![0usize; l], vec![0usize; l]);
            for chunk in task.dev.chunks(64) {
                let refs: Vec<&Example> = chunk.iter().collect();
                let logits = self.logits(t, &refs, false)?.to_vec2::<f32>()?;
                for (row, e) in logits.iter().zip(chunk) {
                    match &e.target {
                        Target::Class(c) => {
                            let arg = row
                                .iter()
                                .enumerate()
                                .fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a })
                                .0;
                            correct += (arg as u32 == *c) as usize;
                        }
                        Target::Multi(y) => {
                            for j in 0..l {
                                match (row[j] >= 0.0, y[j] > 0.5) {
                                    (true, true) => tp[j] += 1,
                                    (true, false) => fp[j] += 1,
                                    (false, true) => fneg[j] += 1,
                                    _ => {}
                                }
                            }
                        }
                    }
                }
            }
            total += match task.kind {
                HeadKind::Softmax => correct as f64 / task.dev.len().max(1) as f64,
                HeadKind::Sigmoid => {
                    (0..l)
                        .map(|j| 2.0 * tp[j] as f64 / (2 * tp[j] + fp[j] + fneg[j]).max(1) as f64)
                        .sum::<f64>()
                        / l as f64
                }
            };
        }
        Ok(total / tasks.len() as f64)
    }
}

fn checkpoint_dir(recipe: &Recipe) -> PathBuf {
    super::cache::cache_dir().join(format!("ckpt-{}-{}", recipe.name, recipe.version))
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct CkptState {
    step: usize,
    best_step: usize,
    best_score: f64,
    stale_evals: usize,
    minutes: f64,
}

pub fn run(
    recipe: &Recipe,
    root: &Path,
    config: Config,
    resume: bool,
) -> Result<FinetuneReport, TrainError> {
    let started = Instant::now();
    let ts = &recipe.train;
    let mut rng = StdRng::seed_from_u64(recipe.seed);
    // Frozen part, for the cached lower-layer outputs.
    let mut base = Bundle::load(&recipe.base)?;
    base.manifest.max_seq_len = recipe.max_seq_len;
    base.manifest.prefix = recipe.prefix.clone();
    base.tokenizer = triage_core::model::TextTokenizer::from_file(
        &base.files.tokenizer,
        recipe.max_seq_len,
        &recipe.prefix,
    )
    .map_err(|e| TrainError::Invalid(Detail::of(e)))?;
    let norm = NormalizeOptions {
        emoji_to_words: base.tokenizer.is_unknown("😡"),
        to_simplified: true,
    };
    let k = ts.freeze_layers.min(base.encoder.num_layers());
    let h = base.config.hidden_size;
    let fast = frozen_encoder(recipe, &base, &config);
    let mut tasks = Vec::new();
    for task in &recipe.tasks {
        let (train, dev) = task_records(recipe, task, root, &mut rng)?;
        let kind = head_kind(&task.head, &train);
        let train = usable(train, kind, None);
        let labels = labels_of(kind, &train);
        let dev = usable(dev, kind, Some(&labels));
        tracing::info!(head = %task.head, train = train.len(), dev = dev.len(), labels = labels.len(), "task");
        let cache = |records: &[Record], split: &str| {
            let what = format!("{} {split}", task.head);
            frozen_outputs(&base, fast.as_ref(), &norm, records, k, &what)
        };
        let tr = cache(&train, "train")?;
        let mut stop_dev = dev.clone();
        stop_dev.shuffle(&mut rng);
        stop_dev.truncate(ts.dev_for_stopping.max(1));
        let dv = cache(&stop_dev, "dev")?;
        tasks.push(TaskData {
            head: task.head.clone(),
            kind,
            weight: task.weight.unwrap_or((train.len() as f64).sqrt()),
            train: examples(tr, &train, kind, &labels),
            dev: examples(dv, &stop_dev, kind, &labels),
            dev_records: dev,
            labels,
        });
    }
    // Its pool and weight copy are not needed for the rest of the run.
    drop(fast);
    let train_examples: usize = tasks.iter().map(|t| t.train.len()).sum();
    tracing::info!(
        train_examples,
        secs = started.elapsed().as_secs_f64(),
        "frozen layers cached"
    );

    // Trainable part: the whole encoder as Vars (only the upper layers get updates).
    let varmap = VarMap::new();
    let mut bert_config = base.config.clone();
    bert_config.hidden_dropout_prob = ts.dropout;
    let model = BertModel::load(
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        &bert_config,
    )?;
    let base_tensors: HashMap<String, Tensor> = read_weights(&base.files.weights)?
        .into_iter()
        .map(|(k, v)| (k.strip_prefix("bert.").map(str::to_string).unwrap_or(k), v))
        .collect();
    let mut params = Vec::new();
    {
        let vars = varmap
            .data()
            .lock()
            .map_err(|_| TrainError::Invalid("varmap lock".into()))?;
        for (name, var) in vars.iter() {
            let t = base_tensors
                .get(name)
                .ok_or_else(|| TrainError::Invalid(format!("base weights lack {name}").into()))?;
            var.set(t)?;
            let layer = name
                .strip_prefix("encoder.layer.")
                .and_then(|r| r.split('.').next())
                .and_then(|n| n.parse::<usize>().ok());
            if layer.is_some_and(|l| l >= k) {
                params.push((name.clone(), var.clone()));
            }
        }
    }
    let heads: Vec<(Var, Var)> = tasks
        .iter()
        .map(|t| {
            Ok((
                Var::zeros((t.labels.len(), h), DType::F32, &Device::Cpu)?,
                Var::zeros(t.labels.len(), DType::F32, &Device::Cpu)?,
            ))
        })
        .collect::<candle_core::Result<_>>()?;
    for (t, (w, b)) in tasks.iter().zip(&heads) {
        params.push((format!("heads.{}.weight", t.head), w.clone()));
        params.push((format!("heads.{}.bias", t.head), b.clone()));
    }
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let mut opt = AdamW::new(params, ts.weight_decay)?;
    let trainer = Trainer { model, heads, k, h };

    let plan = schedule(&tasks, ts.batch_size, ts.epochs, recipe.seed);
    let warmup = ((plan.len() as f64) * ts.warmup).max(1.0);
    let lr_at = |step: usize, peak: f64| -> f64 {
        let s = step as f64;
        if s < warmup {
            peak * (s + 1.0) / warmup
        } else {
            peak * ((plan.len() as f64 - s) / (plan.len() as f64 - warmup).max(1.0)).max(0.0)
        }
    };
    let ckpt = checkpoint_dir(recipe);
    std::fs::create_dir_all(&ckpt)
        .map_err(|e| TrainError::Invalid(Detail::with(format!("{}: {e}", ckpt.display()), e)))?;
    let mut state = CkptState::default();
    if resume && ckpt.join("state.json").is_file() {
        let text = std::fs::read_to_string(ckpt.join("state.json"))
            .map_err(|e| TrainError::Invalid(Detail::of(e)))?;
        state = serde_json::from_str(&text).map_err(|e| TrainError::Invalid(Detail::of(e)))?;
        let tensors = candle_core::safetensors::load(ckpt.join("last.safetensors"), &Device::Cpu)?;
        opt.restore(&tensors, state.step)?;
        tracing::info!(step = state.step, "resumed from checkpoint");
    }
    let bar = triage_core::progress::bar(plan.len() as u64, "fine-tune");
    bar.set_position(state.step as u64);
    // Minutes spent by earlier (interrupted) runs of this recipe count against the budget.
    let prior_minutes = state.minutes;
    let loop_started = Instant::now();
    let mut loss_avg = 0f64;
    let mut seen = 0usize;
    for step in state.step..plan.len() {
        let (t, idx) = &plan[step];
        let batch: Vec<&Example> = idx.iter().map(|&i| &tasks[*t].train[i]).collect();
        let loss = trainer.loss(&tasks[*t], *t, &batch)?;
        let grads = loss.backward()?;
        if step == state.step {
            let with = opt.params_with_grads(&grads);
            tracing::debug!(with, "parameters with gradients at the first step");
        }
        let norm = opt.grad_norm(&grads)?;
        let scale = if norm > ts.clip { ts.clip / norm } else { 1.0 };
        opt.step(&grads, scale, |name| {
            if name.starts_with("heads.") {
                lr_at(step, ts.head_lr)
            } else {
                lr_at(step, ts.lr)
            }
        })?;
        let l = loss.to_scalar::<f32>()? as f64;
        loss_avg = 0.98 * loss_avg + 0.02 * l;
        seen += batch.len();
        bar.inc(1);
        bar.set_message(format!(
            "loss {:.3} {:.0} ex/s",
            loss_avg / (1.0 - 0.98f64.powi((step - state.step + 1) as i32)),
            seen as f64 / loop_started.elapsed().as_secs_f64()
        ));
        let minutes = prior_minutes + loop_started.elapsed().as_secs_f64() / 60.0;
        let out_of_time = minutes > ts.max_minutes;
        if (step + 1) % ts.eval_every == 0 || step + 1 == plan.len() || out_of_time {
            let score = trainer.dev_score(&tasks)?;
            tracing::info!(step = step + 1, score, loss = loss_avg, minutes, "dev");
            let improved = score > state.best_score;
            let all = opt.state();
            if improved {
                candle_core::safetensors::save(&all, ckpt.join("best.safetensors"))?;
            }
            candle_core::safetensors::save(&all, ckpt.join("last.safetensors"))?;
            state = CkptState {
                step: step + 1,
                best_step: if improved { step + 1 } else { state.best_step },
                best_score: score.max(state.best_score),
                stale_evals: if improved { 0 } else { state.stale_evals + 1 },
                minutes,
            };
            std::fs::write(
                ckpt.join("state.json"),
                serde_json::to_string(&state).unwrap_or_default(),
            )
            .map_err(|e| TrainError::Invalid(Detail::of(e)))?;
            let stop = state.stale_evals >= ts.patience || out_of_time;
            if stop {
                tracing::info!(step = step + 1, out_of_time, "stopping early");
                break;
            }
        }
    }
    bar.finish();
    // Best weights back in.
    let best = candle_core::safetensors::load(ckpt.join("best.safetensors"), &Device::Cpu)?;
    opt.restore(&best, state.best_step)?;

    // Write the bundle: base encoder with the trained upper layers, heads calibrated on dev.
    let mut encoder = base_tensors;
    encoder.retain(|k, _| !(k.starts_with("pooler.") || k.ends_with("position_ids")));
    {
        let vars = varmap
            .data()
            .lock()
            .map_err(|_| TrainError::Invalid("varmap lock".into()))?;
        for (name, var) in vars.iter() {
            encoder.insert(name.clone(), var.as_tensor().clone());
        }
    }
    let mut heads = Vec::new();
    for (t, (w, b)) in tasks.iter().zip(&trainer.heads) {
        let spec = new_spec(&t.head, t.kind, &t.labels);
        let w = to_array2(w.as_tensor())?;
        let b = Array1::from(b.as_tensor().to_vec1::<f32>()?);
        heads.push(Head::new(spec, w, b).map_err(|m| TrainError::Invalid(m.into()))?);
    }
    let manifest = Manifest {
        name: recipe.name.clone(),
        version: recipe.version.clone(),
        base_model: recipe.base_model.clone(),
        languages: recipe.languages.clone(),
        max_seq_len: recipe.max_seq_len,
        pooling: "mean".into(),
        prefix: recipe.prefix.clone(),
        heads: heads.iter().map(|h| h.spec.clone()).collect(),
    };
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    write_with_encoder(&recipe.out, &base.files, &manifest, encoder, &heads)?;
    drop(base);

    // Calibrate on dev with the bundle as it will be served.
    let classifier = Classifier::new(Bundle::load(recipe.out.to_string_lossy().as_ref())?, config);
    let mut calibrated = Vec::new();
    let mut figures = Vec::new();
    for (t, head) in tasks.iter().zip(heads) {
        let xd = super::cache::embed_cached(
            &classifier,
            &super::targets::texts(&t.dev_records),
            &format!("{} dev", t.head),
        )?;
        let (mut h, metric, value) = calibrated_head(
            head.spec.clone(),
            head.weight().clone(),
            head.bias().clone(),
            &xd,
            &t.dev_records,
        )?;
        h.spec.source = Some(format!(
            "fine-tuned (recipe {} {}, upper {} of {} layers trained) on {} ({} examples incl. augmentation); dev {} ({} examples, {metric} {value:.4})",
            recipe.name,
            recipe.version,
            trainer.model.num_layers() - k,
            trainer.model.num_layers(),
            recipe.tasks.iter().find(|x| x.head == t.head).map(|x| x.data.as_str()).unwrap_or("-"),
            t.train.len(),
            recipe.tasks.iter().find(|x| x.head == t.head).map(|x| x.dev.as_str()).unwrap_or("-"),
            t.dev_records.len(),
        ));
        figures.push((t.head.clone(), metric.to_string(), value));
        calibrated.push(h);
    }
    let manifest = Manifest {
        heads: calibrated.iter().map(|h| h.spec.clone()).collect(),
        ..manifest
    };
    drop(classifier);
    triage_core::model::writer::write_manifest(&recipe.out, &manifest)?;
    let run_notes = format!(
        "## Training run\n\n\
         - recipe: `{name}` {version} (`eval/recipes/{name}.toml`), seed {seed}\n\
         - encoder layers trained: {trained} of {layers} (lower {k} frozen and cached); heads trained together, one task per batch\n\
         - steps: {steps} planned, {done} run, best dev score at step {best} ({score:.4}; mean of dev accuracy / emotion macro-F1 at 0.5)\n\
         - training examples (with voice/social augmentation): {n}\n\
         - wall time on this machine ({cpus} CPU threads, no GPU): {minutes:.1} min to the written bundle, calibration after that\n",
        name = recipe.name,
        version = recipe.version,
        seed = recipe.seed,
        trained = trainer.model.num_layers() - k,
        layers = trainer.model.num_layers(),
        steps = plan.len(),
        done = state.step,
        best = state.best_step,
        score = state.best_score,
        n = train_examples,
        cpus = std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    super::card::write_model_card(&recipe.out, &manifest, &run_notes).map_err(|e| {
        TrainError::Invalid(Detail::with(format!("{}: {e}", recipe.out.display()), e))
    })?;
    Ok(FinetuneReport {
        steps: state.step,
        best_step: state.best_step,
        best_dev_score: state.best_score,
        train_examples,
        minutes,
        heads: figures,
    })
}

fn to_array2(t: &Tensor) -> candle_core::Result<Array2<f32>> {
    let (r, c) = t.dims2()?;
    Array2::from_shape_vec((r, c), t.flatten_all()?.to_vec1::<f32>()?)
        .map_err(|e| candle_core::Error::Msg(e.to_string()))
}
