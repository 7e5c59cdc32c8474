//! `triage eval`: run a suite (`--suite FILE`) or evaluate one labelled file (`--data
//! FILE.jsonl --head NAME`), write the reports, and fail (non-zero exit) when a floor of
//! the gate is missed, naming each one.

use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use triage_core::config::Config;
use triage_lab::eval::channels::ChannelVariant;
use triage_lab::eval::suite::{Suite, TaskSpec};
use triage_lab::eval::{run_suite, write_all, RunOptions};

#[derive(Args)]
pub struct EvalArgs {
    /// Eval suite (TOML), e.g. eval/suites/default.toml
    #[arg(long, conflicts_with_all = ["data", "head"])]
    suite: Option<PathBuf>,
    /// Labelled data to evaluate: FILE.jsonl or NAME:SPLIT (e.g. banking77:test)
    #[arg(long, requires = "head")]
    data: Option<String>,
    /// Head to evaluate on --data: intent.<set> or emotion
    #[arg(long, requires = "data")]
    head: Option<String>,
    /// Report folder [default: the suite's `out`, else eval/reports/<suite name>;
    /// with --data: eval-<file name>]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Channel transforms for --data, comma-separated (clean,voice,social)
    #[arg(long, value_delimiter = ',', requires = "data")]
    channels: Vec<String>,
    /// At most N examples per task and handoff group (a stable sample)
    #[arg(long)]
    limit: Option<usize>,
    /// Minimum of a figure for the gate, METRIC=VALUE (repeatable; with --data)
    #[arg(long = "floor", value_name = "METRIC=VALUE", requires = "data")]
    floors: Vec<String>,
    /// Maximum of a figure for the gate, METRIC=VALUE (repeatable; with --data)
    #[arg(long = "ceiling", value_name = "METRIC=VALUE", requires = "data")]
    ceilings: Vec<String>,
    /// Folder of the data sets NAME:SPLIT refers to [default: ../shared/datasets]
    #[arg(long, env = "TRIAGE_DATASETS")]
    datasets: Option<PathBuf>,
}

fn bounds(args: &[String], flag: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    args.iter()
        .map(|a| {
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--{flag} {a:?}: expected METRIC=VALUE"))?;
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("--{flag} {a:?}: {v:?} is not a number"))?;
            Ok((k.trim().to_string(), v))
        })
        .collect()
}

/// A one-task suite for `--data FILE --head NAME`.
fn data_suite(a: &EvalArgs, data: &str, head: &str) -> anyhow::Result<Suite> {
    let stem = Path::new(data)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| data.ends_with(".jsonl") && !s.is_empty())
        .unwrap_or_else(|| data.replace([':', '/', '\\'], "_"));
    let channels = a
        .channels
        .iter()
        .map(|c| c.parse::<ChannelVariant>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Suite {
        name: stem.clone(),
        model: None,
        out: Some(PathBuf::from(format!("eval-{stem}"))),
        datasets: None,
        seed: 13,
        limit: None,
        tasks: vec![TaskSpec {
            name: stem,
            kind: Default::default(),
            data: data.to_string(),
            head: head.to_string(),
            kb: None,
            model: None,
            channels: if channels.is_empty() {
                vec![ChannelVariant::Clean]
            } else {
                channels
            },
            limit: None,
            train_head: None,
            label_map: BTreeMap::new(),
            floors: bounds(&a.floors, "floor")?,
            ceilings: bounds(&a.ceilings, "ceiling")?,
        }],
        handoff: None,
    })
}

pub fn run(config: Config, a: EvalArgs) -> anyhow::Result<()> {
    let mut suite = match (&a.suite, &a.data, &a.head) {
        (Some(path), None, None) => Suite::from_file(path)?,
        (None, Some(data), Some(head)) => data_suite(&a, data, head)?,
        _ => anyhow::bail!("give --suite FILE, or --data FILE.jsonl --head NAME"),
    };
    if let Some(l) = a.limit {
        suite.limit = Some(l);
    }
    suite.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = a
        .out
        .clone()
        .or_else(|| suite.out.clone())
        .unwrap_or_else(|| PathBuf::from("eval/reports").join(&suite.name));
    let datasets = a
        .datasets
        .clone()
        .or_else(|| suite.datasets.clone())
        .unwrap_or_else(triage_lab::data::default_root);
    let report = run_suite(
        &suite,
        RunOptions {
            config,
            datasets,
            decider: None,
        },
    )?;
    write_all(&report, &out)?;

    // Names line up however long they are (`multi.bitext_customer_support`).
    let width = report
        .tasks
        .iter()
        .map(|t| t.name.chars().count())
        .chain([28])
        .max()
        .unwrap_or(28);
    for t in &report.tasks {
        let mut line = format!("{:<width$} n={:<6}", t.name, t.n_examples);
        for k in [
            "accuracy",
            "macro_f1",
            "micro_f1",
            "ece",
            "oos_recall",
            "ekman.gold_macro_f1",
            "sentiment.accuracy",
            "sentiment.polar_accuracy",
            "recall_at_1",
            "recall_at_3",
            "mrr",
            "voice.recall_at_1",
            "social.recall_at_1",
            "voice.gap",
            "social.gap",
        ] {
            if let Some(v) = t.figures.get(k) {
                line.push_str(&format!(" {k} {v:.4}"));
            }
        }
        println!("{line}");
    }
    if let Some(h) = &report.handoff {
        let p = &h.eval.at_threshold;
        println!(
            "{:<width$} n={:<6} threshold {:.2} containment {:.4} wrong_answer_rate {:.4} handoff_precision {:.4} handoff_recall {:.4} not_kept_recall {:.4} human_request_recall {:.4}",
            "handoff", h.eval.n, h.eval.threshold, p.containment, p.wrong_answer_rate, p.handoff_precision, p.handoff_recall, p.not_kept_recall, p.human_request_recall
        );
    }
    println!(
        "reports in {} ({:.1} s); gate {}",
        out.display(),
        report.seconds,
        if report.gate.passed {
            "passed"
        } else {
            "FAILED"
        }
    );
    if !report.gate.passed {
        let failed: Vec<String> = report
            .gate
            .failures()
            .map(|c| format!("  - {}", c.describe()))
            .collect();
        anyhow::bail!(
            "the gate failed ({} of {} checks):\n{}",
            failed.len(),
            report.gate.checks.len(),
            failed.join("\n")
        );
    }
    Ok(())
}
