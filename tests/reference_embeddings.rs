//! Our encoder against embeddings computed by an independent implementation
//! (`reference_embeddings.jsonl` beside each base model): same token ids, and cosine
//! ≥ 0.9999 for every line.

mod common;

use serde::Deserialize;
use triage_core::model::{Backend, Bundle};

#[derive(Deserialize)]
struct Reference {
    input: String,
    ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn check(model_dir: &str) {
    let dir = common::shared_dir().join("models").join(model_dir);
    let bundle = Bundle::load(dir.to_str().unwrap()).unwrap();
    let text = std::fs::read_to_string(dir.join("reference_embeddings.jsonl")).unwrap();
    let refs: Vec<Reference> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(refs.len() >= 10, "only {} reference lines", refs.len());
    // `input` already carries any prefix; the bare base model adds none.
    let encs: Vec<_> = refs
        .iter()
        .map(|r| bundle.tokenizer.encode(&r.input).unwrap())
        .collect();
    for (r, e) in refs.iter().zip(&encs) {
        assert_eq!(e.ids, r.ids, "token ids differ for {:?}", r.input);
    }
    // One padded batch: padding must not change any item's embedding.
    let refs_enc: Vec<_> = encs.iter().collect();
    let batched = bundle.encoder.embed(&refs_enc).unwrap();
    for (i, r) in refs.iter().enumerate() {
        let single = bundle.encoder.embed(&[&encs[i]]).unwrap();
        for (which, row) in [
            ("batched", batched.row(i).to_vec()),
            ("single", single.row(0).to_vec()),
        ] {
            let cos = common::cosine(&row, &r.embedding);
            assert!(
                cos >= 0.9999,
                "{model_dir} {which} line {i} {:?}: cosine {cos}",
                r.input
            );
        }
    }
}

#[test]
fn minilm_matches_reference_embeddings() {
    check("all-MiniLM-L6-v2");
}

#[test]
fn multilingual_e5_matches_reference_embeddings() {
    check("multilingual-e5-small-zh-en");
}
