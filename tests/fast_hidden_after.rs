//! The fast encoder's per-token hidden states (`FastEncoder::hidden_after`, what training's
//! frozen-layer cache runs on) against candle's `hidden_after`, on both base models, for
//! every kernel tier this CPU runs, batched and one sentence at a time.

mod common;

use triage_core::model::backend::candle_hidden_after;
use triage_core::model::fast::{FastEncoder, Isa, Precision};
use triage_core::model::{Bundle, Encoded};

/// Largest absolute difference allowed in any hidden-state element. The states are
/// layer-norm outputs (|x| ≤ 6.1 on MiniLM, ≤ 1.1 after e5's last layer); the f32 sums
/// of the fast kernels run in another order than candle's, a few ulps per operation,
/// which the layers grow to at most 1.2e-5 (MiniLM) and 4.1e-6 (e5) on every tier,
/// measured when written. 1e-3 leaves two orders of magnitude for other CPUs and
/// inputs, and still sits far below what a real mistake moves: one layer too few
/// changes some element by more than 4 (asserted below), a lost residual or a shifted
/// row as much.
const MAX_ABS: f32 = 1e-3;

/// A base model (unfused, as training loads it) and its reference inputs: short and long,
/// English and Chinese, and for e5 with the `query: ` prefix its training recipe and
/// manifest use (the lines carry it already).
fn model(dir: &str) -> (Bundle, Vec<Encoded>) {
    let dir = common::shared_dir().join("models").join(dir);
    let bundle = Bundle::load_unfused(dir.to_str().unwrap()).unwrap();
    let text = std::fs::read_to_string(dir.join("reference_embeddings.jsonl")).unwrap();
    let encs = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            bundle
                .tokenizer
                .encode(v["input"].as_str().unwrap())
                .unwrap()
        })
        .collect();
    (bundle, encs)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// Per-token cosine ≥ 0.9999 and |difference| ≤ `MAX_ABS`; returns the largest
/// difference seen.
fn compare(what: &str, got: &[f32], want: &[f32], h: usize) -> f32 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = 0f32;
    for (t, (g, w)) in got.chunks(h).zip(want.chunks(h)).enumerate() {
        let cos = common::cosine(g, w);
        assert!(cos >= 0.9999, "{what} token {t}: cosine {cos}");
        worst = worst.max(max_abs(g, w));
    }
    assert!(worst <= MAX_ABS, "{what}: max abs difference {worst}");
    worst
}

fn check(dir: &str) {
    let (bundle, encs) = model(dir);
    let refs: Vec<&Encoded> = encs.iter().collect();
    let h = bundle.config.hidden_size;
    let layers = bundle.encoder.num_layers();
    for isa in Isa::available() {
        let fast = FastEncoder::with_isa(&bundle.encoder, Precision::F32, 2, isa).unwrap();
        let mut worst = 0f32;
        // 0 = the embeddings' output; past the depth = every layer, as in candle.
        for k in [0, 1, layers / 2, layers, layers + 3] {
            let want = candle_hidden_after(&bundle.encoder, &refs, k).unwrap();
            let batched = fast.hidden_after(&refs, k).unwrap();
            assert_eq!(batched.len(), refs.len());
            for (i, e) in encs.iter().enumerate() {
                let single = fast.hidden_after(&[e], k).unwrap();
                assert_eq!(single.len(), 1);
                for (which, got) in [("batched", &batched[i]), ("single", &single[0])] {
                    let what = format!("{dir} {isa} k={k} {which} line {i}");
                    worst = worst.max(compare(&what, got, &want[i], h));
                }
            }
        }
        // The bound tells layers apart: one layer too few moves far more.
        let off_by_one = fast
            .hidden_after(&refs, layers - 1)
            .unwrap()
            .iter()
            .zip(&candle_hidden_after(&bundle.encoder, &refs, layers).unwrap())
            .fold(0f32, |m, (a, b)| m.max(max_abs(a, b)));
        assert!(
            off_by_one > 100.0 * MAX_ABS,
            "{dir} {isa}: one layer off moves only {off_by_one}"
        );
        eprintln!("{dir} {isa}: max abs difference {worst:.2e}, one layer off {off_by_one:.2}");
    }
}

#[test]
fn minilm_hidden_states_match_candle_on_every_tier() {
    check("all-MiniLM-L6-v2");
}

#[test]
fn multilingual_e5_hidden_states_match_candle_on_every_tier() {
    check("multilingual-e5-small-zh-en");
}

#[test]
fn int8_refuses_and_degenerate_batches_answer() {
    let (bundle, encs) = model("all-MiniLM-L6-v2");
    let int8 = FastEncoder::new(&bundle.encoder, Precision::Int8, 2).unwrap();
    let err = int8.hidden_after(&[&encs[0]], 2).unwrap_err();
    assert!(err.to_string().contains("f32"), "{err}");

    let f32 = FastEncoder::new(&bundle.encoder, Precision::F32, 2).unwrap();
    assert!(f32.hidden_after(&[], 2).unwrap().is_empty());
    let empty = Encoded {
        ids: vec![],
        type_ids: vec![],
    };
    let out = f32.hidden_after(&[&empty, &encs[0]], 2).unwrap();
    assert!(out[0].is_empty());
    assert_eq!(out[1].len(), encs[0].len() * 384);
    let mismatched = Encoded {
        ids: vec![101, 102],
        type_ids: vec![0],
    };
    assert!(f32.hidden_after(&[&mismatched], 2).is_err());
    assert!(candle_hidden_after(&bundle.encoder, &[&mismatched], 2).is_err());
}
