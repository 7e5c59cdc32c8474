//! Seeded, deterministic transforms used by training (augmentation) and evaluation
//! (channel robustness). Same (text, seed) -> same output.
//!
//! Most labelled data is clean chat-like text, while production traffic also comes from
//! ASR and social media. These functions fake that channel noise so a model can be trained
//! on it and, with a fixed seed, so an evaluation can measure how much accuracy each
//! channel costs. All randomness comes from the caller's `rng`: seed a `StdRng` to make a
//! run reproducible (for a given `rand` version).

use rand::seq::SliceRandom;
use rand::Rng;
use triage_core::text::{detect_lang, is_cjk_ideograph};

const EN_FILLERS: &[&str] = &["um", "uh", "you know", "like", "i mean", "uh", "um"];
const ZH_FILLERS: &[&str] = &["嗯", "呃", "那个", "就是说"];

/// Pairs that sound alike, so ASR confuses them; used both ways.
const HOMOPHONES: &[(&str, &str)] = &[
    ("their", "there"),
    ("there", "their"),
    ("they're", "there"),
    ("to", "too"),
    ("too", "to"),
    ("two", "to"),
    ("for", "four"),
    ("four", "for"),
    ("your", "you're"),
    ("you're", "your"),
    ("card", "cart"),
    ("cart", "card"),
    ("by", "buy"),
    ("buy", "by"),
    ("bye", "by"),
    ("no", "know"),
    ("know", "no"),
    ("here", "hear"),
    ("hear", "here"),
    ("right", "write"),
    ("its", "it's"),
    ("it's", "its"),
    ("wait", "weight"),
    ("mail", "male"),
    ("then", "than"),
    ("than", "then"),
    ("accept", "except"),
    ("billed", "build"),
    ("new", "knew"),
    ("one", "won"),
    ("week", "weak"),
    ("whole", "hole"),
    ("would", "wood"),
    ("where", "wear"),
    ("paid", "payed"),
    ("sent", "cent"),
    ("check", "cheque"),
    ("fair", "fare"),
];

const DROPPABLE: &[&str] = &[
    "a", "an", "the", "to", "of", "is", "it", "my", "for", "and", "do", "be",
];

