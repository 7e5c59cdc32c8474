//! The handoff policy file as a reload reads it (`Policy::from_file` and the hot
//! reloader): UTF-8 text → `PolicyConfig::parse` (TOML, then `validate`) →
//! `Policy::new` (phrase lists and lexicons compiled into matchers). A policy that
//! compiles then decides a few turns made from its own phrases, intents, emotions, tiers
//! and channels, alone and after an earlier turn, so the compiled matchers and every
//! override it configures run as they would on live traffic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use triage_core::model::{EmotionResult, IntentResult, LabelScore, Sentiment};
use triage_core::policy::{Customer, Policy, PolicyConfig, StoredTurn, TurnInput};
use triage_core::text::Channel;

const NOW_MS: u64 = 1_800_000_000_000;

/// A message that says the configured things: the first phrase of every list.
fn text_of(c: &PolicyConfig) -> String {
    let lists = c
        .human_request
        .phrases
        .values()
        .chain(c.complex.iter().flat_map(|g| g.phrases.values()))
        .chain(c.sensitive.iter().flat_map(|s| s.phrases.values()));
    let mut words: Vec<&str> = lists
        .filter_map(|l| l.first().map(String::as_str))
        .collect();
    words.extend(
        c.negative_emotion
            .lexicon
            .values()
            .filter_map(|w| w.keys().next().map(String::as_str)),
    );
    words.push("I want to talk to a person, this is useless");
    words.join(" ")
}

fn turn(c: &PolicyConfig, channel: Channel, confidence: f32) -> TurnInput {
    let label = c
        .complex
        .iter()
        .flat_map(|g| &g.intents)
        .chain(c.sensitive.iter().flat_map(|s| &s.intents))
        .chain(&c.human_request.intents)
        .next()
        .map_or("cancel_order", |s| s.split_once(':').map_or(s, |(_, l)| l))
        .to_string();
    let intent = IntentResult {
        set: "support".into(),
        label: label.clone(),
        confidence,
        out_of_scope: false,
        top: vec![
            LabelScore {
                label,
                score: confidence,
            },
            LabelScore {
                label: "other".into(),
                score: 1.0 - confidence,
            },
        ],
    };
    let scores: BTreeMap<String, f32> = c
        .negative_emotion
        .emotions
        .keys()
        .map(|k| (k.clone(), 0.9))
        .collect();
    let emotion = EmotionResult {
        labels: scores.keys().cloned().collect(),
        dominant: scores.keys().next().cloned().unwrap_or_default(),
        scores,
        sentiment: Sentiment {
            label: "negative".into(),
            score: -0.8,
        },
        frustration: 0.9,
        groups: vec![],
    };
    let mut t = TurnInput::new(&text_of(c), Some(intent), Some(emotion));
    t.channel = channel;
    t.customer = Some(Customer {
        id: Some("fuzz".into()),
        tier: c.tiers.keys().next().cloned(),
    });
    t.surge_count = Some(c.surge.min_conversations);
    t
}

fuzz_target!(|data: &[u8]| {
    // `PolicyConfig::load` reads the file with `read_to_string`: not UTF-8 is an error.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = PolicyConfig::parse(text) else {
        return;
    };
    let Ok(policy) = Policy::new(config.clone()) else {
        return;
    };
    for channel in Channel::ALL {
        for confidence in [0.95, 0.3] {
            let t = turn(&config, channel, confidence);
            let _ = policy.issue_type(&t);
            let _ = policy.negativity(&t);
            let first = policy.decide(&t, &[], NOW_MS);
            let earlier = StoredTurn {
                at_ms: NOW_MS - 60_000,
                text: Some(t.text.clone()),
                channel: channel.to_string(),
                lang: t.lang.clone(),
                customer: t.customer.clone(),
                intent: t.intent.as_ref().map(Into::into),
                emotion: t.emotion.as_ref().map(Into::into),
                negativity: 0.1,
                handoff: first,
                suggestions_shown: vec![],
                model: None,
            };
            let _ = policy.decide(&t, &[earlier.clone(), earlier], NOW_MS);
        }
    }
});
