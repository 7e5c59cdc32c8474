//! Upset copies of calm customer requests: the in-domain anger the emotion head never saw
//! in GoEmotions (Reddit comments). Each copy adds markers customers use when they are
//! angry, fed up or about to leave, and carries the GoEmotions labels those markers mean.
//! The phrases are ours (written for this module), so the copies carry the licence of the
//! request they start from.

use rand::seq::SliceRandom;
use rand::Rng;

/// Which phrase lists a copy draws from: the training mix uses [`Markers::Training`]; the
/// evaluation's upset requests use [`Markers::HeldOut`], phrases the heads never saw, so
/// the figure measures reading anger rather than recalling our sentences. (Capitals,
/// exclamation marks, emoji and swear words are shared: they are signals, not phrases.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markers {
    Training,
    HeldOut,
}

/// What the markers of one copy say, as GoEmotions labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Upset {
    /// Swearing, capitals, "this is unacceptable": anger and annoyance.
    Angry,
    /// Waiting, asking again, let down: annoyance and disappointment.
    FedUp,
    /// Threatening to leave or to complain publicly: anger and disapproval.
    Leaving,
}

impl Upset {
    pub(crate) fn labels(self) -> &'static [&'static str] {
        match self {
            Upset::Angry => &["anger", "annoyance"],
            Upset::FedUp => &["annoyance", "disappointment"],
            Upset::Leaving => &["anger", "disapproval"],
        }
    }

    fn prefixes(self, markers: Markers) -> &'static [&'static str] {
        if markers == Markers::HeldOut {
            return match self {
                Upset::Angry => &[
                    "This is outrageous.",
                    "I'm livid.",
                    "Enough is enough!",
                    "What kind of garbage service is this?",
                ],
                Upset::FedUp => &[
                    "For the fourth time:",
                    "Nobody has replied in days.",
                    "I've called three times already.",
                    "Honestly, again?",
                ],
                Upset::Leaving => &["Final chance:", "I've had it with this company."],
            };
        }
        match self {
            Upset::Angry => &[
                "WTF.",
                "Are you kidding me?",
                "This is unacceptable.",
                "I'm furious.",
                "I am so angry right now.",
                "What the hell is going on?",
                "You people are useless.",
                "Absolutely pathetic.",
                "I'm beyond pissed off.",
                "Fix this now.",
            ],
            Upset::FedUp => &[
                "This is the third time I'm asking.",
                "I've been waiting for two weeks.",
                "Seriously?",
                "Again?!",
                "I asked yesterday and nobody answered.",
                "Ugh.",
                "Come on.",
                "Still nothing.",
                "I'm so fed up with this.",
                "Very disappointed.",
            ],
            Upset::Leaving => &[
                "Last warning:",
                "I'm done with you people.",
                "I'm about to switch to your competitor.",
                "I want this sorted or I'm gone.",
            ],
        }
    }

    fn suffixes(self, markers: Markers) -> &'static [&'static str] {
        if markers == Markers::HeldOut {
            return match self {
                Upset::Angry => &[
                    "Absolutely disgraceful!",
                    "Sort it out right now!!",
                    "I'm so done with this nonsense.",
                    "Pathetic.",
                ],
                Upset::FedUp => &[
                    "Still no answer after a week.",
                    "Why does nobody ever help?",
                    "I'm losing my patience.",
                    "Same problem every single time.",
                ],
                Upset::Leaving => &[
                    "or I'm closing my account for good.",
                    "Otherwise I'm switching to another store.",
                    "I'll be telling everyone to avoid you.",
                ],
            };
        }
        match self {
            Upset::Angry => &[
                "This is ridiculous!",
                "Fix it NOW!",
                "I'm sick of this crap.",
                "Unbelievable!!",
                "Useless company.",
                "Damn it.",
                "What a scam.",
                "Worst service I've ever had.",
                "Total joke.",
            ],
            Upset::FedUp => &[
                "Why is this so hard?",
                "Nobody ever answers.",
                "Still waiting...",
                "I keep asking and nothing happens.",
                "Not happy at all.",
                "This keeps happening.",
                "How many times do I have to ask?",
            ],
            Upset::Leaving => &[
                "or I'm cancelling everything.",
                "I'll take my business elsewhere.",
                "I'm never ordering from you again.",
                "otherwise I'm leaving a 1-star review.",
                "or I'm reporting you.",
                "or I'll dispute the charge with my bank.",
            ],
        }
    }
}

