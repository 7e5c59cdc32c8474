//! Bundle loading: the shipped bundle, damaged bundles (each failure names its file), a
//! plain `BertForSequenceClassification` directory, and a Hub id from the offline cache.

mod common;

use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use triage_core::model::{Bundle, HeadKind};

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("triage-{name}-{}", std::process::id()))
}

fn shipped() -> PathBuf {
    common::repo_path("models/triage-en-small")
}

fn load_err(dir: &Path) -> String {
    match Bundle::load(dir.to_str().unwrap()) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_shipped_bundle_has_its_heads_with_f16_weights() {
    let b = Bundle::load(shipped().to_str().unwrap()).unwrap();
    assert_eq!(b.manifest.name, "triage-en-small");
    for (name, kind, n) in [
        ("intent.support", HeadKind::Softmax, 28), // 27 bitext intents and oos
        ("intent.banking", HeadKind::Softmax, 77),
        ("intent.clinc", HeadKind::Softmax, 151),
        ("emotion", HeadKind::Sigmoid, 28),
    ] {
        let h = b.head(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!((h.spec.kind, h.spec.labels.len()), (kind, n), "{name}");
    }
    assert_eq!(
        b.head("intent.clinc").unwrap().spec.out_of_scope.as_deref(),
        Some("oos")
    );
    let bytes = std::fs::read(shipped().join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    for (name, view) in tensors.tensors() {
        assert_eq!(view.dtype(), safetensors::Dtype::F16, "{name} is not f16");
    }
}

#[test]
fn damaged_bundles_fail_naming_the_file() {
    let dir = tmp("damaged");
    // Truncated weights.
    common::copy_bundle(&shipped(), &dir);
    let w = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &w[..w.len() / 2]).unwrap();
    assert!(load_err(&dir).contains("model.safetensors"));
    // Missing tokenizer.
    common::copy_bundle(&shipped(), &dir);
    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();
    assert!(load_err(&dir).contains("tokenizer.json"));
    // Corrupt tokenizer.
    common::copy_bundle(&shipped(), &dir);
    std::fs::write(dir.join("tokenizer.json"), "{").unwrap();
    assert!(load_err(&dir).contains("tokenizer.json"));
    // Bad manifest: syntax, and thresholds that do not match the labels.
    common::copy_bundle(&shipped(), &dir);
    std::fs::write(dir.join("bundle.toml"), "name = ").unwrap();
    assert!(load_err(&dir).contains("bundle.toml"));
    common::copy_bundle(&shipped(), &dir);
    let m = std::fs::read_to_string(dir.join("bundle.toml")).unwrap();
    std::fs::write(
        dir.join("bundle.toml"),
        m.replacen("thresholds = [", "thresholds = [0.5, ", 1),
    )
    .unwrap();
    let e = load_err(&dir);
    assert!(e.contains("bundle.toml") && e.contains("thresholds"), "{e}");
    // Bad config.
    common::copy_bundle(&shipped(), &dir);
    std::fs::write(dir.join("config.json"), "[]").unwrap();
    assert!(load_err(&dir).contains("config.json"));
    // A head whose weights are missing.
    common::copy_bundle(&shipped(), &dir);
    let m = std::fs::read_to_string(dir.join("bundle.toml")).unwrap();
    std::fs::write(
        dir.join("bundle.toml"),
        m.replace("name = \"emotion\"", "name = \"emotions\""),
    )
    .unwrap();
    let e = load_err(&dir);
    assert!(
        e.contains("model.safetensors") && e.contains("heads.emotions.weight"),
        "{e}"
    );
    // Not a bundle at all.
    assert!(load_err(Path::new("/nonexistent/dir")).contains("/nonexistent/dir"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_plain_sequence_classification_directory_loads_as_one_softmax_head() {
    let base = common::shared_dir().join("models/all-MiniLM-L6-v2");
    let dir = tmp("seqcls");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(base.join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("config.json")).unwrap()).unwrap();
    config["architectures"] = serde_json::json!(["BertForSequenceClassification"]);
    config["id2label"] = serde_json::json!({"0": "negative", "1": "positive"});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut tensors: HashMap<String, Tensor> =
        candle_core::safetensors::load(base.join("model.safetensors"), &Device::Cpu)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (format!("bert.{k}"), v))
            .collect();
    tensors.insert(
        "classifier.weight".into(),
        Tensor::randn(0f32, 0.1, (2, 384), &Device::Cpu).unwrap(),
    );
    tensors.insert(
        "classifier.bias".into(),
        Tensor::zeros(2, candle_core::DType::F32, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    let b = Bundle::load(dir.to_str().unwrap()).unwrap();
    assert_eq!(b.heads.len(), 1);
    assert_eq!(b.heads[0].spec.name, "intent.default");
    assert_eq!(b.heads[0].spec.labels, vec!["negative", "positive"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_hub_id_resolves_from_the_offline_cache() {
    // hf-hub's cache layout: hub/models--ORG--NAME/{refs/main, snapshots/REV/FILE}.
    let home = tmp("hfhome");
    let _ = std::fs::remove_dir_all(&home);
    let repo = home.join("hub/models--triage-test--tiny-bundle");
    let rev = "0123456789abcdef0123456789abcdef01234567";
    let snap = repo.join("snapshots").join(rev);
    common::copy_bundle(&shipped(), &snap);
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), rev).unwrap();
    // Environment is process-wide: this test binary runs no other test reading it.
    std::env::set_var("HF_HOME", &home);
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let b = Bundle::load("triage-test/tiny-bundle").unwrap();
    assert_eq!(b.manifest.name, "triage-en-small");
    let err = match Bundle::load("triage-test/not-cached") {
        Ok(_) => panic!("loaded a model that is not cached"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("config.json") && err.contains("HF_HUB_OFFLINE"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&home);
}
