//! Writes data sets as canonical JSONL records (the format `triage train --data` and
//! `triage eval --data` read), optionally relabelled, so several sets can be mixed into
//! one training file.
//!
//! Run: `cargo run --release --example export_jsonl -- NAME:SPLIT[=emotion:LABEL] ... > out.jsonl`
//!
//! `=emotion:LABEL` replaces each record's labels with the single emotion LABEL and drops
//! its intent: how `models/triage-en-small`'s emotion head learns that customer-service
//! requests are `neutral` (`bitext_customer_support:train=emotion:neutral`).

use std::io::Write;
use triage_lab::data::{self, Split};

fn main() -> anyhow::Result<()> {
    let root = data::default_root();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for arg in std::env::args().skip(1) {
        let (spec, relabel) = match arg.split_once('=') {
            Some((s, r)) => (s, Some(r)),
            None => (arg.as_str(), None),
        };
        let (name, split) = spec
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("{spec}: expected NAME:SPLIT"))?;
        let split: Split = split.parse().map_err(anyhow::Error::msg)?;
        let emotion = match relabel.map(|r| r.split_once(':')) {
            None => None,
            Some(Some(("emotion", label))) => Some(label.to_string()),
            Some(_) => anyhow::bail!("{arg}: only =emotion:LABEL is supported"),
        };
        for mut r in data::load(&root, name, split)? {
            if let Some(label) = &emotion {
                r.emotions = Some(vec![label.clone()]);
                r.intent = None;
                r.sentiment = None;
            }
            writeln!(out, "{}", serde_json::to_string(&r)?)?;
        }
    }
    Ok(())
}