const EMOJI: [&str; 6] = ["😡", "🤬", "😤", "👎", "🙄", "😠"];
const SWEAR: [&str; 5] = ["damn", "freaking", "goddamn", "bloody", "stupid"];
/// Nouns a swear word goes in front of.
const NOUNS: [&str; 10] = [
    "order", "refund", "account", "card", "package", "invoice", "money", "payment", "delivery",
    "app",
];

/// An upset copy of `text` and its kind. At least one phrase is always added; capitals,
/// exclamation marks, an emoji and a swear word each with some probability.
pub fn upset_style(text: &str, rng: &mut impl Rng) -> (String, Upset) {
    upset_with(text, Markers::Training, rng)
}

/// [`upset_style`] drawing its phrases from `markers`.
pub(crate) fn upset_with(text: &str, markers: Markers, rng: &mut impl Rng) -> (String, Upset) {
    let kind = match rng.gen_range(0..20) {
        0..=9 => Upset::Angry,
        10..=16 => Upset::FedUp,
        _ => Upset::Leaving,
    };
    let mut body = text.trim().to_string();
    if kind == Upset::Angry && rng.gen_bool(0.35) {
        body = swear(&body, rng);
    }
    if rng.gen_bool(0.5) {
        let end = body.trim_end_matches(['?', '.', '!']).len();
        let bangs = if body[end..].contains('?') {
            "?!?!"
        } else {
            "!!!"
        };
        body.truncate(end);
        body.push_str(bangs);
    }
    let phrase = |list: &[&'static str], rng: &mut _| list.choose(rng).copied().unwrap_or("");
    let mut out = if kind == Upset::Leaving || rng.gen_bool(0.5) {
        format!("{body} {}", phrase(kind.suffixes(markers), rng))
    } else {
        format!("{} {body}", phrase(kind.prefixes(markers), rng))
    };
    if rng.gen_bool(0.25) {
        out = format!("{} {out}", phrase(kind.prefixes(markers), rng));
    }
    if kind != Upset::FedUp && rng.gen_bool(0.3) {
        out = out.to_uppercase();
    }
    if rng.gen_bool(0.3) {
        let e = EMOJI.choose(rng).copied().unwrap_or("😡");
        out.push(' ');
        out.push_str(&e.repeat(rng.gen_range(1..=3)));
    }
    (out, kind)
}

/// Puts a swear word before the first noun of [`NOUNS`] the text has, else before its last word.
fn swear(text: &str, rng: &mut impl Rng) -> String {
    let word = SWEAR.choose(rng).copied().unwrap_or("damn");
    let mut words: Vec<String> = text.split_whitespace().map(String::from).collect();
    let at = words
        .iter()
        .position(|w| NOUNS.iter().any(|n| w.to_lowercase().starts_with(n)))
        .unwrap_or(words.len().saturating_sub(1));
    words.insert(at, word.to_string());
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn every_copy_keeps_the_request_and_adds_a_marker() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut kinds = std::collections::HashSet::new();
        for _ in 0..200 {
            let (out, kind) = upset_style("how do i cancel my order 123?", &mut rng);
            kinds.insert(kind);
            let lower = out.to_lowercase();
            assert!(lower.contains("cancel"), "{out}");
            assert!(lower.contains("123"), "{out}");
            assert!(
                out.len() > "how do i cancel my order 123?".len() + 3,
                "{out}"
            );
            assert!(!kind.labels().is_empty());
        }
        assert_eq!(kinds.len(), 3, "all three kinds occur");
    }

    #[test]
    fn held_out_phrases_are_not_training_phrases() {
        for kind in [Upset::Angry, Upset::FedUp, Upset::Leaving] {
            for p in kind
                .prefixes(Markers::HeldOut)
                .iter()
                .chain(kind.suffixes(Markers::HeldOut))
            {
                for k in [Upset::Angry, Upset::FedUp, Upset::Leaving] {
                    let train =
                        [k.prefixes(Markers::Training), k.suffixes(Markers::Training)].concat();
                    assert!(!train.contains(p), "{p}");
                }
            }
        }
    }

    #[test]
    fn seeded_copies_repeat() {
        let a = upset_style("where is my refund", &mut StdRng::seed_from_u64(1));
        let b = upset_style("where is my refund", &mut StdRng::seed_from_u64(1));
        assert_eq!(a, b);
    }

    #[test]
    fn swear_goes_before_the_noun() {
        let mut rng = StdRng::seed_from_u64(3);
        let s = swear("where is my order 5", &mut rng);
        let words: Vec<&str> = s.split(' ').collect();
        let i = words.iter().position(|w| *w == "order").unwrap();
        assert!(SWEAR.contains(&words[i - 1]), "{s}");
    }
}