const ONES: &[&str] = &[
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: &[&str] = &[
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// "7" → "seven", "42" → "forty two"; longer numbers digit by digit ("123" → "one two
/// three"), as callers read order and phone numbers.
fn number_words(digits: &str) -> String {
    let v: Vec<usize> = digits.bytes().map(|b| (b - b'0') as usize).collect();
    match v.as_slice() {
        [d] => ONES[*d].to_string(),
        [0, d] => format!("oh {}", ONES[*d]),
        [t, o] if *t == 1 => ONES[10 + o].to_string(),
        [t, 0] => TENS[*t].to_string(),
        [t, o] => format!("{} {}", TENS[*t], ONES[*o]),
        _ => v.iter().map(|d| ONES[*d]).collect::<Vec<_>>().join(" "),
    }
}

/// Makes text look like an ASR transcript: lowercase, punctuation stripped (in-word
/// apostrophes kept), digits read out ("2" → "two"), and with small probabilities:
/// homophone swaps (their/there, to/too/two, for/four, your/you're, card/cart, …), a
/// filler before a word (um, uh, you know, like, i mean — 嗯/呃/那个 for Chinese), a word
/// said twice, a short function word dropped. Chinese text keeps its characters; only
/// punctuation goes and Chinese fillers are inserted.
pub fn voice_style(text: &str, rng: &mut impl Rng) -> String {
    let zh = detect_lang(text) == "zh";
    let lowered = text.to_lowercase();
    let mut cleaned = String::with_capacity(lowered.len());
    let chars: Vec<char> = lowered.chars().collect();
    for (k, &c) in chars.iter().enumerate() {
        let in_word_apostrophe = c == '\''
            && k > 0
            && chars[k - 1].is_alphanumeric()
            && chars.get(k + 1).is_some_and(|n| n.is_alphanumeric());
        if c.is_alphanumeric() || c.is_whitespace() || in_word_apostrophe {
            cleaned.push(c);
        } else {
            cleaned.push(' ');
        }
    }
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len() + 4);
    if zh && !words.is_empty() && rng.gen_bool(0.3) {
        out.push(ZH_FILLERS.choose(rng).copied().unwrap_or("嗯").to_string());
    }
    for (k, w) in words.iter().enumerate() {
        if !zh && k > 0 && rng.gen_bool(0.06) {
            out.push(EN_FILLERS.choose(rng).copied().unwrap_or("um").to_string());
        } else if !zh && k == 0 && rng.gen_bool(0.15) {
            out.push(if rng.gen_bool(0.5) { "um" } else { "uh" }.to_string());
        }
        if words.len() > 3 && DROPPABLE.contains(w) && rng.gen_bool(0.08) {
            continue;
        }
        let mut word = if w.bytes().all(|b| b.is_ascii_digit()) && rng.gen_bool(0.8) {
            number_words(w)
        } else {
            w.to_string()
        };
        if let Some((_, to)) = HOMOPHONES.iter().find(|(from, _)| from == w) {
            if rng.gen_bool(0.1) {
                word = to.to_string();
            }
        }
        if zh && w.chars().count() > 3 && rng.gen_bool(0.1) {
            // a Chinese speaker's filler lands inside an unspaced clause
            let cut = w
                .char_indices()
                .nth(w.chars().count() / 2)
                .map_or(0, |(i, _)| i);
            word = format!(
                "{}{}{}",
                &w[..cut],
                ZH_FILLERS[rng.gen_range(0..2)],
                &w[cut..]
            );
        }
        if rng.gen_bool(0.05) {
            out.push(word.clone());
        }
        out.push(word);
    }
    out.join(" ")
}

const MENTIONS: &[&str] = &[
    "@support",
    "@AcmeHelp",
    "@CustomerCare",
    "@help_desk",
    "@ShopCo",
];
const ZH_MENTIONS: &[&str] = &["@官方客服", "@客服小助手", "@京东客服"];
const NEUTRAL_EMOJI: &[&str] = &["📦", "🤔", "👀", "😅", "📱", "💳", "🙏", "🚚"];
const FRUSTRATED_EMOJI: &[&str] = &["😡", "😤", "🙄", "😩", "😭", "🤬", "😠", "😞", "💔"];
const STOPWORDS: &[&str] = &[
    "this", "that", "with", "have", "from", "what", "when", "where", "your", "about", "would",
    "could", "there", "their", "been", "will", "please", "thanks", "just", "still", "into",
];

/// Makes text look like a social post, each with some probability: a leading @mention, a
/// hashtag built from a content word ("#Refund", or "#话题#" from a piece of Chinese
/// text), emoji (neutral or frustrated), one word elongated ("so" → "sooo", only at a
/// single letter so the social normaliser's collapse restores it), one word in ALL CAPS,
/// and a trailing "!!!".
pub fn social_style(text: &str, rng: &mut impl Rng) -> String {
    let zh = detect_lang(text) == "zh";
    let mut words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        return String::new();
    }
    let content: Vec<usize> = (0..words.len())
        .filter(|&k| {
            let core: String = words[k].chars().filter(|c| c.is_alphabetic()).collect();
            core.chars().count() >= 4 && !STOPWORDS.contains(&core.to_lowercase().as_str())
        })
        .collect();
    if !zh && !content.is_empty() && rng.gen_bool(0.4) {
        if let Some(&k) = content.choose(rng) {
            elongate(&mut words[k], rng);
        }
    }
    if !zh && !content.is_empty() && rng.gen_bool(0.25) {
        if let Some(&k) = content.choose(rng) {
            words[k] = words[k].to_uppercase();
        }
    }
    let mut out = String::new();
    if rng.gen_bool(0.5) {
        let m = if zh { ZH_MENTIONS } else { MENTIONS };
        out.push_str(m.choose(rng).copied().unwrap_or("@support"));
        out.push(' ');
    }
    out.push_str(&words.join(" "));
    if rng.gen_bool(0.3) {
        let trimmed = out
            .trim_end_matches(['.', '!', '?', '。', '！', '？'])
            .len();
        out.truncate(trimmed);
        out.push_str("!!!");
    }
    if rng.gen_bool(0.5) {
        if let Some(tag) = hashtag(text, zh, &content, &words, rng) {
            out.push(' ');
            out.push_str(&tag);
        }
    }
    if rng.gen_bool(0.6) {
        let set = if rng.gen_bool(0.5) {
            FRUSTRATED_EMOJI
        } else {
            NEUTRAL_EMOJI
        };
        out.push(' ');
        for _ in 0..rng.gen_range(1..=3) {
            out.push_str(set.choose(rng).copied().unwrap_or("😡"));
        }
    }
    out
}

