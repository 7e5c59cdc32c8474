//! The figures `triage eval` reports, end to end from head outputs to `report.json` and
//! Rasa's `intent_report.json`, against `../shared/fixtures/metrics` (computed by
//! scikit-learn). The metric functions themselves are checked to 1e-9 in
//! `crates/triage-lab/src/metrics`; here the head outputs pass through f32 as they do in serving, so
//! figures that depend on probability values are compared to 1e-6.

mod common;

use ndarray::Array2;
use serde_json::Value;
use triage_core::model::{HeadKind, HeadSpec};
use triage_lab::eval::report::rasa;
use triage_lab::eval::{emotion, intent};

fn fixture(name: &str) -> Value {
    let path = common::shared_dir().join("fixtures/metrics").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn matrix(v: &Value) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    let (n, k) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, k), rows.into_iter().flatten().collect()).unwrap()
}

fn spec(kind: HeadKind, labels: Vec<String>) -> HeadSpec {
    HeadSpec {
        name: "intent.fixture".into(),
        kind,
        labels,
        temperature: 1.0,
        thresholds: vec![],
        out_of_scope: None,
        oos_threshold: None,
        groupings: Default::default(),
        frustration: vec![],
        source: None,
        by_language: Default::default(),
    }
}

fn close(name: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{name}: got {got}, sklearn {want}"
    );
}

#[test]
fn intent_report_matches_sklearn() {
    let fx = fixture("single_label.json");
    let labels = strings(&fx["labels"]);
    let gold: Vec<String> = fx["y_true"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| labels[i.as_u64().unwrap() as usize].clone())
        .collect();
    let probs = matrix(&fx["probs"]);
    let texts: Vec<String> = (0..gold.len()).map(|i| format!("text {i}")).collect();
    let mut s = spec(HeadKind::Softmax, labels.clone());
    s.out_of_scope = Some("oos".into());
    let e = intent::evaluate(&s, &probs, &gold, &texts).unwrap();
    let want = &fx["expected"];
    let f = |k: &str| want[k].as_f64().unwrap();

    // Counts-based figures: the predictions are the fixture's, so they match exactly.
    let c = &e.classification;
    close("accuracy", c.accuracy, f("accuracy"), 1e-12);
    close("macro_f1", c.macro_f1, f("macro_f1"), 1e-12);
    close("micro_f1", c.micro_f1, f("micro_f1"), 1e-12);
    close("weighted_f1", c.weighted_f1, f("weighted_f1"), 1e-12);
    let cm: Vec<Vec<u64>> = serde_json::from_value(want["confusion_matrix"].clone()).unwrap();
    assert_eq!(c.confusion_matrix, cm);
    // Probability-based figures, through f32.
    close("ece_15", e.calibration.ece, f("ece_15"), 1e-6);
    let oos = e.out_of_scope.as_ref().unwrap();
    close("oos_auroc", oos.auroc.unwrap(), f("oos_auroc"), 1e-6);

    // Rasa's intent_report.json carries sklearn's per-label dict.
    let rasa = rasa::intent_report(c);
    let per_label = want["per_label"].as_object().unwrap();
    assert_eq!(per_label.len(), labels.len());
    for (label, m) in per_label {
        for (ours, theirs) in [
            ("precision", "precision"),
            ("recall", "recall"),
            ("f1-score", "f1"),
        ] {
            close(
                &format!("{label}.{ours}"),
                rasa[label][ours].as_f64().unwrap(),
                m[theirs].as_f64().unwrap(),
                1e-12,
            );
        }
        assert_eq!(rasa[label]["support"], m["support"], "{label}.support");
    }
    close(
        "rasa accuracy",
        rasa["accuracy"].as_f64().unwrap(),
        f("accuracy"),
        1e-12,
    );
    close(
        "rasa macro avg",
        rasa["macro avg"]["f1-score"].as_f64().unwrap(),
        f("macro_f1"),
        1e-12,
    );
    close(
        "rasa weighted avg",
        rasa["weighted avg"]["f1-score"].as_f64().unwrap(),
        f("weighted_f1"),
        1e-12,
    );
    // The headline figures the gate reads are the same numbers.
    let figures: std::collections::BTreeMap<String, f64> =
        intent::figures(&e).into_iter().collect();
    assert_eq!(figures["accuracy"], c.accuracy);
    assert_eq!(figures["ece"], e.calibration.ece);
    assert_eq!(figures["oos_auroc"], oos.auroc.unwrap());
}

#[test]
fn emotion_report_matches_sklearn() {
    let fx = fixture("multi_label.json");
    let labels = strings(&fx["labels"]);
    let thresholds: Vec<f32> = fx["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    let gold: Vec<Vec<String>> = fx["y_true"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .zip(&labels)
                .filter(|(x, _)| x.as_u64() == Some(1))
                .map(|(_, l)| l.clone())
                .collect()
        })
        .collect();
    let scores = matrix(&fx["scores"]);
    let mut s = spec(HeadKind::Sigmoid, labels.clone());
    s.thresholds = thresholds;
    let gold: Vec<Option<Vec<String>>> = gold.into_iter().map(Some).collect();
    let e = emotion::evaluate(
        &s,
        &scores,
        &gold,
        &vec![None; gold.len()],
        &vec!["en".to_string(); gold.len()],
    )
    .unwrap();
    let labels_report = e.labels.as_ref().unwrap();
    let want = &fx["expected"];
    close(
        "macro_f1",
        labels_report.macro_f1,
        want["macro_f1"].as_f64().unwrap(),
        1e-12,
    );
    close(
        "micro_f1",
        labels_report.micro_f1,
        want["micro_f1"].as_f64().unwrap(),
        1e-12,
    );
    for (label, m) in want["per_label"].as_object().unwrap() {
        let got = labels_report.label(label).unwrap();
        close(
            &format!("{label}.f1"),
            got.f1,
            m["f1"].as_f64().unwrap(),
            1e-12,
        );
        close(
            &format!("{label}.precision"),
            got.precision,
            m["precision"].as_f64().unwrap(),
            1e-12,
        );
        close(
            &format!("{label}.recall"),
            got.recall,
            m["recall"].as_f64().unwrap(),
            1e-12,
        );
        assert_eq!(
            got.support,
            m["support"].as_u64().unwrap(),
            "{label}.support"
        );
    }
}
