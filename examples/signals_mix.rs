//! Writes the training and dev mixes of the handoff signals (issue 15) as canonical JSONL,
//! for `triage train --head-only --data … --dev …` (eval/recipes/triage-en-small-0.3.sh).
//!
//! Run: `cargo run --release --example signals_mix -- OUT_DIR [SEED]`
//! Writes OUT_DIR/{emotion,support}.{train,dev}.jsonl (see `triage::train::mix`) and
//! beside each a `.sources` file naming the data sets it draws on (the model card lists
//! their licences).

use triage_lab::data::{self, Split};
use triage_lab::train::mix;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: signals_mix OUT_DIR [SEED]"))?,
    );
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(15);
    std::fs::create_dir_all(&out)?;
    let root = data::default_root();
    for split in [Split::Train, Split::Dev] {
        let e = mix::emotion_mix(&root, split, seed)?;
        data::write_jsonl(&out.join(format!("emotion.{split}.jsonl")), &e)?;
        let s = mix::support_mix(&root, split, seed)?;
        data::write_jsonl(&out.join(format!("support.{split}.jsonl")), &s)?;
        // What each mix draws on, for the model card's licences (train::card).
        for (name, sources) in [
            ("emotion", mix::EMOTION_SOURCES),
            ("support", mix::SUPPORT_SOURCES),
        ] {
            std::fs::write(
                out.join(format!("{name}.{split}.jsonl.sources")),
                sources.join("\n") + "\n",
            )?;
        }
        eprintln!(
            "{split}: emotion {} records, support {} records",
            e.len(),
            s.len()
        );
    }
    Ok(())
}
