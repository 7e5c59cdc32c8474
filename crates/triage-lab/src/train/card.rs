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
    for h in &m.heads {
        for info in data::datasets() {
            if h.source
                .as_deref()
                .is_some_and(|src| src.contains(&format!("{}:", info.name)))
            {
                named.insert((info.name, info.licence, info.permissive));
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
    if !extra.is_empty() {
        let _ = writeln!(s, "\n{}", extra.trim_end());
    }
    let _ = writeln!(
        s,
        "\nTest-split figures come from `triage eval`; see `eval/reports/` for the latest report."
    );
    std::fs::write(dir.join("MODEL_CARD.md"), s)
}
