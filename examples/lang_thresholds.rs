//! Chooses a bundle's emotion thresholds for one language (`[head.by_language.LANG]`)
//! on a small labelled set, as two shifts of the head's own thresholds
//! (`triage_lab::eval::language_thresholds`, whose docs say why).
//!
//! Run: `cargo run --release --example lang_thresholds -- BUNDLE DEV.jsonl TEST.jsonl LANG [MAX_LABELS] [--write]`
//! e.g. `... -- models/triage-multi-small eval/data/zh_emotion.dev.jsonl eval/data/zh_emotion.test.jsonl zh 2 --write`
//!
//! DEV chooses; TEST only reports, so the figure printed for it is not one the choice was
//! fitted to. `--write` stores the thresholds in the bundle's `bundle.toml` (the weights
//! are untouched).

use anyhow::{bail, Context};
use std::path::Path;
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::model::{writer, Bundle, HeadKind, LanguageReading};
use triage_lab::data::read_jsonl;
use triage_lab::eval::language_thresholds::{choose, measure, shifted};
use triage_lab::eval::scoring;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let write = args.iter().any(|a| a == "--write");
    let args: Vec<&String> = args.iter().filter(|a| *a != "--write").collect();
    let [bundle_dir, dev, test, lang, rest @ ..] = args.as_slice() else {
        bail!("usage: lang_thresholds BUNDLE DEV.jsonl TEST.jsonl LANG [MAX_LABELS] [--write]");
    };
    let max_labels: f64 = match rest.first() {
        Some(v) => v.parse().context("MAX_LABELS must be a number")?,
        None => 2.0,
    };

    let config = Config {
        models: vec![bundle_dir.to_string()],
        ..Config::default()
    };
    let bundle = Bundle::load(bundle_dir)?;
    let mut manifest = bundle.manifest.clone();
    let classifier = Classifier::new(bundle, config);
    let head = classifier
        .heads()
        .iter()
        .find(|h| h.spec.name == "emotion" && h.spec.kind == HeadKind::Sigmoid)
        .context("the bundle has no sigmoid head named emotion")?;
    let mut scored = Vec::new();
    for (name, file) in [("dev", dev), ("test", test)] {
        let recs = read_jsonl(Path::new(file.as_str()))?;
        let emb = scoring::embed(&classifier, &recs, &format!("lang_thresholds/{name}"))?;
        let gold: Vec<Option<Vec<String>>> = recs.iter().map(|r| r.emotions.clone()).collect();
        scored.push((name, head.scores(emb.view()), gold));
    }

    let (_, scores, gold) = &scored[0];
    let Some(c) = choose(&head.spec, lang, scores, gold, max_labels)? else {
        bail!("no shift keeps {lang} within {max_labels} labels per message");
    };
    println!(
        "chosen: neutral shift {:+.2}, emotion shift {:+.2} (logit units)",
        c.neutral_shift, c.emotion_shift
    );
    let thresholds = shifted(&head.spec, c.neutral_shift, c.emotion_shift);
    println!("| set | n | thresholds | Ekman macro-F1 (gold groups) | labels per message |");
    println!("|---|---|---|---|---|");
    for (name, scores, gold) in &scored {
        for (which, t) in [
            ("head's own", head.spec.thresholds.clone()),
            ("chosen", thresholds.clone()),
        ] {
            let e = measure(&head.spec, lang, t, scores, gold)?;
            println!(
                "| {name} | {} | {which} | {:.4} | {:.2} |",
                scores.nrows(),
                e.ekman_gold_macro_f1,
                e.labels_per_message
            );
        }
    }

    if write {
        let spec = manifest
            .heads
            .iter_mut()
            .find(|h| h.name == head.spec.name)
            .context("emotion head missing from bundle.toml")?;
        spec.by_language.insert(
            lang.to_string(),
            LanguageReading {
                thresholds,
                source: Some(format!(
                    "the head's thresholds with neutral {:+.2} and every other label {:+.2} in \
                     logit units, chosen on {dev} (hand-written, ours) for \
                     Ekman macro-F1 at <= {max_labels} labels per message \
                     (examples/lang_thresholds)",
                    c.neutral_shift, c.emotion_shift
                )),
            },
        );
        writer::write_manifest(Path::new(bundle_dir.as_str()), &manifest)?;
        println!("written: {bundle_dir}/bundle.toml [head.by_language.{lang}]");
    }
    Ok(())
}
