//! Training mixes for the handoff signals (issue 15): the emotion head and the support
//! intent head learn from their data sets plus in-domain examples those sets lack.
//!
//! * [`emotion_mix`]: GoEmotions (Reddit) as before, plus calm customer requests labelled
//!   `neutral` (bitext without its offensive `W` rows, banking77, clinc150 in-scope), upset
//!   copies of other requests ([`upset::upset_style`]) and bitext's `W` rows labelled with
//!   anger and annoyance. Without the calm requests the head read "how do i cancel my
//!   order" as anger 0.8; the upset copies keep the calm ones from washing anger out (the
//!   failure of an earlier re-fit). Calm and upset counts are per source and capped, so
//!   GoEmotions stays most of the mix.
//! * [`support_mix`]: bitext with short and question forms (`short_form`), plus `oos`
//!   negatives: clinc150's out-of-scope and off-domain intents, GoEmotions chit-chat and
//!   turns without a request (`noise::noise`).
//!
//! Every source is permissively licensed (bitext CDLA-Sharing-1.0, banking77 CC BY 4.0,
//! clinc150 CC BY 3.0, GoEmotions Apache-2.0) and the added phrases are ours. Sampling is
//! seeded: one seed, one mix.

mod noise;
mod short_form;
pub mod upset;

use crate::data::{self, DataError, Record, Split};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// The data sets every mix draws from (all permissively licensed; the recipe test checks).
#[cfg(test)]
pub(crate) const SOURCES: [&str; 4] = [
    "bitext_customer_support",
    "banking77",
    "clinc150",
    "goemotions",
];

/// Where `examples/signals_mix` writes the mixes the recipes read.
#[cfg(test)]
pub(crate) const MIX_DIR: &str = "target/signals-mix/";

/// clinc150 intents that are not negatives for the support head: small talk a support bot
/// answers or clarifies itself, and intents that overlap bitext's (orders, bills, cards at
/// checkout, account access).
const CLINC_NOT_OOS: [&str; 33] = [
    "greeting",
    "goodbye",
    "thank_you",
    "yes",
    "no",
    "maybe",
    "repeat",
    "what_can_i_ask_you",
    "are_you_a_bot",
    "who_do_you_work_for",
    "who_made_you",
    "what_is_your_name",
    "order",
    "order_status",
    "cancel",
    "pay_bill",
    "bill_balance",
    "bill_due",
    "card_declined",
    "account_blocked",
    "report_fraud",
    "transactions",
    "change_user_name",
    "user_name",
    "pin_change",
    "freeze_account",
    "damaged_card",
    "new_card",
    "report_lost_card",
    "replacement_card_duration",
    "expiration_date",
    "redeem_rewards",
    "rewards_balance",
];

/// Per-source counts of a mix for one split (dev and test are an eighth of train).
#[derive(Debug, Clone, Copy)]
struct MixSizes {
    calm: usize,
    upset: usize,
    oos: usize,
    noise: usize,
}

impl MixSizes {
    fn for_split(split: Split) -> Self {
        match split {
            Split::Train => Self {
                calm: 2000,
                upset: 1000,
                oos: 1000,
                noise: 400,
            },
            Split::Dev | Split::Test => Self {
                calm: 250,
                upset: 125,
                oos: 250,
                noise: 100,
            },
        }
    }
}

