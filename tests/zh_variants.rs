//! Issue 7: the same Chinese message in traditional and in simplified characters gets the
//! same intent and emotion labels from the shipped zh+en bundle. 200 messages from the
//! Chinese test splits (assistant chat, smart-speaker voice, Weibo posts), each converted
//! to traditional characters; both forms go through the classifier as a request would.

mod common;

use triage_core::api::ClassifyRequest;
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::model::Bundle;
use triage_lab::data::{self, Split};

fn messages() -> Vec<String> {
    let root = common::shared_dir().join("datasets");
    let mut out = Vec::new();
    // Every k-th record, so the sample spans each set's labels instead of its first rows.
    for (name, n) in [("smp2017", 70), ("cais", 70), ("smp2020", 60)] {
        let recs = data::load(&root, name, Split::Test).expect("data set loads");
        let step = (recs.len() / n).max(1);
        out.extend(recs.iter().step_by(step).take(n).map(|r| r.text.clone()));
    }
    out
}

fn classify(c: &Classifier, texts: &[String], set: &str) -> Vec<(String, Vec<String>)> {
    common::classify_texts(c, texts, |text| ClassifyRequest {
        text: Some(text),
        intent_set: Some(set.to_string()),
        ..ClassifyRequest::default()
    })
    .into_iter()
    .map(|r| {
        let intent = r.intent.expect("intent").label;
        let emotion = r.emotion.expect("emotion").labels;
        (intent, emotion)
    })
    .collect()
}

#[test]
fn traditional_and_simplified_get_the_same_labels() {
    let dir = common::repo_path("models/triage-multi-small");
    let bundle = Bundle::load(dir.to_str().unwrap()).expect("bundle loads");
    let c = Classifier::new(bundle, Config::default());

    let simplified = messages();
    assert_eq!(simplified.len(), 200);
    let traditional: Vec<String> = simplified
        .iter()
        .map(|t| zhconv::zhconv(t, zhconv::Variant::ZhHant))
        .collect();
    // The test only means something if the conversion changed most messages.
    let changed = simplified
        .iter()
        .zip(&traditional)
        .filter(|(s, t)| s != t)
        .count();
    assert!(
        changed >= 150,
        "only {changed} of 200 messages differ in traditional"
    );

    for set in ["support", "clinc"] {
        let a = classify(&c, &simplified, set);
        let b = classify(&c, &traditional, set);
        let differ: Vec<String> = (0..a.len())
            .filter(|&i| a[i] != b[i])
            .map(|i| {
                format!(
                    "{:?} {:?} vs {:?} {:?}",
                    simplified[i], a[i], traditional[i], b[i]
                )
            })
            .collect();
        assert!(
            differ.is_empty(),
            "{set}: {} differ: {differ:#?}",
            differ.len()
        );
    }
}