fn hashtag(
    text: &str,
    zh: bool,
    content: &[usize],
    words: &[String],
    rng: &mut impl Rng,
) -> Option<String> {
    if zh {
        let han: Vec<char> = text.chars().filter(|&c| is_cjk_ideograph(c)).collect();
        if han.len() < 2 {
            return None;
        }
        let len = rng.gen_range(2..=han.len().min(4));
        let start = rng.gen_range(0..=han.len() - len);
        return Some(format!(
            "#{}#",
            han[start..start + len].iter().collect::<String>()
        ));
    }
    let &k = content.choose(rng)?;
    let core: String = words[k].chars().filter(|c| c.is_alphanumeric()).collect();
    let mut cs = core.chars();
    let first = cs.next()?;
    Some(format!(
        "#{}{}",
        first.to_uppercase(),
        cs.as_str().to_lowercase()
    ))
}

/// Repeats one letter 2–4 more times, choosing a letter whose neighbours differ so that
/// collapsing the run to one letter gives the word back ("please" → "pleeease").
fn elongate(word: &mut String, rng: &mut impl Rng) {
    let cs: Vec<char> = word.chars().collect();
    let ok: Vec<usize> = (0..cs.len())
        .filter(|&k| {
            cs[k].is_alphabetic()
                && (k == 0 || !cs[k - 1].eq_ignore_ascii_case(&cs[k]))
                && cs
                    .get(k + 1)
                    .is_none_or(|n| !n.eq_ignore_ascii_case(&cs[k]))
        })
        .collect();
    let vowels: Vec<usize> = ok
        .iter()
        .copied()
        .filter(|&k| "aeiouyAEIOUY".contains(cs[k]))
        .collect();
    let pool = if vowels.is_empty() { &ok } else { &vowels };
    if let Some(&k) = pool.choose(rng) {
        let extra = rng.gen_range(2..=4);
        let mut s: String = cs[..=k].iter().collect();
        (0..extra).for_each(|_| s.push(cs[k]));
        s.extend(&cs[k + 1..]);
        *word = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use triage_core::text::{normalize_social, NormalizeOptions};

    const SENTENCES: &[&str] = &[
        "I want to cancel my order 12345, please.",
        "Where is my parcel? It's been 2 weeks!",
        "My credit card was charged twice for the same item.",
        "我的订单还没到，请问什么时候发货？",
        "Your app keeps crashing when I try to pay.",
    ];

    fn run<F: Fn(&str, &mut StdRng) -> String>(f: F, s: &str, seed: u64) -> String {
        f(s, &mut StdRng::seed_from_u64(seed))
    }

    #[test]
    fn deterministic_per_seed_and_varies_across_seeds() {
        for s in SENTENCES {
            for seed in 0..20 {
                assert_eq!(run(voice_style, s, seed), run(voice_style, s, seed));
                assert_eq!(run(social_style, s, seed), run(social_style, s, seed));
            }
            let v: std::collections::HashSet<String> =
                (0..30).map(|k| run(voice_style, s, k)).collect();
            let so: std::collections::HashSet<String> =
                (0..30).map(|k| run(social_style, s, k)).collect();
            assert!(v.len() > 3 && so.len() > 3, "{s}: {} {}", v.len(), so.len());
        }
    }

    #[test]
    fn voice_style_looks_like_asr() {
        for seed in 0..50 {
            let out = run(voice_style, "Hi! I can't pay 2 bills, OK?", seed);
            assert!(!out.chars().any(|c| c.is_uppercase()), "{out}");
            assert!(!out.contains(['!', ',', '?']), "{out}");
            assert!(out.contains("can't"), "{out}");
        }
        // digits become words most of the time
        let spoken = (0..50)
            .filter(|&k| run(voice_style, "pay 2 bills", k).contains("two"))
            .count();
        assert!(spoken > 25, "{spoken}");
        let zh = run(voice_style, "我的订单还没到，请问什么时候发货？", 3);
        assert!(!zh.contains(['，', '？']) && zh.contains("订单"), "{zh}");
    }

    #[test]
    fn voice_style_noise_appears_somewhere() {
        let outs: Vec<String> = (0..200)
            .map(|k| run(voice_style, "I want to buy a new card for my son there", k))
            .collect();
        assert!(outs
            .iter()
            .any(|o| o.starts_with("um ") || o.starts_with("uh ")));
        assert!(outs
            .iter()
            .any(|o| o.contains("cart") || o.contains("four") || o.contains("their")));
        let words = |o: &String| o.split_whitespace().count();
        assert!(outs.iter().any(|o| words(o) > 10), "fillers or repeats");
    }

    #[test]
    fn number_words_read_out() {
        assert_eq!(number_words("2"), "two");
        assert_eq!(number_words("15"), "fifteen");
        assert_eq!(number_words("42"), "forty two");
        assert_eq!(number_words("07"), "oh seven");
        assert_eq!(number_words("90"), "ninety");
        assert_eq!(number_words("123"), "one two three");
    }

    #[test]
    fn social_style_round_trips_through_normalize_social() {
        let opts = NormalizeOptions {
            emoji_to_words: false,
            to_simplified: true,
        };
        let s = "my parcel is three weeks late and nobody answers";
        for seed in 0..100 {
            let noisy = run(social_style, s, seed);
            let back = normalize_social(&noisy, &opts).to_lowercase();
            for w in s.split_whitespace() {
                assert!(
                    back.split_whitespace().any(|b| b.trim_matches('!') == w),
                    "{seed}: {noisy:?} -> {back:?} lost {w}"
                );
            }
        }
    }

    #[test]
    fn social_style_adds_platform_noise() {
        let outs: Vec<String> = (0..200)
            .map(|k| run(social_style, "my refund is taking forever", k))
            .collect();
        assert!(outs.iter().any(|o| o.starts_with('@')));
        assert!(outs.iter().any(|o| o.contains(" #")));
        assert!(outs.iter().any(|o| o.contains("!!!")));
        assert!(outs.iter().any(|o| o
            .chars()
            .any(|c| FRUSTRATED_EMOJI.iter().any(|e| e.starts_with(c)))));
        assert!(outs.iter().any(|o| o
            .split_whitespace()
            .any(|w| w.len() > 3 && w.chars().all(|c| c.is_ascii_uppercase()))));
        assert!(outs.iter().any(|o| o.contains("eee")
            || o.contains("ooo")
            || o.contains("aaa")
            || o.contains("iii")
            || o.contains("uuu")));
        let zh: Vec<String> = (0..100)
            .map(|k| run(social_style, "我的退款太慢了", k))
            .collect();
        assert!(zh
            .iter()
            .any(|o| o.contains('#') && o.matches('#').count() == 2));
    }

    #[test]
    fn empty_input() {
        let mut r = StdRng::seed_from_u64(1);
        assert_eq!(voice_style("", &mut r), "");
        assert_eq!(social_style("   ", &mut r), "");
        assert_eq!(voice_style("!!!", &mut r), "");
    }
}
