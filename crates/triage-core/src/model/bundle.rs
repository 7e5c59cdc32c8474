//! Loading a model bundle (DESIGN.md "Model bundle"): a triage bundle directory, a plain
//! `BertForSequenceClassification` directory (one softmax head from `id2label`), or a bare
//! sentence-transformers BERT (no heads: embeddings only, and the base for head-only
//! training). Every failure names the file it came from, so a corrupt bundle is fixed at
//! startup rather than discovered on the first request.

use super::bert::BertModel;
use super::config::BertConfig;
use super::heads::Head;
use super::hub;
use super::manifest::{HeadKind, HeadSpec, Manifest};
use super::tokenize::TextTokenizer;
use crate::cause::Detail;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use ndarray::{Array1, Array2};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("model {0:?} is neither a directory nor a Hugging Face model id")]
    NotFound(String),
    #[error(transparent)]
    Hub(#[from] hub::HubError),
    /// A bundle file that cannot be read or is wrong; the error underneath (I/O, JSON,
    /// TOML, safetensors, candle), when there is one, is the source.
    #[error("{file}: {message}")]
    File {
        file: PathBuf,
        #[source]
        message: Detail,
    },
}

/// `message`: a message of ours, or [`Detail::of`] an error (the error then is the source).
fn file_err(file: &Path, message: impl Into<Detail>) -> BundleError {
    BundleError::File {
        file: file.to_path_buf(),
        message: message.into(),
    }
}

/// Where a bundle's files are.
#[derive(Debug, Clone)]
pub struct BundleFiles {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub tokenizer: PathBuf,
    pub weights: PathBuf,
    pub manifest: Option<PathBuf>,
}

impl BundleFiles {
    pub fn locate(model: &str) -> Result<Self, BundleError> {
        let path = Path::new(model);
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else if hub::is_hub_id(model) {
            hub::resolve(model)?
        } else {
            return Err(BundleError::NotFound(model.to_string()));
        };
        let required = |name: &str| -> Result<PathBuf, BundleError> {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(file_err(
                    &p,
                    "missing (a bundle needs config.json, tokenizer.json and model.safetensors)",
                ))
            }
        };
        let manifest = dir.join("bundle.toml");
        Ok(Self {
            config: required("config.json")?,
            tokenizer: required("tokenizer.json")?,
            weights: required("model.safetensors")?,
            manifest: manifest.is_file().then_some(manifest),
            dir,
        })
    }
}

pub struct Bundle {
    pub manifest: Manifest,
    pub config: BertConfig,
    pub tokenizer: TextTokenizer,
    pub encoder: BertModel,
    pub heads: Vec<Head>,
    pub files: BundleFiles,
}

impl Bundle {
    /// Loads a bundle for serving (Q/K/V fused).
    pub fn load(model: &str) -> Result<Self, BundleError> {
        let mut b = Self::load_unfused(model)?;
        b.encoder
            .fuse_for_inference()
            .map_err(|e| file_err(&b.files.weights, Detail::of(e)))?;
        Ok(b)
    }

    /// Loads a bundle with the encoder as stored (what training starts from).
    pub fn load_unfused(model: &str) -> Result<Self, BundleError> {
        let files = BundleFiles::locate(model)?;
        let config = read_config(&files.config)?;
        let mut tensors = read_weights(&files.weights)?;
        let manifest = match &files.manifest {
            Some(p) => read_manifest(p)?,
            None => synthesize_manifest(&files, &config)?,
        };
        if manifest.max_seq_len > config.max_position_embeddings {
            return Err(file_err(
                files.manifest.as_deref().unwrap_or(&files.config),
                format!(
                    "max_seq_len {} exceeds max_position_embeddings {}",
                    manifest.max_seq_len, config.max_position_embeddings
                ),
            ));
        }
        let tokenizer =
            TextTokenizer::from_file(&files.tokenizer, manifest.max_seq_len, &manifest.prefix)
                .map_err(|e| file_err(&files.tokenizer, Detail::of(e)))?;
        let heads = take_heads(&manifest, &mut tensors, &config, &files.weights)?;
        let encoder = build_encoder(tensors, &config, &files.weights)?;
        Ok(Self {
            manifest,
            config,
            tokenizer,
            encoder,
            heads,
            files,
        })
    }

    pub fn head(&self, name: &str) -> Option<&Head> {
        self.heads.iter().find(|h| h.spec.name == name)
    }

    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }
}

fn read_config(path: &Path) -> Result<BertConfig, BundleError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_err(path, Detail::of(e)))?;
    let config: BertConfig =
        serde_json::from_str(&text).map_err(|e| file_err(path, Detail::of(e)))?;
    config.validate().map_err(|e| file_err(path, e))?;
    Ok(config)
}

fn read_manifest(path: &Path) -> Result<Manifest, BundleError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_err(path, Detail::of(e)))?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| file_err(path, Detail::of(e)))?;
    manifest.validate().map_err(|e| file_err(path, e))?;
    Ok(manifest)
}