fn emotion(text: String, channel: triage_core::text::Channel, labels: &[&str]) -> Record {
    Record {
        text,
        channel,
        lang: Some("en".into()),
        emotions: Some(labels.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

fn oos(text: String, channel: triage_core::text::Channel) -> Record {
    Record {
        text,
        channel,
        lang: Some("en".into()),
        intent: Some(data::OOS.into()),
        ..Default::default()
    }
}

fn sample(mut records: Vec<Record>, n: usize, rng: &mut StdRng) -> Vec<Record> {
    records.shuffle(rng);
    records.truncate(n);
    records
}

/// The data sets [`emotion_mix`] draws on (calm and upset requests come from banking77,
/// clinc150 and bitext).
pub const EMOTION_SOURCES: &[&str] = &[
    "goemotions",
    "banking77",
    "clinc150",
    "bitext_customer_support",
];

/// The data sets [`support_mix`] draws on.
pub const SUPPORT_SOURCES: &[&str] = &["bitext_customer_support", "clinc150", "goemotions"];

/// GoEmotions plus calm, upset and offensive customer requests (see the module docs).
pub fn emotion_mix(root: &Path, split: Split, seed: u64) -> Result<Vec<Record>, DataError> {
    let sizes = MixSizes::for_split(split);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = data::load(root, "goemotions", split)?;
    for source in data::calm_requests(root, split)? {
        let mut pool = sample(source, sizes.calm + sizes.upset, &mut rng);
        let upset_part = pool.split_off(sizes.calm.min(pool.len()));
        out.extend(
            pool.into_iter()
                .map(|r| emotion(r.text, r.channel, &["neutral"])),
        );
        for r in upset_part {
            let (text, kind) = upset::upset_style(&r.text, &mut rng);
            out.push(emotion(text, r.channel, kind.labels()));
        }
    }
    for (r, tags) in data::bitext_tagged(root, split)? {
        if tags.contains('W') {
            out.push(emotion(r.text, r.channel, &["anger", "annoyance"]));
        }
    }
    out.shuffle(&mut rng);
    Ok(out)
}

/// bitext with short and question forms, plus out-of-scope negatives (module docs).
pub fn support_mix(root: &Path, split: Split, seed: u64) -> Result<Vec<Record>, DataError> {
    let sizes = MixSizes::for_split(split);
    let mut rng = StdRng::seed_from_u64(seed);
    let bitext = data::load(root, "bitext_customer_support", split)?;
    let mut out = Vec::with_capacity(bitext.len() * 2 + 3 * sizes.oos);
    for r in &bitext {
        if rng.gen_bool(0.5) {
            if let Some(text) = short_form::short_form(&r.text, &mut rng) {
                out.push(Record { text, ..r.clone() });
            }
        }
    }
    out.extend(bitext);
    if split == Split::Train {
        for (text, intent) in short_form::questions() {
            out.push(Record {
                text,
                lang: Some("en".into()),
                intent: Some(intent.into()),
                ..Default::default()
            });
        }
    }
    let clinc = data::load(root, "clinc150", split)?;
    let (clinc_oos, off_domain): (Vec<Record>, Vec<Record>) = clinc
        .into_iter()
        .filter(|r| !CLINC_NOT_OOS.contains(&r.intent.as_deref().unwrap_or("")))
        .partition(|r| r.intent.as_deref() == Some(data::OOS));
    out.extend(clinc_oos.into_iter().map(|r| oos(r.text, r.channel)));
    out.extend(
        sample(off_domain, sizes.oos, &mut rng)
            .into_iter()
            .map(|r| oos(r.text, r.channel)),
    );
    let chit_chat = data::load(root, "goemotions", split)?;
    out.extend(
        sample(chit_chat, sizes.oos, &mut rng)
            .into_iter()
            .map(|r| oos(r.text, r.channel)),
    );
    for _ in 0..sizes.noise {
        let text = noise::noise(&mut rng);
        out.push(oos(text, triage_core::text::Channel::Chat));
    }
    out.shuffle(&mut rng);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::root;

    #[test]
    fn emotion_mix_is_mostly_goemotions_with_every_kind() {
        let mix = emotion_mix(&root(), Split::Dev, 1).unwrap();
        let go = data::load(&root(), "goemotions", Split::Dev).unwrap().len();
        let has = |l: &str| {
            mix.iter()
                .filter(|r| r.emotions.as_ref().unwrap().iter().any(|e| e == l))
                .count()
        };
        assert!(
            mix.len() > go && mix.len() < go * 2,
            "{} vs {go}",
            mix.len()
        );
        assert!(
            has("neutral") > 750 && has("anger") > 100,
            "{} {}",
            has("neutral"),
            has("anger")
        );
        assert_eq!(mix, emotion_mix(&root(), Split::Dev, 1).unwrap(), "seeded");
    }

    #[test]
    fn support_mix_has_every_bitext_intent_and_oos() {
        let mix = support_mix(&root(), Split::Train, 1).unwrap();
        let labels = data::label_set(&mix);
        assert_eq!(labels.len(), 28, "{labels:?}");
        assert!(labels.iter().any(|l| l == data::OOS));
        let oos = mix
            .iter()
            .filter(|r| r.intent.as_deref() == Some(data::OOS))
            .count();
        assert!(oos > 2000 && oos < mix.len() / 2, "{oos} of {}", mix.len());
    }
}
