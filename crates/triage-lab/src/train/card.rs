//! `MODEL_CARD.md`, generated from the bundle's manifest so it cannot drift from what the
//! bundle holds: what each head predicts, what it was trained on (with licences) and the
//! figures measured when it was fitted. Evaluation reports add test figures.

use crate::data;
use std::fmt::Write as _;
use std::path::Path;
use triage_core::model::{HeadKind, Manifest};

/// `extra` (Markdown, may be empty) goes after the licences: how the run went.
pub(crate) fn write_model_card(dir: &Path, m: &Manifest, extra: &str) -> std::io::Result<()> {
    let mut s = String::new();
    let _ = writeln!(s, "# {} {}\n", m.name, m.version);
    let _ = writeln!(
        s,
        "Base encoder: `{}` · languages: {} · max sequence length: {} · pooling: {} · input prefix: {:?}\n",
        m.base_model,
        if m.languages.is_empty() { "-".into() } else { m.languages.join(", ") },
        m.max_seq_len,
        m.pooling,
        m.prefix
    );
    let _ = writeln!(s, "## Heads\n\n| head | kind | labels | calibration | how it was fitted |\n|---|---|---|---|---|");
    for h in &m.heads {
        let calib = match h.kind {
            HeadKind::Softmax => format!(
                "temperature {:.3}{}",
                h.temperature,
                h.oos_threshold
                    .map(|t| format!(", out-of-scope below {t:.2}"))
                    .unwrap_or_default()
            ),
            HeadKind::Sigmoid => "per-label thresholds (dev F1)".into(),
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} |",
            h.name,
            if h.kind == HeadKind::Softmax {
                "softmax"
            } else {
                "sigmoid"
            },
            h.labels.len(),
            calib,
            h.source.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(s, "\n## Training data and licences\n");
    let mut named = std::collections::BTreeSet::new();
    let mut unrecorded = std::collections::BTreeSet::new();
    for src in m.heads.iter().filter_map(|h| h.source.as_deref()) {
        for info in data::datasets() {
            if src.contains(&format!("{}:", info.name)) {
                named.insert((info.name, info.licence, info.permissive));
            }
        }
        // A JSONL file (a mix, the user's own data) names its data sets in FILE.sources.
        for file in jsonl_paths(src) {
            let Some(names) = mix_sources(&file) else {
                unrecorded.insert(format!("`{file}`"));
                continue;
            };
            for name in names {
                match data::dataset_info(&name) {
                    Some(info) => named.insert((info.name, info.licence, info.permissive)),
                    None => unrecorded.insert(format!("`{name}` (named in `{file}.sources`)")),
                };
            }
        }
    }
    for (name, licence, permissive) in named {
        let _ = writeln!(
            s,
            "- {name}: {licence}{}",
            if permissive {
                ""
            } else {
                " (not cleared for shipped weights)"
            }
        );
    }
    for what in unrecorded {
        let _ = writeln!(
            s,
            "- {what}: licence not recorded (list its data sets, one name per line, in the file's `.sources`)"
        );
    }
    if !extra.is_empty() {
        let _ = writeln!(s, "\n{}", extra.trim_end());
    }
    let _ = writeln!(
        s,
        "\nTest-split figures come from `triage eval`; see `eval/reports/` for the latest report."
    );
    std::fs::write(dir.join("MODEL_CARD.md"), s)
}

/// The `.jsonl` paths a head's `source` mentions (trailing punctuation dropped).
fn jsonl_paths(source: &str) -> Vec<String> {
    source
        .split(|c: char| c.is_whitespace() || c == ';')
        .map(|t| t.trim_matches(|c: char| matches!(c, ',' | '(' | ')' | '`' | '"' | '\'')))
        .filter(|t| t.ends_with(".jsonl"))
        .map(str::to_string)
        .collect()
}

/// The data sets written into a JSONL mix, from `FILE.sources` (one data set name per
/// line, `#` comments): what `examples/signals_mix` writes beside each mix, so that the
/// licences of what reaches the weights are named even when the recipe reads a file.
fn mix_sources(file: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("{file}.sources")).ok()?;
    Some(
        text.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(|l| l.split(':').next().unwrap_or(l).to_string())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::head_only::new_spec;
    use triage_core::model::HeadKind;

    #[test]
    fn a_mix_file_names_its_data_sets_and_an_unlisted_file_says_so() {
        let dir = std::env::temp_dir().join(format!("triage-card-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mix = dir.join("support.train.jsonl");
        std::fs::write(&mix, "").unwrap();
        std::fs::write(
            dir.join("support.train.jsonl.sources"),
            "# written by signals_mix\nbitext_customer_support\ngoemotions:train\n",
        )
        .unwrap();
        let own = dir.join("mine.jsonl");
        let labels = vec!["a".to_string(), "b".to_string()];
        let mut support = new_spec("intent.support", HeadKind::Softmax, &labels);
        support.source = Some(format!("fine-tuned on {} (12 examples)", mix.display()));
        let mut other = new_spec("intent.other", HeadKind::Softmax, &labels);
        other.source = Some(format!(
            "head fitted on banking77:train and {};",
            own.display()
        ));
        let m = Manifest {
            name: "t".into(),
            version: "0.0.1".into(),
            base_model: "b".into(),
            languages: vec!["en".into()],
            max_seq_len: 16,
            pooling: "mean".into(),
            prefix: String::new(),
            heads: vec![support, other],
        };
        write_model_card(&dir, &m, "").unwrap();
        let card = std::fs::read_to_string(dir.join("MODEL_CARD.md")).unwrap();
        for name in ["bitext_customer_support", "goemotions", "banking77"] {
            let info = data::dataset_info(name).unwrap();
            assert!(
                card.contains(&format!("- {name}: {}", info.licence)),
                "{name}: {card}"
            );
        }
        assert!(
            card.contains(&format!("`{}`: licence not recorded", own.display())),
            "{card}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