/// All tensors as f32 on the CPU; f16 on disk halves the bundle, f32 in memory keeps the
/// arithmetic exact enough for the reference test.
pub fn read_weights(path: &Path) -> Result<HashMap<String, Tensor>, BundleError> {
    let bytes = std::fs::read(path).map_err(|e| file_err(path, Detail::of(e)))?;
    let raw = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| {
        file_err(
            path,
            Detail::with(format!("not a valid safetensors file: {e}"), e),
        )
    })?;
    raw.into_iter()
        .map(|(k, t)| {
            let t = t
                .to_dtype(DType::F32)
                .map_err(|e| file_err(path, Detail::of(e)))?;
            Ok((k, t))
        })
        .collect()
}

/// A directory without `bundle.toml`: a classifier checkpoint gives one softmax head,
/// a bare encoder gives none.
fn synthesize_manifest(files: &BundleFiles, config: &BertConfig) -> Result<Manifest, BundleError> {
    let st_config = files.dir.join("sentence_bert_config.json");
    let max_seq_len = std::fs::read_to_string(&st_config)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("max_seq_length")?.as_u64())
        .map(|n| n as usize)
        .unwrap_or(config.max_position_embeddings)
        .min(config.max_position_embeddings)
        .min(512);
    let mut heads = Vec::new();
    if let Some(id2label) = &config.id2label {
        let mut pairs: Vec<(usize, String)> = id2label
            .iter()
            .map(|(k, v)| {
                k.parse::<usize>().map(|i| (i, v.clone())).map_err(|_| {
                    file_err(&files.config, format!("id2label key {k:?} is not a number"))
                })
            })
            .collect::<Result<_, _>>()?;
        pairs.sort();
        if pairs.iter().enumerate().any(|(i, (k, _))| i != *k) {
            return Err(file_err(&files.config, "id2label keys are not 0..n"));
        }
        heads.push(HeadSpec {
            name: "intent.default".into(),
            kind: HeadKind::Softmax,
            labels: pairs.into_iter().map(|(_, v)| v).collect(),
            temperature: 1.0,
            thresholds: vec![],
            out_of_scope: None,
            oos_threshold: None,
            groupings: Default::default(),
            frustration: vec![],
            source: Some("BertForSequenceClassification classifier".into()),
            by_language: Default::default(),
        });
    }
    let name = files
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    Ok(Manifest {
        name,
        version: "0".into(),
        base_model: config
            .architectures
            .as_ref()
            .map(|a| a.join(","))
            .unwrap_or_default(),
        languages: vec![],
        max_seq_len,
        pooling: "mean".into(),
        prefix: String::new(),
        heads,
    })
}

fn take_tensor(
    tensors: &mut HashMap<String, Tensor>,
    name: &str,
    file: &Path,
) -> Result<Tensor, BundleError> {
    tensors
        .remove(name)
        .ok_or_else(|| file_err(file, format!("tensor {name:?} is missing")))
}

fn to_array2(t: &Tensor, file: &Path, name: &str) -> Result<Array2<f32>, BundleError> {
    let (r, c) = t
        .dims2()
        .map_err(|e| file_err(file, Detail::with(format!("{name}: {e}"), e)))?;
    let v = t
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| file_err(file, Detail::with(format!("{name}: {e}"), e)))?;
    Array2::from_shape_vec((r, c), v)
        .map_err(|e| file_err(file, Detail::with(format!("{name}: {e}"), e)))
}

fn take_heads(
    manifest: &Manifest,
    tensors: &mut HashMap<String, Tensor>,
    config: &BertConfig,
    file: &Path,
) -> Result<Vec<Head>, BundleError> {
    let classifier = manifest.heads.len() == 1
        && tensors.contains_key("classifier.weight")
        && !tensors.contains_key(&format!("heads.{}.weight", manifest.heads[0].name));
    manifest
        .heads
        .iter()
        .map(|spec| {
            let (wn, bn) = if classifier {
                (
                    "classifier.weight".to_string(),
                    "classifier.bias".to_string(),
                )
            } else {
                (
                    format!("heads.{}.weight", spec.name),
                    format!("heads.{}.bias", spec.name),
                )
            };
            let w = to_array2(&take_tensor(tensors, &wn, file)?, file, &wn)?;
            let b = take_tensor(tensors, &bn, file)?
                .to_vec1::<f32>()
                .map_err(|e| file_err(file, Detail::with(format!("{bn}: {e}"), e)))?;
            if w.ncols() != config.hidden_size {
                return Err(file_err(
                    file,
                    format!(
                        "{wn} has {} columns, hidden_size is {}",
                        w.ncols(),
                        config.hidden_size
                    ),
                ));
            }
            Head::new(spec.clone(), w, Array1::from(b)).map_err(|e| file_err(file, e))
        })
        .collect()
}

fn build_encoder(
    mut tensors: HashMap<String, Tensor>,
    config: &BertConfig,
    file: &Path,
) -> Result<BertModel, BundleError> {
    // Classifier checkpoints keep the encoder under `bert.`; strip it.
    if tensors.contains_key("bert.embeddings.word_embeddings.weight") {
        tensors = tensors
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix("bert.").map(|s| (s.to_string(), v)))
            .collect();
    }
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    BertModel::load(vb, config)
        .map_err(|e| file_err(file, Detail::with(format!("encoder weights: {e}"), e)))
}
