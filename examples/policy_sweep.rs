//! Handoff simulation of the policy on labelled data, and the threshold sweeps that set
//! the defaults of `config/policy.toml` (figures in `eval/policy/README.md`).
//!
//! Run: `cargo run --release --example policy_sweep -- [dev|test] [POLICY_FILE]`
//!
//! Sets, from one split of each data set, each message a conversation of its own:
//! * routine: bitext_customer_support, every intent except contact_human_agent,
//!   contact_customer_service and complaint — the bot should answer;
//! * human: bitext contact_human_agent — explicit requests for a person;
//! * customer_service: bitext contact_customer_service (reported on its own);
//! * complaint: bitext complaint — a specialist should take over;
//! * out_of_scope: clinc150 `oos` — nothing the support bot knows;
//! * negative: goemotions messages labelled anger, annoyance or disgust;
//! * upset: the routine requests again with upset markers
//!   (`train::mix::upset::upset_style`, seed 7): support text only emotion can flag;
//! * routine and human again as voice transcripts and social posts
//!   (`text::augment::{voice_style, social_style}`, seed 7), on those channels.
//!
//! Containment = routine messages with action `bot`; wrong-answer rate = routine messages
//! kept by the bot whose predicted intent is not the gold one, over those kept.

use rand::SeedableRng;
use std::collections::BTreeMap;
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::model::heads::{emotion_result, intent_result};
use triage_core::model::Bundle;
use triage_core::policy::{Action, Policy, PolicyConfig, ReasonCode, TurnInput};
use triage_core::text::{self, Channel, NormalizeOptions};
use triage_lab::augment;
use triage_lab::data::{self, Record, Split};

struct Item {
    set: &'static str,
    gold: Option<String>,
    turn: TurnInput,
}

const SETS: [&str; 11] = [
    "routine",
    "human",
    "customer_service",
    "complaint",
    "out_of_scope",
    "negative",
    "upset",
    "routine (voice)",
    "human (voice)",
    "routine (social)",
    "human (social)",
];

#[derive(Default, Clone)]
struct Tally {
    n: usize,
    bot: usize,
    clarify: usize,
    handoff: usize,
    wrong_kept: usize,
    reasons: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn pct(&self, k: usize) -> f64 {
        100.0 * k as f64 / self.n.max(1) as f64
    }
    fn wrong_rate(&self) -> f64 {
        100.0 * self.wrong_kept as f64 / self.bot.max(1) as f64
    }
}

