//! Channel robustness: the same test set as clean text, as a voice transcript and as a
//! social post (`text::augment`), each then normalised by the serving normaliser of that
//! channel, exactly as production traffic from the channel would be.
//!
//! Each record gets its own `StdRng`, seeded from the suite's seed, the channel and the
//! text, so a text is transformed the same way whatever sample or order it comes in.

use crate::augment::{social_style, voice_style};
use crate::data::Record;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use triage_core::text::Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelVariant {
    /// The records as the data set has them (their own channel).
    Clean,
    /// `voice_style` applied, channel set to voice.
    Voice,
    /// `social_style` applied, channel set to social.
    Social,
}

impl ChannelVariant {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChannelVariant::Clean => "clean",
            ChannelVariant::Voice => "voice",
            ChannelVariant::Social => "social",
        }
    }

    /// A figure name without its channel prefix (`voice.accuracy` → `accuracy`). Clean
    /// figures are the task's own, unprefixed.
    pub(crate) fn strip_prefix(metric: &str) -> &str {
        ["voice.", "social."]
            .iter()
            .find_map(|p| metric.strip_prefix(p))
            .unwrap_or(metric)
    }

    /// The records under this channel's transform (clean returns them unchanged).
    pub(crate) fn apply(self, records: &[Record], seed: u64) -> Vec<Record> {
        let (transform, channel): (fn(&str, &mut StdRng) -> String, Channel) = match self {
            ChannelVariant::Clean => return records.to_vec(),
            ChannelVariant::Voice => (voice, Channel::Voice),
            ChannelVariant::Social => (social, Channel::Social),
        };
        records
            .iter()
            .map(|r| {
                let mut rng = StdRng::seed_from_u64(record_seed(seed, self, &r.text));
                let text = transform(&r.text, &mut rng);
                Record {
                    text: if text.trim().is_empty() {
                        r.text.clone()
                    } else {
                        text
                    },
                    channel,
                    ..r.clone()
                }
            })
            .collect()
    }
}

impl std::str::FromStr for ChannelVariant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "clean" => Ok(ChannelVariant::Clean),
            "voice" => Ok(ChannelVariant::Voice),
            "social" => Ok(ChannelVariant::Social),
            other => Err(format!(
                "unknown channel transform {other:?}: expected clean, voice or social"
            )),
        }
    }
}

fn voice(text: &str, rng: &mut StdRng) -> String {
    voice_style(text, rng)
}

fn social(text: &str, rng: &mut StdRng) -> String {
    social_style(text, rng)
}

fn record_seed(seed: u64, variant: ChannelVariant, text: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(variant.as_str());
    h.update(text.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(text: &str) -> Record {
        Record {
            text: text.into(),
            intent: Some("x".into()),
            ..Default::default()
        }
    }

    #[test]
    fn transforms_are_seeded_per_text_and_set_the_channel() {
        let recs = vec![
            rec("I want to check the status of my refund for order 42 please."),
            rec("Where is my card? It has been 2 weeks!"),
        ];
        let voice = ChannelVariant::Voice.apply(&recs, 7);
        assert!(voice.iter().all(|r| r.channel == Channel::Voice));
        assert!(voice.iter().all(|r| r.intent.as_deref() == Some("x")));
        assert_ne!(voice[0].text, recs[0].text);
        assert!(!voice[0].text.contains('.'), "{}", voice[0].text);
        // Same text, same output, whatever else is in the batch.
        let alone = ChannelVariant::Voice.apply(&recs[1..], 7);
        assert_eq!(alone[0], voice[1]);
        assert_eq!(ChannelVariant::Voice.apply(&recs, 7), voice);
        let social = ChannelVariant::Social.apply(&recs, 7);
        assert!(social.iter().all(|r| r.channel == Channel::Social));
        assert_eq!(ChannelVariant::Clean.apply(&recs, 7), recs);
    }

    #[test]
    fn prefixes() {
        assert_eq!(ChannelVariant::strip_prefix("voice.accuracy"), "accuracy");
        assert_eq!(ChannelVariant::strip_prefix("social.gap"), "gap");
        assert_eq!(
            ChannelVariant::strip_prefix("ekman.macro_f1"),
            "ekman.macro_f1"
        );
        assert_eq!(
            ChannelVariant::strip_prefix("clean.accuracy"),
            "clean.accuracy"
        );
    }
}

/// One channel's figures of a task (the report's `channels`): clean first, then each
/// transform, with its gap to clean.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChannelFigures {
    pub(crate) channel: ChannelVariant,
    /// The figure the gap is measured on (`accuracy` for intents, `macro_f1` for emotion,
    /// `recall_at_1` for retrieval).
    pub(crate) primary: String,
    pub(crate) value: f64,
    /// Clean value minus this channel's value (0 for clean).
    pub(crate) gap: f64,
    pub(crate) figures: BTreeMap<String, f64>,
    /// A few transformed texts, as the model received them before normalisation.
    pub(crate) examples: Vec<String>,
}
