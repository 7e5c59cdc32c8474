//! Fine-tuning recipes (`eval/recipes/*.toml`): everything a training run depends on, so
//! that the file reproduces the bundle it produced.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use triage_core::cause::Detail;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub(crate) name: String,
    pub(crate) version: String,
    /// Base encoder: a bare sentence-transformers BERT directory or hub id.
    pub(crate) base: String,
    pub(crate) base_model: String,
    #[serde(default)]
    pub(crate) languages: Vec<String>,
    #[serde(default = "default_max_len")]
    pub(crate) max_seq_len: usize,
    #[serde(default)]
    pub(crate) prefix: String,
    pub(crate) out: PathBuf,
    #[serde(default = "default_seed")]
    pub(crate) seed: u64,
    pub(crate) train: TrainSettings,
    #[serde(default)]
    pub(crate) augment: Augment,
    #[serde(rename = "task")]
    pub(crate) tasks: Vec<Task>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrainSettings {
    /// Passes over the (mixed) training data.
    pub(crate) epochs: f64,
    pub(crate) batch_size: usize,
    /// Peak learning rate of the encoder layers.
    pub(crate) lr: f64,
    /// Peak learning rate of the heads (they start from zero and need to move further).
    pub(crate) head_lr: f64,
    /// Fraction of steps with linear warm-up; then linear decay to zero.
    pub(crate) warmup: f64,
    pub(crate) weight_decay: f64,
    pub(crate) dropout: f64,
    /// Global gradient-norm clip.
    pub(crate) clip: f64,
    /// Lower encoder layers kept frozen; their outputs are computed once and cached,
    /// which is what makes fine-tuning fit in minutes on two CPU cores.
    pub(crate) freeze_layers: usize,
    /// Which encoder computes the frozen layers' cache (`fast` when absent). The cache is
    /// the slowest part of a deep freeze (38 min of the multilingual recipe on candle),
    /// and the fast f32 encoder gives the same states (cosine ≥ 0.9999 per token, tested)
    /// in a fraction of that; `candle` reproduces runs made before it existed exactly.
    #[serde(default)]
    pub(crate) frozen_encoder: FrozenEncoder,
    /// Evaluate on dev every this many steps (early stopping, checkpoints).
    pub(crate) eval_every: usize,
    /// Stop after this many evaluations without improvement.
    pub(crate) patience: usize,
    /// Hard budget: stop (keeping the best weights) after this many minutes.
    pub(crate) max_minutes: f64,
    /// Dev examples per task used for early stopping (a fixed subsample keeps the
    /// periodic evaluation cheap); calibration always uses the whole dev split.
    #[serde(default = "default_dev_for_stopping")]
    pub(crate) dev_for_stopping: usize,
}

/// The encoder that runs the frozen lower layers once over every example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FrozenEncoder {
    /// `model::fast` in f32 on the best SIMD tier of this CPU (or the configured `isa`);
    /// candle where the CPU has no SIMD tier of ours (our scalar kernels are slower than
    /// candle's matmul) or the fast encoder cannot be built, with a log line saying so.
    #[default]
    Fast,
    /// The candle reference in padded batches: what recipes ran before the fast encoder.
    Candle,
}

fn default_dev_for_stopping() -> usize {
    1000
}

/// Training-time augmentation: for each training text, with these probabilities, add a
/// voice-style and a social-style variant (seeded), so one model serves every channel.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Augment {
    #[serde(default)]
    pub(crate) voice: f64,
    #[serde(default)]
    pub(crate) social: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Task {
    /// Head trained by this task (`intent.banking`, `emotion`, ...).
    pub(crate) head: String,
    /// Training data: `NAME:SPLIT` or a `.jsonl` file.
    pub(crate) data: String,
    /// Dev data (early stopping, calibration).
    pub(crate) dev: String,
    /// Relative share of training batches; default: proportional to sqrt(size).
    #[serde(default)]
    pub(crate) weight: Option<f64>,
    /// Cap on training examples (deterministic subsample), to balance time.
    #[serde(default)]
    pub(crate) max_examples: Option<usize>,
}

