//! A fingerprint of the handoff policy's behaviour: thousands of generated conversations
//! (phrases, intents, emotions, channels, tiers, surge counts, old and recent history)
//! decided under the shipped policy and under variants that switch on every override,
//! each decision rendered in full (action, reasons with their text and order, priority,
//! severity, team, issue type, shadow) and hashed. A refactoring of `policy::rules` must
//! leave the hash unchanged; a deliberate change of behaviour updates `EXPECTED`.
//!
//! `POLICY_DECISIONS_OUT=<file> cargo test --release --test policy_decisions` writes the
//! rendering, to diff the decisions of two revisions line by line.

mod common;

use std::collections::BTreeMap;
use triage_core::model::{EmotionResult, IntentResult, LabelScore, Sentiment};
use triage_core::policy::config::{Adjustment, Mode, SensitiveMode};
use triage_core::policy::{
    Action, Customer, Policy, PolicyConfig, Priority, ReasonCode, StoredTurn, TurnInput,
};
use triage_core::text::Channel;

/// FNV-1a (64 bits) of the rendering of every decision.
const EXPECTED: u64 = 3699400576243486158;

const CONVERSATIONS: usize = 400;

/// splitmix64: a fixed sequence whatever the `rand` version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// A score from 0 to 1: often on the 0.05 grid the thresholds sit on.
    fn score(&mut self) -> f32 {
        if self.chance(50) {
            self.below(21) as f32 * 0.05
        } else {
            self.below(1001) as f32 / 1000.0
        }
    }
}

fn shipped() -> PolicyConfig {
    PolicyConfig::load(&common::repo_path("config/policy.toml")).expect("shipped policy loads")
}

/// The shipped policy and variants that exercise every switch the shipped one leaves off.
fn variants() -> Vec<(&'static str, PolicyConfig)> {
    let shadow = PolicyConfig {
        mode: Mode::Shadow,
        ..shipped()
    };

    let mut overrides = shipped();
    overrides.model_languages = vec!["en".into()];
    overrides.human_request.skill_group = Some("humans".into());
    overrides.channels.insert(
        "chat".into(),
        Adjustment {
            clarify_first: Some(true),
            clarify_to_handoff: Some(true),
            ..Default::default()
        },
    );
    overrides.channels.insert(
        "email".into(),
        Adjustment {
            priority: Some(Priority::Low),
            emotion_scale: Some(1.5),
            repeated_failure_turns: Some(1),
            ..Default::default()
        },
    );
    overrides.tiers.insert(
        "standard".into(),
        Adjustment {
            clarify_first: Some(true),
            clarify_first_unless: Some(vec![ReasonCode::LowConfidence, ReasonCode::Surge]),
            ..Default::default()
        },
    );
    overrides.tiers.insert(
        "gold".into(),
        Adjustment {
            clarify_first_unless: Some(vec![]),
            repeated_failure_turns: Some(4),
            ..Default::default()
        },
    );
    for s in &mut overrides.sensitive {
        s.mode = match s.mode {
            SensitiveMode::Handoff => SensitiveMode::Confirm,
            SensitiveMode::Confirm => SensitiveMode::Handoff,
        };
    }

    let mut actions = shipped();
    actions.ambiguity.enabled = false;
    actions.low_confidence.action = Action::Handoff;
    actions.out_of_scope.action = Action::Clarify;
    actions.negative_emotion.action = Action::Clarify;
    actions.rising_negativity.turns = 2;
    actions.rising_negativity.min_rise = 0.1;
    actions.surge.min_conversations = 5;
    actions.repeated_failure.turns = 2;

    let mut quiet = shipped();
    quiet.low_confidence.enabled = false;
    quiet.out_of_scope.enabled = false;
    quiet.human_request.enabled = false;
    quiet.negative_emotion.enabled = false;
    quiet.rising_negativity.enabled = false;
    quiet.repeated_failure.enabled = false;
    quiet.surge.enabled = false;

    let mut defaults = PolicyConfig::default();
    defaults.surge.issues = vec!["track_order".into(), "complaint".into()];
    defaults.negative_emotion.frustration = Some(0.6);
    defaults.negative_emotion.negative_sentiment = Some(0.5);

    vec![
        ("shipped", shipped()),
        ("shadow", shadow),
        ("overrides", overrides),
        ("actions", actions),
        ("quiet", quiet),
        ("defaults", defaults),
    ]
}

/// What the generator draws from: the shipped policy's own phrases, words and intents,
/// and some routine text and labels of its own.
struct Pools {
    phrases: Vec<String>,
    intents: Vec<String>,
    emotions: Vec<String>,
}

