//! Rasa-compatible files (what `rasa test nlu` writes), so dashboards and scripts built
//! for Rasa read triage's results unchanged.
//!
//! `intent_report.json` is scikit-learn's `classification_report(output_dict=True)` with
//! Rasa's `confused_with` added per label. As scikit-learn does by default, its labels are
//! those that occur in the gold or the predicted intents, and `macro avg` averages over
//! them (report.json's `macro_f1` averages over every label of the head; on a test set
//! where every label occurs, the two agree).

use crate::eval::intent::IntentError;
use crate::metrics::ClassificationReport;
use serde_json::{json, Map, Value};

/// How many confusions each label lists under `confused_with`.
const CONFUSED_WITH: usize = 3;

pub fn intent_report(r: &ClassificationReport) -> Value {
    let mut out = Map::new();
    let present: Vec<usize> = (0..r.per_label.len())
        .filter(|&i| r.per_label[i].support > 0 || r.per_label[i].predicted > 0)
        .collect();
    for &i in &present {
        let m = &r.per_label[i];
        let mut confused: Vec<(usize, u64)> = r.confusion_matrix[i]
            .iter()
            .enumerate()
            .filter(|&(j, &c)| j != i && c > 0)
            .map(|(j, &c)| (j, c))
            .collect();
        confused.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let confused_with: Map<String, Value> = confused
            .into_iter()
            .take(CONFUSED_WITH)
            .map(|(j, c)| (r.labels[j].clone(), json!(c)))
            .collect();
        out.insert(
            m.label.clone(),
            json!({
                "precision": m.precision,
                "recall": m.recall,
                "f1-score": m.f1,
                "support": m.support,
                "confused_with": confused_with,
            }),
        );
    }
    let k = present.len().max(1) as f64;
    let mean = |f: fn(&crate::metrics::LabelMetrics) -> f64| {
        present.iter().map(|&i| f(&r.per_label[i])).sum::<f64>() / k
    };
    out.insert("accuracy".into(), json!(r.accuracy));
    out.insert(
        "macro avg".into(),
        json!({
            "precision": mean(|m| m.precision),
            "recall": mean(|m| m.recall),
            "f1-score": mean(|m| m.f1),
            "support": r.n_samples,
        }),
    );
    out.insert(
        "weighted avg".into(),
        json!({
            "precision": r.weighted_precision,
            "recall": r.weighted_recall,
            "f1-score": r.weighted_f1,
            "support": r.n_samples,
        }),
    );
    Value::Object(out)
}

pub(crate) fn intent_errors(errors: &[IntentError]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| {
                json!({
                    "text": e.text,
                    "intent": e.gold,
                    "intent_prediction": {"name": e.predicted, "confidence": e.confidence},
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::classification_report;

    #[test]
    fn sklearn_dict_with_confusions() {
        let labels: Vec<String> = ["a", "b", "c", "unused"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = classification_report(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], &labels).unwrap();
        let v = intent_report(&r);
        assert!(
            v.get("unused").is_none(),
            "labels absent from gold and pred are left out"
        );
        assert_eq!(v["a"]["support"], 3);
        assert_eq!(v["a"]["f1-score"].as_f64().unwrap(), 0.8);
        assert_eq!(v["a"]["confused_with"], json!({"b": 1}));
        assert_eq!(v["accuracy"].as_f64().unwrap(), 4.0 / 6.0);
        let macro_f1 = (0.8 + 0.5 + 2.0 / 3.0) / 3.0;
        assert!((v["macro avg"]["f1-score"].as_f64().unwrap() - macro_f1).abs() < 1e-12);
        assert_eq!(v["weighted avg"]["support"], 6);
        let e = intent_errors(&[IntentError {
            text: "t".into(),
            gold: "a".into(),
            predicted: "b".into(),
            confidence: 0.5,
        }]);
        assert_eq!(
            e,
            json!([{"text": "t", "intent": "a", "intent_prediction": {"name": "b", "confidence": 0.5}}])
        );
    }
}
