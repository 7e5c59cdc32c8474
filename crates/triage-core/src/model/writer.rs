//! Writing a bundle: the encoder's weights from a base bundle plus new heads, as f16
//! safetensors (half the size, and f32 in memory after loading), with `bundle.toml`,
//! `config.json` and `tokenizer.json` beside them.

use super::bundle::{read_weights, BundleError, BundleFiles};
use super::heads::Head;
use super::manifest::Manifest;
use crate::cause::Detail;
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// The error `e` writing `file`, kept as the source.
fn io_err(file: &Path, e: impl std::error::Error + Send + Sync + 'static) -> BundleError {
    BundleError::File {
        file: file.to_path_buf(),
        message: Detail::of(e),
    }
}

/// A manifest our checks refuse (`message` is ours).
fn invalid(file: &Path, message: String) -> BundleError {
    BundleError::File {
        file: file.to_path_buf(),
        message: message.into(),
    }
}

/// Tensors a served encoder never reads; dropping them keeps bundles small.
fn unused(name: &str) -> bool {
    name.starts_with("pooler.")
        || name.starts_with("bert.pooler.")
        || name.ends_with("position_ids")
        || name.starts_with("classifier.")
        || name.starts_with("heads.")
}

/// Writes `out` from `base`'s encoder weights (re-read from disk, untouched) and `heads`.
pub fn write_bundle(
    out: &Path,
    base: &BundleFiles,
    manifest: &Manifest,
    heads: &[Head],
) -> Result<(), BundleError> {
    let encoder: HashMap<String, Tensor> = read_weights(&base.weights)?
        .into_iter()
        .filter(|(k, _)| !unused(k))
        .map(|(k, v)| (k.strip_prefix("bert.").map(str::to_string).unwrap_or(k), v))
        .collect();
    write_with_encoder(out, base, manifest, encoder, heads)
}

/// Like [`write_bundle`] with the encoder weights given (a fine-tuned encoder).
pub fn write_with_encoder(
    out: &Path,
    base: &BundleFiles,
    manifest: &Manifest,
    encoder: HashMap<String, Tensor>,
    heads: &[Head],
) -> Result<(), BundleError> {
    manifest
        .validate()
        .map_err(|e| invalid(&out.join("bundle.toml"), e))?;
    std::fs::create_dir_all(out).map_err(|e| io_err(out, e))?;
    let weights = out.join("model.safetensors");
    let mut all: Vec<(String, Tensor)> = Vec::new();
    for (k, v) in encoder {
        all.push((k, v.to_dtype(DType::F16).map_err(|e| io_err(&weights, e))?));
    }
    for head in heads {
        let name = &head.spec.name;
        let (r, c) = head.weight().dim();
        let w = Tensor::from_iter(head.weight().iter().copied(), &Device::Cpu)
            .and_then(|t| t.reshape((r, c)))
            .and_then(|t| t.to_dtype(DType::F16))
            .map_err(|e| io_err(&weights, e))?;
        let b = Tensor::from_iter(head.bias().iter().copied(), &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F16))
            .map_err(|e| io_err(&weights, e))?;
        all.push((format!("heads.{name}.weight"), w));
        all.push((format!("heads.{name}.bias"), b));
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    candle_core::safetensors::save(&all.into_iter().collect::<HashMap<_, _>>(), &weights)
        .map_err(|e| io_err(&weights, e))?;
    let toml = toml::to_string_pretty(manifest).map_err(|e| io_err(&out.join("bundle.toml"), e))?;
    std::fs::write(out.join("bundle.toml"), toml)
        .map_err(|e| io_err(&out.join("bundle.toml"), e))?;
    for (src, name) in [
        (&base.config, "config.json"),
        (&base.tokenizer, "tokenizer.json"),
    ] {
        let dst = out.join(name);
        if src.canonicalize().ok() != dst.canonicalize().ok() {
            std::fs::copy(src, &dst).map_err(|e| io_err(&dst, e))?;
        }
    }
    Ok(())
}

/// Rewrites only `bundle.toml` (re-calibrated heads; the weights are unchanged).
pub fn write_manifest(out: &Path, manifest: &Manifest) -> Result<(), BundleError> {
    let path = out.join("bundle.toml");
    manifest.validate().map_err(|e| invalid(&path, e))?;
    let toml = toml::to_string_pretty(manifest).map_err(|e| io_err(&path, e))?;
    std::fs::write(&path, toml).map_err(|e| io_err(&path, e))
}