fn pools() -> Pools {
    let c = shipped();
    let mut phrases: Vec<String> = c
        .human_request
        .phrases
        .values()
        .chain(c.complex.iter().flat_map(|g| g.phrases.values()))
        .chain(c.sensitive.iter().flat_map(|s| s.phrases.values()))
        .flatten()
        .cloned()
        .collect();
    phrases.extend(
        c.negative_emotion
            .lexicon
            .values()
            .flat_map(|w| w.keys().cloned()),
    );
    phrases.extend(
        [
            "where is my order",
            "I want a refund",
            "thanks",
            "hmm",
            "can you help me with my invoice",
            "我的快递到哪里了",
            "好的,谢谢",
            "the thing with my stuff",
        ]
        .map(String::from),
    );
    let mut intents: Vec<String> = c
        .human_request
        .intents
        .iter()
        .chain(c.complex.iter().flat_map(|g| &g.intents))
        .chain(c.sensitive.iter().flat_map(|s| &s.intents))
        .chain(c.skill_groups.keys())
        .chain(&c.surge.issues)
        .map(|e| e.split_once(':').map_or(e.as_str(), |(_, l)| l).to_string())
        .collect();
    intents.extend(["greeting", "weather", "oos"].map(String::from));
    intents.sort();
    intents.dedup();
    let mut emotions: Vec<String> = c.negative_emotion.emotions.keys().cloned().collect();
    emotions.extend(["joy", "neutral", "sadness", "disappointment"].map(String::from));
    emotions.sort();
    emotions.dedup();
    Pools {
        phrases,
        intents,
        emotions,
    }
}

fn intent(r: &mut Rng, p: &Pools) -> IntentResult {
    let label = r.pick(&p.intents).clone();
    let out_of_scope = label == "oos" || r.chance(5);
    let confidence = r.score();
    let second = if r.chance(40) {
        (confidence - r.below(15) as f32 * 0.01).max(0.0)
    } else {
        confidence * r.score()
    };
    IntentResult {
        set: if out_of_scope { "clinc" } else { "support" }.into(),
        label: label.clone(),
        confidence,
        out_of_scope,
        top: vec![
            LabelScore {
                label,
                score: confidence,
            },
            LabelScore {
                label: r.pick(&p.intents).clone(),
                score: second,
            },
        ],
    }
}

fn emotion(r: &mut Rng, p: &Pools) -> EmotionResult {
    let scores: BTreeMap<String, f32> = p
        .emotions
        .iter()
        .map(|l| {
            let s = if r.chance(30) { r.score() } else { 0.02 };
            (l.clone(), s)
        })
        .collect();
    let sentiment = r.score() * 2.0 - 1.0;
    EmotionResult {
        labels: vec![],
        dominant: "neutral".into(),
        scores,
        sentiment: Sentiment {
            label: "neutral".into(),
            score: sentiment,
        },
        frustration: r.score(),
        groups: vec![],
    }
}

fn turn(r: &mut Rng, p: &Pools) -> TurnInput {
    let words: Vec<&str> = (0..r.below(3))
        .map(|_| r.pick(&p.phrases).as_str())
        .collect();
    let text = if words.is_empty() {
        "ok".to_string()
    } else {
        words.join(" ")
    };
    let intent = r.chance(85).then(|| intent(r, p));
    let emotion = r.chance(85).then(|| emotion(r, p));
    let mut t = TurnInput::new(&text, intent, emotion);
    t.model_covers_lang = r.chance(80);
    t.channel = *r.pick(&Channel::ALL);
    let tiers = [
        None,
        Some("vip"),
        Some("VIP"),
        Some("gold"),
        Some("paying"),
        Some("standard"),
    ];
    t.customer = r.pick(&tiers).map(|tier| Customer {
        id: Some("c-1".into()),
        tier: Some(tier.into()),
    });
    t.surge_count = r.chance(30).then(|| r.below(40));
    t.memory_unavailable = r.chance(5);
    t
}

/// Every decision of every conversation under every variant, one line each.
fn render() -> String {
    let p = pools();
    let mut out = String::new();
    for (name, config) in variants() {
        let history_ms = config.history_secs * 1000;
        let policy = Policy::new(config).expect("variant compiles");
        let mut r = Rng(7);
        for conv in 0..CONVERSATIONS {
            let mut now = 1_800_000_000_000u64;
            let mut history: Vec<StoredTurn> = Vec::new();
            for i in 0..1 + r.below(5) {
                now += if r.chance(15) { history_ms + 1 } else { 20_000 };
                let t = turn(&mut r, &p);
                let d = policy.decide(&t, &history, now);
                out.push_str(&format!(
                    "{name} {conv}.{i} issue={:?} negativity={:.4} {}\n",
                    policy.issue_type(&t),
                    policy.negativity(&t),
                    serde_json::to_string(&d).unwrap()
                ));
                history.push(StoredTurn {
                    at_ms: now,
                    text: Some(t.text.clone()),
                    channel: t.channel.to_string(),
                    lang: t.lang.clone(),
                    customer: t.customer.clone(),
                    intent: t.intent.as_ref().map(Into::into),
                    emotion: t.emotion.as_ref().map(Into::into),
                    negativity: policy.negativity(&t),
                    handoff: d,
                    suggestions_shown: vec![],
                    model: None,
                });
            }
        }
    }
    out
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn decisions_match_the_fingerprint() {
    let text = render();
    if let Ok(path) = std::env::var("POLICY_DECISIONS_OUT") {
        std::fs::write(&path, &text).expect("write the rendering");
    }
    assert_eq!(
        fnv1a(&text),
        EXPECTED,
        "the policy decides differently: diff POLICY_DECISIONS_OUT of both revisions"
    );
}
