//! Issue 15: a sigmoid head reads each language with its own thresholds
//! (`[head.by_language.LANG]`). Through the whole pipeline, on the zh+en bundle and the
//! test half of the hand-written Chinese set (`eval/data/README.md`): a request that names
//! no language is detected as Chinese and read with the Chinese thresholds; the same
//! message named English is read with the head's own; the scores are the same.

mod common;

use triage_core::api::ClassifyRequest;
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::model::{Bundle, EmotionResult, LanguageReading};
use triage_lab::data::read_jsonl;
use triage_lab::eval::language_thresholds::shifted;

fn emotions(c: &Classifier, texts: &[String], lang: Option<&str>) -> Vec<EmotionResult> {
    common::classify_texts(c, texts, |text| ClassifyRequest {
        text: Some(text),
        lang: lang.map(String::from),
        ..ClassifyRequest::default()
    })
    .into_iter()
    .map(|r| {
        assert_eq!(r.lang, lang.unwrap_or("zh"), "language detected as Chinese");
        r.emotion.expect("emotion")
    })
    .collect()
}

fn mean_labels(e: &[EmotionResult]) -> f64 {
    e.iter().map(|e| e.labels.len() as f64).sum::<f64>() / e.len() as f64
}

#[test]
fn chinese_is_read_with_the_chinese_thresholds() {
    let dir = common::repo_path("models/triage-multi-small");
    let mut bundle = Bundle::load(dir.to_str().unwrap()).expect("bundle loads");
    let head = bundle
        .heads
        .iter_mut()
        .find(|h| h.spec.name == "emotion")
        .expect("emotion head");
    // Chinese read with every emotion threshold raised by 2 logits, neutral's kept.
    let zh = shifted(&head.spec, 0.0, 2.0);
    head.spec.by_language.insert(
        "zh".into(),
        LanguageReading {
            thresholds: zh.clone(),
            source: None,
        },
    );
    let english = head.spec.thresholds.clone();
    let c = Classifier::new(bundle, Config::default());

    let texts: Vec<String> = read_jsonl(&common::repo_path("eval/data/zh_emotion.test.jsonl"))
        .expect("reads")
        .into_iter()
        .map(|r| r.text)
        .collect();
    assert_eq!(texts.len(), 64);
    let detected = emotions(&c, &texts, None);
    let named = emotions(&c, &texts, Some("zh-Hans-CN"));
    let as_en = emotions(&c, &texts, Some("en"));
    let labels = c
        .heads()
        .iter()
        .find(|h| h.spec.name == "emotion")
        .expect("emotion head")
        .spec
        .labels
        .clone();
    let read_at = |e: &EmotionResult, t: &[f32]| -> Vec<String> {
        let mut on: Vec<(f32, &String)> = labels
            .iter()
            .zip(t)
            .filter(|(l, &t)| e.scores[*l] >= t)
            .map(|(l, _)| (e.scores[l], l))
            .collect();
        on.sort_by(|a, b| b.0.total_cmp(&a.0));
        on.into_iter().map(|(_, l)| l.clone()).collect()
    };
    for ((d, n), en) in detected.iter().zip(&named).zip(&as_en) {
        assert_eq!(
            d.scores, en.scores,
            "one encoder, one head: the same scores"
        );
        assert_eq!(
            d.labels,
            read_at(d, &zh),
            "detected Chinese: Chinese thresholds"
        );
        assert_eq!(n.labels, d.labels, "a region subtag reads as its language");
        assert_eq!(en.labels, read_at(en, &english), "English: the head's own");
    }
    let (zh_mean, en_mean) = (mean_labels(&detected), mean_labels(&as_en));
    assert!(
        zh_mean < en_mean,
        "{zh_mean:.2} vs {en_mean:.2} labels per message"
    );
}