fn default_max_len() -> usize {
    128
}
fn default_seed() -> u64 {
    42
}

impl Recipe {
    /// Reads and checks a recipe. The message names the file; the I/O or TOML error,
    /// when there is one, is the source.
    pub fn load(path: &Path) -> Result<Self, Detail> {
        let at = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| Detail::with(at(&e), e))?;
        let r: Recipe = toml::from_str(&text).map_err(|e| Detail::with(at(&e), e))?;
        if r.tasks.is_empty() {
            return Err(format!("{}: no [[task]]", path.display()).into());
        }
        if r.train.batch_size == 0 || r.train.epochs <= 0.0 {
            return Err(format!("{}: batch_size and epochs must be > 0", path.display()).into());
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_recipe_parses_and_trains_only_permissive_data() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval/recipes");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let r = Recipe::load(&path).unwrap();
            for t in &r.tasks {
                // A mix of train::mix reads its sources; anything else names its set.
                let names: Vec<&str> = if t.data.starts_with(crate::train::mix::MIX_DIR) {
                    crate::train::mix::SOURCES.to_vec()
                } else {
                    vec![t.data.split(':').next().unwrap()]
                };
                for name in names {
                    let info = crate::data::dataset_info(name)
                        .unwrap_or_else(|| panic!("{}: unknown data {name}", path.display()));
                    assert!(
                        info.permissive,
                        "{}: {name} is not cleared for shipped weights",
                        path.display()
                    );
                }
            }
            seen += 1;
        }
        assert!(
            seen >= 2,
            "expected the en and multi recipes in {}",
            dir.display()
        );
    }

    /// A recipe with `extra` appended to its `[train]` table.
    fn recipe_with_train(extra: &str) -> Result<Recipe, String> {
        let text = format!(
            "name = \"x\"\nversion = \"1\"\nbase = \"b\"\nbase_model = \"b\"\nout = \"o\"\n\
             [train]\nepochs = 1\nbatch_size = 8\nlr = 1e-4\nhead_lr = 1e-2\nwarmup = 0.1\n\
             weight_decay = 0.0\ndropout = 0.1\nclip = 1\nfreeze_layers = 2\neval_every = 10\n\
             patience = 2\nmax_minutes = 1\n{extra}\n\
             [[task]]\nhead = \"intent.x\"\ndata = \"d:train\"\ndev = \"d:dev\"\n"
        );
        toml::from_str(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn frozen_encoder_parses_defaults_to_fast_and_rejects_unknown_values() {
        let get = |extra: &str| recipe_with_train(extra).map(|r| r.train.frozen_encoder);
        assert_eq!(get(""), Ok(FrozenEncoder::Fast));
        assert_eq!(get("frozen_encoder = \"fast\""), Ok(FrozenEncoder::Fast));
        assert_eq!(
            get("frozen_encoder = \"candle\""),
            Ok(FrozenEncoder::Candle)
        );
        for bad in ["\"int8\"", "\"Fast \"", "1"] {
            let err = get(&format!("frozen_encoder = {bad}")).unwrap_err();
            assert!(
                err.contains("frozen_encoder") || err.contains("variant"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn shipped_recipes_name_their_frozen_encoder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval/recipes");
        for name in ["triage-en-small.toml", "triage-multi-small.toml"] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            assert!(
                text.lines().any(|l| l.starts_with("frozen_encoder = ")),
                "{name}: set frozen_encoder explicitly"
            );
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = std::env::temp_dir().join(format!("triage-recipe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.toml");
        std::fs::write(&p, "name = \"x\"\nversion = \"1\"\nbase = \"b\"\nbase_model = \"b\"\nout = \"o\"\nepochz = 3\n").unwrap();
        assert!(Recipe::load(&p).unwrap_err().contains("epochz"));
    }
}