fn run(policy: &Policy, items: &[Item]) -> BTreeMap<&'static str, Tally> {
    let mut out: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for it in items {
        let d = policy.decide(&it.turn, &[], 0);
        let t = out.entry(it.set).or_default();
        t.n += 1;
        match d.action {
            Action::Bot => {
                t.bot += 1;
                let predicted = it.turn.intent.as_ref().map(|i| i.label.clone());
                if it.gold.is_some() && predicted != it.gold {
                    t.wrong_kept += 1;
                }
            }
            Action::Clarify => t.clarify += 1,
            Action::Handoff => t.handoff += 1,
        }
        if d.action != Action::Bot {
            for r in &d.reasons {
                *t.reasons.entry(r.code.as_str()).or_default() += 1;
            }
        }
    }
    out
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split: Split = args
        .first()
        .map(|s| s.parse())
        .transpose()
        .map_err(anyhow::Error::msg)?
        .unwrap_or(Split::Dev);
    let policy_file = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "config/policy.toml".into());
    let base = PolicyConfig::load(std::path::Path::new(&policy_file))?;

    let config = Config::default();
    let bundle = Bundle::load(config.model())?;
    let classifier = Classifier::new(bundle, config);
    let root = data::default_root();

    let mut records: Vec<(&'static str, Record)> = Vec::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for r in data::load(&root, "bitext", split)? {
        let set = match r.intent.as_deref() {
            Some("contact_human_agent") => "human",
            Some("contact_customer_service") => "customer_service",
            Some("complaint") => "complaint",
            _ => "routine",
        };
        // Routine and human requests again as voice transcripts and social posts.
        if set == "routine" || set == "human" {
            let (voice, social) = if set == "routine" {
                ("routine (voice)", "routine (social)")
            } else {
                ("human (voice)", "human (social)")
            };
            let mut v = r.clone();
            v.text = augment::voice_style(&r.text, &mut rng);
            v.channel = Channel::Voice;
            records.push((voice, v));
            let mut s = r.clone();
            s.text = augment::social_style(&r.text, &mut rng);
            s.channel = Channel::Social;
            records.push((social, s));
        }
        if set == "routine" {
            let mut u = r.clone();
            u.text = triage_lab::train::mix::upset::upset_style(&r.text, &mut rng).0;
            records.push(("upset", u));
        }
        records.push((set, r));
    }
    for r in data::load(&root, "clinc150", split)? {
        if r.intent.as_deref() == Some("oos") {
            records.push(("out_of_scope", r));
        }
    }
    for r in data::load(&root, "goemotions", split)? {
        let neg = r.emotions.as_ref().is_some_and(|e| {
            e.iter()
                .any(|l| matches!(l.as_str(), "anger" | "annoyance" | "disgust"))
        });
        if neg {
            records.push(("negative", r));
        }
    }

    let texts: Vec<(String, Channel)> = records
        .iter()
        .map(|(_, r)| (r.text.clone(), Channel::Chat))
        .collect();
    let emb = triage_lab::train::cache::embed_cached(&classifier, &texts, "policy sweep")?;
    let heads = classifier.heads();
    let support = heads
        .iter()
        .find(|h| h.spec.name == "intent.support")
        .ok_or_else(|| anyhow::anyhow!("no intent.support head"))?;
    let emotion = heads
        .iter()
        .find(|h| h.spec.name == "emotion")
        .ok_or_else(|| anyhow::anyhow!("no emotion head"))?;
    let is = support.scores(emb.view());
    let es = emotion.scores(emb.view());
    let opts = NormalizeOptions::default();
    let langs = &classifier.manifest.languages;
    let items: Vec<Item> = records
        .into_iter()
        .enumerate()
        .map(|(row, (set, r))| {
            let norm = text::normalize(&r.text, r.channel, &opts);
            let lang = text::detect_lang(&norm).to_string();
            let turn = TurnInput {
                channel: r.channel,
                model_covers_lang: langs.contains(&lang),
                lang,
                intent: Some(intent_result(&support.spec, &is.row(row).to_vec(), 3)),
                emotion: Some(emotion_result(&emotion.spec, &es.row(row).to_vec(), "en")),
                text: norm,
                ..Default::default()
            };
            Item {
                set,
                gold: r.intent.filter(|_| set == "routine"),
                turn,
            }
        })
        .collect();

    println!("# Handoff simulation, {split} split, policy {policy_file}\n");
    println!(
        "Model {} {}.\n",
        classifier.manifest.name, classifier.manifest.version
    );
    let policy = Policy::new(base.clone()).map_err(anyhow::Error::msg)?;
    let t = run(&policy, &items);
    println!("| set | n | bot % | clarify % | handoff % | reasons of non-bot decisions |");
    println!("|---|---|---|---|---|---|");
    for set in SETS {
        let Some(x) = t.get(set) else { continue };
        let reasons: Vec<String> = x.reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "| {set} | {} | {:.1} | {:.1} | {:.1} | {} |",
            x.n,
            x.pct(x.bot),
            x.pct(x.clarify),
            x.pct(x.handoff),
            reasons.join(", ")
        );
    }
    // POLICY_SWEEP_SHOW=set:code prints that set's messages where that reason fired.
    if let Ok(show) = std::env::var("POLICY_SWEEP_SHOW") {
        let (set, code) = show.split_once(':').unwrap_or((show.as_str(), ""));
        for it in items.iter().filter(|i| i.set == set) {
            let d = policy.decide(&it.turn, &[], 0);
            if d.reasons
                .iter()
                .any(|r| code.is_empty() || r.code.as_str() == code)
            {
                let why: Vec<String> = d
                    .reasons
                    .iter()
                    .map(|r| format!("{}: {}", r.code.as_str(), r.detail))
                    .collect();
                println!(
                    "- {:?} → {} [{}]",
                    it.turn.text,
                    d.action.as_str(),
                    why.join("; ")
                );
            }
        }
    }
    let r = &t["routine"];
    println!(
        "\nContainment {:.1}% of routine requests, wrong-answer rate {:.2}% of those kept; explicit human requests handed off {:.1}%.\n",
        r.pct(r.bot),
        r.wrong_rate(),
        t["human"].pct(t["human"].handoff)
    );

    println!("## Sweep: low_confidence.threshold (everything else as configured)\n");
    println!("| threshold | containment % | wrong-answer % | routine clarify % | human handed off % | out_of_scope not bot % |");
    println!("|---|---|---|---|---|---|");
    for step in 0..=19 {
        let th = step as f32 * 0.05;
        let mut c = base.clone();
        c.low_confidence.threshold = th;
        let p = Policy::new(c).map_err(anyhow::Error::msg)?;
        let t = run(&p, &items);
        let (r, h, o) = (&t["routine"], &t["human"], &t["out_of_scope"]);
        let mark = if (th - base.low_confidence.threshold).abs() < 1e-6 {
            " (configured)"
        } else {
            ""
        };
        println!(
            "| {th:.2}{mark} | {:.1} | {:.2} | {:.1} | {:.1} | {:.1} |",
            r.pct(r.bot),
            r.wrong_rate(),
            r.pct(r.clarify),
            h.pct(h.handoff),
            100.0 - o.pct(o.bot)
        );
    }

    println!("\n## Sweep: ambiguity.margin (everything else as configured)\n");
    println!(
        "| margin | containment % | wrong-answer % | routine clarify % | out_of_scope not bot % |"
    );
    println!("|---|---|---|---|---|");
    for step in 0..=6 {
        let m = step as f32 * 0.05;
        let mut c = base.clone();
        c.ambiguity.margin = m;
        let p = Policy::new(c).map_err(anyhow::Error::msg)?;
        let t = run(&p, &items);
        let (r, o) = (&t["routine"], &t["out_of_scope"]);
        let mark = if (m - base.ambiguity.margin).abs() < 1e-6 {
            " (configured)"
        } else {
            ""
        };
        println!(
            "| {m:.2}{mark} | {:.1} | {:.2} | {:.1} | {:.1} |",
            r.pct(r.bot),
            r.wrong_rate(),
            r.pct(r.clarify),
            100.0 - o.pct(o.bot)
        );
    }

    println!("\n## Sweep: negative-emotion bar (every threshold of the rule scaled together)\n");
    println!("| scale | frustration | negative sentiment | anger | annoyance | disgust | routine handed off for emotion % | negative handed off % | upset handed off for emotion % |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for step in 6..=26 {
        let s = step as f32 * 0.05;
        let mut c = base.clone();
        c.negative_emotion.frustration =
            base.negative_emotion.frustration.map(|f| (f * s).min(1.0));
        c.negative_emotion.negative_sentiment = base
            .negative_emotion
            .negative_sentiment
            .map(|f| (f * s).min(1.0));
        for v in c.negative_emotion.emotions.values_mut() {
            *v = (*v * s).min(1.0);
        }
        let p = Policy::new(c.clone()).map_err(anyhow::Error::msg)?;
        let mut routine_emotion = 0;
        let mut routine_n = 0;
        let mut neg_handoff = 0;
        let mut neg_n = 0;
        let (mut upset_emotion, mut upset_n) = (0, 0);
        for it in &items {
            let d = p.decide(&it.turn, &[], 0);
            match it.set {
                "routine" => {
                    routine_n += 1;
                    if d.action == Action::Handoff && d.has(ReasonCode::NegativeEmotion) {
                        routine_emotion += 1;
                    }
                }
                "negative" => {
                    neg_n += 1;
                    if d.action == Action::Handoff {
                        neg_handoff += 1;
                    }
                }
                "upset" => {
                    upset_n += 1;
                    if d.action == Action::Handoff && d.has(ReasonCode::NegativeEmotion) {
                        upset_emotion += 1;
                    }
                }
                _ => {}
            }
        }
        let mark = if (s - 1.0).abs() < 1e-6 {
            " (configured)"
        } else {
            ""
        };
        println!(
            "| {s:.2}{mark} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} |",
            c.negative_emotion.frustration.unwrap_or(f32::NAN),
            c.negative_emotion.negative_sentiment.unwrap_or(f32::NAN),
            c.negative_emotion
                .emotions
                .get("anger")
                .copied()
                .unwrap_or(f32::NAN),
            c.negative_emotion
                .emotions
                .get("annoyance")
                .copied()
                .unwrap_or(f32::NAN),
            c.negative_emotion
                .emotions
                .get("disgust")
                .copied()
                .unwrap_or(f32::NAN),
            100.0 * routine_emotion as f64 / routine_n.max(1) as f64,
            100.0 * neg_handoff as f64 / neg_n.max(1) as f64,
            100.0 * upset_emotion as f64 / upset_n.max(1) as f64
        );
    }

    println!("\n## Each emotion signal alone: messages at or above the threshold, routine % / negative %\n");
    let signals = [
        "frustration",
        "anger",
        "annoyance",
        "disgust",
        "disappointment",
        "-sentiment",
    ];
    println!("| threshold | {} |", signals.join(" | "));
    println!("|---|{}", "---|".repeat(signals.len()));
    for step in 6..=19 {
        let th = step as f32 * 0.05;
        let mut cells = Vec::new();
        for sig in signals {
            let value = |it: &Item| -> f32 {
                let e = it.turn.emotion.as_ref().expect("emotion");
                match sig {
                    "frustration" => e.frustration,
                    "-sentiment" => -e.sentiment.score,
                    l => e.scores.get(l).copied().unwrap_or(0.0),
                }
            };
            let rate = |set: &str| {
                let v: Vec<&Item> = items.iter().filter(|i| i.set == set).collect();
                100.0 * v.iter().filter(|i| value(i) >= th).count() as f64 / v.len().max(1) as f64
            };
            cells.push(format!("{:.1} / {:.1}", rate("routine"), rate("negative")));
        }
        println!("| {th:.2} | {} |", cells.join(" | "));
    }
    Ok(())
}
