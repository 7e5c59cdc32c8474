//! Request bodies of `/v1/classify`, `/v1/embed`, `/v1/suggest` and `/v1/feedback`, each
//! input read as all four: UTF-8 → `serde_json::from_str` into the `triage_core::api`
//! type (what the server's `ApiJson` extractor does), then the checks the handler makes
//! before any encoder work, with the same core functions: `classify::expand` (batch
//! defaults), `Bundles::route` (model name or language, detected on the normalised
//! text), `Classifier::prepare` (size limits, channel, intent set, conversation id,
//! top_k, normalisation, tokenization), `Classifier::encode_texts` and
//! `check_text`/`check_conversation_id`.
//!
//! The bundles are the shipped ones (`config/triage.toml`: `models/triage-en-small` and
//! `models/triage-multi-small`), loaded once with their real tokenizers and the candle
//! encoder, which is never run. What the encoder will get is checked: at least one
//! token, no more than the bundle's `max_seq_len`, ids inside the vocabulary, so no
//! request can make it index out of its tables.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use triage_core::api::{ClassifyRequest, EmbedRequest, FeedbackRequest, SuggestRequest};
use triage_core::bundles::{Bundles, Served};
use triage_core::classify::{check_conversation_id, expand, Classifier};
use triage_core::config::Config;
use triage_core::model::fast::EncoderKind;
use triage_core::model::{Bundle, Encoded};

struct Setup {
    bundles: Bundles,
    config: Config,
    /// Per bundle, in `bundles.all()` order: (vocab_size, type_vocab_size).
    vocab: Vec<(usize, usize)>,
}

fn root() -> PathBuf {
    std::env::var_os("TRIAGE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let root = root();
    let mut config =
        Config::load(Some(&root.join("config/triage.toml"))).expect("config/triage.toml");
    // The encoder never runs here: skip building the int8 one.
    config.encoder = EncoderKind::Candle;
    config.threads = Some(1);
    let mut vocab = Vec::new();
    let served = config
        .models()
        .iter()
        .map(|m| {
            let dir = root.join(m);
            let bundle = Bundle::load(dir.to_str().expect("UTF-8 path"))
                .unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()));
            vocab.push((bundle.config.vocab_size, bundle.config.type_vocab_size));
            Served {
                classifier: Arc::new(Classifier::new(bundle, config.clone())),
                kb: None,
            }
        })
        .collect();
    Setup {
        bundles: Bundles::new(served).expect("bundles"),
        config,
        vocab,
    }
});

/// What the engine will be handed for `served` is within the encoder's tables.
fn check_encoded(setup: &Setup, served: &Served, e: &Encoded) {
    let i = setup.bundles.index_of(served);
    let (vocab, types) = setup.vocab[i];
    let max = served.classifier.manifest.max_seq_len;
    assert!(!e.is_empty(), "no tokens");
    assert!(e.len() <= max, "{} tokens > max_seq_len {max}", e.len());
    assert_eq!(e.ids.len(), e.type_ids.len());
    assert!(
        e.ids.iter().all(|&id| (id as usize) < vocab),
        "id >= {vocab}"
    );
    assert!(e.type_ids.iter().all(|&t| (t as usize) < types));
}

/// `POST /v1/classify`: `expand`, then per item `route_item` and `prepare` (the handler
/// stops at the first bad item; every item is tried here, through the same calls).
fn classify(setup: &Setup, req: ClassifyRequest) {
    let Ok((items, _batch)) = expand(req, &setup.config.limits) else {
        return;
    };
    for item in items {
        let Ok(routed) = setup.bundles.route_item(item) else {
            continue;
        };
        let served = routed.served().clone();
        if let Ok(p) = routed.prepare() {
            check_encoded(setup, &served, &p.encoded);
            assert!(!p.text.trim().is_empty(), "prepared an empty text");
        }
    }
}

/// `POST /v1/embed`: count limits, one route over all inputs, `encode_texts`.
fn embed(setup: &Setup, req: EmbedRequest) {
    if req.inputs.is_empty() || req.inputs.len() > setup.config.limits.max_batch_items {
        return;
    }
    let Ok((served, _)) = setup.bundles.route(
        req.model.as_deref(),
        req.lang.as_deref(),
        &req.inputs.join("\n"),
        None,
    ) else {
        return;
    };
    if let Ok(encs) = served.classifier.encode_texts(&req.inputs) {
        assert_eq!(encs.len(), req.inputs.len());
        for e in &encs {
            check_encoded(setup, served, e);
        }
    }
}

/// `POST /v1/suggest`: `k` range, exactly one source, each text's limits, the
/// conversation id; then the searched text routed and prepared as a classify item.
fn suggest(setup: &Setup, req: SuggestRequest) {
    let cfg = &setup.config.suggest;
    let k = req.k.unwrap_or(cfg.k);
    if k == 0 || k > cfg.max_k {
        return;
    }
    let limits = &setup.bundles.default_bundle().classifier;
    let text = match (&req.text, &req.texts, &req.conversation_id) {
        (Some(t), None, None) => t.clone(),
        (None, Some(texts), None) => {
            if texts.is_empty() || texts.len() > setup.config.limits.max_batch_items {
                return;
            }
            if texts.iter().any(|t| limits.check_text(Some(t)).is_err()) {
                return;
            }
            // The handler joins the newest few (server-private `join_newest`).
            texts.join("\n")
        }
        (None, None, Some(id)) => {
            // The rest needs a stored conversation.
            let _ = check_conversation_id(id);
            return;
        }
        _ => return,
    };
    classify(
        setup,
        ClassifyRequest {
            text: Some(text),
            channel: req.channel,
            lang: req.lang,
            intent_set: req.intent_set,
            model: req.model,
            ..Default::default()
        },
    );
}

/// `POST /v1/feedback`: what core checks before the store is asked.
fn feedback(req: FeedbackRequest) {
    let _ = check_conversation_id(&req.conversation_id);
}

fuzz_target!(|data: &[u8]| {
    let setup = &*SETUP;
    // ApiJson: a body that is not UTF-8 is a 400 before any parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(req) = serde_json::from_str::<ClassifyRequest>(text) {
        classify(setup, req);
    }
    if let Ok(req) = serde_json::from_str::<EmbedRequest>(text) {
        embed(setup, req);
    }
    if let Ok(req) = serde_json::from_str::<SuggestRequest>(text) {
        suggest(setup, req);
    }
    if let Ok(req) = serde_json::from_str::<FeedbackRequest>(text) {
        feedback(req);
    }
});
