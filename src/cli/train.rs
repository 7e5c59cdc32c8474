//! `triage train`.

use clap::Args;
use std::path::PathBuf;
use triage_core::config::Config;
use triage_lab::train::finetune;
use triage_lab::train::fit::FitOptions;
use triage_lab::train::head_only::{self, HeadOnlyArgs};
use triage_lab::train::recipe::Recipe;

#[derive(Args)]
pub struct TrainArgs {
    /// Fit one head on the frozen encoder of --base
    #[arg(long)]
    head_only: bool,
    /// Base bundle (directory or hub id)
    #[arg(long)]
    base: Option<String>,
    /// Training data: FILE.jsonl or NAME:SPLIT (e.g. banking77:train)
    #[arg(long)]
    data: Option<String>,
    /// Dev data for calibration [default: the data set's dev split, else 10% by hash]
    #[arg(long)]
    dev: Option<String>,
    /// Head name, e.g. intent.mine
    #[arg(long)]
    head: Option<String>,
    /// Output bundle directory
    #[arg(long)]
    out: Option<PathBuf>,
    /// Name of the written bundle [default: the base's]
    #[arg(long)]
    name: Option<String>,
    /// Version of the written bundle [default: the base's]
    #[arg(long)]
    version: Option<String>,
    /// Base model id recorded in the bundle (when starting from a bare encoder)
    #[arg(long)]
    base_model: Option<String>,
    /// Languages the bundle serves, comma-separated (e.g. en,zh)
    #[arg(long, value_delimiter = ',')]
    languages: Option<Vec<String>>,
    /// Folder of the data sets NAME:SPLIT refers to
    #[arg(long, env = "TRIAGE_DATASETS")]
    datasets: Option<PathBuf>,
    /// Optimiser steps (full batch)
    #[arg(long, default_value_t = FitOptions::default().steps)]
    steps: usize,
    /// Learning rate
    #[arg(long, default_value_t = FitOptions::default().lr)]
    lr: f64,
    /// Fine-tuning recipe (TOML), e.g. eval/recipes/triage-en-small.toml
    #[arg(long, conflicts_with = "head_only")]
    recipe: Option<PathBuf>,
    /// Continue an interrupted --recipe run from its last checkpoint
    #[arg(long, requires = "recipe")]
    resume: bool,
}

pub fn run(mut config: Config, a: TrainArgs) -> anyhow::Result<()> {
    // Heads are fitted and calibrated on the reference encoder's embeddings whatever
    // encoder serves: the int8 encoder is judged against them (benches/README.md).
    if config.encoder != triage_core::model::fast::EncoderKind::Candle {
        tracing::info!(
            encoder = config.encoder.as_str(),
            "training uses the candle encoder"
        );
        config.encoder = triage_core::model::fast::EncoderKind::Candle;
    }
    if let Some(path) = &a.recipe {
        let recipe = Recipe::load(path)?;
        let root = a.datasets.unwrap_or_else(head_only::default_datasets);
        let report = finetune::run(&recipe, &root, config, a.resume)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if !a.head_only {
        anyhow::bail!(
            "say --recipe FILE (fine-tuning) or --head-only (a head on the frozen encoder)"
        );
    }
    let need = |v: Option<String>, flag: &str| {
        v.ok_or_else(|| anyhow::anyhow!("--head-only needs {flag}"))
    };
    let args = HeadOnlyArgs {
        base: a.base.unwrap_or_else(|| config.model().to_string()),
        data: need(a.data, "--data")?,
        dev: a.dev,
        head: need(a.head, "--head")?,
        out: a
            .out
            .ok_or_else(|| anyhow::anyhow!("--head-only needs --out"))?,
        name: a.name,
        version: a.version,
        base_model: a.base_model,
        languages: a.languages,
        datasets: a.datasets.unwrap_or_else(head_only::default_datasets),
        fit: FitOptions {
            steps: a.steps,
            lr: a.lr,
            ..FitOptions::default()
        },
    };
    let report = head_only::run(&args, config)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
