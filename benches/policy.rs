//! Criterion benches of the handoff policy alone (no model, no store): one decision for a
//! routine English turn, a Chinese turn decided by phrase lists, and a VIP voice turn
//! with ten turns of history (three counterfactual evaluations).
//! Run: `cargo bench --bench policy` (figures in benches/README.md).

use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::BTreeMap;
use triage_core::api::Customer;
use triage_core::model::{EmotionResult, IntentResult, LabelScore, Sentiment};
use triage_core::policy::{Policy, StoredTurn, TurnInput};
use triage_core::text::Channel;

fn intent(label: &str, conf: f32) -> IntentResult {
    IntentResult {
        set: "support".into(),
        label: label.into(),
        confidence: conf,
        out_of_scope: false,
        top: vec![
            LabelScore {
                label: label.into(),
                score: conf,
            },
            LabelScore {
                label: "track_refund".into(),
                score: (1.0 - conf) / 3.0,
            },
        ],
    }
}

fn emotion() -> EmotionResult {
    let scores: BTreeMap<String, f32> = ["anger", "annoyance", "disgust", "neutral", "joy"]
        .iter()
        .map(|l| (l.to_string(), 0.1))
        .collect();
    EmotionResult {
        labels: vec!["neutral".into()],
        dominant: "neutral".into(),
        scores,
        sentiment: Sentiment {
            label: "neutral".into(),
            score: -0.1,
        },
        frustration: 0.3,
        groups: vec![],
    }
}

fn benches(c: &mut Criterion) {
    let path = format!("{}/config/policy.toml", env!("CARGO_MANIFEST_DIR"));
    let policy = Policy::from_file(std::path::Path::new(&path)).expect("policy loads");
    let en = TurnInput::new(
        "where is my order? it was supposed to arrive on monday",
        Some(intent("track_order", 0.93)),
        Some(emotion()),
    );
    let mut zh = TurnInput::new(
        "你好,我的快递到哪里了,怎么还没到",
        Some(intent("switch_account", 0.4)),
        Some(emotion()),
    );
    zh.model_covers_lang = false;
    let mut vip = en.clone();
    vip.channel = Channel::Voice;
    vip.customer = Some(Customer {
        id: Some("u-1".into()),
        tier: Some("vip".into()),
    });
    let history: Vec<StoredTurn> = (0..10)
        .map(|i| StoredTurn {
            at_ms: 1_000 + i * 1000,
            text: None,
            channel: "voice".into(),
            lang: "en".into(),
            customer: None,
            intent: None,
            emotion: None,
            negativity: 0.1,
            handoff: policy.decide(&en, &[], 0),
            suggestions_shown: vec![],
            model: None,
        })
        .collect();
    c.bench_function("decide/en routine", |b| {
        b.iter(|| policy.decide(&en, &[], 20_000))
    });
    c.bench_function("decide/zh phrases", |b| {
        b.iter(|| policy.decide(&zh, &[], 20_000))
    });
    c.bench_function("decide/vip voice, 10 turns of history", |b| {
        b.iter(|| policy.decide(&vip, &history, 20_000))
    });
}

criterion_group!(policy_benches, benches);
criterion_main!(policy_benches);
