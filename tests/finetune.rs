//! `triage train --recipe` end to end on a tiny recipe: trains, writes a loadable f16
//! bundle with calibrated heads and a model card, and the trained head beats chance.

mod common;

use std::io::Write;
use triage_lab::data::{self, Split};

#[test]
fn a_tiny_recipe_trains_a_bundle_that_loads_and_learns() {
    let dir = std::env::temp_dir().join(format!("triage-ft-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = common::shared_dir().join("datasets");
    // Four bitext intents, 30 training and 10 dev examples each.
    let keep = [
        "cancel_order",
        "track_order",
        "get_refund",
        "contact_human_agent",
    ];
    let pick = |split: Split, n: usize| -> Vec<data::Record> {
        let all = data::load(&root, "bitext_customer_support", split).unwrap();
        keep.iter()
            .flat_map(|k| {
                all.iter()
                    .filter(|r| r.intent.as_deref() == Some(*k))
                    .take(n)
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    data::write_jsonl(&dir.join("train.jsonl"), &pick(Split::Train, 30)).unwrap();
    data::write_jsonl(&dir.join("dev.jsonl"), &pick(Split::Dev, 10)).unwrap();
    let out = dir.join("bundle");
    let recipe = dir.join("recipe.toml");
    let mut f = std::fs::File::create(&recipe).unwrap();
    write!(
        f,
        r#"name = "tiny"
version = "0.0.1"
base = "{base}"
base_model = "sentence-transformers/all-MiniLM-L6-v2"
languages = ["en"]
max_seq_len = 48
out = "{out}"
[train]
epochs = 3.0
batch_size = 8
lr = 2e-3
head_lr = 5e-2
warmup = 0.1
weight_decay = 0.01
dropout = 0.1
clip = 1.0
freeze_layers = 5
eval_every = 5
patience = 100
max_minutes = 10
[augment]
voice = 0.3
[[task]]
head = "intent.tiny"
data = "{train}"
dev = "{dev}"
"#,
        base = common::shared_dir()
            .join("models/all-MiniLM-L6-v2")
            .display(),
        out = out.display(),
        train = dir.join("train.jsonl").display(),
        dev = dir.join("dev.jsonl").display(),
    )
    .unwrap();
    drop(f);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["train", "--recipe"])
        .arg(&recipe)
        .env("TRIAGE_CACHE_DIR", dir.join("cache"))
        .env("TRIAGE_LOG", "warn,triage_lab::train::finetune=info")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The recipe leaves `frozen_encoder` at its default: the fast encoder wherever this
    // CPU has a SIMD tier of ours.
    if triage_core::model::fast::Isa::best().is_simd() {
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(
            log.contains("frozen layers cached by the fast f32 encoder"),
            "{log}"
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let dev_acc = report["heads"][0][2].as_f64().unwrap();
    assert!(
        dev_acc > 0.5,
        "4-way dev accuracy {dev_acc} is near chance: {report}"
    );
    let bundle = triage_core::model::Bundle::load(out.to_str().unwrap()).unwrap();
    let head = bundle.head("intent.tiny").unwrap();
    assert_eq!(head.spec.labels.len(), 4);
    assert!(head.spec.temperature > 0.0);
    assert!(std::fs::read_to_string(out.join("MODEL_CARD.md"))
        .unwrap()
        .contains("fine-tuned"));
    // Upper layers changed, lower (frozen) ones did not.
    let base = triage_core::model::bundle::read_weights(
        &common::shared_dir().join("models/all-MiniLM-L6-v2/model.safetensors"),
    )
    .unwrap();
    let tuned = triage_core::model::bundle::read_weights(&out.join("model.safetensors")).unwrap();
    let diff = |name: &str| -> f32 {
        (&base[name] - &tuned[name])
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    assert!(
        diff("encoder.layer.0.attention.self.query.weight") < 1e-2,
        "frozen layer moved beyond f16 rounding"
    );
    let moved = diff("encoder.layer.5.attention.self.query.weight");
    assert!(moved > 1e-3, "trained layer did not move: {moved}");
    let _ = std::fs::remove_dir_all(&dir);
}
